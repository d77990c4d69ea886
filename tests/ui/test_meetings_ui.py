"""The MDT meeting window: planning, quorum, late additions, export, print and recording outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.dates import meeting_day
from triage_app.domain.formats import format_date
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.referrals import get_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow
from triage_app.ui.meetings import DiscardQuestion, ExportChoice, FolderChoice, MeetingWindow, NewMeetingDialog


@pytest.fixture(autouse=True)
def discard_questions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """ "Discard the outcome you have not recorded …?" is answered Discard (and recorded) unless a test says."""
    asked: list[str] = []

    def answer(cls: type, parent: Any, text: str) -> bool:
        asked.append(text)
        return True

    monkeypatch.setattr(DiscardQuestion, "ask", classmethod(answer))
    return asked


def confirm_ready(gui_db: Database, ids: list[int]) -> list[int]:
    """A consultant confirms each referral's triage: only then can it be listed on a meeting."""
    consultant = sign_in(gui_db, login="cons-test")
    for referral_id in ids:
        version = get_referral(gui_db, referral_id=referral_id).row.version
        decide_triage(gui_db, actor=consultant, referral_id=referral_id, expected_version=version)
    return ids


@pytest.fixture
def ready_ids(seed: Callable[..., list[int]], gui_db: Database) -> list[int]:
    return confirm_ready(gui_db, seed(*[(i, {"severity__twstrs_total": 20 + 10 * i}) for i in (1, 2, 3)]))


def open_meetings(qtbot: Any, window: MainWindow) -> MeetingWindow:
    meeting_window: MeetingWindow = window.open_meetings()
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)
    return meeting_window


def filled_meeting(gui_db: Database, meeting_date: date | None = None) -> int:
    """A planned meeting filled with the ready referrals; returns its id.

    Dated today unless told: outcomes are refused before the meeting's date.
    """
    admin = sign_in(gui_db, login="admin-test")
    meeting_id = meetings.create_meeting(
        gui_db,
        actor=admin,
        meeting_date=meeting_date or local_today(),
        meeting_time="13:30",
        allow_same_time=True,  # a test may plan several meetings for today
    ).meeting_id
    meetings.fill_to_capacity(gui_db, actor=admin, meeting_id=meeting_id)
    return meeting_id


def open_meeting_window(
    qtbot: Any, open_window: Callable[..., MainWindow], login: str
) -> tuple[MainWindow, MeetingWindow]:
    """The main window as `login`, with the meetings window showing the first meeting."""
    window = open_window(login)
    mw = open_meetings(qtbot, window)
    mw.meetings.setCurrentRow(0)
    idle(qtbot, window)
    return window, mw


def idle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)


