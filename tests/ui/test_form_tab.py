"""Keyboard: Ctrl+N opens a new referral with the cursor in the NHS number; Tab moves through every field in the
field table's order (so fields added to the table join the chain in their place), out of the medication table
(Tab and Shift+Tab leave it, arrows move within), and on to Close and Save."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from triage_app.domain.fields import form_sections
from triage_app.ui.form_fields import MedicationsField
from triage_app.ui.main_window import MainWindow
from triage_app.ui.referral_form import ReferralForm


def _focus() -> QWidget | None:
    return QApplication.focusWidget()


def _ctrl_n(qtbot: Any, window: MainWindow) -> ReferralForm:
    before = len(window.forms)
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(window.forms) > before, timeout=5000)
    form = window.forms[-1]
    qtbot.waitExposed(form)
    form.activateWindow()
    return form


def _expected_chain(form: ReferralForm) -> list[QWidget]:
    """Every focusable widget of every field, in the field table's order (sections, then fields)."""
    chain: list[QWidget] = []
    for _title, specs in form_sections():
        for spec in specs:
            field = form.fields.get(spec.path)
            if field is None:
                continue
            for widget in ReferralForm._focusable(field):
                if widget.isEnabled() and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
                    chain.append(widget)
    return chain


def test_ctrl_n_opens_a_new_referral_with_the_cursor_in_the_nhs_number(
    qtbot: Any, open_window: Callable[..., MainWindow]
) -> None:
    window = open_window("coord-test")
    form = _ctrl_n(qtbot, window)
    nhs = form.fields["patient.nhs_number"].focus_widget()
    qtbot.waitUntil(nhs.hasFocus, timeout=3000)
    QTest.keyClicks(nhs, "9990004323")
    assert form.fields["patient.nhs_number"].widget.text().replace(" ", "") == "9990004323"


def test_tab_walks_every_field_in_the_field_tables_order_to_save(
    qtbot: Any, open_window: Callable[..., MainWindow]
) -> None:
    window = open_window("coord-test")
    form = _ctrl_n(qtbot, window)
    expected = _expected_chain(form)
    assert expected[0] is form.fields["patient.nhs_number"].focus_widget()
    qtbot.waitUntil(lambda: _focus() is expected[0], timeout=3000)
    seen = [_focus()]
    for _ in range(len(expected) - 1):
        QTest.keyClick(_focus(), Qt.Key.Key_Tab)
        seen.append(_focus())
    names = [w.accessibleName() or w.objectName() or type(w).__name__ for w in seen if w is not None]
    assert seen == expected, names
    QTest.keyClick(_focus(), Qt.Key.Key_Tab)  # past the last field: the buttons as they read, Close then Save
    assert _focus() is form.cancel_button
    QTest.keyClick(_focus(), Qt.Key.Key_Tab)
    assert _focus() is form.save_button
    QTest.keyClick(_focus(), Qt.Key.Key_Backtab)
    QTest.keyClick(_focus(), Qt.Key.Key_Backtab)
    assert _focus() is expected[-1]
    # and back again with Shift+Tab, from the last field to the first
    for _ in range(len(expected) - 1):
        QTest.keyClick(_focus(), Qt.Key.Key_Backtab)
    assert _focus() is expected[0]


def test_tab_leaves_the_medication_table_and_arrows_move_within(
    qtbot: Any, open_window: Callable[..., MainWindow]
) -> None:
    window = open_window("coord-test")
    form = _ctrl_n(qtbot, window)
    medications = next(f for f in form.fields.values() if isinstance(f, MedicationsField))
    medications.add_button.click()
    medications.add_button.click()
    table = medications.table
    assert table.rowCount() == 2
    table.setFocus()
    table.setCurrentCell(0, 0)
    qtbot.waitUntil(table.hasFocus, timeout=3000)
    QTest.keyClick(table, Qt.Key.Key_Down)
    assert table.currentRow() == 1 and table.hasFocus()  # arrows move within
    QTest.keyClick(table, Qt.Key.Key_Tab)
    assert not table.hasFocus()  # Tab leaves the table
    after = _focus()
    chain = _expected_chain(form)
    assert after is chain[chain.index(table) + 1]
    QTest.keyClick(after, Qt.Key.Key_Backtab)
    assert _focus() is table
    QTest.keyClick(table, Qt.Key.Key_Backtab)
    assert _focus() is chain[chain.index(table) - 1]  # Shift+Tab leaves it backwards


def test_add_medication_puts_the_cursor_in_the_new_drug_cell(
    qtbot: Any, open_window: Callable[..., MainWindow]
) -> None:
    window = open_window("coord-test")
    form = _ctrl_n(qtbot, window)
    medications = next(f for f in form.fields.values() if isinstance(f, MedicationsField))
    medications.add_button.setFocus()
    qtbot.waitUntil(medications.add_button.hasFocus, timeout=3000)
    QTest.keyClick(medications.add_button, Qt.Key.Key_Space)  # pressed from the keyboard, as a user tabbing does
    editor = _focus()
    assert editor is not None and editor is not medications.add_button
    QTest.keyClicks(editor, "clonazepam")  # typed at once, with no click into the table
    QTest.keyClick(editor, Qt.Key.Key_Return)
    # Qt commits an editor on Return in its next event-loop turn, as a user's next click would find it
    qtbot.waitUntil(lambda: medications.table.state() != medications.table.State.EditingState, timeout=3000)
    medications.add_button.click()
    qtbot.waitUntil(lambda: _focus() not in (None, editor, medications.add_button), timeout=3000)
    assert medications.table.currentRow() == 1  # the new row's drug cell, not the first one's
    QTest.keyClicks(_focus(), "baclofen")
    QTest.keyClick(_focus(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: medications.table.state() != medications.table.State.EditingState, timeout=3000)
    assert [m["drug"] for m in medications.value()] == ["clonazepam", "baclofen"]
