"""The Rules in force dialog, driven with real clicks: choose a file, read its changes, approve (administrators)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QPushButton

from triage_app.config import default_rules_path
from triage_app.services.referrals import get_referral
from triage_app.services.rules import rules_in_force
from triage_app.storage.engine import Database
from triage_app.ui import dialogs
from triage_app.ui.main_window import MainWindow
from triage_app.ui.rules_dialog import NOT_ADMIN, RulesDialog, open_rules_dialog, rules_notice, update_rules_notice

SHIPPED = default_rules_path().read_text(encoding="utf-8")


def rules_file(tmp_path: Path, version: str, *changes: tuple[str, str]) -> Path:
    text = SHIPPED.replace('version = "spd-2026.2"', f'version = "{version}"')
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{version}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def idle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)


def choose(monkeypatch: pytest.MonkeyPatch, path: Path | None) -> None:
    """The file dialog answers with `path` (a test cannot click in the platform's file chooser)."""
    monkeypatch.setattr(RulesDialog, "ask_file", classmethod(lambda cls, parent: None if path is None else str(path)))


@pytest.fixture
def confirmations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every confirmation asked is recorded and answered Yes."""
    asked: list[tuple[str, str]] = []

    def answer(cls: type, parent: Any, title: str, text: str) -> bool:
        asked.append((title, text))
        return True

    monkeypatch.setattr(dialogs.Messages, "confirm", classmethod(answer))
    return asked


def click(qtbot: Any, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def changes(dialog: RulesDialog) -> list[str]:
    return [dialog.changes.item(i).text() for i in range(dialog.changes.count())]


@pytest.mark.hazard("H05")
def test_an_administrator_reviews_and_approves_a_rules_file(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    confirmations: list[tuple[str, str]],
) -> None:
    (referral_id,) = seed(1)
    window = open_window("admin-test")
    dialog = open_rules_dialog(window)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    idle(qtbot, window)
    assert dialog.in_force_label.text().startswith("spd-2026.2, approved by Ada Admin (admin-test) on ")
    assert f"SHA-256 {window.session.approval.sha256[:12]}" in dialog.in_force_label.text()
    assert not dialog.approve_button.isEnabled()

    choose(
        monkeypatch,
        rules_file(tmp_path, "spd-2027.1", ('specialist_units = ["RXX01"]', 'specialist_units = ["RQQ07"]')),
    )
    click(qtbot, dialog.choose_button)
    idle(qtbot, window)
    assert changes(dialog) == [
        "Version of the rules: spd-2026.2 -> spd-2027.1",
        "S2 specialist units offering SPD: RXX01 -> RQQ07 (adds RQQ07; removes RXX01)",
    ]
    assert "Approving reassesses 1 open referral not yet at an MDT" in dialog.impact_label.text()

    click(qtbot, dialog.approve_button)
    idle(qtbot, window)
    ((title, question),) = confirmations
    assert title == "Approve rules spd-2027.1" and "Approve rules spd-2027.1 for every desktop?" in question
    assert "S2 specialist units offering SPD: RXX01 -> RQQ07" in question and "1 open referral " in question
    assert rules_in_force(gui_db).version == "spd-2027.1"
    assert window.session.rules.version == "spd-2027.1"  # this desktop scores with the new rules from now on
    assert window.rules_label.text() == "Rules spd-2027.1"
    assert window.rules_label.toolTip().startswith("Rules spd-2027.1 approved by Ada Admin on ")
    assert window.panel.rules_in_force.text() == window.rules_label.toolTip()
    assert dialog.in_force_label.text().startswith("spd-2027.1, approved by Ada Admin")
    # The approval commits alone; the referral is reassessed in the background right after it (issue 14).
    assert "Rules spd-2027.1 approved by Ada Admin; 1 open referral not yet at an MDT is being reassessed in the " in (
        dialog.result_label.text()
    )
    job = window.maintenance_actions.reassessment
    qtbot.waitUntil(lambda: not job.running and job.state.startswith("Reassessed 1 open referral"), timeout=10_000)
    assert get_referral(gui_db, referral_id=referral_id).row.outcome == "redirect_to_specialist_unit"
    assert not dialog.approve_button.isEnabled()
    dialog.close()


@pytest.mark.hazard("H05")
def test_declining_the_confirmation_approves_nothing(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = open_window("admin-test")
    dialog = open_rules_dialog(window)
    assert dialog is not None
    idle(qtbot, window)
    choose(monkeypatch, rules_file(tmp_path, "spd-2027.1", ("bont_min_cycles = 3 ", "bont_min_cycles = 4 ")))
    click(qtbot, dialog.choose_button)
    idle(qtbot, window)
    assert "R1 toxin cycles needed: 3 -> 4" in changes(dialog)
    click(qtbot, dialog.approve_button)  # the autouse fixture answers No
    idle(qtbot, window)
    assert rules_in_force(gui_db).version == "spd-2026.2" and window.session.rules.version == "spd-2026.2"
    dialog.close()


@pytest.mark.hazard("H05")
@pytest.mark.parametrize(
    ("version", "change", "shown"),
    [
        ("spd-2026.2", ("paediatric_age = 18", "paediatric_age = 2"), "rules version spd-2026.2 is already approved"),
        ("unit-4", ("[flags]", "[flags]\nchild_age = 16"), "unknown key 'flags.child_age'"),
        ("unit-5", ("paediatric_age = 18", "paediatric_age = 60"), "'flags.paediatric_age' must be at least 1"),
    ],
)
def test_a_file_that_cannot_be_approved_says_why_and_changes_nothing(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[tuple[str, str]],
    version: str,
    change: tuple[str, str],
    shown: str,
) -> None:
    (referral_id,) = seed(1)
    window = open_window("admin-test")
    assessment = get_referral(gui_db, referral_id=referral_id).row.current_assessment_id
    dialog = open_rules_dialog(window)
    assert dialog is not None
    idle(qtbot, window)
    choose(monkeypatch, rules_file(tmp_path, version, change))
    click(qtbot, dialog.choose_button)
    idle(qtbot, window)
    said = dialog.impact_label.text() + dialog.proposed_label.text() + " ".join(text for _, text in shown_errors)
    assert shown in said
    assert not dialog.approve_button.isEnabled()
    assert rules_in_force(gui_db).version == "spd-2026.2"
    assert get_referral(gui_db, referral_id=referral_id).row.current_assessment_id == assessment
    dialog.close()


@pytest.mark.hazard("H05", "H15")
def test_others_may_look_but_not_approve(
    qtbot: Any, open_window: Callable[..., MainWindow], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window("coord-test")
    dialog = open_rules_dialog(window)
    assert dialog is not None
    idle(qtbot, window)
    choose(monkeypatch, rules_file(tmp_path, "spd-2027.1", ("bont_min_cycles = 3 ", "bont_min_cycles = 4 ")))
    click(qtbot, dialog.choose_button)
    idle(qtbot, window)
    assert "R1 toxin cycles needed: 3 -> 4" in changes(dialog)
    assert not dialog.approve_button.isEnabled() and dialog.approve_button.toolTip() == NOT_ADMIN
    dialog.close()


@pytest.mark.hazard("H05")
def test_rules_shipped_with_a_newer_app_are_offered_to_administrators_only(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    confirmations: list[tuple[str, str]],
) -> None:
    (referral_id,) = seed(1)
    first = open_window("admin-test")  # this database approved the rules the older app shipped
    assert first.session.proposal is None and rules_notice(first) is None
    newer = rules_file(tmp_path, "spd-2027.1", ('specialist_units = ["RXX01"]', 'specialist_units = ["RQQ07"]'))
    import triage_app.services.app as app_service

    monkeypatch.setattr(app_service, "shipped_rules_path", lambda: newer)  # the newer app's own file
    coordinator = open_window("coord-test")
    assert coordinator.session.proposal is not None and rules_notice(coordinator) is None
    window = open_window("admin-test")
    assert window.session.rules.version == "spd-2026.2"  # offered, never applied on start
    assert get_referral(gui_db, referral_id=referral_id).row.outcome == "ready_for_mdt"
    bar = update_rules_notice(window)
    assert bar is not None and bar.isVisible()
    assert "ships rules spd-2027.1" in bar.findChild(QLabel).text()
    click(qtbot, bar.findChild(QPushButton, "rules_notice_review"))
    idle(qtbot, window)
    dialog = window.rules_dialog
    assert isinstance(dialog, RulesDialog)
    assert "S2 specialist units offering SPD: RXX01 -> RQQ07 (adds RQQ07; removes RXX01)" in changes(dialog)
    click(qtbot, dialog.approve_button)
    idle(qtbot, window)
    assert rules_in_force(gui_db).version == "spd-2027.1" and window.session.proposal is None
    # the notice goes once the proposal is approved
    qtbot.waitUntil(
        lambda: not [w for w in window.findChildren(QFrame, "rules_notice") if w.isVisible()], timeout=5_000
    )
    dialog.close()


@pytest.mark.hazard("H05")
def test_anyone_with_a_role_finds_the_rules_in_force_from_the_file_menu(
    qtbot: Any, open_window: Callable[..., MainWindow]
) -> None:
    """A coordinator opens File > Rules in force…: the rules, who approved them, and no Approve for them."""
    window = open_window("coord-test")
    assert window.rules_label.text() == "Rules spd-2026.2"
    assert window.rules_label.toolTip().startswith("Rules spd-2026.2 approved by Ada Admin on ")
    assert window.panel.rules_in_force.text() == window.rules_label.toolTip()
    assert window.rules_action.isEnabled()
    window.rules_action.trigger()
    dialog = window.findChild(RulesDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    idle(qtbot, window)
    assert dialog.in_force_label.text().startswith("spd-2026.2, approved by Ada Admin")
    assert not dialog.approve_button.isEnabled() and dialog.approve_button.toolTip() == NOT_ADMIN


@pytest.mark.hazard("H05")
def test_the_panel_says_why_an_assessment_by_older_rules_stands(qtbot: Any, db: Database, admin: Any) -> None:
    """After newer rules are approved, a closed referral keeps its assessment: the panel says why, beside the
    line naming the rules in force, and an open one not yet reassessed says so."""
    from tests.factories import AS_OF, referral
    from triage_app.domain.rules import load_rules
    from triage_app.services.referrals import register_referral
    from triage_app.services.triage import change_status
    from triage_app.ui.triage_panel import TriagePanel

    rules = load_rules(default_rules_path())
    closed = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    change_status(
        db, actor=admin, referral_id=closed.referral_id, expected_version=1, status="closed", note="Moved away"
    )
    still_open = register_referral(db, actor=admin, referral=referral(2), rules=rules, as_of=AS_OF)
    panel = TriagePanel()
    qtbot.addWidget(panel)
    panel.set_rules_line("Rules spd-2027.1 approved by Ada Admin on 21-Nov-2026", "spd-2027.1")
    panel.show_detail(get_referral(db, referral_id=closed.referral_id), admin)
    assert "with rules spd-2026.2" in panel.priority.text()
    assert "Kept as assessed: the referral had reached an MDT (or was closed) before rules spd-2027.1" in (
        panel.priority.text()
    )
    panel.show_detail(get_referral(db, referral_id=still_open.referral_id), admin)
    assert "Not yet reassessed with the rules in force (spd-2027.1)" in panel.priority.text()
    panel.set_rules_line("Rules spd-2026.2 approved by Ada Admin on 21-Nov-2026", "spd-2026.2")
    panel.show_detail(get_referral(db, referral_id=still_open.referral_id), admin)
    assert "reassessed" not in panel.priority.text() and "Kept as assessed" not in panel.priority.text()
