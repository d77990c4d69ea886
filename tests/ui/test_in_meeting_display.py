"""The in-meeting screen on a shared display: the case in full in words, outcome hotkeys, the action list with
owner and due date, the progress strip, and the whole screen inside 1366x768.

Drives the real main window and meeting window with key presses and clicks, and reads the database back through
the services, asserting on the patient acted on by NHS number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractScrollArea, QApplication, QLabel, QTabWidget, QWidget

from tests.ui.test_meeting_journey import (
    answers,
    key,
    on_case,
    plain,
    start_meeting,
    stored,
    type_rationale,
    typed,
)
from tests.ui.test_meetings_ui import confirm_ready, filled_meeting, idle
from triage_app.domain.referral import format_nhs_number
from triage_app.services.app import local_today
from triage_app.services.demo import load_demo
from triage_app.services.referrals import get_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow
from triage_app.ui.meetings import MeetingWindow

__all__ = ["answers"]  # the fixture answering "Discard …?" in these tests

CTRL, ALT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier
LEFT = Qt.MouseButton.LeftButton
RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # `ready_for_mdt`, `anterior_pattern`: never on screen
# Invented patients, highest priority (TWSTRS) first, so the meeting lists them in this order.
PATIENTS = [
    (21, "Ellerthwaite", "Bronagh", 66, {"phenotype__components": ["torticollis", "sagittal_shift"]}),
    (22, "Fenwoolly", "Caradoc", 58, {"phenotype__head_tremor": False, "history__dysphagia": True}),
    (23, "Gorsebridge", "Ysolde", 50, {"botulinum_toxin__immunoresistance_tested": False}),
]


@pytest.fixture
def meeting(seed: Callable[..., list[int]], gui_db: Database) -> tuple[int, list[int]]:
    """Today's meeting with three patients confirmed ready, in this order; (meeting id, referral ids)."""
    ids = seed(
        *[
            (
                serial,
                {
                    "patient__family_name": family,
                    "patient__given_name": given,
                    "severity__twstrs_total": twstrs,
                    **changes,
                },
            )
            for serial, family, given, twstrs, changes in PATIENTS
        ]
    )
    confirm_ready(gui_db, ids)
    return filled_meeting(gui_db), ids


def screen_text(mw: MeetingWindow) -> str:
    """What the in-meeting screen reads as: title, progress strip and the case."""
    screen = mw.in_meeting
    strip = " ".join(b.text() for b in screen.strip.buttons.values())
    return "\n".join((plain(screen.case_title.text()), strip, plain(screen.case_body.text())))


def decision_shown(mw: MeetingWindow) -> bool:
    return "Confirmed as Ready for MDT by Dr Con Sultant" in plain(mw.in_meeting.case_body.text())


def type_actions(qtbot: Any, mw: MeetingWindow, rows: list[tuple[str, str, str]]) -> None:
    """Alt+O into the action table, each row typed cell by cell with Tab, Ctrl+Ins for a new row."""
    qtbot.keyClick(mw, Qt.Key.Key_O, ALT)  # the Actions label
    table = mw.in_meeting.entry.action_table
    assert table.hasFocus()
    for number, row in enumerate(rows):
        if number:
            key(qtbot, mw, Qt.Key.Key_Insert, CTRL)
            assert (table.currentRow(), table.currentColumn()) == (table.rowCount() - 1, 0)
        for column, text in enumerate(row):
            typed(qtbot, text)
            if column < 2:
                key(qtbot, mw, Qt.Key.Key_Tab)
        mw.in_meeting.entry.commit_action_edit()


