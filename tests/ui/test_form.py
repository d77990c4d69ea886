"""The referral form end to end: typing a referral in, validation beside each field, saving, conflicts,
unsaved changes and missing-field links."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QMessageBox

from tests.factories import referral_json
from tests.stored import stored_rows
from triage_app.config import AppPaths
from triage_app.domain.fields import LOCAL_FIELDS
from triage_app.domain.identity import IDENTITY_MINIMUM
from triage_app.domain.rules import Rules
from triage_app.services.app import local_today
from triage_app.services.referrals import get_referral, update_referral
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui import dialogs
from triage_app.ui.main_window import MainWindow
from triage_app.ui.referral_form import ReferralForm


def choose(combo: QComboBox, value: Any) -> None:
    combo.setCurrentIndex(combo.findData(value))


def type_into(qtbot: Any, form: ReferralForm, path: str, text: str) -> None:
    field = form.fields[path]
    widget = field.widget
    widget.setFocus()
    qtbot.keyClicks(widget, text)
    if hasattr(widget, "editingFinished"):
        widget.editingFinished.emit()


def new_form(qtbot: Any, window: MainWindow) -> ReferralForm:
    window.new_action.trigger()
    form = window.forms[-1]
    qtbot.waitExposed(form)
    return form


def fill_ready_referral(qtbot: Any, form: ReferralForm, nhs: str) -> None:
    today = local_today()
    type_into(qtbot, form, "patient.nhs_number", nhs)
    type_into(qtbot, form, "patient.family_name", "Yarbrook")
    type_into(qtbot, form, "patient.given_name", "Hana")
    type_into(qtbot, form, "patient.date_of_birth", "12/11/1979")
    choose(form.fields["patient.sex"].widget, "female")
    type_into(qtbot, form, "received_on", today.strftime("%d-%b-%Y"))
    type_into(qtbot, form, "referrer.name", "Dr Ada Testwell")
    choose(form.fields["referrer.role"].widget, "neurologist")
    type_into(qtbot, form, "receiving_unit_ods", "rxx01")
    choose(form.fields["diagnosis.condition"].widget, "cervical_dystonia")
    choose(form.fields["diagnosis.aetiology"].widget, "idiopathic")
    choose(form.fields["diagnosis.distribution"].widget, "focal")
    type_into(qtbot, form, "diagnosis.onset", "Apr-2015")
    choose(form.fields["diagnosis.specialist_confirmed"].widget, True)
    form.fields["phenotype.components"].boxes["torticollis"].setChecked(True)  # type: ignore[attr-defined]
    choose(form.fields["phenotype.head_tremor"].widget, False)
    for history in (
        "dysphagia",
        "prior_neck_surgery",
        "congenital_head_or_spine_abnormality",
        "cervical_spine_disease",
    ):
        choose(form.fields[f"history.{history}"].widget, False)
    type_into(qtbot, form, "severity.twstrs_total", "38")
    type_into(qtbot, form, "severity.twstrs_pain", "9")
    type_into(qtbot, form, "botulinum_toxin.cycles", "9")
    choose(form.fields["botulinum_toxin.guidance"].widget, "ultrasound")
    choose(form.fields["botulinum_toxin.response"].widget, "secondary_non_response")
    choose(form.fields["botulinum_toxin.immunoresistance_tested"].widget, True)
    medications = form.fields["oral_medications"]
    medications.add_row("clonazepam", "ineffective")  # type: ignore[attr-defined]
    choose(form.fields["physiotherapy.completed"].widget, True)
    choose(form.fields["physiotherapy.outcome"].widget, "partial")
    form.fields["clinical_question"].widget.setPlainText("Consider SPD")  # type: ignore[attr-defined]
    form.validate()


def test_enter_a_referral_end_to_end(qtbot: Any, open_window: Callable[..., MainWindow], gui_paths: AppPaths) -> None:
    window = open_window("coord-test")
    form = new_form(qtbot, window)
    fill_ready_referral(qtbot, form, "999-000-0301")  # pasted with hyphens
    assert form.current_errors == {}
    assert form.fields["patient.nhs_number"].widget.text() == "999 000 0301"  # type: ignore[attr-defined]
    assert form.fields["patient.date_of_birth"].widget.text() == "12-Nov-1979"  # type: ignore[attr-defined]
    assert "Live triage: Ready for MDT" in form.preview.text()
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert form.status.text() == "Saved" and not form.dirty
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    data = gui_paths.data_dir
    row = stored_rows(data, "SELECT nhs_number, family_name, receiving_unit_ods, outcome, version FROM referral")
    medication = stored_rows(data, "SELECT drug, outcome FROM oral_medication")
    audit = stored_rows(data, "SELECT user_login, action FROM audit_event ORDER BY id DESC LIMIT 1")
    assert row == [("9990000301", "Yarbrook", "RXX01", "ready_for_mdt", 1)]
    assert medication == [("clonazepam", "ineffective")]
    assert audit == [("coord-test", "create")]


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        ("patient.nhs_number", "999 000 0302", "check digit does not match"),
        ("patient.nhs_number", "12345", "has 10 digits"),
        ("patient.date_of_birth", "31/02/1980", "not a real date"),
        ("patient.date_of_birth", "yesterday", "is not a date"),
        ("severity.twstrs_total", "90", "from 0 to 85"),
        ("severity.twstrs_total", "lots", "not a whole number"),
        ("receiving_unit_ods", "R!", "ODS code"),
        ("diagnosis.onset", "2040-01", "after the date the referral was received"),
    ],
)
@pytest.mark.hazard("H01", "H13")
def test_errors_are_shown_beside_the_field_and_block_saving(
    qtbot: Any, open_window: Callable[..., MainWindow], path: str, text: str, message: str
) -> None:
    window = open_window("coord-test")
    form = new_form(qtbot, window)
    fill_ready_referral(qtbot, form, "999 000 0301")
    form.fields[path].set_value(None)
    type_into(qtbot, form, path, text)
    qtbot.waitUntil(lambda: path in form.current_errors, timeout=3000)
    label = form.errors[path]
    assert label.isVisible() and message in label.text() and label.text().startswith("⚠")
    assert not form.save_button.isEnabled()
    assert "to correct before saving" in form.status.text()
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=5000)  # the patient look-up as the NHS number was typed
    form.save()  # Ctrl+S does nothing either
    assert window.worker.pending == 0
    form.fields[path].set_value(None)
    form.validate()
    if path in IDENTITY_MINIMUM:  # after a save attempt, an empty identity field is named as needed
        assert "needed to store a referral" in form.current_errors[path] and label.isVisible()
    else:
        assert path not in form.current_errors and not label.isVisible()


def test_missing_field_link_opens_the_form_at_that_field(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]]
) -> None:
    seed((1, {"physiotherapy": None}))
    window = open_window()
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=5000)
    assert "physiotherapy.completed" in window.panel.missing.text()
    window.panel.missing.linkActivated.emit("field:physiotherapy.completed")
    qtbot.waitUntil(lambda: bool(window.forms), timeout=5000)
    form = window.forms[0]
    qtbot.waitExposed(form)
    qtbot.waitUntil(lambda: form.focusWidget() is form.fields["physiotherapy.completed"].widget, timeout=3000)


def form_open_while_another_user_saves(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    rules: Rules,
    **theirs: Any,
) -> tuple[MainWindow, ReferralForm, int]:
    """A coordinator opens a referral's form; meanwhile another user (an admin who also coordinates) at another
    desk saves `theirs`."""
    (referral_id,) = seed(1)
    window = open_window("coord-test")
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=5000)
    window.open_selected()
    qtbot.waitUntil(lambda: window.form_for(referral_id) is not None, timeout=5000)
    stored = get_referral(gui_db, referral_id=referral_id)
    update_referral(
        gui_db,
        actor=sign_in(gui_db, login="admin-test"),
        referral_id=referral_id,
        expected_version=1,
        referral=replace(stored.referral, **theirs),
        rules=rules,
        as_of=local_today(),
    )
    # Their save reaches this desktop (live updates: the form's "Changed by" bar) before the coordinator saves.
    qtbot.waitUntil(lambda: window.live.edit_of(referral_id) is not None, timeout=5000)
    return window, window.form_for(referral_id), referral_id


@pytest.mark.hazard("H03")
def test_a_conflicting_save_shows_both_versions_and_reloads(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _window, form, referral_id = form_open_while_another_user_saves(
        qtbot, open_window, seed, gui_db, rules, clinical_question="Theirs: please review urgently"
    )

    shown: dict[str, Any] = {}

    def ask(cls: Any, message: str, mine: Any, theirs: Any, parent: Any) -> str:
        shown["message"] = message
        shown["rows"] = dialogs.differences(mine, theirs)
        return dialogs.RELOAD

    monkeypatch.setattr(dialogs.ConflictDialog, "ask", classmethod(ask))
    form.fields["clinical_question"].widget.setPlainText("Mine: routine")  # type: ignore[attr-defined]
    form.save()
    qtbot.waitUntil(lambda: "rows" in shown, timeout=10_000)
    qtbot.waitUntil(lambda: form.version == 2, timeout=5000)
    assert "Ada Admin" in shown["message"]
    assert ("Clinical question", "Mine: routine", "Theirs: please review urgently") in shown["rows"]
    assert form.fields["clinical_question"].value() == "Theirs: please review urgently"
    assert not form.dirty
    assert get_referral(gui_db, referral_id=referral_id).referral.clinical_question == "Theirs: please review urgently"


@pytest.mark.hazard("H03")
def test_conflict_dialog_lists_the_differences(qtbot: Any) -> None:
    from tests.factories import referral

    mine = referral(1, clinical_question="Mine")
    theirs = referral(1, clinical_question="Theirs", severity__twstrs_total=50)
    dialog = dialogs.ConflictDialog("changed by Dr X", mine, theirs)
    qtbot.addWidget(dialog)
    cells = [[dialog.table.item(r, c).text() for c in range(3)] for r in range(dialog.table.rowCount())]
    assert ["Clinical question", "Mine", "Theirs"] in cells
    assert ["TWSTRS total", "38", "50"] in cells


@pytest.mark.hazard("H03")
def test_unsaved_changes_are_never_lost_without_a_question(
    qtbot: Any, open_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window("coord-test")
    form = new_form(qtbot, window)
    type_into(qtbot, form, "patient.family_name", "Zellgate")
    assert form.dirty
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard]
    asked: list[int] = []

    def ask(cls: Any, parent: Any) -> QMessageBox.StandardButton:
        asked.append(1)
        return answers.pop(0)

    monkeypatch.setattr(ReferralForm, "ask_unsaved", classmethod(ask))
    qtbot.keyClick(form, Qt.Key.Key_Escape)
    assert form.isVisible() and len(asked) == 1  # cancelled: still open, nothing lost
    assert form.fields["patient.family_name"].value() == "Zellgate"
    form.close()
    assert not form.isVisible() and len(asked) == 2


@pytest.mark.hazard("H03")
def test_closing_the_window_asks_about_open_forms(
    qtbot: Any, open_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window("coord-test")
    form = new_form(qtbot, window)
    type_into(qtbot, form, "patient.family_name", "Zellgate")
    monkeypatch.setattr(ReferralForm, "ask_unsaved", classmethod(lambda cls, parent: QMessageBox.StandardButton.Cancel))
    window.close()
    assert window.isVisible() and form.isVisible()


def test_tab_order_follows_the_form(qtbot: Any, open_window: Callable[..., MainWindow]) -> None:
    window = open_window("coord-test")
    form = new_form(qtbot, window)
    first = form.fields["patient.nhs_number"].widget
    first.setFocus()
    qtbot.waitUntil(first.hasFocus, timeout=2000)
    seen = []
    for _ in range(4):
        qtbot.keyClick(form.focusWidget(), Qt.Key.Key_Tab)
        seen.append(form.focusWidget())
    expected = [
        form.fields[p].widget
        for p in ("patient.family_name", "patient.given_name", "patient.date_of_birth", "patient.sex")
    ]
    assert seen == expected


def test_fields_have_accessible_names(qtbot: Any, open_window: Callable[..., MainWindow]) -> None:
    window = open_window("coord-test")
    form = new_form(qtbot, window)
    assert form.fields["patient.nhs_number"].widget.accessibleName() == "NHS number"
    assert form.fields["severity.twstrs_total"].widget.accessibleName() == "TWSTRS total"


def test_json_from_the_form_matches_the_interchange_format(qtbot: Any, open_window: Callable[..., MainWindow]) -> None:
    window = open_window("coord-test")
    form = new_form(qtbot, window)
    fill_ready_referral(qtbot, form, "9990000301")
    data = form.to_json()
    template = referral_json(1)
    # The interchange format's keys, and the unit's local fields for letters (LOCAL_FIELDS) beside them.
    local = {
        path.split(".")[0]: {p.split(".")[1] for p in LOCAL_FIELDS if p.startswith(path.split(".")[0])}
        for path in LOCAL_FIELDS
    }
    assert set(data) == set(template) | {"gp"}
    assert set(data["gp"]) == local["gp"] == {"name", "practice", "address"}
    for section in ("patient", "referrer", "diagnosis", "severity", "botulinum_toxin", "physiotherapy", "history"):
        assert set(data[section]) == set(template[section]) | local.get(section, set())


@pytest.mark.hazard("H03")
def test_keeping_my_edits_on_top_of_theirs_saves_mine_knowingly(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window, form, referral_id = form_open_while_another_user_saves(
        qtbot, open_window, seed, gui_db, rules, external_id="THEIRS-1"
    )
    monkeypatch.setattr(dialogs.ConflictDialog, "ask", classmethod(lambda cls, *args: dialogs.REBASE))
    form.fields["clinical_question"].widget.setPlainText("Mine: routine")  # type: ignore[attr-defined]
    form.save()
    qtbot.waitUntil(lambda: form.version == 2, timeout=10_000)
    assert form.dirty and form.fields["clinical_question"].value() == "Mine: routine"
    assert "check them, then save" in form.status.text()
    with qtbot.waitSignal(window.changes_applied, timeout=10_000):
        form.save()
    saved = get_referral(gui_db, referral_id=referral_id)
    assert saved.row.version == 3 and saved.referral.clinical_question == "Mine: routine"


@pytest.mark.hazard("H12")
def test_an_unconfigured_login_is_told_to_ask_an_administrator(
    qtbot: Any, gui_paths: AppPaths, gui_db: Database
) -> None:
    from PySide6.QtCore import QSettings

    window = MainWindow(
        gui_paths, settings=QSettings(str(gui_paths.data_dir / "w.ini"), QSettings.Format.IniFormat), login="stranger"
    )
    qtbot.addWidget(window)
    window.setProperty("smoke", True)
    window.show()
    with qtbot.waitSignal(window.session_failed, timeout=20_000) as failed:
        window.open_session()
    assert "not a user of this triage database" in failed.args[0]
    assert window.banner.isVisible() and "Ask an administrator" in window.banner_text.text()
    assert not window.new_action.isEnabled()
    window.shutdown()
