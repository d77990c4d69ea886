"""A whole MDT meeting recorded case by case from the keyboard, as the chair does on the shared screen.

Drives the real main window and meeting window with key presses and mouse clicks, and after each record reads
the database back through the services, asserting on the patient acted on by NHS number (safety.md, "The
meeting and its outcomes").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from tests.ui.test_meetings_ui import confirm_ready, discard_questions, filled_meeting, idle
from triage_app.domain.referral import format_nhs_number
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.referrals import get_referral
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow
from triage_app.ui.meetings import DiscardQuestion, MeetingWindow

__all__ = ["discard_questions"]  # the autouse fixture answering "Discard …?" in these tests too

CTRL, ALT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier
LEFT = Qt.MouseButton.LeftButton
# Invented patients, highest priority (TWSTRS) first, so the meeting lists them in this order.
PATIENTS = [
    (11, "Ashcombe", "Tamsin", 64),
    (12, "Brindlemoor", "Oswin", 56),
    (13, "Carrowgate", "Petronella", 48),
    (14, "Dunwiddy", "Lorcan", 40),
]


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[bool]]:
    """What "Discard the outcome you have not recorded …?" asked, and the answers to give, in order."""
    asked: list[str] = []
    replies: list[bool] = []

    def answer(cls: type, parent: Any, text: str) -> bool:
        asked.append(text)
        assert replies, f"unexpected question: {text}"
        return replies.pop(0)

    monkeypatch.setattr(DiscardQuestion, "ask", classmethod(answer))
    return asked, replies


@pytest.fixture
def meeting(seed: Callable[..., list[int]], gui_db: Database) -> tuple[int, dict[int, str]]:
    """Today's meeting with the four patients confirmed ready; (meeting id, NHS number by referral id)."""
    ids = seed(
        *[
            (
                serial,
                {
                    "patient__family_name": family,
                    "patient__given_name": given,
                    "severity__twstrs_total": twstrs,
                    "phenotype__components": ["torticollis", "sagittal_shift"],
                },
            )
            for serial, family, given, twstrs in PATIENTS
        ]
    )
    confirm_ready(gui_db, ids)
    meeting_id = filled_meeting(gui_db)
    nhs = {rid: get_referral(gui_db, referral_id=rid).row.nhs_number or "" for rid in ids}
    return meeting_id, nhs


def stored(gui_db: Database, window: MainWindow, meeting_id: int) -> dict[str, Any]:
    """The meeting's cases as stored, by NHS number (read back through the services)."""
    detail = meetings.get_meeting(gui_db, meeting_id=meeting_id, rules=window.session.rules)
    return {case.row.nhs_number: case for case in detail.cases}


def activate(qtbot: Any, widget: QWidget) -> None:
    """Shortcuts reach only the active window."""
    widget.activateWindow()
    widget.raise_()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget, timeout=5000)


def key(
    qtbot: Any, mw: MeetingWindow, k: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    """A key pressed wherever the focus is in the meeting window, as the user's keyboard would."""
    qtbot.keyClick(QApplication.focusWidget() or mw, k, modifier)


def start_meeting(qtbot: Any, open_window: Callable[..., MainWindow], login: str) -> tuple[MainWindow, MeetingWindow]:
    """Ctrl+M from the queue, click the meeting, Alt+I for the in-meeting screen."""
    window = open_window(login)
    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_M, CTRL)
    qtbot.waitUntil(lambda: getattr(window, "meeting_window", None) is not None, timeout=5000)
    mw: MeetingWindow = window.meeting_window
    idle(qtbot, window)
    activate(qtbot, mw)
    item = mw.meetings.item(0)
    qtbot.mouseClick(mw.meetings.viewport(), LEFT, pos=mw.meetings.visualItemRect(item).center())
    idle(qtbot, window)
    qtbot.waitUntil(lambda: mw.detail is not None and mw.in_meeting.shown is not None, timeout=5000)
    qtbot.keyClick(mw, Qt.Key.Key_I, ALT)
    qtbot.waitUntil(lambda: mw.tabs.currentIndex() == 1, timeout=5000)
    return window, mw