@pytest.mark.hazard("H09", "H06", "H14")
def test_three_cases_recorded_by_hotkeys_with_actions(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, list[int]],
    shown_errors: list[tuple[str, str]],
    answers: tuple[list[str], list[bool]],
) -> None:
    meeting_id, ids = meeting
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    idle(qtbot, window)
    nhs = [get_referral(gui_db, referral_id=rid).row.nhs_number or "" for rid in ids]
    plan = [
        # (hotkey, outcome stored, rationale, actions typed, actions stored as (what, owner, due))
        (
            Qt.Key.Key_2,
            "refer_for_dbs_assessment",
            "Tremor and sagittal shift: DBS fits better",
            # "MDT c" completes to the usual owner as it is typed
            [("Refer to DBS clinic", "Dr Con Sultant", "1/12/2026"), ("Tell the referrer", "MDT c", "")],
            [("Refer to DBS clinic", "Dr Con Sultant", "2026-12-01"), ("Tell the referrer", "MDT coordinator", None)],
        ),
        (
            Qt.Key.Key_3,
            "continue_best_medical_treatment",
            "Swallowing first: videofluoroscopy",
            [("Book videofluoroscopy", "Specialist nurse", "15-Jan-2027")],
            [("Book videofluoroscopy", "Specialist nurse", "2027-01-15")],
        ),
        (
            Qt.Key.Key_4,
            "more_information_needed",
            "Immunoresistance test needed",
            [("Frontalis test", "Toxin clinic", "2027-02-01")],
            [("Frontalis test", "Toxin clinic", "2027-02-01")],
        ),
    ]
    for index, (hotkey, outcome, rationale, typed_rows, expected) in enumerate(plan):
        qtbot.waitUntil(lambda: decision_shown(mw), timeout=5000)
        assert on_case(mw) == nhs[index]
        shown = screen_text(mw)
        # Three identifiers, age, the referral, the decision, TWSTRS, treatment and every criterion, in words.
        assert f"Case {index + 1} of 3" in shown and f"NHS {format_nhs_number(nhs[index])}" in shown
        assert "hospital number K0043921" in shown and "(age " in shown
        for words in (
            "Referrer\nDr Ada Testwell, neurologist, RXX",
            "weeks waiting",
            "Clinical question\nConsider SPD: rotational torticollis, lost response to toxin.",
            "Consultant's decision\nConfirmed as Ready for MDT by Dr Con Sultant, ",
            f"TWSTRS total {PATIENTS[index][3]}/85, pain 9/20, Tsui 8/25",
            "Botulinum toxin\n9 cycles, ultrasound-guided, response secondary non-response",
            "Oral medication\nclonazepam: ineffective",
            "Physiotherapy\ncompleted, outcome partial",
            "✔ R1 Botulinum toxin adequately tried: met.",
            "MDT outcome: not yet recorded",
        ):
            assert words in shown, (words, shown)
        assert not RAW_CODE.search(shown), RAW_CODE.findall(shown)
        # The strip: this case current, the earlier ones recorded.
        strip = mw.in_meeting.strip
        assert [b.isChecked() for b in strip.buttons.values()] == [i == index for i in range(3)]
        assert all(strip.text_of(rid).endswith("✔") == (i < index) for i, rid in enumerate(ids))

        key(qtbot, mw, hotkey, ALT)
        assert mw.in_meeting.entry.chosen_outcome() == outcome
        type_rationale(qtbot, mw, rationale)
        type_actions(qtbot, mw, typed_rows)
        key(qtbot, mw, Qt.Key.Key_Return, CTRL)
        if index < 2:  # the next case, blank, is the patient that followed in the list (H09)
            qtbot.waitUntil(lambda i=index: mw.in_meeting.shown == (meeting_id, ids[i + 1]), timeout=5000)
            assert on_case(mw) == nhs[index + 1]
            assert f"NHS {format_nhs_number(nhs[index + 1])}" in mw.in_meeting.case_title.text()
            assert not mw.in_meeting.has_unrecorded()
        else:  # the last case stays, showing what was recorded
            qtbot.waitUntil(lambda: "Recorded: More information needed" in mw.in_meeting.case_body.text(), timeout=5000)
        idle(qtbot, window)
        case = stored(gui_db, window, meeting_id)[nhs[index]]
        assert (case.outcome, case.rationale) == (outcome, rationale)
        assert [(a.description, a.owner, a.due and a.due.isoformat()) for a in case.actions] == expected
    assert shown_errors == []
    cases = stored(gui_db, window, meeting_id)
    assert [cases[n].outcome for n in nhs] == [p[1] for p in plan]
    # Case 2's cautions are in words; case 3 says its immunoresistance was not tested.
    key(qtbot, mw, Qt.Key.Key_PageUp)
    text = plain(mw.in_meeting.case_body.text())
    assert on_case(mw) == nhs[1] and "⚠ Cautions" in text and "swallowing" in text.lower()
    assert "Recorded: Continue best medical treatment" in text
    assert "Book videofluoroscopy (owner: Specialist nurse, due 15-Jan-2027)" in text
    assert all(b.text().endswith("✔") for b in mw.in_meeting.strip.buttons.values())


