"""The meeting window on the `AppContext`: its changes are broadcast and reach the main window's queue row by
row; it reads again only for changes that touch what it shows, and never under an outcome being typed.

Drives the real main window and meeting window with key presses and mouse clicks (the new-meeting dialog
included) and reads the database back through the services, naming patients by NHS number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QListWidget

from tests.ui.test_meeting_journey import activate, key, type_rationale
from tests.ui.test_meetings_ui import confirm_ready, discard_questions, filled_meeting, idle
from triage_app.services import meetings
from triage_app.services.changes import Changes, referrals_changed
from triage_app.services.referrals import get_referral
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow
from triage_app.ui.meetings import MeetingWindow, NewMeetingDialog

__all__ = ["discard_questions"]  # the autouse fixture answering "Discard …?" in these tests too

CTRL, ALT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier
LEFT = Qt.MouseButton.LeftButton


def click_item(
    qtbot: Any, widget: QListWidget, row: int, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    """A click on a list's row, as the mouse does it."""
    item = widget.item(row)
    widget.scrollToItem(item)
    qtbot.mouseClick(widget.viewport(), LEFT, modifier, widget.visualItemRect(item).center())


def answer_new_meeting(qtbot: Any, place: str) -> None:
    """Once the modal new-meeting dialog is up: today's date, the place typed, OK clicked."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, NewMeetingDialog):
            QTimer.singleShot(20, answer)  # not shown yet
            return
        dialog.date.setDate(QDate.currentDate())  # outcomes are refused before the meeting's date
        qtbot.keyClicks(dialog.place, place)
        qtbot.keyClicks(dialog.chair, "Dr Invented Chair")
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, LEFT)

    QTimer.singleShot(0, answer)


def open_meeting_window(qtbot: Any, window: MainWindow) -> MeetingWindow:
    """Ctrl+M from the queue."""
    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_M, CTRL)
    qtbot.waitUntil(lambda: getattr(window, "meeting_window", None) is not None, timeout=5000)
    mw: MeetingWindow = window.meeting_window
    idle(qtbot, window)
    activate(qtbot, mw)
    return mw


def nhs_of(gui_db: Database, referral_id: int) -> str:
    return str(get_referral(gui_db, referral_id=referral_id).row.nhs_number)


@pytest.mark.hazard("H08", "H09", "H04")
def test_plan_move_up_and_record_reach_the_queue_row_without_a_reset(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    shown_errors: list[tuple[str, str]],
) -> None:
    higher, lower = confirm_ready(
        gui_db,
        seed(
            (21, {"patient__family_name": "Ellerby", "patient__given_name": "Wynne", "severity__twstrs_total": 60}),
            (22, {"patient__family_name": "Fairhollow", "patient__given_name": "Ines", "severity__twstrs_total": 30}),
        ),
    )
    window = open_window("admin-test")  # a coordinator and a consultant: plans the meeting, then records
    mw = open_meeting_window(qtbot, window)
    assert mw.planning.ready.ids() == [higher, lower]  # highest priority first

    # A new meeting, through the real dialog.
    answer_new_meeting(qtbot, "Seminar room 4")
    qtbot.mouseClick(mw.new_button, LEFT)
    qtbot.waitUntil(lambda: mw.detail is not None, timeout=5000)
    idle(qtbot, window)
    assert "Seminar room 4" in mw.header.text() and mw.meetings.count() == 1
    meeting_id = mw.meeting_id
    assert meeting_id is not None and mw.detail is not None and mw.detail.meeting.id == meeting_id

    # Both ready referrals across: click, Ctrl+click, Add.
    click_item(qtbot, mw.planning.ready, 0)
    click_item(qtbot, mw.planning.ready, 1, CTRL)
    assert mw.planning.ready.selected_ids() == [higher, lower]
    qtbot.mouseClick(mw.planning.add_button, LEFT)
    idle(qtbot, window)
    assert mw.planning.cases.ids() == [higher, lower] and mw.planning.ready.count() == 0
    assert mw.capacity.text() == "2 of 8 cases"

    # Move the second case up: it moves, and stays the selected case (issue 13: the selection was lost).
    click_item(qtbot, mw.planning.cases, 1)
    qtbot.mouseClick(mw.planning.up_button, LEFT)
    idle(qtbot, window)
    assert mw.planning.cases.ids() == [lower, higher]
    assert mw.planning.cases.current_id() == lower and mw.planning.cases.selected_ids() == [lower]
    assert [
        c.referral_id for c in meetings.get_meeting(gui_db, meeting_id=meeting_id, rules=window.session.rules).cases
    ] == [lower, higher]
    qtbot.mouseClick(mw.planning.down_button, LEFT)  # and back down, still the same case selected
    idle(qtbot, window)
    assert mw.planning.cases.ids() == [higher, lower] and mw.planning.cases.current_id() == lower
    qtbot.mouseClick(mw.planning.up_button, LEFT)
    idle(qtbot, window)
    assert mw.planning.cases.ids() == [lower, higher] and mw.planning.cases.current_id() == lower

    # In the meeting: case 1 is the one moved up; its outcome recorded from the keyboard.
    activate(qtbot, mw)
    qtbot.keyClick(mw, Qt.Key.Key_I, ALT)
    qtbot.waitUntil(lambda: mw.tabs.currentIndex() == 1, timeout=5000)
    # The screen stayed on the patient it showed (held by referral id), now second; PgUp goes to the moved case.
    assert mw.in_meeting.case_title.text().startswith("Case 2 of 2: <b>ELLERBY, Wynne</b>")
    key(qtbot, mw, Qt.Key.Key_PageUp)
    assert mw.in_meeting.case_title.text().startswith("Case 1 of 2: <b>FAIRHOLLOW, Ines</b>")
    model = window.model
    resets: list[int] = []
    refreshed: list[list[int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rows_refreshed.connect(refreshed.append)
    row_before = model.queue_row(model.row_of(lower))
    other_before = model.queue_row(model.row_of(higher))
    key(qtbot, mw, Qt.Key.Key_3, ALT)  # continue best medical treatment
    type_rationale(qtbot, mw, "Invented rationale: toxin still helps")
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: mw.in_meeting.case_title.text().startswith("Case 2 of 2: <b>ELLERBY"), timeout=5000)
    idle(qtbot, window)
    assert shown_errors == []

    # The right patient's outcome is stored, and only theirs.
    stored = {
        c.row.nhs_number: c
        for c in meetings.get_meeting(gui_db, meeting_id=meeting_id, rules=window.session.rules).cases
    }
    assert stored[nhs_of(gui_db, lower)].outcome == "continue_best_medical_treatment"
    assert stored[nhs_of(gui_db, lower)].rationale == "Invented rationale: toxin still helps"
    assert stored[nhs_of(gui_db, higher)].outcome is None

    # The main window's queue repainted that patient's row from the broadcast, without a reset.
    qtbot.waitUntil(lambda: any(lower in ids for ids in refreshed), timeout=5000)
    assert resets == []
    row_after = model.queue_row(model.row_of(lower))
    assert row_after.nhs_number == nhs_of(gui_db, lower)
    assert row_before.status != row_after.status
    assert row_after.status == get_referral(gui_db, referral_id=lower).row.status == "discussed"
    assert model.queue_row(model.row_of(higher)).status == other_before.status


def reads(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The meetings the meeting window reads from now on (each read is one worker job)."""
    from triage_app.ui.meetings import window as meetings_window

    asked: list[int | None] = []
    read = meetings_window.read_meetings

    def counted(chosen: int | None) -> Any:
        asked.append(chosen)
        return read(chosen)

    monkeypatch.setattr(meetings_window, "read_meetings", counted)
    return asked


