"""Two desktops on one database see each other's changes within a second, without F5 (issue 12).

The real main window is open on the test's database (SQLite file, or a PostgreSQL database with
`--backend=postgresql`); ANOTHER PROCESS (`python3 -c` calling the services, as another desktop's app would)
edits a referral, registers a new one or confirms one. Within one second of that process exiting the window's
queue shows it, the panel of the selected referral says who changed it, and an open form on it shows the
"Changed by NAME at TIME" bar whose Compare shows the difference and whose Reload loads their version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject, QTimer

from tests.ui.test_journeys import idle, nhs, open_with_enter, select_patient, shown_nhs
from triage_app.config import AppPaths
from triage_app.services.referrals import get_referral
from triage_app.storage.engine import Database
from triage_app.ui import dialogs
from triage_app.ui.live_updates import BACK, LOST
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_model import COL_NAME, COL_OUTCOME

#: What another desktop does, in a process of its own: `python3 -c ELSEWHERE URL ACTION REFERRAL_ID ARG`.
ELSEWHERE = """
import sys
from dataclasses import replace
from tests.factories import referral
from triage_app.config import default_rules_path
from triage_app.domain.rules import load_rules
from triage_app.services.app import local_today
from triage_app.services.referrals import get_referral, register_referral, update_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database, parse_database_url

url, action, referral_id, arg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
db = Database(parse_database_url(url))
rules = load_rules(default_rules_path())
if action == "rename":
    detail = get_referral(db, referral_id=referral_id)
    patient = replace(detail.referral.patient, family_name=arg)
    update_referral(
        db, actor=sign_in(db, login="coord-test"), referral_id=referral_id, expected_version=detail.row.version,
        referral=replace(detail.referral, patient=patient), rules=rules, as_of=local_today(),
        demographics_confirmed=True,
    )
elif action == "register":
    register_referral(
        db, actor=sign_in(db, login="coord-test"), rules=rules, as_of=local_today(),
        referral=referral(referral_id, as_of=local_today(), received_on=local_today().isoformat(),
                          patient__family_name=arg),
    )
elif action == "override":
    decide_triage(
        db, actor=sign_in(db, login="cons-test"), referral_id=referral_id,
        expected_version=get_referral(db, referral_id=referral_id).row.version,
        override_outcome="needs_information", reason=arg,
    )
elif action == "meeting":
    from tests.dates import meeting_day
    from triage_app.services.meetings import create_meeting

    create_meeting(
        db, actor=sign_in(db, login="admin-test"), meeting_date=meeting_day(), meeting_time="13:30", place=arg
    )
db.dispose()
"""


def elsewhere(paths: AppPaths, action: str, referral_id: int, arg: str) -> None:
    """Another desktop's process does `action` and exits."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root)
    subprocess.run(
        [sys.executable, "-c", ELSEWHERE, paths.db_url, action, str(referral_id), arg],
        check=True,
        env=env,
        cwd=root,
        timeout=120,
    )


def cell(window: MainWindow, serial: int, column: int) -> str:
    model = window.model
    return str(model.data(model.index(shown_nhs(window).index(nhs(serial)), column)))


class StallMeter(QObject):
    """The longest gap between ticks of a 10 ms timer on the GUI thread: how long the window stood still.

    Owned by `parent` (the window), and stopped by the test: a parentless QObject with a timer left to Python's
    garbage collector (kept alive by a failed test's traceback) has crashed PySide6 in a later test.
    """

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.longest = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(10)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def stop(self) -> float:
        """Stop measuring; the longest stall seen (seconds)."""
        self._timer.stop()
        return self.longest


@pytest.fixture
def watching(open_window: Callable[..., MainWindow], qtbot: Any) -> Iterator[Callable[[str], MainWindow]]:
    """Open the window and wait until its watcher runs."""

    def opener(login: str = "coord-test") -> MainWindow:
        window = open_window(login)
        qtbot.waitUntil(lambda: window.live.running, timeout=5000)
        idle(qtbot, window)
        return window

    yield opener


