"""Journeys through the real main window, driven by key presses and clicks as a coordinator and a consultant
would: each asserts on the patient acted on, by NHS number, read back from the database.

The reproductions of the safety issue (a hidden patient confirmed, a crash on reopening a saved referral, an
untouched medication list read as "none tried", stale values written back over another user's changes, an
override the queue ignored, a lapsed decision still listed) each fail here if they come back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.ui.test_form import fill_ready_referral, type_into
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.referrals import get_referral, update_referral
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui import dialogs
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_model import COL_NHS, COL_OUTCOME
from triage_app.ui.referral_form import ReferralForm

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def nhs(serial: int) -> str:
    return make_test_nhs_number(serial)


def idle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker.pending == 0 and window.model.all_ids_known, timeout=10_000)


def shown_nhs(window: MainWindow) -> list[str]:
    model = window.model
    return [model.data(model.index(row, COL_NHS)).replace(" ", "") for row in range(model.rowCount())]


def save_with_keys(qtbot: Any, form: ReferralForm) -> None:
    """Ctrl+S in the form, as the user presses it (the form's window active)."""
    form.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is form, timeout=3000)
    qtbot.keyClick(form, Qt.Key.Key_S, CTRL)


def focus_queue(qtbot: Any, window: MainWindow) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.table.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.table, timeout=3000)


def open_with_enter(qtbot: Any, window: MainWindow, referral_id: int) -> ReferralForm:
    """Enter on the selected row opens its form (and nothing else)."""
    focus_queue(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.form_for(referral_id) is not None, timeout=5000)
    form = window.form_for(referral_id)
    assert form is not None
    qtbot.waitExposed(form)
    return form


def select_patient(qtbot: Any, window: MainWindow, serial: int) -> None:
    """Click the patient's row, as a user does, and wait for the panel to show them."""
    row = shown_nhs(window).index(nhs(serial))
    rect = window.table.visualRect(window.model.index(row, COL_NHS))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(
        lambda: window.detail is not None and window.detail.referral.patient.nhs_number == nhs(serial), timeout=5000
    )