def on_case(mw: MeetingWindow) -> str:
    """The NHS number of the case on screen, as the title shows it."""
    assert mw.detail is not None
    return str(mw.detail.cases[mw.in_meeting.case_index].row.nhs_number)


def typed(qtbot: Any, text: str) -> None:
    """Characters typed as a keyboard types them: each to whatever has the focus then (a table cell's editor
    opens on the first key)."""
    for char in text:
        qtbot.keyClicks(QApplication.focusWidget(), char)


def assert_blank(mw: MeetingWindow) -> None:
    assert mw.in_meeting.entry.chosen_outcome() is None
    assert not any(check.isChecked() for check in mw.in_meeting.entry.checklist.values())
    assert mw.in_meeting.entry.rationale.toPlainText() == "" and mw.in_meeting.entry.amend_reason.text() == ""
    assert not mw.in_meeting.has_unrecorded()


def type_rationale(qtbot: Any, mw: MeetingWindow, text: str) -> None:
    qtbot.keyClick(mw, Qt.Key.Key_A, ALT)  # the Rationale label's mnemonic
    assert mw.in_meeting.entry.rationale.hasFocus()
    qtbot.keyClicks(mw.in_meeting.entry.rationale, text)


@pytest.mark.hazard("H09")
def test_a_whole_meeting_recorded_from_the_keyboard(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, dict[int, str]],
    shown_errors: list[tuple[str, str]],
    answers: tuple[list[str], list[bool]],
) -> None:
    meeting_id, _nhs = meeting
    asked, replies = answers
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    first, second, third, fourth = (format_nhs_number(n) for n in stored(gui_db, window, meeting_id))
    assert mw.in_meeting.case_title.text().startswith("Case 1 of 4: <b>ASHCOMBE, Tamsin</b>")
    assert f"NHS {first}" in mw.in_meeting.case_title.text()
    assert_blank(mw)

    # Case 1: an outcome without a rationale is refused on screen, naming the patient; nothing is stored.
    key(qtbot, mw, Qt.Key.Key_2, ALT)
    assert mw.in_meeting.entry.chosen_outcome() == "refer_for_dbs_assessment"
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    assert shown_errors[-1][0] == "Outcome not recorded"
    assert "write the rationale" in shown_errors[-1][1] and f"ASHCOMBE, Tamsin (NHS {first}" in shown_errors[-1][1]
    assert window.worker.pending == 0  # refused before any database call
    assert stored(gui_db, window, meeting_id)[first.replace(" ", "")].outcome is None
    type_rationale(qtbot, mw, "Tremor-dominant: DBS more suitable")
    qtbot.mouseClick(mw.in_meeting.save_outcome_button, LEFT)
    qtbot.waitUntil(lambda: mw.in_meeting.case_title.text().startswith("Case 2 of 4"), timeout=5000)
    idle(qtbot, window)
    cases = stored(gui_db, window, meeting_id)
    one = cases[first.replace(" ", "")]
    assert (one.outcome, one.rationale, one.decided_by_name) == (
        "refer_for_dbs_assessment",
        "Tremor-dominant: DBS more suitable",
        "Dr Con Sultant",
    )
    assert all(c.outcome is None for n, c in cases.items() if n != first.replace(" ", ""))
    assert on_case(mw) == second.replace(" ", "") and f"NHS {second}" in mw.in_meeting.case_title.text()
    assert_blank(mw)  # nothing of case 1 carried over: the old bug recorded it again for case 2
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    assert "choose an outcome" in shown_errors[-1][1] and second in shown_errors[-1][1]
    assert stored(gui_db, window, meeting_id)[second.replace(" ", "")].outcome is None

    # Case 2: the wrong button (Decline) recorded, then corrected by an amendment with a reason.
    key(qtbot, mw, Qt.Key.Key_5, ALT)
    type_rationale(qtbot, mw, "Agreed to continue toxin")
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: mw.in_meeting.case_title.text().startswith("Case 3 of 4"), timeout=5000)
    idle(qtbot, window)
    assert stored(gui_db, window, meeting_id)[second.replace(" ", "")].outcome == "decline"
    key(qtbot, mw, Qt.Key.Key_PageUp)  # blank screen: no question
    assert asked == [] and on_case(mw) == second.replace(" ", "")
    assert_blank(mw)
    assert "Recorded: Decline</b> by Dr Con Sultant" in mw.in_meeting.case_body.text()
    assert mw.in_meeting.entry.amend_reason.isEnabled()
    key(qtbot, mw, Qt.Key.Key_3, ALT)
    type_rationale(qtbot, mw, "Agreed to continue toxin")
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)  # an amendment without its reason: refused, nothing changed
    assert "reason for amending" in shown_errors[-1][1] and second in shown_errors[-1][1]
    assert stored(gui_db, window, meeting_id)[second.replace(" ", "")].outcome == "decline"
    qtbot.keyClick(mw, Qt.Key.Key_M, ALT)  # the reason's label
    assert mw.in_meeting.entry.amend_reason.hasFocus()
    qtbot.keyClicks(mw.in_meeting.entry.amend_reason, "Wrong button pressed: the MDT agreed best medical treatment")
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: mw.in_meeting.case_title.text().startswith("Case 3 of 4"), timeout=5000)
    idle(qtbot, window)
    two = stored(gui_db, window, meeting_id)[second.replace(" ", "")]
    assert (two.outcome, two.rationale) == ("continue_best_medical_treatment", "Agreed to continue toxin")
    history = get_referral(gui_db, referral_id=two.referral_id).history
    assert (history[-1].note or "").endswith("Wrong button pressed: the MDT agreed best medical treatment")
    assert_blank(mw)

    # Case 3: typed text is never dropped without asking; "no" keeps it, "yes" moves on to a blank case.
    key(qtbot, mw, Qt.Key.Key_1, ALT)
    type_rationale(qtbot, mw, "Posterior pattern, refractory")
    replies.append(False)
    key(qtbot, mw, Qt.Key.Key_PageDown)
    assert (
        asked[-1]
        == f"Discard the outcome you have not recorded for CARROWGATE, Petronella (NHS {third}, born 12-Nov-1979)?"
    )
    assert on_case(mw) == third.replace(" ", "")
    assert (
        mw.in_meeting.entry.chosen_outcome() == "accept_for_spd"
        and mw.in_meeting.entry.rationale.toPlainText() == "Posterior pattern, refractory"
    )
    replies.append(False)
    qtbot.mouseClick(mw.in_meeting.previous_case_button, LEFT)
    assert len(asked) == 2 and on_case(mw) == third.replace(" ", "")
    replies.append(False)
    mw.close()
    assert (
        mw.isVisible()
        and len(asked) == 3
        and mw.in_meeting.entry.rationale.toPlainText() == "Posterior pattern, refractory"
    )
    replies.append(True)
    key(qtbot, mw, Qt.Key.Key_PageDown)
    assert len(asked) == 4 and on_case(mw) == fourth.replace(" ", "")
    assert_blank(mw)
    key(qtbot, mw, Qt.Key.Key_PageUp)
    assert len(asked) == 4 and on_case(mw) == third.replace(" ", "")
    assert_blank(mw)  # the discarded text did not come back
    assert stored(gui_db, window, meeting_id)[third.replace(" ", "")].outcome is None

    # Case 3 again: another consultant records it meanwhile; this record is refused and shows theirs.
    key(qtbot, mw, Qt.Key.Key_4, ALT)
    type_rationale(qtbot, mw, "Need the toxin clinic letters")
    other = sign_in(gui_db, login="admin-test")
    three = stored(gui_db, window, meeting_id)[third.replace(" ", "")]
    meetings.record_outcome(
        gui_db,
        actor=other,
        meeting_id=meeting_id,
        referral_id=three.referral_id,
        outcome="refer_for_dbs_assessment",
        rationale="Head tremor dominates",
        today=local_today(),
        expected_version=three.version,
    )
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: "already recorded" in (shown_errors[-1][1] if shown_errors else ""), timeout=5000)
    idle(qtbot, window)
    assert f"CARROWGATE, Petronella (NHS {third}" in shown_errors[-1][1]
    three = stored(gui_db, window, meeting_id)[third.replace(" ", "")]
    assert (three.outcome, three.rationale, three.decided_by_name) == (
        "refer_for_dbs_assessment",
        "Head tremor dominates",
        "Ada Admin",
    )
    assert on_case(mw) == third.replace(" ", "")
    assert "Recorded: Refer for DBS assessment</b> by Ada Admin" in mw.in_meeting.case_body.text()
    assert (
        mw.in_meeting.entry.rationale.toPlainText() == "Need the toxin clinic letters"
        and mw.in_meeting.entry.amend_reason.isEnabled()
    )
    replies.append(True)  # the chair agrees with the recorded outcome and drops the entry
    key(qtbot, mw, Qt.Key.Key_PageDown)

    # Case 4: accepted for SPD with the NICE 1.1 checklist ticked and an action typed into the table; recorded
    # with the last cell still being edited.
    assert on_case(mw) == fourth.replace(" ", "")
    assert_blank(mw)
    key(qtbot, mw, Qt.Key.Key_1, ALT)
    for check in mw.in_meeting.entry.checklist.values():
        qtbot.mouseClick(check, LEFT, pos=check.rect().center())
    type_rationale(qtbot, mw, "Refractory posterior pattern; consent clinic next")
    qtbot.keyClick(mw, Qt.Key.Key_O, ALT)  # the Actions label
    assert mw.in_meeting.entry.action_table.hasFocus()
    for text in ("Book consent clinic", "Coordinator", "10/12/2026"):
        typed(qtbot, text)
        key(qtbot, mw, Qt.Key.Key_Tab)
    typed(qtbot, "Send SPD leaflet")
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: "Recorded: Accept for SPD" in mw.in_meeting.case_body.text(), timeout=5000)
    idle(qtbot, window)
    four = stored(gui_db, window, meeting_id)[fourth.replace(" ", "")]
    assert (four.outcome, all(four.checklist.values())) == ("accept_for_spd", True)
    assert [(a.description, a.owner, str(a.due)) for a in four.actions] == [
        ("Book consent clinic", "Coordinator", "2026-12-10"),
        ("Send SPD leaflet", None, "None"),
    ]
    assert on_case(mw) == fourth.replace(" ", "")  # the last case: it stays, blank, showing what was recorded
    assert_blank(mw)
    assert get_referral(gui_db, referral_id=four.referral_id).row.status == "discussed"
    detail = meetings.get_meeting(gui_db, meeting_id=meeting_id, rules=window.session.rules)
    assert detail.meeting.status == "held"


