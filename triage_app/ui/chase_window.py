"""The coordinator's chase list and the MDT's actions across meetings, in one window (Meeting > Chase list and MDT
actions…, Ctrl+Shift+H); and the dialog that asks what is awaited and when to chase it.

Two tabs:
- Awaiting information: every referral awaiting information with what is awaited and its chase date, no date and
  overdue first (sorted in SQL), an "Overdue only" view; New chase date…, Chased today, Request letter… (Word or
  PDF, named by patient and date, audited) and Back to the queue (the information came).
- MDT actions: every open action across meetings by due date, with the patient and the meeting; overdue marked;
  filter by owner; Done ticks one off (who and when, audited).

Every row names the patient by three identifiers; every action asks nothing of the database on the GUI thread
(ops run through `AppContext`), and each button is enabled only when the user's role allows it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.formats import DATE_HINT, format_date, parse_user_date
from triage_app.domain.requests import default_chase_date
from triage_app.services.permissions import AWAITING_INFORMATION as MOVE_TO_AWAITING
from triage_app.services.permissions import CHASE_INFORMATION, COMPLETE_ACTION, who_may
from triage_app.ui.dialogs import Messages, patient_line

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes
    from triage_app.services.chase import ActionLine, ChaseLine
    from triage_app.ui.context import AppContext

ALL_OWNERS = "All owners"
LETTER_CHOICES = (("Word (.docx)", "docx"), ("PDF", "pdf"))


def chase_today() -> date:
    """Today where the app runs, read through the app's clock (services.app.local_today, which tests set)."""
    from triage_app.services import app

    return app.local_today()


