"""Start-up work in the background (issue 14): the reassessment after a rules change and the daily backup run
after the first paint, the queue usable meanwhile, and closing the window stops them within a second.

Real windows on real SQLite files (and the test server under `--backend=postgresql` for the reassessment).
"""

from __future__ import annotations

import gc
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from tests.factories import AS_OF
from tests.services.test_rules_governance import edited, shipped_text
from tests.ui.conftest import USERS
from tests.ui.test_live_updates import StallMeter
from triage_app.config import AppPaths
from triage_app.domain.rules import Rules
from triage_app.services import reassessment
from triage_app.services.audit import verify_audit_trail
from triage_app.services.demo import load_demo
from triage_app.services.reassessment import count_stale
from triage_app.services.rules import approve_rules, rules_in_force
from triage_app.services.users import add_user, sign_in
from triage_app.storage.backup import list_backups, newest_verified_backup, read_manifest
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate
from triage_app.storage.stopping import StopSignal
from triage_app.ui.app import GC_THRESHOLDS, tune_interpreter
from triage_app.ui.background_reassessment import BackgroundReassessment
from triage_app.ui.main_window import MainWindow

NEW_VERSION = "spd-2099.1"
COUNT = 240
BATCH = 12


@pytest.fixture(autouse=True)
def app_switch_interval() -> Any:
    """The interpreter as `run_gui` sets it for the app: the lock handed between threads every millisecond, the
    collector's young passes rare (`tune_interpreter`)."""
    before, thresholds = sys.getswitchinterval(), gc.get_threshold()
    tune_interpreter()
    assert sys.getswitchinterval() == 0.001 and gc.get_threshold() == GC_THRESHOLDS
    yield
    sys.setswitchinterval(before)
    gc.set_threshold(*thresholds)


class Pacer:
    """Lets the real reassessment go on a batch at a time: after each committed batch the worker waits until the
    test allows more (`allow`), or the reassessment is stopped (Cancel, closing). No sleeps: the test decides."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self.allowed = 0
        self.batches = 0
        self.unpaced = False

    def allow(self, batches: int) -> None:
        """Let `batches` more batches run."""
        with self._turns:
            self.allowed += batches
            self._turns.notify_all()

    def release(self) -> None:
        """Let every batch run."""
        with self._turns:
            self.unpaced = True
            self._turns.notify_all()

    def after_batch(self, stop: StopSignal | None) -> None:
        """On the worker, after a batch is committed and reported: wait for the test's next allowance."""
        with self._turns:
            self.batches += 1
            # Woken by allow()/release(); the short timeout only looks at the stop flag, which Cancel sets.
            while not self.unpaced and self.batches > self.allowed and not (stop is not None and stop.stopped):
                self._turns.wait(0.01)


@pytest.fixture
def paced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pacer]:
    """Small batches, each followed by a wait for the test's allowance (the work itself is real)."""
    monkeypatch.setattr(BackgroundReassessment, "batch_size", BATCH)
    real = reassessment.reassess_open
    pacer = Pacer()

    def paced_run(
        *args: Any, progress: Callable[[int, int], None] | None = None, stop: StopSignal | None = None, **kwargs: Any
    ) -> Any:
        def report(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)
            if done > 0:  # (0, total) is said before the first batch
                pacer.after_batch(stop)

        return real(*args, progress=report, stop=stop, **kwargs)

    monkeypatch.setattr(reassessment, "reassess_open", paced_run)
    yield pacer
    pacer.release()  # a worker still waiting finishes (the window's shutdown stops it anyway)


def _with_demo(db: Database, count: int) -> Any:
    """The shipped rules approved and `count` demo referrals assessed with them; returns the administrator."""
    admin = sign_in(db, login="admin-test")
    approve_rules(db, actor=admin, proposed=shipped_text(), as_of=AS_OF)
    load_demo(db, actor=admin, rules=rules_in_force(db).rules, as_of=AS_OF, count=count)
    return admin