def plain(html: str) -> str:
    """What the rich text reads as on screen."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(html)
    return document.toPlainText()


@pytest.mark.hazard("H01", "H06")
def test_the_case_in_full_in_words(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, dict[int, str]],
) -> None:
    _window, mw = start_meeting(qtbot, open_window, "cons-test")
    title, body = plain(mw.in_meeting.case_title.text()), plain(mw.in_meeting.case_body.text())
    assert "ASHCOMBE, Tamsin" in title and "NHS 999" in title and "born 12-Nov-1979 (age " in title
    for words in (
        "MDT outcome: not yet recorded",
        "Referrer\nDr Ada Testwell, neurologist, RXX",
        "Clinical question\nConsider SPD: rotational torticollis, lost response to toxin.",
        "Triage\nReady for MDT (confirmed), priority",
        "TWSTRS total 64/85",
        "Botulinum toxin\n9 cycles, ultrasound-guided, response secondary non-response",
        "Oral medication\nclonazepam: ineffective",
        "Physiotherapy\ncompleted, outcome partial",
        "onset Apr-2015",
        "Phenotype\ntorticollis, sagittal shift; head tremor",
        "R1 Botulinum toxin adequately tried: met.",
        "Cautions\nHead tremor: tremor is not changed by SPD.",
    ):
        assert words in body, (words, body)
    import re

    assert not re.search(r"\b[a-z]+_[a-z_]+\b", title + body), "a raw code is on screen"


@pytest.mark.hazard("H16")
def test_a_lapsed_triage_says_reconfirm_and_acceptance_is_refused(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, dict[int, str]],
    shown_errors: list[tuple[str, str]],
    rules: Any,
) -> None:
    from tests.factories import referral
    from triage_app.services.referrals import update_referral

    meeting_id, nhs = meeting
    first_id = next(iter(nhs))
    coordinator = sign_in(gui_db, login="coord-test")
    version = get_referral(gui_db, referral_id=first_id).row.version
    update_referral(  # a later edit: no toxin response recorded, so the triage changes and the decision lapses
        gui_db,
        actor=coordinator,
        referral_id=first_id,
        expected_version=version,
        referral=referral(
            11,
            as_of=local_today(),
            received_on=local_today().isoformat(),
            patient__family_name="Ashcombe",
            patient__given_name="Tamsin",
            severity__twstrs_total=64,
            botulinum_toxin__response=None,
        ),
        rules=rules,
        as_of=local_today(),
    )
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    assert on_case(mw) == nhs[first_id]
    assert "<b>⚠ TRIAGE CHANGED: RECONFIRM</b>" in mw.in_meeting.case_body.text()
    assert "accepting for SPD is refused until a consultant reconfirms" in plain(mw.in_meeting.case_body.text())
    key(qtbot, mw, Qt.Key.Key_1, ALT)
    for check in mw.in_meeting.entry.checklist.values():
        check.setChecked(True)
    type_rationale(qtbot, mw, "Suitable")
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(shown_errors), timeout=5000)
    idle(qtbot, window)
    assert "reconfirms it first" in shown_errors[-1][1] and format_nhs_number(nhs[first_id]) in shown_errors[-1][1]
    assert stored(gui_db, window, meeting_id)[nhs[first_id]].outcome is None
    assert on_case(mw) == nhs[first_id] and mw.in_meeting.entry.rationale.toPlainText() == "Suitable"


@pytest.mark.hazard("H09")
def test_the_outcome_goes_to_the_case_on_screen_when_record_was_pressed(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, dict[int, str]],
    answers: tuple[list[str], list[bool]],
) -> None:
    meeting_id, _nhs = meeting
    asked, replies = answers
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    first, second = on_case(mw), mw.detail.cases[1].row.nhs_number
    key(qtbot, mw, Qt.Key.Key_4, ALT)
    type_rationale(qtbot, mw, "Need the physiotherapy report")
    gate = threading.Event()
    window.worker.submit(lambda: gate.wait(10))  # the database is slow today
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)  # pressed twice while waiting: recorded once
    replies.append(True)
    key(qtbot, mw, Qt.Key.Key_PageDown)  # the chair moves on before the record lands
    assert len(asked) == 1 and on_case(mw) == second
    assert_blank(mw)
    gate.set()
    idle(qtbot, window)
    cases = stored(gui_db, window, meeting_id)
    assert (cases[first].outcome, cases[first].rationale, cases[first].version) == (
        "more_information_needed",
        "Need the physiotherapy report",
        2,
    )
    assert cases[second].outcome is None
    assert on_case(mw) == second  # the screen stays where the chair is
    assert_blank(mw)


@pytest.mark.hazard("H09")
def test_choosing_another_meeting_asks_first(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, dict[int, str]],
    answers: tuple[list[str], list[bool]],
) -> None:
    from datetime import timedelta

    meeting_id, _nhs = meeting
    asked, replies = answers
    admin = sign_in(gui_db, login="admin-test")
    later = meetings.create_meeting(
        gui_db, actor=admin, meeting_date=local_today() + timedelta(days=14), meeting_time="13:30"
    ).meeting_id
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    assert mw.meeting_id == meeting_id
    key(qtbot, mw, Qt.Key.Key_2, ALT)
    type_rationale(qtbot, mw, "Tremor-dominant")
    replies.append(False)
    other = mw.meetings.item(1)
    qtbot.mouseClick(mw.meetings.viewport(), LEFT, pos=mw.meetings.visualItemRect(other).center())
    idle(qtbot, window)
    assert len(asked) == 1 and "ASHCOMBE, Tamsin" in asked[0]
    assert mw.meeting_id == meeting_id and mw.meetings.currentRow() == 0
    assert (
        mw.in_meeting.entry.rationale.toPlainText() == "Tremor-dominant"
        and mw.in_meeting.entry.chosen_outcome() == "refer_for_dbs_assessment"
    )
    replies.append(True)
    qtbot.mouseClick(mw.meetings.viewport(), LEFT, pos=mw.meetings.visualItemRect(mw.meetings.item(1)).center())
    idle(qtbot, window)
    assert len(asked) == 2 and mw.meeting_id == later
    assert mw.in_meeting.case_title.text() == "No cases on this meeting"
    assert_blank(mw)
    assert all(c.outcome is None for c in stored(gui_db, window, meeting_id).values())


@pytest.mark.hazard("H09")
def test_outcomes_are_refused_before_the_meeting_date_and_the_entry_is_kept(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    shown_errors: list[tuple[str, str]],
) -> None:
    from datetime import timedelta

    confirm_ready(gui_db, seed(21))
    meeting_id = filled_meeting(gui_db, local_today() + timedelta(days=7))
    window, mw = start_meeting(qtbot, open_window, "cons-test")
    key(qtbot, mw, Qt.Key.Key_6, ALT)
    type_rationale(qtbot, mw, "Ran out of time")
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(shown_errors), timeout=5000)
    idle(qtbot, window)
    assert "outcomes are recorded on or after that date" in shown_errors[-1][1]
    assert "QUILLFEATHER, Morwenna (NHS 999" in shown_errors[-1][1]
    assert all(c.outcome is None for c in stored(gui_db, window, meeting_id).values())
    assert (
        mw.in_meeting.entry.chosen_outcome() == "not_discussed"
        and mw.in_meeting.entry.rationale.toPlainText() == "Ran out of time"
    )


@pytest.mark.hazard("H15")
def test_a_coordinator_cannot_record_from_the_keyboard(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    meeting: tuple[int, dict[int, str]],
    shown_errors: list[tuple[str, str]],
) -> None:
    meeting_id, _nhs = meeting
    window, mw = start_meeting(qtbot, open_window, "coord-test")
    key(qtbot, mw, Qt.Key.Key_1, ALT)
    assert (
        mw.in_meeting.entry.chosen_outcome() is None
        and not mw.in_meeting.entry.rationale.isEnabled()
        and not mw.in_meeting.entry.amend_reason.isEnabled()
    )
    key(qtbot, mw, Qt.Key.Key_Return, CTRL)
    assert "Only a consultant can record MDT outcomes" in shown_errors[-1][1]
    assert window.worker.pending == 0
    assert all(c.outcome is None for c in stored(gui_db, window, meeting_id).values())


def test_a_long_case_keeps_the_outcome_controls_on_a_1366x768_screen(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
) -> None:
    long_question = "Consider SPD. " + "Rotational torticollis with shoulder elevation and pain. " * 60
    confirm_ready(gui_db, seed((31, {"clinical_question": long_question[:3900]})))
    filled_meeting(gui_db)
    _window, mw = start_meeting(qtbot, open_window, "cons-test")
    mw.resize(1366, 700)  # the screen less the title bar and the task bar
    qtbot.waitUntil(lambda: mw.in_meeting.case_scroll.verticalScrollBar().maximum() > 0, timeout=5000)
    assert mw.height() <= 768
    for control in (
        mw.in_meeting.save_outcome_button,
        mw.in_meeting.next_case_button,
        mw.in_meeting.entry.rationale,
        *mw.in_meeting.entry.outcome_buttons.values(),
    ):
        top_left = control.mapTo(mw, control.rect().topLeft())
        assert control.isVisible() and mw.rect().contains(top_left), control
        assert top_left.y() + control.height() <= mw.height(), control
