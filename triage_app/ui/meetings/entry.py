"""The outcome entry of the in-meeting screen: outcome, SPD checklist, rationale, actions, reason for amending.

It holds what the consultant typed and not yet recorded; the screen asks it whether anything is typed
(`has_unrecorded`) before a refresh, a move or a close could drop it.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.formats import format_date, parse_user_date
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, MEETING_OUTCOMES, SPD_CHECKLIST, CaseAction
from triage_app.domain.referral import limit_of
from triage_app.services.permissions import AMEND_OUTCOME, who_may
from triage_app.ui.meetings.text import scaled
from triage_app.ui.theme import scheme_colour

NOT_CONSULTANT = "Only a consultant can record MDT outcomes"


OWNER_COLUMN, DUE_COLUMN = 1, 2
#: Owners every unit has, offered after the meeting's attendees.
USUAL_OWNERS = ("MDT coordinator", "Referrer", "GP", "Specialist nurse")


class OwnerDelegate(QStyledItemDelegate):
    """The owner cell offers the meeting's attendees and the usual owners as it is typed (any text may stay)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: list[str] = list(USUAL_OWNERS)

    def createEditor(  # noqa: N802
        self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QWidget:
        """A line editor completing a name from its first letters, inline."""
        editor = super().createEditor(parent, option, index)
        if isinstance(editor, QLineEdit):
            completer = QCompleter(self.names, editor)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            # Inline, no popup: a popup would take the keys (Alt+1..6, Ctrl+Enter) while it shows.
            completer.setCompletionMode(QCompleter.CompletionMode.InlineCompletion)
            editor.setCompleter(completer)
        return editor


class ActionTable(QTableWidget):
    """The actions agreed for a case: what, owner, due date. Typing into a cell starts editing it and Tab moves on
    to the next cell, as in a spreadsheet; Tab from the last cell leaves the table; Ctrl+Ins adds a row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(3, 3, parent)
        self.setHorizontalHeaderLabels(["Action", "Owner", "Due date"])
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(DUE_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnWidth(OWNER_COLUMN, 120)
        self.owners = OwnerDelegate(self)
        self.setItemDelegateForColumn(OWNER_COLUMN, self.owners)
        due_header = self.horizontalHeaderItem(DUE_COLUMN)
        if due_header is not None:
            due_header.setToolTip("Type it as 01-Dec-2026, 1/12/2026 or 2026-12-01")
        self.setAccessibleName("Actions with owner and due date")
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.fit_rows()

    def fit_rows(self) -> None:
        """Tall enough for its rows (up to five; more scroll)."""
        row_height = self.verticalHeader().defaultSectionSize()
        shown = max(3, min(self.rowCount(), 5))
        self.setFixedHeight(row_height * shown + self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth())

    def moveCursor(  # noqa: N802
        self,
        cursorAction: QAbstractItemView.CursorAction,  # noqa: N803
        modifiers: Qt.KeyboardModifier,
    ) -> QModelIndex:
        """Tab from the last cell, or Shift+Tab from the first, leaves the table (to Add action, or the rationale)
        rather than wrapping round inside it."""
        action = QAbstractItemView.CursorAction
        row, column = self.currentRow(), self.currentColumn()
        if cursorAction == action.MoveNext and row == self.rowCount() - 1 and column == self.columnCount() - 1:
            return QModelIndex()
        if cursorAction == action.MovePrevious and row <= 0 and column <= 0:
            return QModelIndex()
        return super().moveCursor(cursorAction, modifiers)


class OutcomeEntry(QWidget):
    """The controls a consultant records a case's outcome with."""

    #: A problem with what was typed in the actions (a due date that is not a date): said beside the table.
    problem = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFont(scaled(self.font(), 1.1))  # labels and the table read from the back of the room too
        base = self.font()
        control_font = scaled(base, 1.05)
        self.outcome_group = QButtonGroup(self)
        # The outcomes sit across the screen's full width, under the case (the screen places this panel).
        self.outcome_panel = QWidget(self)
        self.outcome_panel.setAccessibleName("MDT outcome")
        outcome_grid = QGridLayout(self.outcome_panel)
        outcome_grid.setContentsMargins(0, 0, 0, 0)
        outcome_label = QLabel("Outcome:")
        outcome_label.setFont(scaled(base, 1.15, bold=True))
        outcome_grid.addWidget(outcome_label, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        self.outcome_buttons: dict[str, QRadioButton] = {}
        for number, outcome in enumerate(MEETING_OUTCOMES, start=1):
            # The hotkey is on the button: the chair reads it off the shared screen.
            button = QRadioButton(f"{MEETING_OUTCOME_LABELS[outcome]}  (Alt+{number})")
            button.setFont(control_font)
            button.setAccessibleName(f"{MEETING_OUTCOME_LABELS[outcome]}, Alt+{number}")
            self.outcome_group.addButton(button, number)
            self.outcome_buttons[outcome] = button
            outcome_grid.addWidget(button, (number - 1) // 3, 1 + (number - 1) % 3)
        for column in (1, 2, 3):
            outcome_grid.setColumnStretch(column, 1)
        self.checklist: dict[str, QCheckBox] = {}
        checks = QVBoxLayout()
        checks.setSpacing(2)
        checks.addWidget(QLabel("To accept for SPD (NICE 1.1):"))
        for key, label in SPD_CHECKLIST.items():
            check = QCheckBox(label)
            check.setToolTip("Needed to accept for SPD (NICE HTG51 1.1: consent, audit and clinical governance)")
            self.checklist[key] = check
            checks.addWidget(check, 0, Qt.AlignmentFlag.AlignLeft)  # a click beside the label does not tick it
        self.rationale = QPlainTextEdit()
        self.rationale.setPlaceholderText("Why the MDT decided this (required; recorded with your name)")
        self.rationale.setAccessibleName("Rationale")
        self.rationale.setTabChangesFocus(True)
        self.rationale.setFont(control_font)
        self.rationale.setFixedHeight(QFontMetrics(control_font).lineSpacing() * 3 + 14)
        rationale_label = QLabel("R&ationale:")
        rationale_label.setBuddy(self.rationale)
        self.action_table = ActionTable()
        self.action_table.itemChanged.connect(self._check_due)
        actions_label = QLabel("Acti&ons (owner, due date DD-MMM-YYYY):")
        actions_label.setBuddy(self.action_table)
        self.add_action_button = QPushButton("Add action (Ctrl+Ins)")
        self.add_action_button.clicked.connect(self.add_action_row)
        self.remove_action_button = QPushButton("Remove action (Ctrl+Del)")
        self.remove_action_button.clicked.connect(self.remove_action_row)
        for sequence, slot in (("Ctrl+Ins", self.add_action_row), ("Ctrl+Del", self.remove_action_row)):
            shortcut = QShortcut(QKeySequence(sequence), self.action_table, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.action_problem = QLabel()
        self.action_problem.setWordWrap(True)
        self.action_problem.setAccessibleName("Problem with the actions")
        self.action_problem.setStyleSheet(f"color: {scheme_colour('alert')}; font-weight: bold;")
        self.action_problem.hide()
        action_buttons = QHBoxLayout()
        action_buttons.addWidget(self.add_action_button)
        action_buttons.addWidget(self.remove_action_button)
        action_buttons.addStretch(1)
        self.amend_reason = QLineEdit()
        self.amend_reason.setMaxLength(limit_of("outcome.amend_reason"))
        self.amend_reason.setAccessibleName("Reason for amending")
        self.amend_reason.setPlaceholderText("Only when changing a recorded outcome: why")
        self.amend_reason.setFont(control_font)
        amend_label = QLabel("Reason for a&mending:")
        amend_label.setBuddy(self.amend_reason)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(checks)
        layout.addWidget(rationale_label)
        layout.addWidget(self.rationale)
        layout.addWidget(actions_label)
        layout.addWidget(self.action_table)
        layout.addLayout(action_buttons)
        layout.addWidget(self.action_problem)
        layout.addWidget(amend_label)
        layout.addWidget(self.amend_reason)
        layout.addStretch(1)  # a tall pane keeps the controls together at the top

    # --- the action list -------------------------------------------------------------------------------------

    def set_owners(self, attendees: list[str]) -> None:
        """The names the owner cells offer: this meeting's attendees first, then the usual owners."""
        names = [n for n in dict.fromkeys(a.strip() for a in attendees) if n]
        self.action_table.owners.names = names + [o for o in USUAL_OWNERS if o not in names]

    def add_action_row(self) -> None:
        """Ctrl+Ins or Add action: a blank row at the end, its first cell current for typing."""
        table = self.action_table
        if not table.isEnabled():
            return
        self.commit_action_edit()
        table.insertRow(table.rowCount())
        table.fit_rows()
        table.setCurrentCell(table.rowCount() - 1, 0)
        table.setFocus()

    def remove_action_row(self) -> None:
        """Ctrl+Del or Remove action: the current row goes (one blank row always stays to type into)."""
        table = self.action_table
        if not table.isEnabled():
            return
        row = table.currentRow()
        if row < 0:
            row = table.rowCount() - 1
        table.removeRow(row)
        if table.rowCount() == 0:
            table.insertRow(0)
        table.fit_rows()
        table.setCurrentCell(min(row, table.rowCount() - 1), 0)
        self._check_due()

    def _check_due(self, item: QTableWidgetItem | None = None) -> None:
        """A due date is read as typed (DD-MMM-YYYY, DD/MM/YYYY ...) and shown as DD-MMM-YYYY; one that is not a
        date is marked and said at once, not only when the outcome is recorded."""
        table = self.action_table
        if item is not None and item.column() == DUE_COLUMN and item.text().strip():
            try:
                shown = format_date(parse_user_date(item.text()))
            except ValueError:
                shown = None
            if shown is not None and shown != item.text():
                table.blockSignals(True)
                item.setText(shown)
                table.blockSignals(False)
        problems = []
        for row in range(table.rowCount()):
            due = table.item(row, DUE_COLUMN)
            text = due.text().strip() if due is not None else ""
            bad = False
            if text:
                try:
                    parse_user_date(text)
                except ValueError as exc:
                    bad = True
                    problems.append(f"Action {row + 1}, due date: {exc}")
            if due is not None:
                table.blockSignals(True)
                due.setData(Qt.ItemDataRole.BackgroundRole, QBrush(QColor("#f8d7da")) if bad else None)
                due.setData(Qt.ItemDataRole.ForegroundRole, QBrush(QColor("#58151c")) if bad else None)
                table.blockSignals(False)
        self.action_problem.setText("\n".join(problems))
        self.action_problem.setVisible(bool(problems))
        if problems:
            self.problem.emit(problems[0])

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
        self.action_table.setRowCount(3)
        self.action_table.fit_rows()
        self._check_due()
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
        controls = (*self.outcome_buttons.values(), *self.checklist.values(), self.rationale, self.action_table)
        for control in (*controls, self.add_action_button, self.remove_action_button):
            control.setEnabled(consultant and has_case)
            control.setToolTip("" if consultant else NOT_CONSULTANT)
        # An empty, disabled field says so for a first record.
        self.amend_reason.setEnabled(amender and recorded)
        self.amend_reason.setToolTip(
            who_may(AMEND_OUTCOME) if not amender else "" if recorded else "Only when amending a recorded outcome"
        )
