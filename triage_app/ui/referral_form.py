"""The referral form (new and edit): every field of the referral format, grouped as a clinician reads a
referral, validated as you type, with the live triage beside it.

The form only edits; the main window saves through the worker and tells the form how it went.
"""

from __future__ import annotations

import itertools
from datetime import date
from html import escape
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence, QShortcut
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

from triage_app.domain.formats import format_date
from triage_app.domain.identity import IDENTITY_MINIMUM, missing_identity
from triage_app.domain.parsing import ReferralInputError, parse_referral
from triage_app.domain.referral import (
    AETIOLOGIES,
    BONT_GUIDANCE,
    BONT_RESPONSES,
    CONDITIONS,
    DISTRIBUTIONS,
    ORAL_OUTCOMES,
    PHENOTYPE_COMPONENTS,
    PHYSIO_OUTCOMES,
    REFERRER_ROLES,
    SEXES,
    Referral,
    field_label,
    referral_to_json,
)
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import CRITERIA, OUTCOME_LABELS, assess
from triage_app.domain.workflow import STATUS_LABELS
from triage_app.ui.dialogs import patient_line
from triage_app.ui.form_fields import (
    ChoiceField,
    ComponentsField,
    DateField,
    FormField,
    LongTextField,
    MedicationsField,
    NhsNumberField,
    TextField,
    WholeNumberField,
    YesNoField,
    set_value_quietly,
)
from triage_app.ui.triage_panel import STATUS_BADGES

GUIDANCE_LABELS = {"emg": "EMG-guided", "ultrasound": "Ultrasound-guided", "none": "Not guided"}
ROLE_LABELS = {"gp": "GP", "movement_disorders_neurologist": "Movement disorders neurologist"}


def _sections() -> list[tuple[str, list[FormField]]]:
    """The form's sections in the order a clinician reads a referral."""
    return [
        (
            "Patient",
            [
                NhsNumberField("patient.nhs_number"),
                TextField("patient.family_name"),
                TextField("patient.given_name"),
                DateField("patient.date_of_birth"),
                ChoiceField("patient.sex", SEXES),
                TextField("patient.hospital_number"),
            ],
        ),
        (
            "Referral",
            [
                DateField("received_on"),
                TextField("external_id"),
                TextField("referrer.name"),
                ChoiceField("referrer.role", REFERRER_ROLES, ROLE_LABELS),
                TextField("referrer.organisation_ods", placeholder="e.g. RXX"),
                TextField("receiving_unit_ods", placeholder="e.g. RXX01"),
            ],
        ),
        (
            "Diagnosis",
            [
                ChoiceField("diagnosis.condition", CONDITIONS, {"cervical_dystonia": "Cervical dystonia"}),
                ChoiceField("diagnosis.aetiology", AETIOLOGIES),
                ChoiceField("diagnosis.distribution", DISTRIBUTIONS),
                DateField("diagnosis.onset", month_allowed=True),
                YesNoField("diagnosis.specialist_confirmed"),
            ],
        ),
        (
            "Phenotype",
            [ComponentsField("phenotype.components", PHENOTYPE_COMPONENTS), YesNoField("phenotype.head_tremor")],
        ),
        (
            "Severity",
            [
                WholeNumberField("severity.twstrs_total"),
                WholeNumberField("severity.twstrs_pain"),
                WholeNumberField("severity.tsui"),
            ],
        ),
        (
            "Botulinum toxin",
            [
                WholeNumberField("botulinum_toxin.cycles"),
                ChoiceField("botulinum_toxin.guidance", BONT_GUIDANCE, GUIDANCE_LABELS),
                ChoiceField("botulinum_toxin.response", BONT_RESPONSES),
                YesNoField("botulinum_toxin.immunoresistance_tested"),
            ],
        ),
        ("Oral medication", [MedicationsField("oral_medications", ORAL_OUTCOMES)]),
        (
            "Physiotherapy",
            [YesNoField("physiotherapy.completed"), ChoiceField("physiotherapy.outcome", PHYSIO_OUTCOMES)],
        ),
        (
            "History",
            [
                YesNoField("history.dysphagia"),
                YesNoField("history.prior_neck_surgery"),
                YesNoField("history.congenital_head_or_spine_abnormality"),
                YesNoField("history.cervical_spine_disease"),
            ],
        ),
        ("Clinical question", [LongTextField("clinical_question")]),
    ]