class ChaseDialog(QDialog):
    """What is awaited (when moving to awaiting information) and the chase date, DD-MMM-YYYY; names the patient."""

    def __init__(
        self, title: str, patient: str, chase_on: date, today: date, awaited: str | None, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.today = today
        self.chosen: date | None = None
        layout = QVBoxLayout(self)
        who = QLabel(f"<b>{_escape(patient)}</b>")
        who.setAccessibleName("Patient")
        layout.addWidget(who)
        form = QFormLayout()
        self.awaited: QPlainTextEdit | None = None
        if awaited is not None:
            self.awaited = QPlainTextEdit(awaited)
            self.awaited.setAccessibleName("What is awaited")
            self.awaited.setTabChangesFocus(True)  # Tab goes on to the chase date, as in every form
            self.awaited.setPlaceholderText("What the referrer is asked to send")
            form.addRow("&Awaited:", self.awaited)
        self.date = QLineEdit(format_date(chase_on))
        self.date.setAccessibleName("Chase on")
        self.date.setPlaceholderText(DATE_HINT)
        self.date.setToolTip(f"The date to chase the referrer ({DATE_HINT}); today or later")
        form.addRow("&Chase on:", self.date)
        layout.addLayout(form)
        self.problem = QLabel()
        self.problem.setAccessibleName("Problem")
        self.problem.setWordWrap(True)
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        (self.awaited or self.date).setFocus()
        self.date.selectAll()
        self.resize(520, 260 if awaited is not None else 150)

    def _accept(self) -> None:
        try:
            chosen = parse_user_date(self.date.text())
        except ValueError as exc:
            self.problem.setText(str(exc))
            self.date.setFocus()
            return
        if chosen < self.today:
            self.problem.setText(f"{format_date(chosen)} has passed: choose today ({format_date(self.today)}) or later")
            self.date.setFocus()
            return
        if self.awaited is not None and not self.awaited.toPlainText().strip():
            self.problem.setText("Write what is awaited from the referrer")
            self.awaited.setFocus()
            return
        self.chosen = chosen
        self.accept()

    @classmethod
    def ask(
        cls,
        title: str,
        patient: str,
        chase_on: date,
        today: date,
        parent: QWidget | None,
        awaited: str | None = None,
    ) -> tuple[str, date] | None:
        """(what is awaited, the chase date), or None when cancelled."""
        dialog = cls(title, patient, chase_on, today, awaited, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen is None:
            return None
        text = dialog.awaited.toPlainText().strip() if dialog.awaited is not None else ""
        return text, dialog.chosen


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


def _item(text: str, *, bold: bool = False, data: Any = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if bold:
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def _table(headers: tuple[str, ...], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setAccessibleName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setTabKeyNavigation(False)  # Tab leaves the table for the buttons
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    table.setWordWrap(False)
    return table


CHASE_HEADERS = ("Chase by", "State", "Patient", "NHS number", "Date of birth", "Last chased", "Awaited")
ACTION_HEADERS = ("Due", "State", "Owner", "Action", "Patient", "NHS number", "Date of birth", "MDT meeting")


class ChaseWindow(QMainWindow):
    """The chase list and the MDT actions (one per main window)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Chase list and MDT actions")
        self.chase_lines: list[ChaseLine] = []
        self.action_lines: list[ActionLine] = []
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_chase_tab(), "&Awaiting information")
        self.tabs.addTab(self._build_actions_tab(), "MDT a&ctions")
        self.setCentralWidget(self.tabs)
        self.resize(1100, 560)
        context.changed.connect(self._changed)
        self._enable()

    # --- building -----------------------------------------------------------------------------------------------

    def _build_chase_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        top = QHBoxLayout()
        self.overdue_only = QCheckBox("&Overdue only")
        self.overdue_only.setToolTip("Only referrals whose chase date has passed (or that have none)")
        self.overdue_only.toggled.connect(lambda _on: self.refresh())
        self.chase_count = QLabel()
        top.addWidget(self.overdue_only)
        top.addStretch(1)
        top.addWidget(self.chase_count)
        layout.addLayout(top)
        self.chase_table = _table(CHASE_HEADERS, "Referrals awaiting information")
        self.chase_table.itemSelectionChanged.connect(self._enable)
        layout.addWidget(self.chase_table, 1)
        buttons = QHBoxLayout()
        self.new_date_button = QPushButton("New chase &date…")
        self.new_date_button.clicked.connect(self.new_chase_date)
        self.chased_button = QPushButton("Chased &today")
        self.chased_button.setToolTip("Record that the referrer was chased today; the next chase in 14 days")
        self.chased_button.clicked.connect(self.chased_today)
        self.letter_format = QComboBox()
        self.letter_format.setAccessibleName("Request letter format")
        for label, fmt in LETTER_CHOICES:
            self.letter_format.addItem(label, fmt)
        self.request_button = QPushButton("&Request letter…")
        self.request_button.setToolTip("Write the request for the missing information to the referrer")
        self.request_button.clicked.connect(self.request_letter)
        self.back_button = QPushButton("&Back to the queue")
        self.back_button.setToolTip("The information came: the referral goes back to received, to be triaged again")
        self.back_button.clicked.connect(self.back_to_queue)
        for widget in (self.new_date_button, self.chased_button, self.letter_format, self.request_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        layout.addLayout(buttons)
        return page

    def _build_actions_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        top = QHBoxLayout()
        owner_label = QLabel("O&wner:")
        self.owner_filter = QComboBox()
        self.owner_filter.setAccessibleName("Owner")
        self.owner_filter.addItem(ALL_OWNERS, None)
        owner_label.setBuddy(self.owner_filter)
        self.owner_filter.activated.connect(lambda _i: self.refresh())
        self.actions_overdue = QCheckBox("O&verdue only")
        self.actions_overdue.toggled.connect(lambda _on: self.refresh())
        self.show_done = QCheckBox("Show do&ne")
        self.show_done.toggled.connect(lambda _on: self.refresh())
        self.action_count = QLabel()
        for widget in (owner_label, self.owner_filter, self.actions_overdue, self.show_done):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.action_count)
        layout.addLayout(top)
        self.action_table = _table(ACTION_HEADERS, "MDT actions")
        self.action_table.itemSelectionChanged.connect(self._enable)
        layout.addWidget(self.action_table, 1)
        buttons = QHBoxLayout()
        self.done_button = QPushButton("&Done")
        self.done_button.setToolTip("Tick the selected action off as done (by you, now)")
        self.done_button.clicked.connect(self.tick_off)
        buttons.addStretch(1)
        buttons.addWidget(self.done_button)
        layout.addLayout(buttons)
        return page

    # --- reading ------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read both lists again (on the database worker)."""
        if self.context.session is None:
            return
        from triage_app.services.chase import action_owners, chase_list, list_actions

        today = chase_today()
        overdue, owner = self.overdue_only.isChecked(), self.owner_filter.currentData()
        actions_overdue, done = self.actions_overdue.isChecked(), self.show_done.isChecked()

        def op(session: AppSession) -> tuple[list[ChaseLine], list[ActionLine], list[str], date]:
            return (
                chase_list(session.db, actor=session.actor, today=today, overdue_only=overdue),
                list_actions(
                    session.db,
                    actor=session.actor,
                    today=today,
                    owner=owner,
                    overdue_only=actions_overdue,
                    include_done=done,
                ),
                action_owners(session.db, actor=session.actor),
                today,
            )

        self.context.query(op, title="Chase list not read", on_success=self._show)

    def _changed(self, changes: Changes) -> None:
        if self.isVisible() and (
            changes.all_referrals or changes.meeting_ids or changes.everything or changes.meetings
        ):
            self.refresh()

    def _show(self, result: tuple[list[ChaseLine], list[ActionLine], list[str], date]) -> None:
        chase_lines, action_lines, owners, today = result
        self._show_chase(chase_lines, today)
        self._show_owners(owners)
        self._show_actions(action_lines)
        self._enable()

    def _show_chase(self, lines: list[ChaseLine], today: date) -> None:
        chosen = self.selected_chase()
        keep = chosen.referral_id if chosen is not None else None
        self.chase_lines = lines
        table = self.chase_table
        table.setRowCount(len(lines))
        for row, line in enumerate(lines):
            state = "Overdue" if line.overdue else ("Due today" if line.chase_on == today else "Waiting")
            if line.chase_on is None:
                state = "No chase date"
            cells = (
                format_date(line.chase_on) or "—",
                state,
                line.patient or "(name not recorded)",
                _nhs(line.nhs_number),
                format_date(line.date_of_birth),
                format_date(line.chased_on) or "—",
                line.awaited or "",
            )
            for column, text in enumerate(cells):
                table.setItem(row, column, _item(text, bold=line.overdue and column < 2, data=line.referral_id))
            if line.referral_id == keep:
                table.selectRow(row)
        overdue = sum(1 for line in lines if line.overdue)
        if self.overdue_only.isChecked():
            self.chase_count.setText(f"{overdue} overdue (no chase date, or its date has passed)")
        else:
            self.chase_count.setText(f"{len(lines)} awaiting information, {overdue} overdue")
        table.resizeColumnsToContents()

    def _show_owners(self, owners: list[str]) -> None:
        current = self.owner_filter.currentData()
        self.owner_filter.blockSignals(True)
        self.owner_filter.clear()
        self.owner_filter.addItem(ALL_OWNERS, None)
        for owner in owners:
            self.owner_filter.addItem(owner, owner)
        index = self.owner_filter.findData(current)
        self.owner_filter.setCurrentIndex(max(index, 0))
        self.owner_filter.blockSignals(False)

    def _show_actions(self, lines: list[ActionLine]) -> None:
        chosen = self.selected_action()
        keep = chosen.action_id if chosen is not None else None
        self.action_lines = lines
        table = self.action_table
        table.setRowCount(len(lines))
        for row, line in enumerate(lines):
            if line.done_at is not None:
                state = f"Done {format_date(line.done_at.date())} by {line.done_by or 'unknown'}"
            else:
                state = "Overdue" if line.overdue else "Open"
            cells = (
                format_date(line.due_date) or "—",
                state,
                line.owner or "(no owner)",
                line.description,
                line.patient or "(name not recorded)",
                _nhs(line.nhs_number),
                format_date(line.date_of_birth),
                format_date(line.meeting_date),
            )
            for column, text in enumerate(cells):
                table.setItem(row, column, _item(text, bold=line.overdue and column < 2, data=line.action_id))
            if line.action_id == keep:
                table.selectRow(row)
        open_count = sum(1 for line in lines if line.done_at is None)
        overdue = sum(1 for line in lines if line.overdue)
        self.action_count.setText(f"{open_count} open, {overdue} overdue")
        table.resizeColumnsToContents()

    # --- the selection and what may be done with it -----------------------------------------------------------------

    def selected_chase(self) -> ChaseLine | None:
        """The referral selected in the chase list."""
        rows = self.chase_table.selectionModel().selectedRows() if self.chase_table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.chase_lines):
            return None
        return self.chase_lines[rows[0].row()]

    def selected_action(self) -> ActionLine | None:
        """The action selected in the actions list."""
        rows = self.action_table.selectionModel().selectedRows() if self.action_table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.action_lines):
            return None
        return self.action_lines[rows[0].row()]

    def _enable(self) -> None:
        chase_line, action_line = self.selected_chase(), self.selected_action()
        may_chase, may_move = self.context.may(CHASE_INFORMATION), self.context.may(MOVE_TO_AWAITING)
        for button in (self.new_date_button, self.chased_button, self.request_button, self.letter_format):
            button.setEnabled(may_chase and chase_line is not None)
            if not may_chase:
                button.setToolTip(who_may(CHASE_INFORMATION))
        self.back_button.setEnabled(may_move and chase_line is not None)
        if not may_move:
            self.back_button.setToolTip(who_may(MOVE_TO_AWAITING))
        may_tick = self.context.may(COMPLETE_ACTION)
        self.done_button.setEnabled(may_tick and action_line is not None and action_line.done_at is None)
        if not may_tick:
            self.done_button.setToolTip(who_may(COMPLETE_ACTION))

    # --- the actions ------------------------------------------------------------------------------------------------

    def _patient(self, line: ChaseLine | ActionLine) -> str:
        family, _, given = line.patient.partition(", ")
        return patient_line(family, given, line.nhs_number, line.date_of_birth)

    def new_chase_date(self) -> None:
        """Ask for a new chase date for the selected referral."""
        line = self.selected_chase()
        if line is None:
            return
        today = chase_today()
        answer = ChaseDialog.ask(
            "New chase date", self._patient(line), line.chase_on or default_chase_date(today), today, self
        )
        if answer is not None:
            self._set_date(line, answer[1], chased=False)

    def chased_today(self) -> None:
        """Record that the selected referral's referrer was chased today; the next chase in 14 days."""
        line = self.selected_chase()
        if line is not None:
            self._set_date(line, default_chase_date(chase_today()), chased=True)

    def _set_date(self, line: ChaseLine, chase_on: date, *, chased: bool) -> None:
        from triage_app.services.chase import set_chase_date

        referral_id, today = line.referral_id, chase_today()

        def op(session: AppSession) -> Changes:
            return set_chase_date(
                session.db, actor=session.actor, referral_id=referral_id, chase_on=chase_on, today=today, chased=chased
            )

        self.context.run(op, title="Chase date not changed", on_success=lambda _c: self.refresh())

    def request_letter(self) -> None:
        """Write the request for the selected referral's missing information, in the folder the user chooses."""
        line = self.selected_chase()
        if line is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Write the request letter to")
        if not folder:
            return
        from triage_app.services.chase import write_request

        referral_id, fmt, today = line.referral_id, str(self.letter_format.currentData()), chase_today()
        data_dir = self.context.paths.data_dir

        def op(session: AppSession) -> _Written:
            path = write_request(
                session.db,
                actor=session.actor,
                referral_id=referral_id,
                fmt=fmt,
                out_dir=Path(folder),
                today=today,
                data_dir=data_dir,
            )
            return _Written(path)

        self.context.run(op, title="Request letter not written", on_success=self._written)

    def _written(self, written: _Written) -> None:
        self.last_written = written.path
        self.statusBar().showMessage(f"Request letter written: {written.path}", 10000)

    def back_to_queue(self) -> None:
        """The information came: the selected referral goes back to received (after naming the patient)."""
        line = self.selected_chase()
        if line is None:
            return
        if not Messages.confirm(
            self,
            "Back to the queue",
            f"The information came for\n\n{self._patient(line)}\n\nMove the referral back to received, to be triaged "
            "again? It leaves the chase list.",
        ):
            return
        from triage_app.services.chase import back_to_queue

        referral_id, version = line.referral_id, line.version

        def op(session: AppSession) -> Any:
            return back_to_queue(session.db, actor=session.actor, referral_id=referral_id, expected_version=version)

        self.context.run(op, title="Referral not moved", on_success=lambda _r: self.refresh())

    def tick_off(self) -> None:
        """Tick the selected action off as done, by the user, now."""
        line = self.selected_action()
        if line is None or line.done_at is not None:
            return
        from triage_app.services.chase import complete_action

        action_id, today = line.action_id, chase_today()

        def op(session: AppSession) -> Any:
            done, changes = complete_action(session.db, actor=session.actor, action_id=action_id, today=today)
            return _Done(done, changes)

        self.context.run(op, title="Action not ticked off", on_success=lambda _r: self.refresh())


class _Written:
    """A request letter written (no change to any view's data, so an empty report)."""

    def __init__(self, path: Path) -> None:
        from triage_app.services.changes import Changes

        self.path = path
        self.changes = Changes()


class _Done:
    def __init__(self, line: ActionLine, changes: Changes) -> None:
        self.line = line
        self.changes = changes


def _nhs(value: str | None) -> str:
    from triage_app.domain.referral import format_nhs_number

    return format_nhs_number(value) if value else "not recorded"


def add_chase_action(window: Any, menu: QMenu) -> QAction:
    """Meeting > Chase list and MDT actions… (Ctrl+Shift+H), opening one `ChaseWindow` per main window."""
    action = QAction("&Chase list and MDT actions…", window)
    action.setShortcut(QKeySequence("Ctrl+Shift+H"))
    action.setStatusTip("Referrals awaiting information by chase date, and the MDT's actions by owner and due date")
    action.triggered.connect(lambda _checked=False: open_chase_window(window))
    window.addAction(action)
    menu.addAction(action)
    window.chase_action = action
    return action


def open_chase_window(window: Any) -> ChaseWindow | None:
    """The main window's chase window, shown and read afresh."""
    if window.context.session is None:
        return None
    if getattr(window, "chase_window", None) is None:
        window.chase_window = ChaseWindow(window.context, window)
    chase_window: ChaseWindow = window.chase_window
    chase_window.show()
    chase_window.raise_()
    chase_window.activateWindow()
    chase_window._enable()
    chase_window.refresh()
    return chase_window