@pytest.mark.hazard("H09")
def test_a_due_date_that_is_not_a_date_is_said_at_once_and_nothing_is_recorded(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, list[int]],
    shown_errors: list[tuple[str, str]],
) -> None:
    meeting_id, ids = meeting
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    entry = mw.in_meeting.entry
    first = get_referral(gui_db, referral_id=ids[0]).row.nhs_number or ""
    key(qtbot, mw, Qt.Key.Key_5, ALT)
    type_rationale(qtbot, mw, "Not refractory yet")
    type_actions(qtbot, mw, [("Write to the referrer", "MDT coordinator", "31/02/2027")])
    assert entry.action_problem.isVisible()
    assert "Action 1, due date: '31/02/2027' is not a real date" in entry.action_problem.text()
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    assert shown_errors[-1][0] == "Outcome not recorded" and "action 1" in shown_errors[-1][1]
    assert format_nhs_number(first) in shown_errors[-1][1]
    assert window.worker.pending == 0 and stored(gui_db, window, meeting_id)[first].outcome is None
    # Corrected in place: shown as DD-MMM-YYYY, the warning gone; Ctrl+Del removes an extra row.
    due = entry.action_table.item(0, 2)
    due.setText("28/02/2027")
    assert due.text() == "28-Feb-2027" and not entry.action_problem.isVisible()
    entry.action_table.setFocus()
    key(qtbot, mw, Qt.Key.Key_Insert, CTRL)
    rows = entry.action_table.rowCount()
    key(qtbot, mw, Qt.Key.Key_Delete, CTRL)
    assert entry.action_table.rowCount() == rows - 1
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: mw.in_meeting.shown == (meeting_id, ids[1]), timeout=5000)
    idle(qtbot, window)
    case = stored(gui_db, window, meeting_id)[first]
    assert case.outcome == "decline"
    assert [(a.description, a.owner, str(a.due)) for a in case.actions] == [
        ("Write to the referrer", "MDT coordinator", "2027-02-28")
    ]


@pytest.mark.hazard("H09")
def test_the_progress_strip_jumps_and_keeps_typed_text_unless_dropped(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, list[int]],
    answers: tuple[list[str], list[bool]],
) -> None:
    meeting_id, ids = meeting
    asked, replies = answers
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    strip = mw.in_meeting.strip
    nhs = [get_referral(gui_db, referral_id=rid).row.nhs_number or "" for rid in ids]
    assert [strip.text_of(rid) for rid in ids] == [
        "1 · ELLERTHWAITE B ○",
        "2 · FENWOOLLY C ○",
        "3 · GORSEBRIDGE Y ○",
    ]
    qtbot.mouseClick(strip.buttons[ids[2]], LEFT)
    assert on_case(mw) == nhs[2] and strip.buttons[ids[2]].isChecked() and not strip.buttons[ids[0]].isChecked()
    assert "Case 3 of 3" in mw.in_meeting.case_title.text() and asked == []
    key(qtbot, mw, Qt.Key.Key_4, ALT)
    type_rationale(qtbot, mw, "Needs the toxin clinic letter")
    replies.append(False)  # keep the text: the case stays
    qtbot.mouseClick(strip.buttons[ids[0]], LEFT)
    assert asked[-1].startswith("Discard the outcome you have not recorded for GORSEBRIDGE, Ysolde")
    assert on_case(mw) == nhs[2] and strip.buttons[ids[2]].isChecked() and not strip.buttons[ids[0]].isChecked()
    assert mw.in_meeting.entry.rationale.toPlainText() == "Needs the toxin clinic letter"
    replies.append(True)
    qtbot.mouseClick(strip.buttons[ids[0]], LEFT)
    assert on_case(mw) == nhs[0] and not mw.in_meeting.has_unrecorded()
    assert stored(gui_db, window, meeting_id)[nhs[2]].outcome is None


# --- the shared display: 1366x768 and 1920x1080 ----------------------------------------------------------------


def outside(window: QWidget) -> list[str]:
    """Visible widgets not wholly inside the window, or cut off by a parent that is not a scroll area: what a user
    could not see or reach."""
    problems = []
    bounds = window.rect()
    for widget in window.findChildren(QWidget):
        if not widget.isVisible() or widget.width() == 0 or widget.height() == 0:
            continue
        # Inside a scroll area it can be scrolled to; its viewport is what must fit.
        scroller = widget.parentWidget()
        in_scroll = False
        while scroller is not None and scroller is not window:
            if isinstance(scroller, QAbstractScrollArea) and scroller.viewport() is not widget:
                in_scroll = True
                break
            scroller = scroller.parentWidget()
        if in_scroll:
            continue
        top_left = widget.mapTo(window, QPoint(0, 0))
        box = QRect(top_left, widget.size())
        if not bounds.contains(box):
            problems.append(f"{type(widget).__name__} {widget.accessibleName() or widget.objectName()} at {box}")
    return problems