@pytest.mark.hazard("H04")
@pytest.mark.hazard("H05")
@pytest.mark.hazard("H16")
def test_a_start_after_a_rules_change_shows_the_queue_first_and_cancel_keeps_the_batches_done(
    qtbot: Any, gui_db: Database, rules: Rules, open_window: Callable[..., MainWindow], paced: Pacer
) -> None:
    admin = _with_demo(gui_db, COUNT)
    # Another desktop approved newer rules (the approval only): this start finds every open referral stale.
    approve_rules(gui_db, actor=admin, proposed=edited(NEW_VERSION), as_of=AS_OF, reassess=False)
    new_rules = rules_in_force(gui_db).rules
    stale = count_stale(gui_db, rules=new_rules)
    assert stale == COUNT

    window = open_window()  # returns once the queue has loaded its rows
    job = window.maintenance_actions.reassessment
    assert window.model.rowCount() > 0
    assert job.running, "the queue showed only after the reassessment ended"
    # The stall is measured while the reassessment runs (the daily backup waits for it). A batch run on the GUI
    # thread would hold it for the whole batch; the 100 ms target itself is measured by
    # benchmarks/background_work.py, since a timed test on a shared machine measures the machine (110 ms seen
    # with the whole suite and two benchmarks on two cores).
    meter = StallMeter(window)
    paced.allow(1)  # the first batch is done and waiting: a second one
    qtbot.waitUntil(lambda: job.bar.value() >= 2 * BATCH, timeout=20_000)
    assert job.box.isVisible()
    assert re.fullmatch(rf"Reassessing: [\d,]+ of {COUNT:,}", job.label.text()), job.label.text()
    window.resize(1366, 768)  # a laptop's screen: the whole count is readable, not cut to "Reassessing: 1,2"
    qtbot.waitUntil(lambda: job.label.width() >= job.label.fontMetrics().horizontalAdvance(job.label.text()))
    assert job.remaining > 0
    # The queue answers while it runs: a query op on the window's own worker completes.
    answered: list[Any] = []
    window.context.query(
        lambda session: count_stale(session.db, rules=new_rules), title="t", on_success=answered.append
    )
    qtbot.waitUntil(lambda: bool(answered), timeout=5_000)
    assert job.running and answered[0] == COUNT - 2 * BATCH
    paced.allow(8)  # eight batches more, back to back, while the stall is measured
    qtbot.waitUntil(lambda: job.bar.value() >= 10 * BATCH, timeout=30_000)

    # The day's backup waits for the reassessment: one long job at a time (and its audit check never reads the
    # trail while batches commit).
    actions = window.maintenance_actions
    assert actions.daily is not None and actions.daily.pending == 0 and actions.daily_state == ""

    with qtbot.waitSignal(job.finished, timeout=20_000):
        qtbot.mouseClick(job.cancel_button, qtbot_button())
    longest = meter.stop()
    if gui_db.location.is_sqlite:  # a server is backed up with its own tools: no daily backup by the app
        qtbot.waitUntil(lambda: actions.daily_state.startswith("Today's backup taken"), timeout=20_000)
    else:
        qtbot.waitUntil(lambda: actions.daily is not None and actions.daily.pending == 0, timeout=20_000)
    assert not job.running and not job.box.isVisible()
    assert job.state.startswith("Reassessment stopped:")
    left = count_stale(gui_db, rules=new_rules)
    assert left == COUNT - 10 * BATCH  # exactly the ten batches done are kept, the rest untouched
    assert f"{left:,} not yet" in job.state
    # The end message is read whole at 1366 pixels, beside the status bar's permanent items (it was cut short).
    assert message_room(window) >= window.statusBar().fontMetrics().horizontalAdvance(job.state), job.state
    report = verify_audit_trail(gui_db)
    assert report.intact, report.problems
    assert longest < 0.3, f"the window stood still for {longest * 1000:.0f} ms"


def message_room(window: MainWindow) -> int:
    """Pixels the status bar leaves its temporary message: up to the first visible permanent item."""
    bar = window.statusBar()
    permanent = [child for child in bar.children() if isinstance(child, QWidget) and child.isVisible()]
    left = min((child.x() for child in permanent if child.x() > 0), default=bar.width())
    return left - 12  # the message's own margin


def qtbot_button() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


