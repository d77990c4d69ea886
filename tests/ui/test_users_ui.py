"""Administrators manage users and roles from the app; others cannot open the dialog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from triage_app.services.users import list_users
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow


def idle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)


def test_admin_adds_a_user_and_changes_roles(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database, shown_errors: list[tuple[str, str]]
) -> None:
    window = open_window("admin-test")
    assert window.users_action.isEnabled()
    dialog = window.open_users()
    idle(qtbot, window)
    assert dialog.table.rowCount() == 3
    dialog.login.setText("jpatel")
    dialog.name.setText("J Patel")
    dialog.roles["coordinator"].setChecked(True)
    dialog.add_user()
    idle(qtbot, window)
    assert dialog.table.rowCount() == 4
    dialog.roles["consultant"].setChecked(True)
    dialog.set_roles()
    idle(qtbot, window)
    roles = {user.login: r for user, r in list_users(gui_db)}
    assert roles["jpatel"] == {"coordinator", "consultant"}
    dialog.toggle_active()
    idle(qtbot, window)
    assert not next(u for u, _ in list_users(gui_db) if u.login == "jpatel").is_active
    dialog.login.setText("admin-test")
    dialog.roles["admin"].setChecked(False)
    dialog.set_roles()  # the only admin cannot give the role up: the service says so
    idle(qtbot, window)
    assert shown_errors and "only admin" in shown_errors[-1][1]
    dialog.close()


@pytest.mark.hazard("H15")
def test_others_cannot_manage_users(open_window: Callable[..., MainWindow]) -> None:
    window = open_window("coord-test")
    assert not window.users_action.isEnabled()
    assert window.users_action.toolTip() == "Only an administrator can manage users"
    assert window.open_users() is None


@pytest.mark.hazard("H15")
def test_opening_the_dialog_ticks_no_one_elses_roles(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database
) -> None:
    window = open_window("admin-test")
    dialog = window.open_users()
    qtbot.waitExposed(dialog)
    idle(qtbot, window)
    assert dialog.login.text() == "" and not any(check.isChecked() for check in dialog.roles.values())
    qtbot.keyClicks(dialog.login, "newcoord")
    qtbot.keyClicks(dialog.name, "N Coordinator")
    dialog.roles["coordinator"].setChecked(True)
    dialog.add_user()
    idle(qtbot, window)
    assert {user.login: r for user, r in list_users(gui_db)}["newcoord"] == {"coordinator"}  # never admin


@pytest.mark.hazard("H15")
def test_admin_sets_a_consultants_mdt_role_and_adds_a_physiotherapist_in_theirs(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = open_window("admin-test")
    dialog = window.open_users()
    qtbot.waitExposed(dialog)
    idle(qtbot, window)
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == "cons-test")
    assert dialog.table.item(row, 3).text() == "Not in the MDT"
    cell = dialog.table.visualItemRect(dialog.table.item(row, 0)).center()
    QTest.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert dialog.login.text() == "cons-test" and dialog.mdt_role.currentText() == "Not in the MDT"
    dialog.mdt_role.setFocus()
    QTest.keyClick(dialog.mdt_role, Qt.Key.Key_Down)  # the first MDT role: functional neurosurgeon
    assert dialog.mdt_role.currentText() == "Functional neurosurgeon"
    QTest.mouseClick(dialog.mdt_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    stored = {user.login: user.mdt_role for user, _ in list_users(gui_db)}
    assert stored["cons-test"] == "functional_neurosurgeon" and stored["coord-test"] is None  # that user alone
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == "cons-test")
    assert dialog.table.item(row, 3).text() == "Functional neurosurgeon"
    # A new user is added with the MDT role chosen, and clicking a row loads that user's role, not the last one.
    dialog.login.clear()
    QTest.keyClicks(dialog.login, "pphysio")
    QTest.keyClicks(dialog.name, "P Physio")
    dialog.roles["consultant"].setChecked(False)
    dialog.roles["coordinator"].setChecked(True)
    dialog.mdt_role.setCurrentIndex(dialog.mdt_role.findData("physiotherapist"))
    QTest.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    assert {user.login: user.mdt_role for user, _ in list_users(gui_db)}["pphysio"] == "physiotherapist"
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == "coord-test")
    cell = dialog.table.visualItemRect(dialog.table.item(row, 0)).center()
    QTest.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert dialog.mdt_role.currentText() == "Not in the MDT"
    dialog.close()
