"""The outcome entry of the in-meeting screen: outcome, SPD checklist, rationale, actions, reason for amending.

It holds what the consultant typed and not yet recorded; the screen asks it whether anything is typed
(`has_unrecorded`) before a refresh, a move or a close could drop it.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.formats import parse_user_date
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, MEETING_OUTCOMES, SPD_CHECKLIST, CaseAction
from triage_app.domain.referral import limit_of
from triage_app.services.permissions import AMEND_OUTCOME, who_may
from triage_app.ui.meetings.text import scaled

NOT_CONSULTANT = "Only a consultant can record MDT outcomes"


class OutcomeEntry(QWidget):
    """The controls a consultant records a case's outcome with."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        base = self.font()
        control_font = scaled(base, 1.15)
        self.outcome_group = QButtonGroup(self)
        outcome_grid = QGridLayout()
        outcome_label = QLabel("Outcome:")
        outcome_label.setFont(scaled(base, 1.15, bold=True))
        outcome_grid.addWidget(outcome_label, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        self.outcome_buttons: dict[str, QRadioButton] = {}
        for number, outcome in enumerate(MEETING_OUTCOMES, start=1):
            button = QRadioButton(f"{MEETING_OUTCOME_LABELS[outcome]}  (Alt+{number})")
            button.setFont(control_font)
            self.outcome_group.addButton(button, number)
            self.outcome_buttons[outcome] = button
            outcome_grid.addWidget(button, (number - 1) // 3, 1 + (number - 1) % 3)
        self.checklist: dict[str, QCheckBox] = {}
        checks = QHBoxLayout()
        checks.addWidget(QLabel("To accept for SPD (NICE 1.1):"))
        for key, label in SPD_CHECKLIST.items():
            check = QCheckBox(label)
            check.setToolTip("Needed to accept for SPD (NICE HTG51 1.1: consent, audit and clinical governance)")
            self.checklist[key] = check
            checks.addWidget(check)
        checks.addStretch(1)
        self.rationale = QPlainTextEdit()
        self.rationale.setPlaceholderText("Why the MDT decided this (required; recorded with your name)")
        self.rationale.setAccessibleName("Rationale")
        self.rationale.setTabChangesFocus(True)
        self.rationale.setFont(control_font)
        self.rationale.setFixedHeight(96)
        rationale_label = QLabel("R&ationale:")
        rationale_label.setBuddy(self.rationale)
        self.action_table = QTableWidget(3, 3)
        self.action_table.setHorizontalHeaderLabels(["Action", "Owner", "Due (DD-MMM-YYYY)"])
        self.action_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.action_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.action_table.setColumnWidth(1, 150)
        self.action_table.verticalHeader().setDefaultSectionSize(24)
        self.action_table.setFixedHeight(24 * 3 + self.action_table.horizontalHeader().sizeHint().height() + 4)
        self.action_table.setAccessibleName("Actions with owner and due date")
        self.action_table.setEditTriggers(  # typing into a cell starts editing it, as in a spreadsheet
            QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        actions_label = QLabel("Ac&tions:")
        actions_label.setBuddy(self.action_table)
        typed = QGridLayout()
        typed.addWidget(rationale_label, 0, 0)
        typed.addWidget(actions_label, 0, 1)
        typed.addWidget(self.rationale, 1, 0)
        typed.addWidget(self.action_table, 1, 1)
        typed.setColumnStretch(0, 1)
        typed.setColumnStretch(1, 1)
        self.amend_reason = QLineEdit()
        self.amend_reason.setMaxLength(limit_of("outcome.amend_reason"))
        self.amend_reason.setAccessibleName("Reason for amending")
        self.amend_reason.setPlaceholderText("Only when changing an outcome already recorded: why it is amended")
        self.amend_reason.setFont(control_font)
        amend_label = QLabel("Reason for a&mending:")
        amend_label.setBuddy(self.amend_reason)
        amend = QHBoxLayout()
        amend.addWidget(amend_label)
        amend.addWidget(self.amend_reason, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(outcome_grid)
        layout.addLayout(checks)
        layout.addLayout(typed)
        layout.addLayout(amend)

    def chosen_outcome(self) -> str | None:
        """The outcome ticked on screen, if any."""
        return next((o for o, b in self.outcome_buttons.items() if b.isChecked()), None)

    def choose_outcome(self, outcome: str) -> None:
        """Alt+1..Alt+6: tick an outcome (consultants only; the buttons are disabled otherwise)."""
        button = self.outcome_buttons[outcome]
        if button.isEnabled():
            button.setChecked(True)

    def ticks(self) -> dict[str, bool]:
        """The SPD checklist as ticked."""
        return {key: check.isChecked() for key, check in self.checklist.items()}

    def commit_action_edit(self) -> None:
        """A cell still being typed in holds its text in the editor: moving the current cell commits it."""
        current = self.action_table.currentIndex()
        self.action_table.setCurrentIndex(QModelIndex())
        self.action_table.setCurrentIndex(current if current.isValid() else self.action_table.model().index(0, 0))

    def has_unrecorded(self, *, commit: bool = True) -> bool:
        """Whether the user chose, ticked or typed anything not recorded.

        `commit=False` looks without closing a cell being typed in (a refresh arriving must not interrupt the
        typing): a cell with its editor open counts as typed.
        """
        if commit:
            self.commit_action_edit()
        elif self.action_table.state() == QAbstractItemView.State.EditingState:
            return True
        typed_action = any(
            (item := self.action_table.item(r, c)) is not None and item.text().strip()
            for r in range(self.action_table.rowCount())
            for c in range(self.action_table.columnCount())
        )
        return (
            self.chosen_outcome() is not None
            or any(check.isChecked() for check in self.checklist.values())
            or bool(self.rationale.toPlainText().strip())
            or bool(self.amend_reason.text().strip())
            or typed_action
        )

    def clear(self) -> None:
        """A blank outcome entry: nothing chosen, ticked or typed."""
        # An exclusive group always keeps one button checked; lift it to untick them all.
        self.outcome_group.setExclusive(False)
        for button in self.outcome_buttons.values():
            button.setChecked(False)
        self.outcome_group.setExclusive(True)
        for check in self.checklist.values():
            check.setChecked(False)
        self.rationale.clear()
        self.commit_action_edit()
        self.action_table.clearContents()
        self.amend_reason.clear()

    def actions_entered(self) -> list[CaseAction]:
        """The actions typed, each with a description; ValueError names the row that is not one."""
        self.commit_action_edit()
        actions = []
        for row in range(self.action_table.rowCount()):
            cells = [self.action_table.item(row, c) for c in range(3)]
            description, owner, due_text = ((c.text().strip() if c is not None else "") for c in cells)
            if not (description or owner or due_text):
                continue
            if not description:
                raise ValueError(f"action {row + 1} has an owner or date but no description")
            due: date | None = None
            if due_text:
                try:
                    due = parse_user_date(due_text)
                except ValueError as exc:
                    raise ValueError(f"action {row + 1}: {exc}") from None
            actions.append(CaseAction(description, owner or None, due))
        return actions

    def enable(self, *, consultant: bool, has_case: bool, amender: bool, recorded: bool) -> None:
        """Only a consultant records, on a case shown; only an amendment takes a reason, by one who may amend."""
        for control in (*self.outcome_buttons.values(), *self.checklist.values(), self.rationale, self.action_table):
            control.setEnabled(consultant and has_case)
            control.setToolTip("" if consultant else NOT_CONSULTANT)
        # An empty, disabled field says so for a first record.
        self.amend_reason.setEnabled(amender and recorded)
        self.amend_reason.setToolTip(
            who_may(AMEND_OUTCOME) if not amender else "" if recorded else "Only when amending a recorded outcome"
        )
