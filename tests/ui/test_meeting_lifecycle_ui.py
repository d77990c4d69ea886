"""Journeys in the real meetings window: the coordinator edits a meeting's date and attendees in the dialog with
keys and takes attendance; the chair (a consultant) closes it; Move up keeps the moved case selected; a list over
capacity is warned before and after adding; the sidebar counts every case on a meeting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QPushButton

from tests.stored import stored_rows, stored_value
from tests.ui.test_meetings_ui import filled_meeting, idle, open_meeting_window, ready_ids  # noqa: F401
from triage_app.domain.formats import format_date
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui.dialogs import ReasonDialog
from triage_app.ui.main_window import MainWindow
from triage_app.ui.meetings.dialogs import AttendanceDialog, Confirmation, EditMeetingDialog


def when_modal(qtbot: Any, kind: type, drive: Callable[[Any], None]) -> None:
    """Drive the next modal dialog of `kind` (opened by the click that follows) with `drive`, once it is up."""

    def attempt() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, kind):
            QTimer.singleShot(20, attempt)
            return
        try:
            drive(dialog)
        except BaseException:
            dialog.reject()  # never leave a modal dialog blocking the test: the error is reported by pytest-qt
            raise

    QTimer.singleShot(0, attempt)


def type_cell(qtbot: Any, table: Any, text: str) -> None:
    """Type into the table's current cell as a user does: the first key opens the cell's editor."""
    qtbot.keyClick(table, text[0])
    # the cell's editor, opened by the first key (an earlier cell's editor may not be deleted yet)
    (editor,) = [e for e in table.viewport().findChildren(QLineEdit) if e.isVisible() and e.text() == text[0]]
    qtbot.keyClicks(editor, text[1:])  # committed when the user moves on (another cell, or OK)


def button(box: QMessageBox, text: str) -> QPushButton:
    return next(b for b in box.findChildren(QPushButton) if b.text() == text)


@pytest.mark.hazard("H09")
def test_coordinator_edits_and_takes_attendance_then_the_chair_closes(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    ready_ids: list[int],  # noqa: F811
    shown_errors: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tomorrow = local_today() + timedelta(days=1)
    meeting_id = filled_meeting(gui_db, tomorrow)
    window, mw = open_meeting_window(qtbot, open_window, "coord-test")
    assert mw.edit_button.isEnabled() and not mw.close_button.isEnabled()  # a coordinator does not close

    def edit(dialog: EditMeetingDialog) -> None:
        dialog.date.setFocus()
        qtbot.keyClick(dialog.date, Qt.Key.Key_Down)  # the day section: one day earlier, today
        row = 0
        dialog.attendees.setFocus()
        dialog.attendees.setCurrentCell(row, 0)
        type_cell(qtbot, dialog.attendees, "Dr Ines Marlowe")
        qtbot.keyClicks(dialog.attendees.cellWidget(row, 1), "Functional")
        dialog.attendees.setCurrentCell(row + 1, 0)
        type_cell(qtbot, dialog.attendees, "Dr Tomas Pell")
        qtbot.keyClicks(dialog.attendees.cellWidget(row + 1, 1), "Movement")
        dialog.place.setFocus()
        qtbot.keyClicks(dialog.place, "Seminar room 4")
        qtbot.keyClick(dialog.place, Qt.Key.Key_Return)  # OK is the default button

    when_modal(qtbot, EditMeetingDialog, edit)
    qtbot.mouseClick(mw.edit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    assert not shown_errors
    qtbot.waitUntil(lambda: "Seminar room 4" in mw.header.text(), timeout=5000)
    assert f"{format_date(local_today())} 13:30" in mw.header.text()
    assert stored_rows(gui_db_dir(window), "SELECT name, mdt_role FROM meeting_attendee ORDER BY id") == [
        ("Dr Ines Marlowe", "functional_neurosurgeon"),
        ("Dr Tomas Pell", "movement_disorders_neurologist"),
    ]
    assert mw.quorum.text() == "✘ Not quorate: no physiotherapist"  # of those expected, until attendance is taken

    def attend(dialog: AttendanceDialog) -> None:
        table = dialog.table
        table.setFocus()
        table.setCurrentCell(0, 0)
        qtbot.keyClick(table, Qt.Key.Key_Space)  # Dr Ines Marlowe: present
        table.setCurrentCell(1, 0)
        qtbot.keyClick(table, Qt.Key.Key_Space)  # Dr Tomas Pell: present
        qtbot.mouseClick(
            next(b for b in dialog.findChildren(QPushButton) if b.text() == "&Record attendance"),
            Qt.MouseButton.LeftButton,
        )

    when_modal(qtbot, AttendanceDialog, attend)
    qtbot.mouseClick(mw.attendance_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: "of those present" in mw.quorum.text(), timeout=5000)
    assert mw.quorum.text() == "✘ Not quorate: no physiotherapist (of those present)"
    assert stored_rows(gui_db_dir(window), "SELECT name, attended FROM meeting_attendee ORDER BY id") == [
        ("Dr Ines Marlowe", True),
        ("Dr Tomas Pell", True),
    ]

    # The MDT decides every case; the chair, a consultant, closes the meeting from the header.
    consultant = sign_in(gui_db, login="cons-test")
    detail = meetings.get_meeting(gui_db, meeting_id=meeting_id, rules=window.session.rules)  # type: ignore[union-attr]
    for case in detail.cases:
        meetings.record_outcome(
            gui_db,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=case.referral_id,
            outcome="continue_best_medical_treatment",
            rationale="Toxin still helping",
            today=local_today(),
        )
    chair_window, chair = open_meeting_window(qtbot, open_window, "cons-test")
    assert chair.close_button.isEnabled() and not chair.edit_button.isEnabled()  # held: no more edits
    asked: list[str] = []

    def confirm(box: QMessageBox) -> None:
        asked.append(box.text())
        qtbot.mouseClick(button(box, "&Close meeting"), Qt.MouseButton.LeftButton)

    # Those present were not quorate: the chair is asked why the outcomes stand; without a reason nothing closes.
    reasons: list[str | None] = [None, "Physiotherapy view given in writing"]
    monkeypatch.setattr(ReasonDialog, "ask", classmethod(lambda cls, *args, **kwargs: reasons.pop(0)))
    when_modal(qtbot, QMessageBox, confirm)
    qtbot.mouseClick(chair.close_button, Qt.MouseButton.LeftButton)
    idle(qtbot, chair_window)
    assert stored_rows(gui_db_dir(window), "SELECT closed_at FROM meeting") == [(None,)] and len(reasons) == 1
    when_modal(qtbot, QMessageBox, confirm)
    qtbot.mouseClick(chair.close_button, Qt.MouseButton.LeftButton)
    idle(qtbot, chair_window)
    qtbot.waitUntil(lambda: "closed by Dr Con Sultant" in chair.header.text(), timeout=5000)
    assert asked and "Not quorate: no physiotherapist" in asked[0] and "all decided" in asked[0]
    assert stored_rows(gui_db_dir(window), "SELECT status, closed_by, closed_quorum FROM meeting") == [
        (
            "held",
            consultant.user_id,
            "Not quorate: no physiotherapist; closed with the reason: Physiotherapy view given in writing",
        )
    ]
    assert not chair.close_button.isEnabled() and not chair.attendance_button.isEnabled()
    for shown in (window, chair_window):
        idle(qtbot, shown)


def gui_db_dir(window: MainWindow) -> Any:
    return window.paths.data_dir


@pytest.mark.hazard("H09")
def test_move_up_keeps_the_moved_case_selected(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    ready_ids: list[int],  # noqa: F811
) -> None:
    filled_meeting(gui_db, local_today() + timedelta(days=3))
    window, mw = open_meeting_window(qtbot, open_window, "coord-test")
    cases = mw.planning.cases
    third = cases.item(2)
    moved_text = third.text().split(". ", 1)[1]  # "Pri … · NHS · FAMILY, Given · born …"
    rect = cases.visualItemRect(third)
    qtbot.mouseClick(cases.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert cases.selectedItems() == [third]
    qtbot.mouseClick(mw.planning.up_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: cases.item(1).text().endswith(moved_text), timeout=5000)
    (selected,) = cases.selectedItems()
    assert selected.text() == f"2. {moved_text}" and cases.currentRow() == 1
    qtbot.mouseClick(mw.planning.up_button, Qt.MouseButton.LeftButton)  # again: the same patient moves on up
    idle(qtbot, window)
    qtbot.waitUntil(lambda: cases.item(0).text().endswith(moved_text), timeout=5000)
    assert [i.text() for i in cases.selectedItems()] == [f"1. {moved_text}"]


def test_over_capacity_is_warned_before_and_after_adding(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    ready_ids: list[int],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = sign_in(gui_db, login="admin-test")
    meetings.set_capacity(gui_db, actor=admin, cases=2)
    meetings.create_meeting(gui_db, actor=admin, meeting_date=local_today() + timedelta(days=3), meeting_time="13:30")
    window, mw = open_meeting_window(qtbot, open_window, "coord-test")
    answers = [False, True]
    asked: list[str] = []

    def answer(cls: type, parent: Any, title: str, text: str, yes: str) -> bool:
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(Confirmation, "ask", classmethod(answer))
    for row in range(3):
        mw.planning.ready.item(row).setSelected(True)
    qtbot.mouseClick(mw.planning.add_button, Qt.MouseButton.LeftButton)  # "Go back": nothing added
    idle(qtbot, window)
    assert asked == ["3 cases on a list of 2: over capacity by 1.\n\nAdd all the same?"]
    assert mw.planning.cases.count() == 0
    qtbot.mouseClick(mw.planning.add_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: mw.planning.cases.count() == 3, timeout=5000)
    assert mw.capacity.text() == "⚠ 3 cases on a list of 2: over capacity by 1"


@pytest.mark.hazard("H04")
def test_the_sidebar_counts_every_case_on_the_meeting(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    ready_ids: list[int],  # noqa: F811
) -> None:
    meeting_id = filled_meeting(gui_db)
    consultant = sign_in(gui_db, login="cons-test")
    meetings.record_outcome(
        gui_db,
        actor=consultant,
        meeting_id=meeting_id,
        referral_id=ready_ids[0],
        outcome="decline",
        rationale="Mild",
        today=local_today(),
    )
    window = open_window("coord-test")
    item = window.sidebar.item_for("meeting", meeting_id)
    qtbot.waitUntil(lambda: window.sidebar.item_for("meeting", meeting_id) is not None, timeout=5000)
    item = window.sidebar.item_for("meeting", meeting_id)
    assert item is not None
    listed = stored_value(window.paths.data_dir, "SELECT count(*) FROM meeting_case WHERE meeting_id = ?", meeting_id)
    assert listed == 3 and item.text(1) == "3"