@pytest.fixture
def consent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Answer yes to every confirmation, keeping what each one said."""
    asked: list[str] = []
    monkeypatch.setattr(
        dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, text: asked.append(text) or True)
    )
    return asked


# --- 1. the right patient ------------------------------------------------------------------------------------


@pytest.mark.hazard("H01", "H04")
def test_search_leaves_nothing_selected_so_nothing_hidden_can_be_confirmed(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    consent: list[str],
) -> None:
    seed((1, {"patient__family_name": "Ashdale"}), (2, {"patient__family_name": "Bramwick"}))
    window = open_window("cons-test")
    select_patient(qtbot, window, 1)  # Ashdale on the panel
    qtbot.mouseClick(window.search, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(window.search, "Bramwick")
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    idle(qtbot, window)
    assert shown_nhs(window) == [nhs(2)]
    # Ashdale left the view: the panel clears and its actions disable
    assert window.detail is None and window.panel.headline.text() == "Select a referral to see its triage"
    assert not window.confirm_action.isEnabled() and not window.panel.confirm_button.isEnabled()
    focus_queue(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_C, CTRL_SHIFT)  # the shortcut does nothing with no patient
    idle(qtbot, window)
    assert consent == []
    assert get_referral(gui_db, referral_id=1).row.decided_outcome is None
    # choose Bramwick: the confirmation names Bramwick, and Bramwick is the one confirmed
    select_patient(qtbot, window, 2)
    focus_queue(qtbot, window)
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.keyClick(window.table, Qt.Key.Key_C, CTRL_SHIFT)
    assert "BRAMWICK" in consent[0] and "999 000" in consent[0] and "born 12-Nov-1979" in consent[0]
    assert get_referral(gui_db, referral_id=2).row.decided_outcome == "ready_for_mdt"
    assert get_referral(gui_db, referral_id=1).row.decided_outcome is None


@pytest.mark.hazard("H04")
def test_another_users_change_takes_the_row_out_of_the_view_and_the_panel_clears(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
) -> None:
    seed(1, 2)
    window = open_window("cons-test")
    window.sidebar.view_chosen.emit("outcome", "ready_for_mdt")
    idle(qtbot, window)
    select_patient(qtbot, window, 1)
    from triage_app.services.triage import decide_triage

    decide_triage(  # a colleague at another desk overrides patient 1
        gui_db,
        actor=sign_in(gui_db, login="admin-test"),
        referral_id=1,
        expected_version=1,
        override_outcome="needs_information",
        reason="Ask for the swallow study",
    )
    focus_queue(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_F5)
    idle(qtbot, window)
    assert shown_nhs(window) == [nhs(2)]
    assert window.detail is None and not window.panel.override_button.isEnabled()


# --- 2. enter, save, close, reopen, edit ------------------------------------------------------------------------


@pytest.mark.hazard("H03")
def test_new_referral_save_close_reopen_edit_save(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database
) -> None:
    window = open_window("coord-test")
    focus_queue(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: len(window.forms) == 1, timeout=3000)
    form = window.forms[0]
    qtbot.waitExposed(form)
    qtbot.waitUntil(  # Ctrl+N puts the cursor in the NHS number
        lambda: QApplication.focusWidget() is form.fields["patient.nhs_number"].widget, timeout=3000
    )
    fill_ready_referral(qtbot, form, nhs(7))
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        save_with_keys(qtbot, form)
    assert form.status.text() == "Saved" and "YARBROOK, Hana" in form.windowTitle()
    referral_id = form.referral_id
    assert referral_id is not None
    form.close()
    qtbot.waitUntil(lambda: not window.forms, timeout=3000)
    idle(qtbot, window)
    # the saved referral is selected; Enter opens it again (no "unexpected problem")
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.row.id == referral_id, timeout=5000)
    form = open_with_enter(qtbot, window, referral_id)
    shown = form.fields["patient.nhs_number"].widget.text()  # type: ignore[attr-defined]
    assert shown.replace(" ", "") == nhs(7) and shown.count(" ") == 2  # the saved patient, shown 3-3-4
    type_into(qtbot, form, "patient.hospital_number", "H-77")
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        save_with_keys(qtbot, form)
    stored = get_referral(gui_db, referral_id=referral_id)
    assert stored.referral.patient.nhs_number == nhs(7) and stored.referral.patient.hospital_number == "H-77"
    assert stored.row.version == 2
    form.close()
    qtbot.waitUntil(lambda: not window.forms, timeout=3000)
    # and through the panel's Edit button, and a missing-field link: one form each time, no error
    qtbot.mouseClick(window.panel.edit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.form_for(referral_id) is not None, timeout=5000)
    qtbot.mouseClick(window.panel.edit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    assert len(window.forms) == 1
    window.forms[0].close()
    qtbot.waitUntil(lambda: not window.forms, timeout=3000)
    window.panel.missing_field_clicked.emit("clinical_question")
    qtbot.waitUntil(lambda: window.form_for(referral_id) is not None, timeout=5000)


@pytest.mark.hazard("H01", "H06")
def test_a_name_only_referral_is_not_stored_and_an_untouched_medication_list_is_not_recorded(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database
) -> None:
    window = open_window("coord-test")
    window.new_action.trigger()
    form = window.forms[0]
    qtbot.waitExposed(form)
    type_into(qtbot, form, "patient.family_name", "Quinnell")
    type_into(qtbot, form, "patient.given_name", "Marguerite")
    form.validate()
    assert "Oral medication history not recorded" in form.preview.text() or "Oral medications" in form.preview.text()
    save_with_keys(qtbot, form)
    idle(qtbot, window)
    for path in ("patient.nhs_number", "patient.date_of_birth", "received_on", "referrer.name"):
        assert "needed to store a referral" in form.errors[path].text()
    assert window.model.rowCount() == 0  # nothing stored
    # the identity minimum, and nothing about oral medication: it is stored as not recorded
    type_into(qtbot, form, "patient.nhs_number", nhs(8))
    type_into(qtbot, form, "patient.date_of_birth", "01/02/1970")
    type_into(qtbot, form, "received_on", local_today().strftime("%d/%m/%Y"))
    type_into(qtbot, form, "referrer.name", "Dr Jo Smith")
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        save_with_keys(qtbot, form)
    stored = get_referral(gui_db, referral_id=form.referral_id or 0)
    assert stored.referral.patient.nhs_number == nhs(8)
    assert stored.referral.oral_medications is None
    assert stored.row.outcome == "needs_information"
    assert stored.assessment is not None and "oral_medications" in stored.assessment.missing


@pytest.mark.hazard("H01", "H02")
def test_a_patient_with_an_open_referral_is_shown_as_the_nhs_number_is_typed(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (existing,) = seed((3, {"received_on": "2026-09-01"}))
    window = open_window("coord-test")
    window.new_action.trigger()
    form = window.forms[0]
    qtbot.waitExposed(form)
    fill_ready_referral(qtbot, form, nhs(3))
    qtbot.waitUntil(lambda: form.existing_banner.isVisible(), timeout=5000)
    assert f"Open referral {existing}" in form.existing_banner.text()
    reasons: list[str] = []

    def ask(cls: Any, title: str, message: str, parent: Any, other_choice: str = "") -> str:
        reasons.append(message)
        return "Re-referred by a new neurologist after a move"

    monkeypatch.setattr(dialogs.ReasonDialog, "ask", classmethod(ask))
    # the family name typed differs from the stored one: the user sees both and confirms the change
    confirmations: list[str] = []
    monkeypatch.setattr(
        dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, text: confirmations.append(text) or True)
    )
    with qtbot.waitSignal(window.changes_applied, timeout=15_000):
        save_with_keys(qtbot, form)
    assert "stored Quillfeather, this referral Yarbrook" in confirmations[0]
    assert f"referral {existing}" in reasons[0] and "999 000" in reasons[0]
    second = get_referral(gui_db, referral_id=form.referral_id or 0)
    assert second.referral.patient.nhs_number == nhs(3) and second.row.id != existing


# --- 3. confirm, override, then edit so the triage changes ------------------------------------------------------


@pytest.mark.hazard("H04", "H16")
def test_override_shows_everywhere_and_an_edit_that_changes_the_triage_lapses_the_decision(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    consent: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(1, 2)
    window = open_window("admin-test")  # a consultant who also enters referrals
    select_patient(qtbot, window, 2)
    monkeypatch.setattr(
        dialogs.OverrideDialog,
        "ask",
        classmethod(lambda cls, current, patient, parent: ("not_yet_refractory", "Toxin dose never optimised")),
    )
    focus_queue(qtbot, window)
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.keyClick(window.table, Qt.Key.Key_O, CTRL_SHIFT)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: "overridden: was ready for MDT" in window.panel.headline.text(), timeout=5000)
    row = shown_nhs(window).index(nhs(2))
    assert window.model.data(window.model.index(row, COL_OUTCOME)).startswith("Not yet refractory (overridden")
    window.sidebar.view_chosen.emit("outcome", "ready_for_mdt")
    idle(qtbot, window)
    assert shown_nhs(window) == [nhs(1)]  # the override left the ready view
    ready = window.sidebar.item_for("outcome", "ready_for_mdt")
    qtbot.waitUntil(lambda: ready is not None and ready.text(1) == "1", timeout=5000)

    # confirm patient 1, then edit it: good toxin response and dysphagia
    select_patient(qtbot, window, 1)
    focus_queue(qtbot, window)
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.keyClick(window.table, Qt.Key.Key_C, CTRL_SHIFT)
    assert "QUILLFEATHER" in consent[-1]
    idle(qtbot, window)
    assert get_referral(gui_db, referral_id=1).row.status == "ready_for_mdt"
    form = open_with_enter(qtbot, window, 1)
    form.fields["botulinum_toxin.response"].widget.setCurrentIndex(  # type: ignore[attr-defined]
        form.fields["botulinum_toxin.response"].widget.findData("good")  # type: ignore[attr-defined]
    )
    form.fields["history.dysphagia"].widget.setCurrentIndex(1)  # type: ignore[attr-defined]  # Yes
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        save_with_keys(qtbot, form)
    stored = get_referral(gui_db, referral_id=1)
    assert stored.referral.patient.nhs_number == nhs(1)
    assert (stored.row.status, stored.row.decided_outcome, stored.row.outcome) == (
        "received",
        None,
        "not_yet_refractory",
    )
    assert stored.history[-1].note == "triage changed since confirmation: was ready for MDT, now not yet refractory"
    # the ready view no longer lists it, and a meeting cannot take it
    idle(qtbot, window)
    assert nhs(1) not in shown_nhs(window)
    meeting_id = meetings.create_meeting(
        gui_db, actor=sign_in(gui_db, login="coord-test"), meeting_date=local_today(), meeting_time="13:30"
    ).meeting_id
    assert (
        meetings.fill_to_capacity(gui_db, actor=sign_in(gui_db, login="coord-test"), meeting_id=meeting_id).added == []
    )


# --- 4. quitting with unsaved forms -----------------------------------------------------------------------------


@pytest.mark.hazard("H03")
def test_quitting_asks_about_every_unsaved_form_and_cancel_keeps_everything(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(1, 2)
    window = open_window("coord-test")
    for serial in (1, 2):
        select_patient(qtbot, window, serial)
        window.open_selected()
        qtbot.waitUntil(lambda s=serial: window.form_for(s) is not None, timeout=5000)
    first, second = window.form_for(1), window.form_for(2)
    assert first is not None and second is not None
    type_into(qtbot, second, "clinical_question", "")
    second.fields["clinical_question"].widget.setPlainText("Is DBS a better option?")  # type: ignore[attr-defined]
    asked: list[str] = []

    def cancel(cls: Any, parent: ReferralForm) -> QMessageBox.StandardButton:
        asked.append(parent.windowTitle())
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(ReferralForm, "ask_unsaved", classmethod(cancel))
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    qtbot.keyClick(window.table, Qt.Key.Key_Q, CTRL)  # Ctrl+Q
    assert window.isVisible() and second.isVisible() and first.isVisible()
    assert len(asked) == 1 and "Referral 2" in asked[0]  # asked once, about the one unsaved form
    assert second.fields["clinical_question"].value() == "Is DBS a better option?"

    # Save on the way out: the save lands, then the app closes
    monkeypatch.setattr(ReferralForm, "ask_unsaved", classmethod(lambda cls, parent: QMessageBox.StandardButton.Save))
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert get_referral(gui_db, referral_id=2).referral.clinical_question == "Is DBS a better option?"
    assert get_referral(gui_db, referral_id=1).row.version == 1  # the clean form changed nothing
    assert window.settings.value("window/geometry") is not None  # the layout was saved


# --- 5. a second user's change arrives while my form is open -----------------------------------------------------


@pytest.mark.hazard("H03")
def test_keeping_my_edits_on_top_writes_only_the_fields_i_changed(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(1)
    window = open_window("coord-test")
    select_patient(qtbot, window, 1)
    form = open_with_enter(qtbot, window, 1)
    form.fields["clinical_question"].widget.setPlainText("Please consider SPD soon")  # type: ignore[attr-defined]
    # meanwhile another user elsewhere records a new TWSTRS and a hospital number
    stored = get_referral(gui_db, referral_id=1)
    theirs = replace(
        stored.referral,
        severity=replace(stored.referral.severity, twstrs_total=55),
        patient=replace(stored.referral.patient, hospital_number="H-99"),
    )
    update_referral(
        gui_db,
        actor=sign_in(gui_db, login="admin-test"),
        referral_id=1,
        expected_version=1,
        referral=theirs,
        rules=rules,
        as_of=local_today(),
    )
    qtbot.waitUntil(lambda: window.live.edit_of(1) is not None, timeout=5000)  # their save reached this desktop
    monkeypatch.setattr(dialogs.ConflictDialog, "ask", classmethod(lambda cls, *args: dialogs.REBASE))
    save_with_keys(qtbot, form)
    qtbot.waitUntil(lambda: form.version == 2 and form.dirty, timeout=10_000)
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        save_with_keys(qtbot, form)
    saved = get_referral(gui_db, referral_id=1)
    assert saved.referral.patient.nhs_number == nhs(1)
    assert saved.referral.clinical_question == "Please consider SPD soon"  # mine
    assert saved.referral.severity.twstrs_total == 55 and saved.referral.patient.hospital_number == "H-99"  # theirs
    assert saved.row.version == 3


@pytest.mark.hazard("H01")
def test_changing_the_nhs_number_of_a_saved_referral_asks_first_showing_both(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(1)
    window = open_window("coord-test")
    select_patient(qtbot, window, 1)
    form = open_with_enter(qtbot, window, 1)
    form.fields["patient.nhs_number"].set_value(nhs(9))
    asked: list[str] = []
    monkeypatch.setattr(
        dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, text: asked.append(text) or False)
    )
    save_with_keys(qtbot, form)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    idle(qtbot, window)
    assert "NHS number: stored 999 000" in asked[0] and f"this referral {nhs(9)[:3]} {nhs(9)[3:6]}" in asked[0]
    assert get_referral(gui_db, referral_id=1).referral.patient.nhs_number == nhs(1)  # declined: nothing changed
    assert form.dirty  # and the typed change is still in the form


@pytest.mark.hazard("H03")
def test_quitting_from_inside_a_form_that_cannot_be_saved_yet_stays_and_keeps_working(
    qtbot: Any, open_window: Callable[..., MainWindow], gui_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window("coord-test")
    window.new_action.trigger()
    form = window.forms[0]
    qtbot.waitExposed(form)
    type_into(qtbot, form, "patient.family_name", "Quinnell")
    monkeypatch.setattr(ReferralForm, "ask_unsaved", classmethod(lambda cls, parent: QMessageBox.StandardButton.Save))
    form.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is form, timeout=3000)
    qtbot.keyClick(form, Qt.Key.Key_Q, CTRL)  # Ctrl+Q works from the form too
    idle(qtbot, window)
    # it cannot be saved yet (no NHS number...): the form and the app stay, and the app is no longer quitting
    assert window.isVisible() and form.isVisible() and "needed to store a referral" in form.errors["received_on"].text()
    fill_ready_referral(qtbot, form, nhs(5))
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        save_with_keys(qtbot, form)
    idle(qtbot, window)
    assert window.isVisible() and form.isVisible()  # saving later does not finish an abandoned quit
    assert get_referral(gui_db, referral_id=form.referral_id or 0).referral.patient.nhs_number == nhs(5)