def _get(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    target = data
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def merge_edits(base: dict[str, Any], mine: dict[str, Any], theirs: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """My edits on top of their saved version: for each form field, mine where I changed it from what I
    loaded (`base`), theirs everywhere else. A list (oral medications) is one field."""
    merged: dict[str, Any] = {}
    for path in paths:
        chosen = mine if _get(mine, path) != _get(base, path) else theirs
        _put(merged, path, _get(chosen, path))
    return merged


class ReferralForm(QDialog):
    """New or edit. `save_requested(referral, referral_id, version)` asks the window to save."""

    save_requested = Signal(object, object, object)
    closed = Signal(object)  # the form, once its close is accepted (the window stops tracking it)
    nhs_number_entered = Signal(str)  # a complete NHS number was typed: the window looks the patient up
    open_existing_requested = Signal(int)  # the user chose to open the patient's open referral instead

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
        self.base: dict[str, Any] = {}  # the interchange JSON as loaded: what "my edits" are measured against
        self._save_attempted = False
        self._looked_up: str | None = None
        self.existing: list[Any] = []
        self._fit_to_screen(parent)
        self.setModal(False)
        self.fields: dict[str, FormField] = {}
        self.errors: dict[str, QLabel] = {}
        self._dirty = False
        self._saving = False
        self._close_after_save = False
        self.current_errors: dict[str, str] = {}
        self.parsed: Referral | None = None

        self.index = QListWidget()
        self.index.setAccessibleName("Form sections")
        self.index.setMaximumWidth(170)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        self.section_boxes: list[QGroupBox] = []
        order: list[QWidget] = []
        for title, fields in _sections():
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for field in fields:
                self.fields[field.path] = field
                field.changed = self._changed
                error = QLabel()
                error.setWordWrap(True)
                error.setStyleSheet("color: #c62828;")
                error.setAccessibleName(f"Error for {field_label(field.path)}")
                error.hide()
                self.errors[field.path] = error
                holder = QWidget()
                holder_layout = QVBoxLayout(holder)
                holder_layout.setContentsMargins(0, 0, 0, 0)
                holder_layout.setSpacing(2)
                holder_layout.addWidget(field.widget)
                holder_layout.addWidget(error)
                required = field.path in IDENTITY_MINIMUM
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
        header_font = self.patient_header.font()
        header_font.setPointSizeF(header_font.pointSizeF() * 1.2)
        header_font.setBold(True)
        self.patient_header.setFont(header_font)
        self.existing_banner = QLabel()
        self.existing_banner.setWordWrap(True)
        self.existing_banner.setTextFormat(Qt.TextFormat.RichText)
        self.existing_banner.setAccessibleName("Other referrals of this patient")
        self.existing_banner.setStyleSheet("border: 2px solid #b26a00; padding: 6px;")
        self.existing_banner.linkActivated.connect(
            lambda link: self.open_existing_requested.emit(int(link.removeprefix("referral:")))
        )
        self.existing_banner.hide()
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
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self, self.save)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.validate)
        self.load(referral)

    def _fit_to_screen(self, parent: QWidget | None) -> None:
        """As large as is comfortable, never taller or wider than the screen (Save must stay on it at 1366x768)."""
        screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
        available = screen.availableGeometry() if screen is not None else None
        width, height = 1150, 820
        if available is not None:
            width, height = min(width, available.width() - 40), min(height, available.height() - 60)
        self.resize(width, height)

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
        data = referral_to_json(referral) if referral is not None else {}
        for path, field in self.fields.items():
            set_value_quietly(field, _get(data, path))  # an untouched list stays "not recorded"
        if version is not None:
            self.version = version
        self.base = self.to_json()
        self._dirty = False
        self.validate()

    def rebase(self, theirs: Referral, version: int) -> None:
        """Keep my edits on top of their saved version: only the fields I changed replace theirs."""
        mine = self.to_json()
        theirs_json = referral_to_json(theirs)
        for path, field in self.fields.items():  # read theirs the way the form reads any referral
            set_value_quietly(field, _get(theirs_json, path))
        theirs_read = self.to_json()
        merged = merge_edits(self.base, mine, theirs_read, list(self.fields))
        for path, field in self.fields.items():
            set_value_quietly(field, _get(merged, path))
        self.base = theirs_read  # my edits are measured against their version from now on
        self.version = version
        self._dirty = True
        self.validate()

    def to_json(self) -> dict[str, Any]:
        """The form's content in the interchange format."""
        data: dict[str, Any] = {}
        for path, field in self.fields.items():
            _put(data, path, field.value())
        return data

    def _changed(self) -> None:
        self._dirty = True
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
        """Check every field now; show each error beside its field and update the live triage."""
        self._timer.stop()
        problems: dict[str, str] = {}
        for path, field in self.fields.items():
            local = field.local_problem()
            if local:
                problems[path] = local
        self.parsed = None
        try:
            self.parsed = parse_referral(self.to_json(), as_of=self.as_of)
        except ReferralInputError as exc:
            for error in exc.errors:
                path = self._owner(error.field)
                problems.setdefault(path, error.message)
        # What the live triage scores: anything readable (scoring accepts a referral without identity)
        scorable = self.parsed if not problems else None
        if self._save_attempted and self.parsed is not None:
            for error in missing_identity(self.parsed):
                problems.setdefault(error.field, error.message)
        if problems:
            self.parsed = None
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
        self._show_preview(scorable)
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
        self.validate()
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
        if self._saving or not self.validate() or self.parsed is None:
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
        self._dirty = False
        self.base = self.to_json()
        self.validate()
        self.status.setText("Saved")
        if self._close_after_save:
            self.close()

    def save_failed(self, message: str) -> None:
        """The save was refused; nothing the user typed is lost."""
        self._saving = False
        self._close_after_save = False
        self.validate()
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

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._dirty:
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
