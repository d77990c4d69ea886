"""The triage panel's controls follow the role matrix: Edit, Enter, double-click and Referral > Open referral open
the form only for a user who may edit a referral (H15); the Move list offers only the moves the panel makes; the
panel wraps rather than scrolls sideways, and the form's medication table shows three rows at 1366x768."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.ui.test_journeys import focus_queue, idle, select_patient
from tests.ui.test_meetings_ui import confirm_ready
from triage_app.domain.rules import Rules
from triage_app.services.app import local_today
from triage_app.services.permissions import EDIT_REFERRAL, who_may
from triage_app.storage.engine import Database
from triage_app.ui.form_fields import MedicationsField
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_model import COL_NHS
from triage_app.ui.referral_form import ReferralForm


@pytest.mark.hazard("H15")
def test_a_consultant_is_not_offered_the_form_edit_is_disabled_and_enter_says_why(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]]
) -> None:
    first, _second = seed(1, 2)
    window = open_window("cons-test")
    idle(qtbot, window)
    select_patient(qtbot, window, 1)
    refused = who_may(EDIT_REFERRAL)
    assert refused.startswith("Only a coordinator can edit")
    assert not window.panel.edit_button.isEnabled() and window.panel.edit_button.toolTip() == refused
    assert not window.open_action.isEnabled() and window.open_action.toolTip() == refused
    # Enter on the row opens nothing and says why in the status bar
    focus_queue(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: refused in window.statusBar().currentMessage(), timeout=3000)
    # a double-click and Ctrl+O open nothing either
    row = window.model.row_of(first)
    assert row is not None
    rect = window.table.visualRect(window.model.index(row, COL_NHS))
    qtbot.mouseDClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.keyClick(window.table, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    idle(qtbot, window)
    assert not window.forms
    # the consultant's own actions stay on
    assert window.panel.override_button.isEnabled()


@pytest.mark.hazard("H15")
def test_a_coordinator_may_edit_from_the_panel(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]]
) -> None:
    first, _second = seed(1, 2)
    window = open_window("coord-test")
    idle(qtbot, window)
    select_patient(qtbot, window, 1)
    assert window.panel.edit_button.isEnabled() and window.open_action.isEnabled()
    qtbot.mouseClick(window.panel.edit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.form_for(first) is not None, timeout=5000)


@pytest.mark.hazard("H15")
def test_the_move_list_offers_only_the_panels_moves_and_shows_an_allowed_one(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    shown_errors: list[tuple[str, str]],
) -> None:
    first, _second = seed(1, 2)
    confirm_ready(gui_db, [first])
    window = open_window("coord-test")
    idle(qtbot, window)
    select_patient(qtbot, window, 1)
    combo, move = window.panel.status_combo, window.panel.status_button
    assert "Ready for MDT" in window.panel.status_label.text()
    offered = [combo.itemData(i) for i in range(combo.count())]
    assert "listed" not in offered and "not_yet_refractory" not in offered  # the meetings window's; a decision's
    assert "MDT meetings window" in combo.toolTip()
    # a coordinator may make none of a ready referral's plain moves: none is shown as chosen, Move is off
    assert offered and not any(combo.model().item(i).isEnabled() for i in range(combo.count()))  # type: ignore[attr-defined]
    assert combo.currentIndex() == -1 and not move.isEnabled()
    # a received referral: the move shown is one the coordinator may make
    select_patient(qtbot, window, 2)
    assert combo.currentData() == "awaiting_information" and move.isEnabled()
    # a refusal from the service (going past the panel, as the old list allowed) reads as a sentence
    select_patient(qtbot, window, 1)
    window.consultant.move_status("listed")
    qtbot.waitUntil(lambda: bool(shown_errors), timeout=5000)
    assert "MDT meetings window" in shown_errors[-1][1] and shown_errors[-1][1][:1].isupper()


def test_the_oral_medication_table_shows_three_rows_without_scrolling(qtbot: Any, rules: Rules) -> None:
    form = ReferralForm(rules=rules, as_of=local_today())
    qtbot.addWidget(form)
    form.resize(1150, 708)  # the form's size on a 1366x768 screen
    meds = form.fields["oral_medications"]
    assert isinstance(meds, MedicationsField)
    for drug in ("clonazepam", "baclofen", "trihexyphenidyl", "tetrabenazine"):
        meds.add_row(drug, None)
    form.show()
    qtbot.waitExposed(form)
    form.scroll_area.ensureWidgetVisible(meds.table)
    table = meds.table
    assert table.viewport().height() >= sum(table.rowHeight(row) for row in range(3))


def test_the_panel_wraps_after_a_move_instead_of_scrolling_sideways(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]]
) -> None:
    seed(1, 2)
    window = open_window("coord-test")
    window.resize(1366, 768)
    idle(qtbot, window)
    select_patient(qtbot, window, 1)
    panel = window.panel
    panel.status_combo.setCurrentIndex(panel.status_combo.findData("awaiting_information"))
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.mouseClick(panel.status_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Awaiting information" in panel.status_label.text(), timeout=5000)
    idle(qtbot, window)
    qtbot.wait(50)  # the layout settles
    assert panel.widget().minimumSizeHint().width() <= panel.viewport().width()
    assert not panel.horizontalScrollBar().isVisible()
