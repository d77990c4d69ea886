"""The desktop enables each control through the role matrix (services/permissions.py `actor_may`), says on a
disabled one who may use it, and a user deactivated while their window is open is refused by the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.ui.test_meetings_ui import confirm_ready, filled_meeting, idle, open_meeting_window
from triage_app.services.users import add_user, set_active, sign_in
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow
from triage_app.ui.meetings import MeetingWindow


@pytest.fixture
def meeting(seed: Callable[..., list[int]], gui_db: Database) -> int:
    """A meeting today with two ready referrals listed."""
    confirm_ready(gui_db, seed(1, 2))
    return filled_meeting(gui_db)


def planning(mw: MeetingWindow) -> list[Any]:
    return [
        mw.new_button,
        mw.planning.add_button,
        mw.planning.fill_button,
        mw.planning.circulate_button,
        mw.cancel_button,
        mw.planning.remove_button,
    ]


@pytest.mark.hazard("H15")
def test_a_consultant_records_outcomes_but_neither_plans_nor_enters(
    qtbot: Any, open_window: Callable[..., MainWindow], meeting: int
) -> None:
    window, mw = open_meeting_window(qtbot, open_window, "cons-test")
    assert not window.new_action.isEnabled() and not window.new_button.isEnabled()
    assert window.new_action.toolTip() == "Only a coordinator can enter a referral"
    assert not window.users_action.isEnabled() and not window.demo_action.isEnabled()
    assert window.meetings_action.isEnabled() and window.backup_action.isEnabled()
    assert not any(button.isEnabled() for button in planning(mw))
    assert mw.new_button.toolTip().startswith("Only a coordinator can plan MDT meetings")
    assert (
        mw.planning.cases.dragDropMode() == mw.planning.cases.DragDropMode.NoDragDrop
        and not mw.planning.ready.dragEnabled()
    )
    assert not mw.exports.export_button.isEnabled() and not mw.exports.print_button.isEnabled()
    assert mw.exports.export_button.toolTip() == "Only a coordinator can export or print an agenda"
    assert mw.exports.outcomes_button.isEnabled() and mw.exports.letters_button.isEnabled()
    assert mw.in_meeting.save_outcome_button.isEnabled()


@pytest.mark.hazard("H15")
def test_a_coordinator_plans_and_exports_but_records_no_outcome(
    qtbot: Any, open_window: Callable[..., MainWindow], meeting: int
) -> None:
    window, mw = open_meeting_window(qtbot, open_window, "coord-test")
    assert window.new_action.isEnabled() and not window.confirm_action.isEnabled()
    assert all(button.isEnabled() for button in planning(mw))
    assert (
        mw.exports.export_button.isEnabled()
        and mw.exports.print_button.isEnabled()
        and mw.exports.letters_button.isEnabled()
    )
    assert not mw.in_meeting.save_outcome_button.isEnabled() and not mw.in_meeting.entry.rationale.isEnabled()


@pytest.mark.hazard("H15", "H11")
def test_an_administrator_alone_manages_users_but_takes_no_patient_data_out(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database, meeting: int
) -> None:
    admin = sign_in(gui_db, login="admin-test")
    add_user(gui_db, actor=admin, login="adminonly-test", display_name="Ivo Adminsson", roles=["admin"])
    window, mw = open_meeting_window(qtbot, open_window, "adminonly-test")
    assert window.users_action.isEnabled() and window.demo_action.isEnabled()
    assert not window.new_action.isEnabled() and not window.confirm_action.isEnabled()
    for button in (
        mw.exports.export_button,
        mw.exports.print_button,
        mw.exports.outcomes_button,
        mw.exports.letters_button,
    ):
        assert not button.isEnabled() and button.toolTip().startswith("Only a coordinator"), button.text()
    assert not any(button.isEnabled() for button in planning(mw)) and not mw.in_meeting.save_outcome_button.isEnabled()


@pytest.mark.hazard("H15", "H12")
def test_a_user_deactivated_while_their_window_is_open_is_refused(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    shown_errors: list[tuple[str, str]],
) -> None:
    (referral_id,) = seed(1)
    window = open_window("cons-test")
    assert window.may("confirm_triage")  # what the window was signed in with
    set_active(gui_db, actor=sign_in(gui_db, login="admin-test"), login="cons-test", active=False)
    window.show_detail(referral_id)
    idle(qtbot, window)
    assert shown_errors and "Dr Con Sultant has no active role" in shown_errors[-1][1]
    assert "deactivated" in shown_errors[-1][1] and "see a referral" in shown_errors[-1][1]
    assert window.detail is None or window.detail.row.decided_outcome is None


@pytest.mark.hazard("H15")
def test_the_users_dialog_acts_only_for_an_administrator(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database
) -> None:
    window = open_window("coord-test")
    assert window.open_users() is None  # the menu entry is disabled, and the method refuses too
    admin_window = open_window("admin-test")
    dialog = admin_window.open_users()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=10_000)
    assert all(b.isEnabled() for b in (dialog.add_button, dialog.roles_button, dialog.active_button))
    qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton)
    dialog.close()
