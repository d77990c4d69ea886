"""Dialogs: save conflicts (both versions side by side), triage override, About, and error messages.

Each dialog is opened through a class method that tests can replace, as qutebrowser's tests do.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from triage_app import __version__
from triage_app.domain.formats import format_date, format_name
from triage_app.domain.intended_use import INTENDED_USE
from triage_app.domain.referral import Referral, field_label, flatten_fields, format_nhs_number
from triage_app.domain.scoring import OUTCOME_LABELS, OUTCOMES

RELOAD, REBASE, CANCEL = "reload", "rebase", "cancel"
OPEN_EXISTING = "open"


def patient_line(family: str | None, given: str | None, nhs_number: str | None, born: Any) -> str:
    """The three identifiers every decision names: `QUINNELL, Marguerite · NHS 999 000 0301 · born 12-Nov-1979`."""
    return (
        f"{format_name(family, given) or 'name not recorded'} · NHS {format_nhs_number(nhs_number) or 'not recorded'} "
        f"· born {format_date(born) or 'not recorded'}"
    )


def referral_patient_line(referral: Referral) -> str:
    """`patient_line` of a referral's patient."""
    p = referral.patient
    return patient_line(p.family_name, p.given_name, p.nhs_number, p.date_of_birth)


def _shown(value: Any) -> str:
    if value is None:
        return "(not recorded)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def _field_name(path: str) -> str:
    if path.endswith(".count"):
        return f"{field_label(path.removesuffix('.count'))}: number listed"
    if path.startswith("oral_medications["):
        return field_label(path)
    return field_label(path)


def differences(mine: Referral, theirs: Referral) -> list[tuple[str, str, str]]:
    """(field, my value, their value) for every field that differs."""
    a, b = flatten_fields(mine), flatten_fields(theirs)
    rows = []
    for path in sorted(a.keys() | b.keys()):
        if a.get(path) != b.get(path):
            rows.append((_field_name(path), _shown(a.get(path)), _shown(b.get(path))))
    return rows