def test_plan_a_meeting(
    qtbot: Any, open_window: Callable[..., MainWindow], ready_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window("coord-test")
    mw = open_meetings(qtbot, window)
    assert mw.planning.ready.count() == 3 and "Pri" in mw.planning.ready.item(0).text()
    monkeypatch.setattr(
        NewMeetingDialog,
        "ask",
        classmethod(
            lambda cls, parent: {
                "meeting_date": meeting_day(),
                "meeting_time": "13:30",
                "place": "Seminar room 2",
                "video_link": "",
                "chair": "Dr A",
                "attendees": [("Dr A", "functional_neurosurgeon"), ("Dr B", "movement_disorders_neurologist")],
            }
        ),
    )
    mw.new_meeting()
    idle(qtbot, window)
    qtbot.waitUntil(lambda: mw.detail is not None, timeout=5000)
    assert f"{format_date(meeting_day())} 13:30" in mw.header.text()
    assert mw.quorum.text() == "✘ Not quorate: no physiotherapist"
    mw.planning.ready.item(2).setSelected(True)
    qtbot.mouseClick(mw.planning.add_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    assert mw.planning.cases.count() == 1 and mw.capacity.text() == "1 of 8 cases"
    qtbot.mouseClick(mw.planning.circulate_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.mouseClick(mw.planning.fill_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    assert mw.planning.cases.count() == 3 and mw.planning.ready.count() == 0
    assert "LATE ADDITION" in mw.planning.cases.item(1).text() and "LATE" not in mw.planning.cases.item(0).text()
    first = mw.planning.cases.ids()
    mw.planning.cases.setCurrentRow(2)
    mw.planning.move_selected(-1)
    idle(qtbot, window)
    assert mw.planning.cases.ids() == [first[0], first[2], first[1]]
    mw.planning.cases.setCurrentRow(0)
    mw.planning.cases.item(0).setSelected(True)
    mw.planning.remove_selected()
    idle(qtbot, window)
    assert mw.planning.cases.count() == 2 and mw.planning.ready.count() == 1
    assert window.model.rowCount() == 3  # the queue refreshed itself


def test_export_and_print(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    ready_ids: list[int],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    filled_meeting(gui_db)
    window, mw = open_meeting_window(qtbot, open_window, "coord-test")
    target = tmp_path / "agenda.docx"
    monkeypatch.setattr(ExportChoice, "ask", classmethod(lambda cls, parent, suggested, fmt: target))
    mw.exports.format.setCurrentIndex(mw.exports.format.findData("docx"))
    qtbot.mouseClick(mw.exports.export_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    from docx import Document

    assert "CONFIDENTIAL" in Document(str(target)).paragraphs[0].text

    documents: list[Any] = []
    mw.exports.agenda_document(documents.append)
    qtbot.waitUntil(lambda: bool(documents), timeout=10_000)
    text = documents[0].toPlainText()
    assert "MDT meeting agenda" in text and "Case 3" in text

    from pypdf import PdfReader
    from PySide6.QtPrintSupport import QPrinter

    printed = tmp_path / "printed.pdf"
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(printed))
    documents[0].print_(printer)
    printed_text = " ".join("".join(page.extract_text() or "" for page in PdfReader(printed).pages).split())
    assert "CONFIDENTIAL" in printed_text and "Case 1" in printed_text


def test_record_outcomes_in_the_meeting(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    ready_ids: list[int],
    gui_db: Database,
    shown_errors: list[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meeting_id = filled_meeting(gui_db)
    window, mw = open_meeting_window(qtbot, open_window, "cons-test")
    mw.tabs.setCurrentIndex(1)
    assert mw.in_meeting.case_title.text().startswith("Case 1 of 3")
    first_referral = mw.detail.cases[0].referral_id
    mw.in_meeting.entry.outcome_buttons["accept_for_spd"].setChecked(True)
    mw.in_meeting.save_outcome()  # no rationale: refused on screen, naming the patient and what is missing
    assert shown_errors[-1][0] == "Outcome not recorded"
    assert "write the rationale" in shown_errors[-1][1] and "999 000" in shown_errors[-1][1]
    mw.in_meeting.entry.rationale.setPlainText("Refractory; posterior pattern")
    mw.in_meeting.save_outcome()  # no checklist: refused by the service, the entry kept
    qtbot.waitUntil(lambda: len(shown_errors) == 2, timeout=5000)
    idle(qtbot, window)
    assert "checklist" in shown_errors[-1][1]
    assert (
        mw.in_meeting.entry.rationale.toPlainText() == "Refractory; posterior pattern"
        and mw.in_meeting.case_title.text().startswith("Case 1")
    )
    for check in mw.in_meeting.entry.checklist.values():
        check.setChecked(True)
    from PySide6.QtWidgets import QTableWidgetItem

    mw.in_meeting.entry.action_table.setItem(0, 0, QTableWidgetItem("Book consent clinic"))
    mw.in_meeting.entry.action_table.setItem(0, 1, QTableWidgetItem("Coordinator"))
    mw.in_meeting.entry.action_table.setItem(0, 2, QTableWidgetItem("10/12/2026"))
    mw.in_meeting.entry.outcome_buttons["accept_for_spd"].setChecked(True)
    mw.in_meeting.save_outcome()
    idle(qtbot, window)
    qtbot.waitUntil(lambda: mw.in_meeting.case_title.text().startswith("Case 2 of 3"), timeout=5000)
    detail = meetings.get_meeting(gui_db, meeting_id=meeting_id, rules=window.session.rules)
    decided = detail.cases[0]
    assert decided.outcome == "accept_for_spd" and decided.rationale == "Refractory; posterior pattern"
    assert decided.actions[0].due == date(2026, 12, 10)
    assert get_referral(gui_db, referral_id=first_referral).row.status == "discussed"
    mw.in_meeting.show_case(0)
    assert "Recorded: Accept for SPD</b> by Dr Con Sultant" in mw.in_meeting.case_body.text()
    assert mw.in_meeting.entry.amend_reason.isEnabled() and mw.in_meeting.entry.chosen_outcome() is None

    letters_dir = tmp_path / "letters"
    letters_dir.mkdir()
    monkeypatch.setattr(FolderChoice, "ask", classmethod(lambda cls, parent: letters_dir))
    mw.exports.format.setCurrentIndex(mw.exports.format.findData("pdf"))
    mw.tabs.setCurrentIndex(0)
    qtbot.mouseClick(mw.exports.letters_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    assert [p.suffix for p in letters_dir.iterdir()] == [".pdf"]


@pytest.mark.hazard("H15")
def test_coordinator_cannot_record_outcomes(
    qtbot: Any, open_window: Callable[..., MainWindow], ready_ids: list[int], gui_db: Database
) -> None:
    filled_meeting(gui_db)
    _window, mw = open_meeting_window(qtbot, open_window, "coord-test")
    assert not mw.in_meeting.save_outcome_button.isEnabled()
    assert mw.in_meeting.save_outcome_button.toolTip() == "Only a consultant can record MDT outcomes"
    assert mw.planning.fill_button.isEnabled()  # planning is a coordinator's job


def test_side_panel_lists_open_meetings_and_filters_by_them(
    qtbot: Any, open_window: Callable[..., MainWindow], ready_ids: list[int], gui_db: Database
) -> None:
    admin = sign_in(gui_db, login="admin-test")
    meeting_id = meetings.create_meeting(
        gui_db, actor=admin, meeting_date=meeting_day(), meeting_time="13:30"
    ).meeting_id
    meetings.add_case(gui_db, actor=admin, meeting_id=meeting_id, referral_id=ready_ids[0])
    window = open_window("coord-test")
    item = window.sidebar.item_for("meeting", meeting_id)
    assert item is not None and item.text(0) == f"{format_date(meeting_day())} 13:30" and item.text(1) == "1"
    window.sidebar.view_chosen.emit("meeting", meeting_id)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.model.all_ids_known, timeout=5000)
    assert window.model.id_at(0) == ready_ids[0]
    from triage_app.ui.queue_model import COL_MEETING

    assert window.model.data(window.model.index(0, COL_MEETING)) == f"{format_date(meeting_day())} 13:30"
    window.clear_filters()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
