"""A coordinator exports from the meetings window (issue 10, finding 4 in the desktop).

The operating system's file dialogs are the only thing replaced (QFileDialog's static calls return the path a
user would pick); everything else is the real window, worker, services and files. The save dialog's own
question before replacing a file is Qt's: the test checks the window does not switch it off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tests.stored import server_url, stored_rows
from triage_app.config import AppPaths
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.referrals import get_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui import dialogs
from triage_app.ui.main_window import MainWindow
from triage_app.ui.meetings import DiscardQuestion, MeetingWindow
from triage_app.ui.meetings import dialogs as meeting_dialogs


@pytest.fixture(autouse=True)
def discard_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DiscardQuestion, "ask", classmethod(lambda cls, parent, text: True))


def decided_meeting(gui_db: Database, ids: list[int]) -> int:
    """Today's meeting with `ids` listed, each triage confirmed and each outcome recorded by a consultant."""
    consultant = sign_in(gui_db, login="cons-test")
    admin = sign_in(gui_db, login="admin-test")
    for referral_id in ids:
        version = get_referral(gui_db, referral_id=referral_id).row.version
        decide_triage(gui_db, actor=consultant, referral_id=referral_id, expected_version=version)
    meeting_id = meetings.create_meeting(
        gui_db, actor=admin, meeting_date=local_today(), meeting_time="13:30"
    ).meeting_id
    for referral_id in ids:
        meetings.add_case(gui_db, actor=admin, meeting_id=meeting_id, referral_id=referral_id)
    for referral_id in ids:  # the first outcome marks the meeting held: its list is then closed
        meetings.record_outcome(
            gui_db,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome="decline",
            rationale="Invented rationale: toxin still helps",
            today=local_today(),
        )
    return meeting_id


def export_files(db_path: Path) -> list[str]:
    """The export events' changes, read from the app's database for the data folder holding `db_path`."""
    rows = stored_rows(db_path.parent, "SELECT changes FROM audit_event WHERE action = 'export' ORDER BY id")
    return [row[0] for row in rows]


def sha256_of(path: Path) -> str:
    """The file's SHA-256 ("absent" when there is no such file: on a server the data folder has no database)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


class Dialogs:
    """The operating system's file dialogs: answer with the next path, and remember how they were asked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.save_to: Path | None = None
        self.folder: Path | None = None
        self.save_calls: list[tuple[Any, ...]] = []
        monkeypatch.setattr(meeting_dialogs.QFileDialog, "getSaveFileName", self._save)
        monkeypatch.setattr(meeting_dialogs.QFileDialog, "getExistingDirectory", self._folder)

    def _save(self, *args: Any, **kwargs: Any) -> tuple[str, str]:
        self.save_calls.append((*args, *kwargs.values()))
        return (str(self.save_to) if self.save_to else "", "")

    def _folder(self, *args: Any, **kwargs: Any) -> str:
        return str(self.folder) if self.folder else ""


@pytest.mark.hazard("H10", "H11", "H17")
def test_a_coordinator_exports_then_is_refused_the_data_folder_and_asked_before_letters_are_replaced(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    gui_paths: AppPaths,
    shown_errors: list[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db_path = gui_paths.data_dir / "triage.sqlite3"
    decided_meeting(gui_db, seed(1, 2))
    file_dialogs = Dialogs(monkeypatch)
    window = open_window("coord-test")
    mw: MeetingWindow = window.open_meetings()
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)
    mw.meetings.setCurrentRow(0)
    qtbot.waitUntil(lambda: window.worker.pending == 0 and mw.detail is not None, timeout=10_000)

    def idle() -> None:
        qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)

    # 1. The agenda to a new file: written, and its audit event is there.
    mw.exports.format.setCurrentIndex(mw.exports.format.findData("csv"))
    agenda = tmp_path / "exports" / "agenda.csv"
    agenda.parent.mkdir()
    file_dialogs.save_to = agenda
    qtbot.mouseClick(mw.exports.export_button, Qt.MouseButton.LeftButton)
    idle()
    assert agenda.read_text(encoding="utf-8-sig").startswith("Case,")  # the CSV's header in row 1
    assert '"agenda.csv"' in export_files(db_path)[-1] and shown_errors == []
    assert mw.statusBar().currentMessage() == f"Exported to {agenda}"
    # Qt's save dialog asks before replacing a file unless told not to: the window never tells it not to.
    assert not any(isinstance(arg, QFileDialog.Option) for arg in file_dialogs.save_calls[-1])

    # 2. The data folder: the database itself and a new file beside the backups, each refused on screen.
    events = export_files(db_path)
    database_hash = sha256_of(db_path)
    for target, said in (
        # on a server the data folder has no database file, and the name is refused as any file in that folder
        (db_path, "is the app's database: an export never replaces it" if server_url() is None else "is inside"),
        (gui_paths.data_dir / "backups" / "agenda.csv", "is inside the app's data folder"),
    ):
        file_dialogs.save_to = target
        qtbot.mouseClick(mw.exports.export_button, Qt.MouseButton.LeftButton)
        idle()
        title, text = shown_errors[-1]
        assert title == "Export failed" and said in text and str(target) in text and "nothing was written" in text
    assert len(shown_errors) == 2
    assert sha256_of(db_path) == database_hash and export_files(db_path) == events
    assert not (gui_paths.data_dir / "backups" / "agenda.csv").exists()

    # 3. Letters: written to a folder; again, the window asks before replacing them and "No" keeps them.
    asked: list[str] = []
    answer = {"replace": False}

    def confirm(cls: type, parent: Any, title: str, text: str) -> bool:
        asked.append(f"{title}: {text}")
        return answer["replace"]

    monkeypatch.setattr(dialogs.Messages, "confirm", classmethod(confirm))
    letters = tmp_path / "letters"
    file_dialogs.folder = letters  # does not exist yet: made for them, owner-only
    mw.exports.format.setCurrentIndex(mw.exports.format.findData("docx"))
    qtbot.mouseClick(mw.exports.letters_button, Qt.MouseButton.LeftButton)
    idle()
    written = sorted(letters.iterdir())
    assert len(written) == 2 and asked == [] and letters.stat().st_mode & 0o777 == 0o700
    before = {path: sha256_of(path) for path in written}
    events = export_files(db_path)
    qtbot.mouseClick(mw.exports.letters_button, Qt.MouseButton.LeftButton)
    idle()
    assert len(asked) == 1 and asked[0].startswith(f"Replace letters: These letters are already in {letters}:")
    assert all(path.name in asked[0] for path in written) and "No letter has been written yet" in asked[0]
    assert {path: sha256_of(path) for path in written} == before and export_files(db_path) == events
    answer["replace"] = True
    qtbot.mouseClick(mw.exports.letters_button, Qt.MouseButton.LeftButton)
    idle()
    assert len(asked) == 2 and len(export_files(db_path)) == len(events) + 2
    assert sorted(letters.iterdir()) == written and mw.statusBar().currentMessage().startswith(
        f"2 letters written to {letters}"  # then which letters lack an address
    )

    # 4. Letters into the data folder: refused on screen, nothing written there.
    file_dialogs.folder = gui_paths.data_dir / "letters"
    qtbot.mouseClick(mw.exports.letters_button, Qt.MouseButton.LeftButton)
    idle()
    assert shown_errors[-1][0] == "Letters not written" and "is inside the app's data folder" in shown_errors[-1][1]
    assert not (gui_paths.data_dir / "letters").exists()
