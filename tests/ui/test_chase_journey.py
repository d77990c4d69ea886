"""The coordinator's week in the real main window: a referral moved to awaiting information from the keyboard with a
chase date, the request letter written and read back, the chase list showing it and, after its date, overdue;
chased today; back to the queue. MDT actions across meetings ticked off. On either backend; "today" is the app's
clock (services.app.local_today), moved forward by the test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from tests.stored import stored_rows, stored_value
from tests.ui.test_journeys import idle, nhs, select_patient
from tests.ui.test_meetings_ui import confirm_ready
from triage_app.config import AppPaths
from triage_app.domain.formats import format_date
from triage_app.domain.mdt import CaseAction
from triage_app.domain.referral import format_nhs_number
from triage_app.services import app as app_services
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui import chase_window as chase_ui
from triage_app.ui import dialogs
from triage_app.ui.chase_window import ChaseDialog, ChaseWindow
from triage_app.ui.main_window import MainWindow

MISSING = {"severity__twstrs_total": None, "botulinum_toxin__cycles": None}
#: The dialog itself (tests/ui/conftest.py answers it for every other test): this journey types into it.
REAL_ASK = ChaseDialog.__dict__["ask"]


def answer_chase_dialog(qtbot: Any, chase_on: str, seen: dict[str, str]) -> None:
    """When the dialog opens: note what it shows, type the chase date over the default, press Enter."""

    def step() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ChaseDialog):
            QTimer.singleShot(20, step)
            return
        seen["awaited"] = dialog.awaited.toPlainText() if dialog.awaited is not None else ""
        seen["default"] = dialog.date.text()
        labels = [w.text() for w in dialog.findChildren(QLabel)]
        seen["labels"] = "\n".join(labels)
        dialog.date.setFocus()
        dialog.date.selectAll()
        qtbot.keyClicks(dialog.date, chase_on)
        qtbot.keyClick(dialog.date, Qt.Key.Key_Return)

    QTimer.singleShot(0, step)


def open_chase(qtbot: Any, window: MainWindow) -> ChaseWindow:
    """Meeting > Chase list and MDT actions… (Ctrl+Shift+H)."""
    window.activateWindow()
    window.chase_action.trigger()
    qtbot.waitUntil(lambda: getattr(window, "chase_window", None) is not None, timeout=5000)
    chase: ChaseWindow = window.chase_window
    idle(qtbot, window)
    return chase


def chase_rows(chase: ChaseWindow) -> list[list[str]]:
    table = chase.chase_table
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


@pytest.mark.hazard("H03", "H07", "H10", "H15")
def test_a_coordinator_chases_missing_information_through_the_window(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_paths: AppPaths,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ChaseDialog, "ask", REAL_ASK)
    (referral_id,) = seed((5, dict(MISSING)))
    seed(6)
    window = open_window("coord-test")
    select_patient(qtbot, window, 5)
    panel = window.panel
    # The status choice and Move, from the keyboard: "Awaiting information" is a coordinator's move.
    panel.status_combo.setFocus()
    index = panel.status_combo.findData("awaiting_information")
    assert index >= 0 and panel.status_combo.model().item(index).isEnabled()
    qtbot.keyClicks(panel.status_combo, "Awaiting")
    assert panel.status_combo.currentData() == "awaiting_information"
    today = local_today()
    chase_on = today + timedelta(days=10)
    seen: dict[str, str] = {}
    answer_chase_dialog(qtbot, format_date(chase_on), seen)
    panel.status_button.setFocus()
    qtbot.keyClick(panel.status_button, Qt.Key.Key_Space)
    qtbot.waitUntil(
        lambda: window.detail is not None and window.detail.row.status == "awaiting_information", timeout=10_000
    )
    assert seen["awaited"] == "the number of botulinum toxin cycles; the TWSTRS total score"
    assert seen["default"] == format_date(today + timedelta(days=14))
    assert "QUILLFEATHER, Morwenna" in seen["labels"] and format_nhs_number(nhs(5)) in seen["labels"]
    data = gui_paths.data_dir
    assert stored_rows(data, "SELECT status, nhs_number FROM referral WHERE id = ?", referral_id) == [
        ("awaiting_information", nhs(5))
    ]
    assert (
        str(stored_value(data, "SELECT chase_on FROM referral WHERE id = ?", referral_id))[:10] == chase_on.isoformat()
    )

    # The chase list shows it, not yet overdue.
    chase = open_chase(qtbot, window)
    qtbot.waitUntil(lambda: chase.chase_table.rowCount() == 1, timeout=5000)
    row = chase_rows(chase)[0]
    assert row[:5] == [
        format_date(chase_on),
        "Waiting",
        "QUILLFEATHER, Morwenna",
        format_nhs_number(nhs(5)),
        "12-Nov-1979",
    ]
    assert row[6] == "the number of botulinum toxin cycles; the TWSTRS total score"
    assert "0 overdue" in chase.chase_count.text()

    # The request letter, in Word, in the folder chosen; read back.
    out = tmp_path / "letters"
    out.mkdir()
    monkeypatch.setattr(chase_ui.QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(out))
    chase.chase_table.setFocus()
    chase.chase_table.selectRow(0)
    assert chase.request_button.isEnabled()
    qtbot.mouseClick(chase.request_button, Qt.MouseButton.LeftButton)
    expected = out / f"information-request-QUILLFEATHER-Morwenna-{format_date(today)}.docx"
    qtbot.waitUntil(expected.exists, timeout=10_000)
    from docx import Document

    text = "\n".join(p.text for p in Document(str(expected)).paragraphs)
    assert "Re: QUILLFEATHER, Morwenna" in text
    assert f"NHS number {format_nhs_number(nhs(5))} · Date of birth 12-Nov-1979" in text
    assert "Please send:\n• The number of botulinum toxin cycles\n• The TWSTRS total score" in text
    assert f"Please reply by {format_date(chase_on)}" in text and "Cora Ordinator\nMDT coordinator" in text
    assert stored_rows(
        data, "SELECT user_login FROM audit_event WHERE action = 'export' AND entity_id = ?", str(referral_id)
    ) == [("coord-test",)]

    # After the chase date it is overdue, first in the overdue view.
    later = chase_on + timedelta(days=1)
    monkeypatch.setattr(app_services, "local_today", lambda: later)
    qtbot.mouseClick(chase.overdue_only, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: chase.chase_table.rowCount() == 1 and chase_rows(chase)[0][1] == "Overdue", timeout=5000)
    assert chase.chase_table.item(0, 1).font().bold()
    # Chased today: the next chase in 14 days, so no longer overdue.
    chase.chase_table.selectRow(0)
    qtbot.mouseClick(chase.chased_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: chase.chase_table.rowCount() == 0, timeout=5000)
    assert str(stored_value(data, "SELECT chased_on FROM referral WHERE id = ?", referral_id))[:10] == later.isoformat()
    qtbot.mouseClick(chase.overdue_only, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: chase.chase_table.rowCount() == 1, timeout=5000)
    assert chase_rows(chase)[0][0] == format_date(later + timedelta(days=14))

    # The information came: back to the queue, after the confirmation names the patient.
    asked: list[str] = []
    monkeypatch.setattr(
        dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, said: asked.append(said) or True)
    )
    chase.chase_table.selectRow(0)
    qtbot.mouseClick(chase.back_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: chase.chase_table.rowCount() == 0, timeout=5000)
    assert "QUILLFEATHER, Morwenna" in asked[0] and format_nhs_number(nhs(5)) in asked[0]
    assert stored_rows(data, "SELECT status, chase_on FROM referral WHERE id = ?", referral_id) == [("received", None)]
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.row.status == "received", timeout=5000)


@pytest.mark.hazard("H15")
def test_a_consultant_sees_the_chase_list_but_chases_nothing(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_db: Database
) -> None:
    from triage_app.services.chase import await_information

    (referral_id,) = seed((7, dict(MISSING)))
    coordinator = sign_in(gui_db, login="coord-test")
    await_information(
        gui_db,
        actor=coordinator,
        referral_id=referral_id,
        expected_version=1,
        chase_on=local_today(),
        today=local_today(),
    )
    window = open_window("cons-test")
    chase = open_chase(qtbot, window)
    qtbot.waitUntil(lambda: chase.chase_table.rowCount() == 1, timeout=5000)
    chase.chase_table.selectRow(0)
    for button in (chase.new_date_button, chase.chased_button, chase.request_button, chase.back_button):
        assert not button.isEnabled()
    assert chase.request_button.toolTip().startswith("Only a coordinator")


@pytest.mark.hazard("H09", "H15")
def test_mdt_actions_across_meetings_ticked_off_by_owner(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    gui_paths: AppPaths,
) -> None:
    first, second = confirm_ready(gui_db, seed(8, 9))
    admin, consultant = sign_in(gui_db, login="admin-test"), sign_in(gui_db, login="cons-test")
    today = local_today()
    for number, (referral_id, actions) in enumerate(
        (
            (first, [CaseAction("Write to the GP", "Cora Ordinator", today - timedelta(days=1))]),
            (second, [CaseAction("Book a clinic", "Dr Mo", today + timedelta(days=5))]),
        )
    ):
        meeting_id = meetings.create_meeting(
            gui_db, actor=admin, meeting_date=today, meeting_time=f"1{number}:30", allow_same_time=True
        ).meeting_id
        meetings.add_case(gui_db, actor=admin, meeting_id=meeting_id, referral_id=referral_id)
        meetings.record_outcome(
            gui_db,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome="decline",
            rationale="Invented rationale",
            today=today,
            actions=actions,
        )
    window = open_window("coord-test")
    chase = open_chase(qtbot, window)
    chase.tabs.setCurrentIndex(1)
    table = chase.action_table
    qtbot.waitUntil(lambda: table.rowCount() == 2, timeout=5000)
    assert [table.item(r, 3).text() for r in range(2)] == ["Write to the GP", "Book a clinic"]
    assert table.item(0, 1).text() == "Overdue" and table.item(0, 1).font().bold()
    assert table.item(0, 5).text() == format_nhs_number(nhs(8))
    # Filter by owner from the keyboard.
    chase.owner_filter.setFocus()
    index = chase.owner_filter.findText("Cora Ordinator")
    chase.owner_filter.setCurrentIndex(index)
    chase.owner_filter.activated.emit(index)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    table.selectRow(0)
    assert chase.done_button.isEnabled()
    qtbot.mouseClick(chase.done_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: table.rowCount() == 0, timeout=5000)
    done = stored_rows(
        gui_paths.data_dir,
        "SELECT u.login, r.nhs_number, a.done_at IS NOT NULL FROM case_action a JOIN app_user u ON u.id = a.done_by "
        "JOIN meeting_case c ON c.id = a.case_id JOIN referral r ON r.id = c.referral_id",
    )
    assert [(login, number, bool(flag)) for login, number, flag in done] == [("coord-test", nhs(8), True)]
    qtbot.mouseClick(chase.show_done, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    assert table.item(0, 1).text() == f"Done {format_date(local_today())} by Cora Ordinator"