def mnemonics(window: QWidget) -> list[str]:
    """The Alt+letter of every visible button and labelled field in the window (`R&ationale` gives A)."""
    found = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisible():
            continue
        if isinstance(widget, QAbstractButton) or (isinstance(widget, QLabel) and widget.buddy() is not None):
            match = re.search(r"&([^&\s])", widget.text())
            if match:
                found.append(match.group(1).upper())
    tabs = window.findChild(QTabWidget)
    if tabs is not None:
        for index in range(tabs.count()):
            match = re.search(r"&([^&\s])", tabs.tabText(index))
            if match:
                found.append(match.group(1).upper())
    return found


def shoot(widget: QWidget, name: str) -> None:
    """A screenshot to look at, when TRIAGE_SHOTS names a folder."""
    folder = os.environ.get("TRIAGE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(folder) / name))


@pytest.fixture
def demo_meeting(gui_db: Database, rules: Any) -> int:
    """A meeting of demo referrals: the ready ones confirmed by a consultant, filled to capacity."""
    admin = sign_in(gui_db, login="admin-test")
    load_demo(gui_db, actor=admin, rules=rules, as_of=local_today(), count=60)
    consultant = sign_in(gui_db, login="cons-test")
    for referral_id in range(1, 61):
        row = get_referral(gui_db, referral_id=referral_id).row
        if row.outcome == "ready_for_mdt" and row.decided_outcome is None:
            decide_triage(gui_db, actor=consultant, referral_id=referral_id, expected_version=row.version)
    return filled_meeting(gui_db)


@pytest.mark.parametrize("size", [(1366, 728), (1920, 1040)], ids=["1366x768", "1920x1080"])
def test_the_screen_fits_a_shared_display(
    qtbot: Any, open_window: Callable[..., MainWindow], demo_meeting: int, size: tuple[int, int]
) -> None:
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    mw.resize(*size)  # maximised on the display, less the task bar
    idle(qtbot, window)
    qtbot.waitUntil(lambda: "Confirmed as" in mw.in_meeting.case_body.text(), timeout=5000)
    QApplication.processEvents()
    assert mw.size().width() == size[0] and mw.size().height() <= size[1]
    assert outside(mw) == []
    screen = mw.in_meeting
    # The in-meeting screen itself fits beside the meetings list on 1366 (the window's other parts are not its own).
    assert screen.minimumSizeHint().width() <= 1366 - 300
    # The entry fits its pane's width (it scrolls only down), and Record, Next and the strip are in view.
    assert screen.entry.minimumSizeHint().width() <= screen.entry_scroll.viewport().width()
    current = screen.strip.buttons[screen.shown[1]] if screen.shown else None
    for widget in (screen.save_outcome_button, screen.next_case_button, current, screen.case_title):
        assert widget is not None
        assert widget.isVisible() and not widget.visibleRegion().isEmpty()
    text = screen_text(mw)
    assert not RAW_CODE.search(text), RAW_CODE.findall(text)
    # Every Alt key on the screen does one thing: a second button or label with it would steal the key.
    keys = mnemonics(mw)
    assert len(keys) == len(set(keys)), sorted(keys)
    assert {"A", "O", "M"} <= set(keys) and not set(keys) & set("123456")
    shoot(mw, f"in-meeting-{size[0]}.png")
    key(qtbot, mw, Qt.Key.Key_PageDown)
    idle(qtbot, window)
    shoot(mw, f"in-meeting-{size[0]}-case2.png")


def test_the_case_type_grows_for_the_room_and_back(
    qtbot: Any, open_window: Callable[..., MainWindow], meeting: tuple[int, list[int]]
) -> None:
    _window, mw = start_meeting(qtbot, open_window, "cons-test")
    body = mw.in_meeting.case_body
    start = body.font().pointSizeF()
    assert start > mw.font().pointSizeF()  # larger than the desktop's own type from the start
    key(qtbot, mw, Qt.Key.Key_Equal, CTRL)
    key(qtbot, mw, Qt.Key.Key_Equal, CTRL)
    assert body.font().pointSizeF() > start * 1.2
    key(qtbot, mw, Qt.Key.Key_Minus, CTRL)
    assert start < body.font().pointSizeF()
    key(qtbot, mw, Qt.Key.Key_0, CTRL)
    assert body.font().pointSizeF() == pytest.approx(start)