@pytest.mark.hazard("H04")
def test_a_rename_on_another_desktop_shows_in_the_queue_and_on_the_panel_within_a_second(
    qtbot: Any, watching: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_paths: AppPaths
) -> None:
    first, _second = seed((1, {"patient__family_name": "Ashdale"}), (2, {"patient__family_name": "Bramwick"}))
    window = watching("coord-test")
    select_patient(qtbot, window, 1)
    assert "ASHDALE" in cell(window, 1, COL_NAME).upper()
    assert not window.panel.changed_elsewhere.isVisible()

    elsewhere(gui_paths, "rename", first, "Castlereagh")
    qtbot.waitUntil(lambda: "CASTLEREAGH" in cell(window, 1, COL_NAME).upper(), timeout=1000)  # no F5
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.row.version == 2, timeout=1000)
    # the patient on the panel is the one renamed, and the panel says who renamed them, and where
    assert window.detail.referral.patient.nhs_number == nhs(1)
    assert "Castlereagh" in window.panel.patient.text() or "CASTLEREAGH" in window.panel.patient.text()
    assert window.panel.changed_elsewhere.isVisible()
    text = window.panel.changed_elsewhere.text()
    assert text.startswith("Changed by Cora Ordinator at ") and text.endswith("on another desktop")
    assert "BRAMWICK" in cell(window, 2, COL_NAME).upper()  # the other patient's row is untouched
    assert "saved" not in window.saved_label.text()  # this desktop saved nothing


@pytest.mark.hazard("H04")
def test_a_referral_registered_on_another_desktop_joins_the_queue_within_a_second(
    qtbot: Any, watching: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_paths: AppPaths
) -> None:
    seed(1)
    window = watching("coord-test")
    assert nhs(5) not in shown_nhs(window)
    counted: list[Any] = []
    window.sidebar.counted.connect(counted.append)
    elsewhere(gui_paths, "register", 5, "Dunmore")
    qtbot.waitUntil(lambda: nhs(5) in shown_nhs(window), timeout=1000)
    assert "DUNMORE" in cell(window, 5, COL_NAME).upper()
    qtbot.waitUntil(lambda: bool(counted) and counted[-1].total == 2, timeout=1000)  # the side panel recounted


@pytest.mark.hazard("H04", "H16")
def test_a_consultants_override_elsewhere_repaints_the_row_and_the_panel_names_them(
    qtbot: Any, watching: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_paths: AppPaths
) -> None:
    first, _ = seed(1, 2)
    window = watching("cons-test")
    select_patient(qtbot, window, 1)
    before = cell(window, 1, COL_OUTCOME)
    elsewhere(gui_paths, "override", first, "Ask for the swallow study")
    qtbot.waitUntil(lambda: cell(window, 1, COL_OUTCOME) != before, timeout=1000)
    qtbot.waitUntil(lambda: window.panel.changed_elsewhere.isVisible(), timeout=1000)
    assert window.detail.referral.patient.nhs_number == nhs(1)
    assert "Dr Con Sultant" in window.panel.changed_elsewhere.text()
    assert "Ask for the swallow study" in window.panel.decision.text()  # the decision now standing is theirs


