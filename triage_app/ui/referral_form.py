"""The referral form (new and edit): every field of the referral format, grouped as a clinician reads a
referral, validated as you type, with the live triage beside it.

The form only edits; the main window saves through the worker and tells the form how it went.

Its sections, widgets, labels and limits come from the table of fields (domain.fields). A referral goes
straight from its fields into the widgets (`show_referral`); the widgets are read and parsed once per edit
(debounced) and the live triage scored once with it; a save sends the referral that edit's parse made.

Why one module (about 500 lines): it is one dialog whose parts share its state (the widgets, the last parse,
the dirty and saving flags) through load, edit, validate, save and close; its widgets are in form_fields.py
and its fields in domain/fields.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.fields import FieldSpec, form_sections, identity_minimum
from triage_app.domain.formats import format_date
from triage_app.domain.identity import missing_identity
from triage_app.domain.parsing import ReferralInputError, parse_referral
from triage_app.domain.referral import Referral, field_label, to_interchange
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import CRITERIA, OUTCOME_LABELS, assess
from triage_app.domain.workflow import STATUS_LABELS
from triage_app.ui.dialogs import patient_line
from triage_app.ui.form_fields import ComponentsField, FormField, MedicationsField, field_for, set_value_quietly
from triage_app.ui.screen_fit import fit_to_screen
from triage_app.ui.theme import scaled, scheme_colour
from triage_app.ui.triage_panel import STATUS_BADGES


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    target = data
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def merge_edits(base: dict[str, Any], mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """My edits on top of their saved version (each path -> value): for each form field, mine where I changed
    it from what I loaded (`base`), theirs everywhere else. A list (oral medications) is one field."""
    return {path: mine[path] if mine[path] != base.get(path) else theirs[path] for path in mine}


class ReferralForm(QDialog):
    """New or edit. `save_requested(referral, referral_id, version)` asks the window to save."""

    save_requested = Signal(object, object, object)
    closed = Signal(object)  # the form, once its close is accepted (the window stops tracking it)
    nhs_number_entered = Signal(str)  # a complete NHS number was typed: the window looks the patient up
    open_existing_requested = Signal(int)  # the user chose to open the patient's open referral instead
    compare_requested = Signal(object)  # the form: the changed-elsewhere bar's Compare
    reload_requested = Signal(object)  # the form: the changed-elsewhere bar's Reload

    def __init__(
        self,
        *,
        rules: Rules,
        as_of: date,
        referral: Referral | None = None,
        referral_id: int | None = None,
        version: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.rules, self.as_of = rules, as_of
        self.referral_id, self.version = referral_id, version
        self.base: dict[str, Any] = {}  # path -> value as loaded: what "my edits" are measured against
        self.loaded: Referral | None = referral  # the stored referral the form was loaded with (Compare's fallback)
        self._save_attempted = False
        self._looked_up: str | None = None
        self.existing: list[Any] = []
        fit_to_screen(self, 1150, 820)  # Save must stay on screen at 1366x768 and 1024x700
        self.setModal(False)
        self.fields: dict[str, FormField] = {}
        self.specs: dict[str, FieldSpec] = {}
        self.errors: dict[str, QLabel] = {}
        self._dirty = False
        self._saving = False
        self._close_after_save = False
        self.current_errors: dict[str, str] = {}
        self.parsed: Referral | None = None  # the referral a save sends: the last parse, with no problem left
        self._read_problems: dict[str, str] = {}  # what the last reading of the widgets found
        self._candidate: Referral | None = None  # what the last parse made, problems or not
        self._stale = False  # edited since the widgets were last read
        # Why nothing can be saved now (the database turned read-only after the form opened), or None: set by the
        # window, so closing with edits offers Discard or Cancel rather than a Save that can only be refused.
        self.cannot_save: Callable[[], str | None] = lambda: None

        self.index = QListWidget()
        self.index.setAccessibleName("Form sections")
        self.index.setMaximumWidth(170)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        self.section_boxes: list[QGroupBox] = []
        order: list[QWidget] = []
        identity = identity_minimum()
        for title, specs in form_sections():
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for spec in specs:
                field = field_for(spec)
                self.fields[field.path] = field
                self.specs[field.path] = spec
                field.changed = self._changed
                error = QLabel()
                error.setWordWrap(True)
                error.setStyleSheet(f"color: {scheme_colour('not_met')};")
                error.setAccessibleName(f"Error for {field_label(field.path)}")
                error.hide()
                self.errors[field.path] = error
                holder = QWidget()
                holder_layout = QVBoxLayout(holder)
                holder_layout.setContentsMargins(0, 0, 0, 0)
                holder_layout.setSpacing(2)
                holder_layout.addWidget(field.widget)
                holder_layout.addWidget(error)
                required = field.path in identity
                label = QLabel(field_label(field.path) + (" *" if required else ""))
                if required:
                    label.setToolTip("Needed to store the referral: it identifies the patient")
                label.setBuddy(field.focus_widget())
                field.widget.setAccessibleName(field_label(field.path))
                form.addRow(label, holder)
                order.extend(self._focusable(field))
            body_layout.addWidget(box)
            self.section_boxes.append(box)
            self.index.addItem(title)
        body_layout.addStretch(1)
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(body)
        self.index.currentRowChanged.connect(self._jump_to_section)

        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.RichText)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.preview.setAccessibleName("Live triage")
        self.preview.setMinimumWidth(300)
        self.preview.linkActivated.connect(self._preview_link)
        preview_scroll = QScrollArea()
        preview_scroll.setWidgetResizable(True)
        preview_scroll.setWidget(self.preview)

        splitter = QSplitter()
        splitter.addWidget(self.index)
        splitter.addWidget(self.scroll_area)
        splitter.addWidget(preview_scroll)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 1)
        splitter.setSizes([150, 640, 320])  # the live triage stays readable beside the fields

        self.patient_header = QLabel()
        self.patient_header.setAccessibleName("Patient")
        self.patient_header.setFont(scaled(self.patient_header.font(), 1.2, bold=True))
        self.existing_banner = QLabel()
        self.existing_banner.setWordWrap(True)
        self.existing_banner.setTextFormat(Qt.TextFormat.RichText)
        self.existing_banner.setAccessibleName("Other referrals of this patient")
        self.existing_banner.setStyleSheet(f"border: 2px solid {scheme_colour('unknown')}; padding: 6px;")
        self.existing_banner.linkActivated.connect(
            lambda link: self.open_existing_requested.emit(int(link.removeprefix("referral:")))
        )
        self.existing_banner.hide()
        self._build_changed_bar()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Form status")
        self.save_button = QPushButton("&Save")
        self.save_button.setDefault(True)
        self.save_button.setToolTip("Save and score the referral (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.patient_header)
        layout.addWidget(self.existing_banner)
        layout.addWidget(self.changed_bar)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self, self.save)
        # Reading order: the sections' index, every field in the field table's order, then Close and Save; the
        # scroll areas take no focus of their own (Tab would stop on them with nothing to type).
        QWidget.setTabOrder(self.index, order[0])
        QWidget.setTabOrder(order[-1], self.cancel_button)
        QWidget.setTabOrder(self.cancel_button, self.save_button)
        self.scroll_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        preview_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.validate)
        self.load(referral)

    def _build_changed_bar(self) -> None:
        """ "Changed by NAME at TIME" with Compare and Reload: another desktop saved this referral (H04, H16)."""
        self.changed_bar = QWidget()
        self.changed_bar.setAccessibleName("Changed on another desktop")
        self.changed_bar.setStyleSheet(  # its own text colour: the palette's would be light on it in the dark scheme
            f"background: {scheme_colour('notice_bg')}; color: {scheme_colour('notice_text')}; "
            f"border: 1px solid {scheme_colour('unknown')};"
        )
        bar = QHBoxLayout(self.changed_bar)
        bar.setContentsMargins(6, 4, 6, 4)
        self.changed_label = QLabel()
        self.changed_label.setWordWrap(True)
        self.changed_label.setStyleSheet("border: none; font-weight: bold;")
        self.compare_button = QPushButton("Com&pare")
        self.compare_button.setToolTip("Your version beside the saved one, field by field")
        self.compare_button.clicked.connect(lambda: self.compare_requested.emit(self))
        self.reload_button = QPushButton("&Reload")
        self.reload_button.setToolTip("Show the saved version (your unsaved edits are dropped)")
        self.reload_button.clicked.connect(lambda: self.reload_requested.emit(self))
        bar.addWidget(self.changed_label, 1)
        bar.addWidget(self.compare_button)
        bar.addWidget(self.reload_button)
        #: The version another desktop saved, while the bar says so (None: no bar).
        self.changed_version: int | None = None
        self.changed_bar.hide()

    def show_changed_elsewhere(self, text: str, version: int | None) -> None:
        """Show the bar: another desktop saved `version` (unless this form already has it)."""
        if self.referral_id is None or (version is not None and self.version is not None and version <= self.version):
            return
        self.changed_version = version
        self.changed_label.setText(f"{text}. Compare it with this form, or reload it, before you save.")
        self.changed_bar.show()

    def hide_changed_elsewhere(self) -> None:
        """The form holds the saved version now (reloaded, rebased or saved over it): no bar."""
        self.changed_version = None
        self.changed_bar.hide()

    def current_referral(self) -> Referral | None:
        """What the widgets hold, parsed (problems or not), else the referral as loaded."""
        if self._stale:
            self._read()
        return self._candidate or self.loaded

    @staticmethod
    def _focusable(field: FormField) -> list[QWidget]:
        if isinstance(field, ComponentsField):
            return list(field.boxes.values())
        if isinstance(field, MedicationsField):
            return [field.add_button, field.table, field.remove_button, field.none_tried]
        return [field.widget]

    # --- content ---------------------------------------------------------------------------------------------

    def load(self, referral: Referral | None, *, version: int | None = None) -> None:
        """Show a referral (None: an empty form), as not yet edited."""
        self.show_referral(referral)
        self.loaded = referral
        if version is not None:
            self.version = version
        self.hide_changed_elsewhere()
        self.base = self.values()
        self._dirty = False
        self.validate()

    def show_referral(self, referral: Referral | None) -> None:
        """Put a referral's fields straight into their widgets (no change announced; None empties the form)."""
        for path, field in self.fields.items():  # an untouched list stays "not recorded"
            value = None if referral is None else to_interchange(self.specs[path], referral.value(path))
            set_value_quietly(field, value)

    def rebase(self, theirs: Referral, version: int) -> None:
        """Keep my edits on top of their saved version: only the fields I changed replace theirs."""
        mine = self.values()
        self.show_referral(theirs)  # read theirs the way the form reads any referral
        theirs_read = self.values()
        for path, value in merge_edits(self.base, mine, theirs_read).items():
            set_value_quietly(self.fields[path], value)
        self.base = theirs_read  # my edits are measured against their version from now on
        self.loaded = theirs
        self.version = version
        self.hide_changed_elsewhere()
        self._dirty = True
        self.validate()

    def values(self) -> dict[str, Any]:
        """Each field's path -> its value as the widgets hold it (the interchange format's)."""
        return {path: field.value() for path, field in self.fields.items()}

    def to_json(self) -> dict[str, Any]:
        """The form's content in the interchange format."""
        data: dict[str, Any] = {}
        for path, value in self.values().items():
            _put(data, path, value)
        return data

    def _changed(self) -> None:
        self._dirty = True
        self._stale = True
        self._timer.start()
        self._look_up_patient()

    def _look_up_patient(self) -> None:
        """As soon as a whole, valid NHS number is typed, ask the window for the patient's other referrals."""
        nhs = self.fields["patient.nhs_number"].value()
        if nhs and len(nhs) == 10 and nhs.isdigit() and nhs != self._looked_up:
            self._looked_up = nhs
            self.nhs_number_entered.emit(nhs)
        elif not nhs or len(nhs) != 10:
            self._looked_up = None
            self.show_existing([])

    def show_existing(self, referrals: list[Any]) -> None:
        """Show the patient's other referrals (open ones first), each a link that opens it."""
        self.existing = [r for r in referrals if r.referral_id != self.referral_id]
        open_ones = [r for r in self.existing if r.status != "closed"]
        if not self.existing:
            self.existing_banner.hide()
            return
        lines = []
        for r in open_ones or self.existing[:1]:
            lines.append(
                f'<a href="referral:{r.referral_id}">Open referral {r.referral_id}</a>: '
                f"{escape(patient_line(r.family_name, r.given_name, self.fields['patient.nhs_number'].value(), r.date_of_birth))}, "
                f"received {format_date(r.received_on) or '?'}, status: {STATUS_LABELS.get(r.status, r.status)}"
            )
        lead = (
            "<b>This patient already has an open referral.</b> Open it instead, or save this one with a written "
            "reason for a second referral."
            if open_ones
            else "<b>This NHS number is already stored</b> (closed referral):"
        )
        self.existing_banner.setText(lead + "<br>" + "<br>".join(lines))
        self.existing_banner.show()

    @property
    def dirty(self) -> bool:
        """True when there are edits not yet saved."""
        return self._dirty

    def validate(self) -> bool:
        """Read and parse the widgets now (once), show each error beside its field and score the live triage
        (once); True when the referral can be saved."""
        self._timer.stop()
        self._read()
        # What the live triage scores: anything readable (scoring accepts a referral without identity)
        self._show_preview(self._candidate if not self._read_problems else None)
        return self._show_problems()

    def _read(self) -> None:
        """Parse the widgets: the problems they hold and the referral they make."""
        self._stale = False
        problems: dict[str, str] = {}
        for path, field in self.fields.items():
            local = field.local_problem()
            if local:
                problems[path] = local
        self._candidate = None
        try:
            self._candidate = parse_referral(self.to_json(), as_of=self.as_of)
        except ReferralInputError as exc:
            for error in exc.errors:
                problems.setdefault(self._owner(error.field), error.message)
        self._read_problems = problems

    def _show_problems(self) -> bool:
        """Show what the last reading found (and, once a save was tried, the identity fields still missing)."""
        problems = dict(self._read_problems)
        if self._save_attempted and self._candidate is not None:
            for error in missing_identity(self._candidate):
                problems.setdefault(error.field, error.message)
        self.parsed = None if problems else self._candidate
        self.current_errors = problems
        self._show_patient()
        for path, label in self.errors.items():
            message = problems.get(path)
            label.setText(f"⚠ {message}" if message else "")
            label.setVisible(bool(message))
        self.save_button.setEnabled(not problems and not self._saving)
        if problems:
            count = len(problems)
            self.status.setText(f"{count} field{'s' if count > 1 else ''} to correct before saving")
            self.save_button.setToolTip("Correct the fields marked ⚠ first")
        else:
            self.status.setText("Unsaved changes" if self._dirty else "")
            self.save_button.setToolTip("Save and score the referral (Ctrl+S)")
        return not problems

    def _show_patient(self) -> None:
        values = {path: self.fields[path].value() for path in ("patient.family_name", "patient.given_name")}
        born_text = self.fields["patient.date_of_birth"].value()
        born = date.fromisoformat(born_text) if born_text else None
        line = patient_line(
            values["patient.family_name"], values["patient.given_name"], self.fields["patient.nhs_number"].value(), born
        )
        self.patient_header.setText(line)
        prefix = "New referral" if self.referral_id is None else f"Referral {self.referral_id}"
        self.setWindowTitle(f"{prefix}: {line}")

    def show_field_errors(self, errors: list[Any]) -> None:
        """Errors the service found (the identity minimum), each beside its field; the first gets the cursor."""
        self._save_attempted = True
        self._show_problems()  # the identity fields now count; what the widgets hold was read already
        for error in errors:
            label = self.errors.get(self._owner(error.field))
            if label is not None:
                label.setText(f"⚠ {error.message}")
                label.show()
        if errors:
            self.focus_field(errors[0].field)

    def _owner(self, path: str) -> str:
        """The form field an error path belongs to (list items belong to their list)."""
        if path in self.fields:
            return path
        for prefix in ("oral_medications", "phenotype.components"):
            if path.startswith(prefix):
                return prefix
        return path

    def _show_preview(self, scorable: Referral | None) -> None:
        if scorable is None:
            self.preview.setText("<b>Live triage</b><br>Correct the fields marked ⚠ to see the triage.")
            return
        result = assess(scorable, self.rules, self.as_of)
        lines = [f"<b>Live triage: {OUTCOME_LABELS[result.outcome]}</b>", f"Priority {result.priority}"]
        for criterion in result.criteria:
            lines.append(f"{criterion.id} {STATUS_BADGES[criterion.status]}: {CRITERIA[criterion.id][0]}")
        if result.missing:
            links = ", ".join(f'<a href="field:{p}">{field_label(p)}</a>' for p in result.missing)
            lines.append(f"<br><b>Still missing:</b> {links}")
        self.preview.setText("<br>".join(lines))

    def _preview_link(self, link: str) -> None:
        self.focus_field(link.removeprefix("field:"))

    def focus_field(self, path: str) -> None:
        """Scroll to a field and put the cursor in it (links from "missing" land here)."""
        field = self.fields.get(self._owner(path))
        if field is None:
            return
        target = field.focus_widget()
        self.scroll_area.ensureWidgetVisible(field.widget, 50, 80)
        target.setFocus(Qt.FocusReason.OtherFocusReason)

    def _jump_to_section(self, row: int) -> None:
        if 0 <= row < len(self.section_boxes):
            self.scroll_area.ensureWidgetVisible(self.section_boxes[row], 0, 0)
            self.scroll_area.verticalScrollBar().setValue(self.section_boxes[row].y())

    # --- saving ----------------------------------------------------------------------------------------------

    def save(self) -> None:
        """Validate and, if clean, ask the window to save; saving is blocked while errors remain."""
        self._save_attempted = True  # from now on, missing identity fields are shown beside each field
        # Parsed once: by this edit's (debounced) reading, or now when the last edit is not read yet.
        ready = self.validate() if self._stale else self._show_problems()
        if self._saving or not ready or self.parsed is None:
            first = next(iter(self.current_errors), None)
            if first is not None:
                self.focus_field(first)
            return
        self._saving = True
        self.save_button.setEnabled(False)
        self.status.setText("Saving…")
        self.save_requested.emit(self.parsed, self.referral_id, self.version)

    @property
    def closing_after_save(self) -> bool:
        """True while a save chosen on closing is in flight (the form closes when it lands)."""
        return self._close_after_save

    def mark_saving(self) -> None:
        """A save resubmitted by the window after a confirmation: block a second one meanwhile."""
        self._saving = True
        self.save_button.setEnabled(False)
        self.status.setText("Saving…")

    def save_finished(self, referral_id: int, version: int) -> None:
        """The save went through: the form is clean and shows the stored version."""
        self._saving = False
        self.referral_id, self.version = referral_id, version
        if self.changed_version is not None and self.changed_version <= version:
            self.hide_changed_elsewhere()  # saved over their version (a rebase first): this is the newest
        self._dirty = False
        self.base = self.values()
        self._show_problems()  # what was saved is what the widgets hold: nothing to parse or score again
        self.status.setText("Saved")
        if self._close_after_save:
            self.close()

    def save_failed(self, message: str) -> None:
        """The save was refused; nothing the user typed is lost."""
        self._saving = False
        self._close_after_save = False
        self._show_problems()
        self.status.setText(f"Not saved: {message}")

    # --- closing ---------------------------------------------------------------------------------------------

    @classmethod
    def ask_unsaved(cls, parent: QWidget) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel? (Tests replace this class method.)"""
        who = parent.patient_header.text() if isinstance(parent, ReferralForm) else "This referral"
        return QMessageBox.question(
            parent,
            "Unsaved changes",
            f"{who}\n\nThis referral has changes that are not saved. Save them now?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    @classmethod
    def ask_discard_unsaved(cls, parent: QWidget, reason: str) -> QMessageBox.StandardButton:
        """Discard or Cancel, when the changes cannot be saved at all (`reason`: why the database is read-only)?

        Tests replace this class method."""
        who = parent.patient_header.text() if isinstance(parent, ReferralForm) else "This referral"
        return QMessageBox.warning(
            parent,
            "Changes that cannot be saved",
            f"{who}\n\nThis referral has changes that cannot be saved: the database is open for reading only "
            "(the red banner says why, and how to restore it).\n\n"
            "Discard them and close the form? Cancel keeps the form open, so what you typed can be copied.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        reason = self.cannot_save() if self._dirty else None
        if reason is not None:
            if type(self).ask_discard_unsaved(self, reason) != QMessageBox.StandardButton.Discard:
                event.ignore()
                return
        elif self._dirty:
            answer = type(self).ask_unsaved(self)
            if answer == QMessageBox.StandardButton.Cancel:
                event.ignore()
                return
            if answer == QMessageBox.StandardButton.Save:
                self._close_after_save = True
                self.save()
                if not self._saving:  # it cannot be saved yet (fields to correct): stay open, stop the closing
                    self._close_after_save = False
                event.ignore()  # stays open until the save lands; the window closes it then
                return
        event.accept()
        self.closed.emit(self)

    def reject(self) -> None:
        """Esc asks before discarding changes (through closeEvent)."""
        self.close()