@pytest.mark.hazard("H05")
@pytest.mark.hazard("H16")
def test_an_approval_on_the_desktop_reassesses_in_the_background(
    qtbot: Any, gui_db: Database, open_window: Callable[..., MainWindow], paced: Pacer
) -> None:
    paced.release()  # batches of BATCH, unpaced
    _with_demo(gui_db, COUNT // 4)
    window = open_window()
    job = window.maintenance_actions.reassessment
    qtbot.waitUntil(lambda: not job.running, timeout=10_000)  # the start's look found nothing to reassess
    assert job.state == ""
    from triage_app.ui.rules_dialog import open_rules_dialog

    dialog = open_rules_dialog(window)
    assert dialog is not None
    result: list[Any] = []
    dialog.approved.connect(result.append)
    window.context.query(lambda _s: edited(NEW_VERSION), title="t", on_success=lambda text: _approve(dialog, text))
    qtbot.waitUntil(lambda: bool(result), timeout=10_000)
    assert result[0].deferred == COUNT // 4 and not result[0].reassessed
    assert "being reassessed in the background" in dialog.result_label.text()
    qtbot.waitUntil(lambda: not job.running and job.state.startswith("Reassessed"), timeout=30_000)
    assert count_stale(gui_db, rules=rules_in_force(gui_db).rules) == 0
    assert verify_audit_trail(gui_db).intact


def _approve(dialog: Any, text: Any) -> None:
    """Approve `text` as the dialog's Approve button does after its preview (the confirmation answered yes)."""
    from triage_app.services.app import local_today
    from triage_app.services.rules import approve_rules as approve

    dialog.context.run(
        lambda session: approve(session.db, actor=session.actor, proposed=text, as_of=local_today(), reassess=False),
        title="Rules not approved",
        on_success=dialog._approved,
    )


# --- the daily backup ----------------------------------------------------------------------------------------

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "out" / "queue-20000.sqlite3"


@pytest.fixture
def large_gui_db(gui_paths: AppPaths, backend: str) -> Path:
    """The window's database replaced by 20,000 demo referrals (benchmarks' cached file, migrated), large enough
    that its daily backup takes seconds; the test users added."""
    if backend != "sqlite":
        pytest.skip("the daily backup is of a SQLite file")
    sys.path.insert(0, str(BENCH.parents[2]))
    from benchmarks.queue_db import benchmark_db

    source = benchmark_db(20_000)
    target = parse_database_url(gui_paths.db_url).path
    assert target is not None
    shutil.copyfile(source, target)
    database = Database(parse_database_url(sqlite_url(target)))
    try:
        migrate(database, backup_dir=None)
        builder = sign_in(database, login="benchmark")
        name, roles = USERS["admin-test"]  # the window's fixture adds the others in admin-test's name
        add_user(database, actor=builder, login="admin-test", display_name=name, roles=roles)
    finally:
        database.dispose()
    return target


@pytest.mark.slow
@pytest.mark.sqlite_only("the daily backup of a SQLite file")
@pytest.mark.hazard("H03")
def test_closing_the_window_during_the_daily_backup_stops_it_within_a_second(
    qtbot: Any, large_gui_db: Path, gui_paths: AppPaths, open_window: Callable[..., MainWindow]
) -> None:
    window = open_window()  # the queue is usable: the backup runs after the first page, on its own worker
    actions = window.maintenance_actions
    qtbot.waitUntil(lambda: actions.daily_state == "Backing up…", timeout=10_000)
    assert window.statusBar().currentMessage() == "Backing up…"
    qtbot.wait(300)  # part-way through: its quick check, its copy or its check of the copy
    started = time.perf_counter()
    window.close()
    window.shutdown()  # what run_gui does once the event loop ends: stops the backup and joins its thread
    took = time.perf_counter() - started
    print(f"closed in {took:.3f} s during the daily backup")
    assert took < 1.0, f"closing took {took:.2f} s during the daily backup"
    backups = gui_paths.backup_dir
    # Nothing that looks like a good backup: no manifest entry, no backup file, no partial file left.
    assert read_manifest(backups) == []
    assert list_backups(backups, large_gui_db.stem) == []
    assert newest_verified_backup(backups, large_gui_db.stem) is None
    left = [p.name for p in backups.iterdir() if p.name != ".backup.lock" and not p.name.startswith("audit-checkpoint")]
    assert left == [], "a backup file (or a partial one) was left behind"