@pytest.mark.hazard("H04", "H16")
def test_an_open_form_shows_changed_by_with_compare_and_reload(
    qtbot: Any,
    watching: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_paths: AppPaths,
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, _ = seed((1, {"patient__family_name": "Ashdale"}), 2)
    window = watching("coord-test")
    select_patient(qtbot, window, 1)
    form = open_with_enter(qtbot, window, first)
    assert not form.changed_bar.isVisible()

    elsewhere(gui_paths, "rename", first, "Castlereagh")
    qtbot.waitUntil(lambda: form.changed_bar.isVisible(), timeout=1000)  # before anyone tries to save
    assert form.changed_label.text().startswith("Changed by Cora Ordinator at ")
    assert form.fields["patient.family_name"].value() == "Ashdale"  # nothing replaced under the user's eyes

    compared: list[tuple[str, str, str]] = []

    def ask(cls: Any, message: str, mine: Any, theirs: Any, parent: Any) -> str:
        compared.append((message, mine.patient.family_name, theirs.patient.family_name))
        return dialogs.CANCEL

    monkeypatch.setattr(dialogs.ConflictDialog, "ask", classmethod(ask))
    qtbot.mouseClick(form.compare_button, qtbot_left())
    qtbot.waitUntil(lambda: bool(compared), timeout=3000)
    message, mine, theirs = compared[0]
    assert (mine, theirs) == ("Ashdale", "Castlereagh") and "Cora Ordinator" in message
    assert form.changed_bar.isVisible()  # cancelled: still said

    qtbot.mouseClick(form.reload_button, qtbot_left())  # the form is clean: their version loads at once
    qtbot.waitUntil(lambda: form.fields["patient.family_name"].value() == "Castlereagh", timeout=3000)
    assert form.version == get_referral(gui_db, referral_id=first).row.version
    assert form.fields["patient.nhs_number"].value() == nhs(1)
    assert not form.changed_bar.isVisible() and not form.dirty


@pytest.mark.hazard("H04", "H16")
def test_compare_keeps_my_edits_on_top_of_theirs(
    qtbot: Any,
    watching: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_paths: AppPaths,
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, _ = seed((1, {"patient__family_name": "Ashdale"}), 2)
    window = watching("coord-test")
    select_patient(qtbot, window, 1)
    form = open_with_enter(qtbot, window, first)
    from tests.ui.test_form import type_into

    type_into(qtbot, form, "clinical_question", "Is DBS suitable?")
    elsewhere(gui_paths, "rename", first, "Castlereagh")
    qtbot.waitUntil(lambda: form.changed_bar.isVisible(), timeout=1000)
    monkeypatch.setattr(dialogs.ConflictDialog, "ask", classmethod(lambda cls, *args: dialogs.REBASE))
    qtbot.mouseClick(form.compare_button, qtbot_left())
    qtbot.waitUntil(lambda: form.fields["patient.family_name"].value() == "Castlereagh", timeout=3000)
    assert "Is DBS suitable?" in form.fields["clinical_question"].value()  # mine, on top of theirs
    assert form.version == get_referral(gui_db, referral_id=first).row.version and form.dirty
    assert not form.changed_bar.isVisible()


@pytest.mark.hazard("H04", "H03")
def test_reload_asks_before_dropping_unsaved_edits(
    qtbot: Any,
    watching: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_paths: AppPaths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.ui.test_form import type_into

    first, _ = seed((1, {"patient__family_name": "Ashdale"}), 2)
    window = watching("coord-test")
    select_patient(qtbot, window, 1)
    form = open_with_enter(qtbot, window, first)
    type_into(qtbot, form, "clinical_question", "Is DBS suitable?")
    elsewhere(gui_paths, "rename", first, "Castlereagh")
    qtbot.waitUntil(lambda: form.changed_bar.isVisible(), timeout=1000)
    asked: list[str] = []
    answer = {"yes": False}
    monkeypatch.setattr(
        dialogs.Messages,
        "confirm",
        classmethod(lambda cls, parent, title, text: asked.append(text) or answer["yes"]),
    )
    qtbot.mouseClick(form.reload_button, qtbot_left())  # "No": my edits stay
    assert len(asked) == 1 and "ASHDALE" in asked[0].upper()  # the question names the patient
    idle(qtbot, window)
    assert "Is DBS suitable?" in form.fields["clinical_question"].value() and form.dirty
    assert form.changed_bar.isVisible()
    answer["yes"] = True
    qtbot.mouseClick(form.reload_button, qtbot_left())
    qtbot.waitUntil(lambda: form.fields["patient.family_name"].value() == "Castlereagh", timeout=3000)
    assert "Is DBS suitable?" not in (form.fields["clinical_question"].value() or "") and not form.dirty


@pytest.mark.hazard("H04")
def test_an_open_meeting_window_reads_its_meetings_again_when_another_desktop_plans_one(
    qtbot: Any, watching: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_paths: AppPaths
) -> None:
    from tests.ui.test_meeting_window_changes import open_meeting_window

    seed(1)
    window = watching("admin-test")
    mw = open_meeting_window(qtbot, window)
    before = mw.meetings.count()
    elsewhere(gui_paths, "meeting", 0, "Seminar room 9")
    qtbot.waitUntil(lambda: mw.meetings.count() == before + 1, timeout=1000)
    from tests.dates import meeting_day
    from triage_app.domain.formats import format_date

    texts = [mw.meetings.item(i).text() for i in range(mw.meetings.count())]
    assert any(t.startswith(f"{format_date(meeting_day())} 13:30") for t in texts), texts


@pytest.mark.hazard("H04")
def test_this_desktops_own_save_is_not_reported_as_another_desktops(
    qtbot: Any, watching: Callable[..., MainWindow], seed: Callable[..., list[int]]
) -> None:
    first, _ = seed(1, 2)
    window = watching("coord-test")
    reads: list[Any] = []
    window.live.on_read = reads.append
    select_patient(qtbot, window, 1)
    form = open_with_enter(qtbot, window, first)
    from tests.ui.test_form import type_into
    from tests.ui.test_journeys import save_with_keys

    type_into(qtbot, form, "clinical_question", "Is DBS suitable?")
    save_with_keys(qtbot, form)
    qtbot.waitUntil(lambda: not form.dirty, timeout=5000)
    qtbot.waitUntil(lambda: bool(reads), timeout=2000)  # the watcher saw the commit and read the feed...
    idle(qtbot, window)
    assert not any(reads)  # ...and found nothing from elsewhere
    assert not window.panel.changed_elsewhere.isVisible()
    assert not form.changed_bar.isVisible()


def test_the_watcher_never_holds_the_gui_thread(qtbot: Any, watching: Callable[..., MainWindow]) -> None:
    """It polls (SQLite) or listens (PostgreSQL) on a thread of its own: the window never stands still for it.

    (The database is never touched on the GUI thread: the window's thread guard would fail the test.)
    """
    window = watching("coord-test")
    reads: list[Any] = []
    window.live.on_read = reads.append
    meter = StallMeter(window)
    qtbot.wait(1500)  # five polls of PRAGMA data_version, or three waits on the server's socket
    longest = meter.stop()
    assert window.live.running
    assert longest < 0.1, f"the window stood still for {longest * 1000:.0f} ms"


def test_the_watcher_stops_within_a_second_when_the_window_closes(
    qtbot: Any, watching: Callable[..., MainWindow]
) -> None:
    window = watching("coord-test")
    thread = window.live._thread
    assert thread is not None and thread.is_alive()
    started = time.perf_counter()
    window.close()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=1000)
    assert time.perf_counter() - started < 1.0
    assert not window.live.running


@pytest.mark.server_only("LISTEN/NOTIFY: the server drops the listener's connection")
@pytest.mark.hazard("H04")
def test_the_listener_reports_a_lost_server_and_reconnects(
    qtbot: Any, watching: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_paths: AppPaths
) -> None:
    import sqlalchemy as sa

    first, _ = seed((1, {"patient__family_name": "Ashdale"}), 2)
    window = watching("coord-test")
    statuses: list[str] = []
    window.live.status.connect(statuses.append)
    pid = window.live.watcher_backend_pid()
    assert pid is not None
    # The server ends the listener's session, as a restart does (the shared test server itself keeps running).
    admin = sa.create_engine(os.environ["TRIAGE_TEST_PG_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    qtbot.waitUntil(lambda: LOST in statuses, timeout=3000)
    qtbot.waitUntil(lambda: BACK in statuses, timeout=5000)
    assert window.live.watcher_backend_pid() not in (None, pid)
    select_patient(qtbot, window, 1)
    elsewhere(gui_paths, "rename", first, "Castlereagh")
    qtbot.waitUntil(lambda: "CASTLEREAGH" in cell(window, 1, COL_NAME).upper(), timeout=1000)
    assert window.statusBar().currentMessage() in (BACK, "") or "Live updates" in window.statusBar().currentMessage()


def qtbot_left() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