class ConflictDialog(QDialog):
    """Someone else saved this referral after it was opened: show both versions, let the user choose."""

    def __init__(self, message: str, mine: Referral, theirs: Referral, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("This referral was changed by someone else")
        self.choice = CANCEL
        layout = QVBoxLayout(self)
        who = QLabel(f"<b>{escape(referral_patient_line(theirs))}</b>")
        who.setAccessibleName("Patient")
        layout.addWidget(who)
        intro = QLabel(message)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        rows = differences(mine, theirs)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Field", "Your version (not saved)", "Saved version"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Differences between your version and the saved version")
        for index, row in enumerate(rows):
            for column, text in enumerate(row):
                self.table.setItem(index, column, QTableWidgetItem(text))
        layout.addWidget(self.table)
        note = QLabel(
            "Nothing has been overwritten. Reload the saved version (your edits are dropped), or keep your edits "
            "on top of the saved version and save again once you have checked them."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox()
        reload_button = QPushButton("&Reload saved version")
        rebase_button = QPushButton("&Keep my edits on top")
        cancel_button = QPushButton("Cancel")
        buttons.addButton(reload_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(rebase_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        reload_button.clicked.connect(lambda: self._choose(RELOAD))
        rebase_button.clicked.connect(lambda: self._choose(REBASE))
        cancel_button.clicked.connect(lambda: self._choose(CANCEL))
        layout.addWidget(buttons)
        self.resize(760, 420)

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept() if choice != CANCEL else self.reject()

    @classmethod
    def ask(cls, message: str, mine: Referral, theirs: Referral, parent: QWidget | None) -> str:
        """Show the dialog; returns RELOAD, REBASE or CANCEL. (Tests replace this class method.)"""
        dialog = cls(message, mine, theirs, parent)
        dialog.exec()
        return dialog.choice


class OverrideDialog(QDialog):
    """A consultant overrides the triage outcome; a written reason is required. It names the patient."""

    def __init__(self, current: str | None, patient: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Override triage outcome")
        layout = QFormLayout(self)
        who = QLabel(f"<b>{escape(patient)}</b>")
        who.setAccessibleName("Patient")
        layout.addRow("Patient", who)
        self.outcome = QComboBox()
        self.outcome.addItem("— choose the outcome —", None)  # no default: a wrong default is one key away
        for outcome in OUTCOMES:
            if outcome != current:
                self.outcome.addItem(OUTCOME_LABELS[outcome], outcome)
        self.outcome.setAccessibleName("New outcome")
        self.reason = QPlainTextEdit()
        self.reason.setAccessibleName("Reason for the override")
        self.reason.setPlaceholderText("Why the MDT should see a different outcome (recorded with your name)")
        layout.addRow("Current outcome", QLabel(OUTCOME_LABELS.get(current or "", "not assessed")))
        layout.addRow("New &outcome", self.outcome)
        layout.addRow("&Reason", self.reason)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addRow(self.buttons)
        self.reason.textChanged.connect(self._update)
        self.outcome.currentIndexChanged.connect(lambda _index: self._update())
        self._update()

    def _update(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        has_reason = bool(self.reason.toPlainText().strip())
        chosen = self.outcome.currentData() is not None
        ok.setEnabled(has_reason and chosen)
        ok.setToolTip("" if has_reason and chosen else "Choose the outcome and write the reason first")

    @classmethod
    def ask(cls, current: str | None, patient: str, parent: QWidget | None) -> tuple[str, str] | None:
        """(outcome, reason), or None if cancelled. (Tests replace this class method.)"""
        dialog = cls(current, patient, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.outcome.currentData(), dialog.reason.toPlainText().strip()


class ReasonDialog(QDialog):
    """Asks for a written reason (closing an undiscussed referral, a second open referral); names the patient."""

    def __init__(self, title: str, message: str, parent: QWidget | None = None, *, other_choice: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.choice: str | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(message)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.reason = QPlainTextEdit()
        self.reason.setAccessibleName("Reason")
        self.reason.setPlaceholderText("Reason (recorded with your name)")
        layout.addWidget(self.reason)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setEnabled(False)
        self.reason.textChanged.connect(lambda: self.ok.setEnabled(bool(self.reason.toPlainText().strip())))
        if other_choice:
            other = QPushButton(other_choice)
            buttons.addButton(other, QDialogButtonBox.ButtonRole.ActionRole)
            other.clicked.connect(self._other)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 300)

    def _other(self) -> None:
        self.choice = OPEN_EXISTING
        self.reject()

    @classmethod
    def ask(cls, title: str, message: str, parent: QWidget | None, other_choice: str = "") -> str | None:
        """The reason typed, OPEN_EXISTING when the other choice was taken, or None. (Tests replace this.)"""
        dialog = cls(title, message, parent, other_choice=other_choice)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            return dialog.reason.toPlainText().strip()
        return dialog.choice


class Messages:
    """Message boxes, one place for tests to replace."""

    @classmethod
    def error(cls, parent: QWidget | None, title: str, text: str) -> None:
        """Tell the user something failed and why."""
        QMessageBox.warning(parent, title, text)

    @classmethod
    def confirm(cls, parent: QWidget | None, title: str, text: str) -> bool:
        """Ask a yes/no question."""
        answer = QMessageBox.question(parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    @classmethod
    def about(cls, parent: QWidget | None, rules_version: str) -> None:
        """Version, rules version and what the app is for."""
        QMessageBox.about(
            parent,
            "About SPD Referral Triage",
            f"<b>SPD Referral Triage</b> {__version__}<br>Rules: {rules_version}<br><br>{escape(INTENDED_USE)}",
        )

    @classmethod
    def intended_use(cls, parent: QWidget | None) -> None:
        """What the app is for and what it does not do, shown on first start."""
        QMessageBox.information(parent, "What this app does, and does not do", INTENDED_USE)