@pytest.mark.hazard("H04", "H09")
def test_a_broadcast_refreshes_only_what_it_touches_and_waits_for_an_unrecorded_outcome(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confirm_ready(gui_db, seed(31))
    meeting_id = filled_meeting(gui_db)
    other_meeting = filled_meeting(gui_db)  # empty: nothing left to fill it with
    window = open_window("admin-test")
    window.live.stop()  # it broadcasts by hand what another desktop did; live updates would broadcast it twice
    mw = open_meeting_window(qtbot, window)
    rows = [mw.meetings.item(i).data(Qt.ItemDataRole.UserRole + 1) for i in range(mw.meetings.count())]
    click_item(qtbot, mw.meetings, rows.index(meeting_id))
    idle(qtbot, window)
    assert mw.detail is not None and mw.detail.meeting.id == meeting_id and mw.planning.ready.count() == 0

    # Another meeting's cases changed: nothing for this window to read.
    jobs = reads(monkeypatch)
    window.context.broadcast(Changes(meeting_ids=frozenset({other_meeting})))
    assert jobs == []
    window.context.broadcast(Changes(meeting_ids=frozenset({meeting_id})))
    assert jobs == [meeting_id]  # its own meeting: read again
    idle(qtbot, window)

    # A referral made ready elsewhere (another desktop) joins the ready list, unless an outcome is being typed.
    (newcomer,) = confirm_ready(gui_db, seed(32))
    activate(qtbot, mw)
    qtbot.keyClick(mw, Qt.Key.Key_I, ALT)
    qtbot.waitUntil(lambda: mw.tabs.currentIndex() == 1, timeout=5000)
    type_rationale(qtbot, mw, "Half typed")
    jobs.clear()
    window.context.broadcast(referrals_changed(newcomer))
    assert jobs == [] and mw.planning.ready.count() == 0  # held back: nothing moves under the typing
    assert "shown once this outcome is recorded or discarded" in mw.statusBar().currentMessage()
    assert mw.in_meeting.entry.rationale.toPlainText() == "Half typed"
    activate(qtbot, mw)
    qtbot.keyClick(mw, Qt.Key.Key_P, ALT)  # to the planning screen: nothing is typed there, what waited is shown
    qtbot.waitUntil(lambda: mw.tabs.currentIndex() == 0, timeout=5000)
    idle(qtbot, window)
    assert jobs == [meeting_id] and mw.planning.ready.ids() == [newcomer]
    assert mw.in_meeting.entry.rationale.toPlainText() == "Half typed"  # the same case: the typing is kept

    # On the planning screen a change is shown at once, the typing still kept.
    (another,) = confirm_ready(gui_db, seed(33))
    window.context.broadcast(referrals_changed(another))
    idle(qtbot, window)
    assert sorted(mw.planning.ready.ids()) == sorted([newcomer, another])
    assert mw.in_meeting.entry.rationale.toPlainText() == "Half typed"
