"""The triage panel: consultant confirms or overrides, role restrictions, workflow and history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from triage_app.services.referrals import get_referral
from triage_app.storage.engine import Database
from triage_app.ui import dialogs
from triage_app.ui.main_window import MainWindow
from triage_app.ui.triage_panel import NOT_CONSULTANT


def select_first(qtbot: Any, window: MainWindow) -> None:
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=5000)


@pytest.mark.hazard("H06", "H14")
def test_panel_explains_the_result(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]]
) -> None:
    seed((1, {"phenotype__head_tremor": True}))
    window = open_window("cons-test")
    select_first(qtbot, window)
    panel = window.panel
    assert panel.headline.text() == "Triage: Ready for MDT (awaiting consultant)"
    criteria = panel.criteria.text()
    for criterion in ("R1", "R2", "R3", "R4", "S1", "S2", "S3", "S4", "S5"):
        assert f"<b>{criterion}</b>" in criteria
    assert "✔ met" in criteria and "NICE HTG51 1.3" in criteria
    assert "meets the 3-cycle minimum" in criteria
    assert "tremor: Head tremor" in panel.cautions.text()
    assert panel.priority.text().startswith("Priority ")
    assert panel.missing.text() == "(none)"
    assert "Awaiting a consultant" in panel.decision.text()
    assert "the quorate MDT decides" in panel.intended_use.text()


@pytest.mark.hazard("H01")
def test_consultant_confirms(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (referral_id,) = seed(1)
    window = open_window("cons-test")
    select_first(qtbot, window)
    assert window.panel.confirm_button.isEnabled()
    asked: list[str] = []
    monkeypatch.setattr(
        dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, text: asked.append(text) or True)
    )
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.mouseClick(window.panel.confirm_button, Qt.MouseButton.LeftButton)
    assert "QUILLFEATHER, Morwenna" in asked[0] and "born 12-Nov-1979" in asked[0]  # the dialog names the patient
    qtbot.waitUntil(
        lambda: "Confirmed as Ready for MDT by Dr Con Sultant" in window.panel.decision.text(), timeout=5000
    )
    detail = get_referral(gui_db, referral_id=referral_id)
    assert detail.row.status == "ready_for_mdt"
    assert [(d.decision, d.outcome) for d in detail.decisions] == [("confirmed", "ready_for_mdt")]
    assert "Received → Ready for MDT" in window.panel.history.text()
    assert "triage confirmed" in window.panel.history.text()


@pytest.mark.hazard("H01")
def test_consultant_overrides_with_a_reason(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (referral_id,) = seed(1)
    window = open_window("cons-test")
    select_first(qtbot, window)
    monkeypatch.setattr(
        dialogs.OverrideDialog,
        "ask",
        classmethod(
            lambda cls, current, patient, parent: (
                ("needs_information", "Awaiting swallow study") if "QUILLFEATHER, Morwenna" in patient else None
            )
        ),
    )
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.mouseClick(window.panel.override_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Reason: Awaiting swallow study" in window.panel.decision.text(), timeout=5000)
    detail = get_referral(gui_db, referral_id=referral_id)
    assert detail.row.status == "awaiting_information"
    assert detail.decisions[-1].reason == "Awaiting swallow study"
    assert detail.decisions[-1].decision == "overridden"


@pytest.mark.hazard("H14")
def test_override_dialog_needs_a_reason(qtbot: Any) -> None:
    dialog = dialogs.OverrideDialog("ready_for_mdt", "QUILLFEATHER, Morwenna · NHS 999 000 0018 · born 12-Nov-1979")
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled() and "reason" in ok.toolTip()
    assert dialog.outcome.findData("ready_for_mdt") == -1  # overriding means choosing another outcome
    dialog.reason.setPlainText("MDT asked for DBS assessment first")
    assert not ok.isEnabled()  # no outcome is chosen for the consultant: a default is one Enter away
    dialog.outcome.setCurrentIndex(dialog.outcome.findData("needs_information"))
    assert ok.isEnabled()


@pytest.mark.hazard("H15")
def test_coordinator_cannot_confirm_and_is_told_why(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]]
) -> None:
    seed(1)
    window = open_window("coord-test")
    select_first(qtbot, window)
    for button in (window.panel.confirm_button, window.panel.override_button):
        assert not button.isEnabled() and button.toolTip() == NOT_CONSULTANT
    for action in (window.confirm_action, window.override_action):
        assert not action.isEnabled() and action.toolTip() == NOT_CONSULTANT
    assert not window.demo_action.isEnabled() and "administrator" in window.demo_action.toolTip()
    combo = window.panel.status_combo
    assert combo.findData("ready_for_mdt") < 0  # a triage decision, not a move: not offered at all
    closed = combo.findData("closed")
    assert not combo.model().item(closed).isEnabled()  # type: ignore[attr-defined]  # a consultant's move
    waiting = combo.findData("awaiting_information")
    assert combo.model().item(waiting).isEnabled()  # type: ignore[attr-defined]  # chasing is a coordinator's


@pytest.mark.hazard("H15")
def test_service_refuses_a_coordinator_even_if_the_ui_asked(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    shown_errors: list[tuple[str, str]],
) -> None:
    seed(1)
    window = open_window("coord-test")
    select_first(qtbot, window)
    window._decide(window.acting_on(), None, None)  # the button and the slot refuse; go past them
    qtbot.waitUntil(lambda: bool(shown_errors), timeout=5000)
    assert shown_errors[-1][0] == "Triage decision not recorded"
    assert "needs the consultant role" in shown_errors[-1][1]


@pytest.mark.hazard("H04")
def test_status_workflow_with_history(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_db: Database
) -> None:
    (referral_id,) = seed(1)
    window = open_window("coord-test")
    select_first(qtbot, window)
    combo = window.panel.status_combo
    combo.setCurrentIndex(combo.findData("awaiting_information"))
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.mouseClick(window.panel.status_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Status: Awaiting information" in window.panel.status_label.text(), timeout=5000)
    assert "Received → Awaiting information  by Cora Ordinator" in window.panel.history.text()
    assert get_referral(gui_db, referral_id=referral_id).row.status == "awaiting_information"
    item = window.sidebar.item_for("status", "awaiting_information")
    qtbot.waitUntil(lambda: item is not None and item.text(1) == "1", timeout=5000)


def test_about_box_names_versions(open_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch) -> None:
    window = open_window()
    shown: list[str] = []
    monkeypatch.setattr(dialogs.Messages, "about", classmethod(lambda cls, parent, version: shown.append(version)))
    window.about_action.trigger()
    assert shown == ["spd-2026.2"]
