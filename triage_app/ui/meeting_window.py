"""The MDT meeting window: plan the list (drag ready referrals across, reorder, fill to capacity), export and
print the agenda, and, in the meeting, record each case's outcome on one large screen.

All database work goes through the main window's worker; this window only lays out and asks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, QTime, Signal
from PySide6.QtGui import QDropEvent, QKeySequence, QShortcut, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.formats import format_date, format_name, parse_user_date
from triage_app.domain.meetings import (
    MDT_ROLES,
    MEETING_OUTCOME_LABELS,
    MEETING_OUTCOMES,
    OPEN_MEETING_STATUSES,
    SPD_CHECKLIST,
    CaseAction,
)
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.workflow import CONSULTANT
from triage_app.ui.dialogs import Messages

log = logging.getLogger(__name__)

REFERRAL_ROLE = Qt.ItemDataRole.UserRole + 1
NOT_CONSULTANT = "Only a consultant can record MDT outcomes"


def _line(row: Any) -> str:
    """How a referral reads in the planning lists."""
    if row is None:
        return "…"
    return (
        f"Pri {row.priority if row.priority is not None else '?':>3} · {format_nhs_number(row.nhs_number)} · "
        f"{format_name(row.family_name, row.given_name)}"
    )


class MeetingList(QListWidget):
    """The meeting's cases: reorder by dragging; referrals dragged in from the ready list are added."""

    reordered = Signal(list)
    add_requested = Signal(int)

    def __init__(self, ready: QListWidget) -> None:
        super().__init__()
        self.ready = ready
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setAccessibleName("Cases on this meeting, in order")

    def ids(self) -> list[int]:
        """Referral ids in the order shown."""
        return [self.item(i).data(REFERRAL_ROLE) for i in range(self.count())]

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        if event.source() is self.ready:
            for item in self.ready.selectedItems():
                self.add_requested.emit(item.data(REFERRAL_ROLE))
            event.ignore()
            return
        super().dropEvent(event)
        self.reordered.emit(self.ids())


class NewMeetingDialog(QDialog):
    """Date, time, place or video link, chair and expected attendees with their MDT roles."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New MDT meeting")
        form = QFormLayout(self)
        self.date = QDateEdit(QDate.currentDate().addDays(7))
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("dd-MMM-yyyy")
        self.time = QTimeEdit(QTime(13, 30))
        self.time.setDisplayFormat("HH:mm")
        self.place = QLineEdit()
        self.video = QLineEdit()
        self.chair = QLineEdit()
        self.attendees = QTableWidget(4, 2)
        self.attendees.setHorizontalHeaderLabels(["Name", "MDT role"])
        self.attendees.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row in range(self.attendees.rowCount()):
            combo = QComboBox()
            combo.addItem("—", None)
            for key, label in MDT_ROLES.items():
                combo.addItem(label, key)
            self.attendees.setCellWidget(row, 1, combo)
        for label, widget in (
            ("&Date", self.date),
            ("&Time", self.time),
            ("&Place", self.place),
            ("&Video link", self.video),
            ("&Chair", self.chair),
            ("&Attendees", self.attendees),
        ):
            form.addRow(label, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict[str, Any]:
        """What `create_meeting` needs."""
        attendees = []
        for row in range(self.attendees.rowCount()):
            item = self.attendees.item(row, 0)
            name = item.text().strip() if item is not None else ""
            combo = self.attendees.cellWidget(row, 1)
            if name:
                attendees.append((name, combo.currentData() if isinstance(combo, QComboBox) else None))
        return {
            "meeting_date": self.date.date().toPython(),
            "meeting_time": self.time.time().toString("HH:mm"),
            "place": self.place.text(),
            "video_link": self.video.text(),
            "chair": self.chair.text(),
            "attendees": attendees,
        }

    @classmethod
    def ask(cls, parent: QWidget | None) -> dict[str, Any] | None:
        """The new meeting's details, or None if cancelled. (Tests replace this class method.)"""
        dialog = cls(parent)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


class ExportChoice:
    """Where and how to export: the file dialog, replaceable in tests."""

    @classmethod
    def ask(cls, parent: QWidget | None, suggested: str, fmt: str) -> Path | None:
        """The file to write, or None."""
        name, _ = QFileDialog.getSaveFileName(parent, "Export agenda", suggested, f"{fmt.upper()} (*.{fmt})")
        return Path(name) if name else None


class FolderChoice:
    """Where to write letters: the folder dialog, replaceable in tests."""

    @classmethod
    def ask(cls, parent: QWidget | None) -> Path | None:
        """The folder, or None."""
        name = QFileDialog.getExistingDirectory(parent, "Write outcome letters to")
        return Path(name) if name else None


class MeetingWindow(QMainWindow):
    """Planning and in-meeting screens for the unit's MDT meetings."""

    changed = Signal()

    def __init__(self, main: Any) -> None:
        super().__init__(main)
        self.main = main
        self.setWindowTitle("MDT meetings")
        self.resize(1250, 820)
        self.detail: Any = None
        self.meeting_id: int | None = None
        self.case_index = 0

        self.meetings = QListWidget()
        self.meetings.setAccessibleName("Meetings")
        self.meetings.currentItemChanged.connect(lambda item, _prev: self._choose(item))
        new_button = QPushButton("&New meeting…")
        new_button.clicked.connect(self.new_meeting)
        self.cancel_button = QPushButton("Cancel meeting")
        self.cancel_button.clicked.connect(self.cancel_meeting)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("Meetings"))
        left_layout.addWidget(self.meetings, 1)
        left_layout.addWidget(new_button)
        left_layout.addWidget(self.cancel_button)

        self.header = QLabel("Choose or create a meeting")
        self.header.setWordWrap(True)
        self.header.setAccessibleName("Meeting details")
        self.quorum = QLabel()
        self.quorum.setAccessibleName("Quorum")
        self.capacity = QLabel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self._planning(), "&Planning")
        self.tabs.addTab(self._in_meeting(), "&In the meeting")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.capacity)
        top.addWidget(self.quorum)
        right_layout.addLayout(top)
        right_layout.addWidget(self.tabs, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 4)
        self.setCentralWidget(splitter)
        self._enable()

    # --- layout ---------------------------------------------------------------------------------------------

    def _planning(self) -> QWidget:
        page = QWidget()
        layout = QGridLayout(page)
        self.ready = QListWidget()
        self.ready.setAccessibleName("Referrals ready for MDT, highest priority first")
        self.ready.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.ready.setDragEnabled(True)
        self.ready.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.cases = MeetingList(self.ready)
        self.cases.add_requested.connect(self.add_case)
        self.cases.reordered.connect(self.reorder)
        self.add_button = QPushButton("Add →")
        self.add_button.clicked.connect(self.add_selected)
        self.remove_button = QPushButton("← Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.fill_button = QPushButton("&Fill to capacity")
        self.fill_button.clicked.connect(self.fill)
        self.up_button = QPushButton("Move up")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button = QPushButton("Move down")
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        middle = QVBoxLayout()
        for button in (self.add_button, self.remove_button, self.fill_button, self.up_button, self.down_button):
            middle.addWidget(button)
        middle.addStretch(1)
        self.format = QComboBox()
        for fmt in ("pdf", "docx", "csv", "html"):
            self.format.addItem(fmt.upper(), fmt)
        self.format.setAccessibleName("Export format")
        self.pseudonymised = QCheckBox("Pseudonymised (initials, last 4 NHS digits)")
        self.export_button = QPushButton("&Export agenda…")
        self.export_button.clicked.connect(lambda: self.export(outcomes=False))
        self.outcomes_button = QPushButton("Export &outcome summary…")
        self.outcomes_button.clicked.connect(lambda: self.export(outcomes=True))
        self.print_button = QPushButton("P&rint preview…")
        self.print_button.clicked.connect(self.print_preview)
        self.letters_button = QPushButton("Outcome &letters…")
        self.letters_button.setToolTip(
            "One letter per decided case to its referrer, in the chosen format (PDF or Word)"
        )
        self.letters_button.clicked.connect(self.write_letters)
        self.circulate_button = QPushButton("Mark agenda &circulated")
        self.circulate_button.setToolTip("Cases added after this are marked as late additions")
        self.circulate_button.clicked.connect(self.circulate)
        export_row = QHBoxLayout()
        for widget in (
            self.format,
            self.pseudonymised,
            self.export_button,
            self.outcomes_button,
            self.print_button,
            self.letters_button,
            self.circulate_button,
        ):
            export_row.addWidget(widget)
        layout.addWidget(QLabel("Ready for MDT (drag across, or Add)"), 0, 0)
        layout.addWidget(QLabel("On this meeting (drag to reorder)"), 0, 2)
        layout.addWidget(self.ready, 1, 0)
        layout.addLayout(middle, 1, 1)
        layout.addWidget(self.cases, 1, 2)
        layout.addLayout(export_row, 2, 0, 1, 3)
        return page

    def _in_meeting(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.case_title = QLabel()
        font = self.case_title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.case_title.setFont(font)
        self.case_body = QLabel()
        self.case_body.setWordWrap(True)
        self.case_body.setTextFormat(Qt.TextFormat.RichText)
        body_font = self.case_body.font()
        body_font.setPointSizeF(body_font.pointSizeF() * 1.25)
        self.case_body.setFont(body_font)
        self.outcome_group = QButtonGroup(self)
        outcomes = QHBoxLayout()
        self.outcome_buttons: dict[str, QRadioButton] = {}
        for outcome in MEETING_OUTCOMES:
            button = QRadioButton(MEETING_OUTCOME_LABELS[outcome])
            button.setFont(body_font)
            self.outcome_group.addButton(button)
            self.outcome_buttons[outcome] = button
            outcomes.addWidget(button)
        self.checklist: dict[str, QCheckBox] = {}
        checks = QHBoxLayout()
        for key, label in SPD_CHECKLIST.items():
            check = QCheckBox(label)
            check.setToolTip("Needed to accept for SPD (NICE HTG51 1.1: consent, audit and clinical governance)")
            self.checklist[key] = check
            checks.addWidget(check)
        self.rationale = QPlainTextEdit()
        self.rationale.setPlaceholderText("Rationale (recorded with your name)")
        self.rationale.setAccessibleName("Rationale")
        self.rationale.setMaximumHeight(90)
        self.action_table = QTableWidget(3, 3)
        self.action_table.setHorizontalHeaderLabels(["Action", "Owner", "Due (DD-MMM-YYYY)"])
        self.action_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.action_table.setMaximumHeight(130)
        self.action_table.setAccessibleName("Actions with owner and due date")
        self.save_outcome_button = QPushButton("&Record outcome (Ctrl+Enter)")
        self.save_outcome_button.clicked.connect(self.save_outcome)
        self.previous_case_button = QPushButton("← Previous case (PgUp)")
        self.previous_case_button.clicked.connect(lambda: self.show_case(self.case_index - 1))
        self.next_case_button = QPushButton("Next case (PgDn) →")
        self.next_case_button.clicked.connect(lambda: self.show_case(self.case_index + 1))
        nav = QHBoxLayout()
        nav.addWidget(self.previous_case_button)
        nav.addStretch(1)
        nav.addWidget(self.save_outcome_button)
        nav.addStretch(1)
        nav.addWidget(self.next_case_button)
        for widget in (self.case_title, self.case_body):
            layout.addWidget(widget)
        layout.addLayout(outcomes)
        layout.addLayout(checks)
        layout.addWidget(self.rationale)
        layout.addWidget(self.action_table)
        layout.addLayout(nav)
        layout.addStretch(1)
        QShortcut(QKeySequence("Ctrl+Return"), page, self.save_outcome)
        QShortcut(QKeySequence(Qt.Key.Key_PageDown), page, lambda: self.show_case(self.case_index + 1))
        QShortcut(QKeySequence(Qt.Key.Key_PageUp), page, lambda: self.show_case(self.case_index - 1))
        return page

    # --- data -----------------------------------------------------------------------------------------------

    def _submit(self, task: Callable[[], Any], done: Callable[[Any], None], title: str) -> None:
        def failed(error: BaseException) -> None:
            log.error("%s: %s", title, type(error).__name__)
            Messages.error(self, title, str(error))
            self.refresh()

        self.main.worker.submit(task, done, failed)

    def refresh(self) -> None:
        """Read the meetings, the chosen meeting and the ready list again."""
        from triage_app.services import meetings
        from triage_app.services.queue import page

        session = self.main.session
        db, rules, chosen = session.db, session.rules, self.meeting_id

        def task() -> Any:
            listing = meetings.list_meetings(db, rules=rules)
            detail = meetings.get_meeting(db, meeting_id=chosen, rules=rules) if chosen else None
            ready_ids = meetings.ready_referral_ids(db)
            return listing, detail, ready_ids, page(db, ids=ready_ids)

        self._submit(task, self._show, "Meetings could not be read")

    def _show(self, result: Any) -> None:
        listing, detail, ready_ids, rows = result
        self.meetings.blockSignals(True)
        self.meetings.clear()
        for summary in listing:
            quorate = "quorate" if summary.quorate else "NOT quorate"
            item = QListWidgetItem(
                f"{format_date(summary.meeting_date)} {summary.meeting_time} · {summary.status} · "
                f"{summary.cases} cases · {quorate}"
            )
            item.setData(REFERRAL_ROLE, summary.meeting_id)
            self.meetings.addItem(item)
            if summary.meeting_id == self.meeting_id:
                self.meetings.setCurrentItem(item)
        self.meetings.blockSignals(False)
        self.ready.clear()
        for referral_id in ready_ids:
            item = QListWidgetItem(_line(rows.get(referral_id)))
            item.setData(REFERRAL_ROLE, referral_id)
            self.ready.addItem(item)
        self.detail = detail
        self.cases.clear()
        if detail is None:
            self.header.setText("Choose or create a meeting")
            self.quorum.setText("")
            self.capacity.setText("")
        else:
            m = detail.meeting
            where = " · ".join(p for p in (m.place, m.video_link) if p) or "place not set"
            self.header.setText(
                f"<b>{format_date(m.meeting_date)} {m.meeting_time}</b> · {escape(where)} · chair "
                f"{escape(m.chair or 'not set')} · {m.status}"
            )
            self.quorum.setText(("✔ " if detail.quorate else "✘ ") + detail.quorum_text)
            self.quorum.setStyleSheet("" if detail.quorate else "color: #c62828; font-weight: bold;")
            self.capacity.setText(f"{len(detail.cases)} of {detail.capacity} cases")
            for case in detail.cases:
                late = "  [LATE ADDITION]" if case.late_addition else ""
                outcome = f"  → {MEETING_OUTCOME_LABELS[case.outcome]}" if case.outcome else ""
                item = QListWidgetItem(f"{case.position}. {_line(case.row)}{late}{outcome}")
                item.setData(REFERRAL_ROLE, case.referral_id)
                self.cases.addItem(item)
            self.show_case(min(self.case_index, max(len(detail.cases) - 1, 0)))
        self._enable()

    def _choose(self, item: QListWidgetItem | None) -> None:
        self.meeting_id = None if item is None else item.data(REFERRAL_ROLE)
        self.case_index = 0
        self.refresh()

    def _enable(self) -> None:
        is_open = self.detail is not None and self.detail.meeting.status in OPEN_MEETING_STATUSES
        for widget in (
            self.add_button,
            self.remove_button,
            self.fill_button,
            self.up_button,
            self.down_button,
            self.circulate_button,
            self.cancel_button,
        ):
            widget.setEnabled(is_open)
        has = self.detail is not None
        for widget in (self.export_button, self.outcomes_button, self.print_button, self.letters_button):
            widget.setEnabled(has)
        consultant = self.main.session is not None and self.main.session.actor.has(CONSULTANT)
        has_case = has and bool(self.detail.cases)
        for control in (
            self.save_outcome_button,
            *self.outcome_buttons.values(),
            *self.checklist.values(),
            self.rationale,
            self.action_table,
        ):
            control.setEnabled(consultant and has_case)
            control.setToolTip("" if consultant else NOT_CONSULTANT)

    # --- planning actions ------------------------------------------------------------------------------------

    def _mutate(self, task: Callable[[], Any], title: str) -> None:
        def done(_result: Any) -> None:
            self.refresh()
            self.changed.emit()

        self._submit(task, done, title)

    def new_meeting(self) -> None:
        """Ask for the details and create the meeting."""
        from triage_app.services import meetings

        values = NewMeetingDialog.ask(self)
        if values is None:
            return
        db, actor = self.main.session.db, self.main.session.actor

        def done(meeting_id: int) -> None:
            self.meeting_id = meeting_id
            self.refresh()
            self.changed.emit()

        self._submit(lambda: meetings.create_meeting(db, actor=actor, **values), done, "Meeting not created")

    def add_case(self, referral_id: int) -> None:
        """Put a ready referral on this meeting."""
        from triage_app.services import meetings

        if self.meeting_id is None:
            return
        db, actor, meeting_id = self.main.session.db, self.main.session.actor, self.meeting_id
        self._mutate(
            lambda: meetings.add_case(db, actor=actor, meeting_id=meeting_id, referral_id=referral_id), "Case not added"
        )

    def add_selected(self) -> None:
        """Add the referrals selected in the ready list."""
        for item in self.ready.selectedItems():
            self.add_case(item.data(REFERRAL_ROLE))

    def remove_selected(self) -> None:
        """Take the selected cases off the list."""
        from triage_app.services import meetings

        if self.meeting_id is None:
            return
        db, actor, meeting_id = self.main.session.db, self.main.session.actor, self.meeting_id
        for item in self.cases.selectedItems():
            referral_id: int = item.data(REFERRAL_ROLE)

            def task(rid: int = referral_id) -> Any:
                return meetings.remove_case(db, actor=actor, meeting_id=meeting_id, referral_id=rid)

            self._mutate(task, "Case not removed")

    def fill(self) -> None:
        """Fill to capacity with the highest-priority ready referrals."""
        from triage_app.services import meetings

        if self.meeting_id is None:
            return
        db, actor, meeting_id = self.main.session.db, self.main.session.actor, self.meeting_id
        self._mutate(lambda: meetings.fill_to_capacity(db, actor=actor, meeting_id=meeting_id), "List not filled")

    def move_selected(self, offset: int) -> None:
        """Move the selected case up or down one place."""
        row = self.cases.currentRow()
        target = row + offset
        if row < 0 or not 0 <= target < self.cases.count():
            return
        ids = self.cases.ids()
        ids.insert(target, ids.pop(row))
        self.reorder(ids)

    def reorder(self, ids: list[int]) -> None:
        """Store the order shown."""
        from triage_app.services import meetings

        if self.meeting_id is None:
            return
        db, actor, meeting_id = self.main.session.db, self.main.session.actor, self.meeting_id
        self._mutate(
            lambda: meetings.reorder(db, actor=actor, meeting_id=meeting_id, referral_ids=ids), "Order not saved"
        )

    def circulate(self) -> None:
        """Mark the agenda as circulated."""
        from triage_app.services import meetings

        if self.meeting_id is None:
            return
        db, actor, meeting_id = self.main.session.db, self.main.session.actor, self.meeting_id
        self._mutate(lambda: meetings.circulate(db, actor=actor, meeting_id=meeting_id), "Not marked circulated")

    def cancel_meeting(self) -> None:
        """Cancel this meeting; its cases move on."""
        from triage_app.services import meetings

        if self.meeting_id is None or not Messages.confirm(
            self, "Cancel meeting", "Cancel this meeting? Its cases move to the next meeting."
        ):
            return
        db, actor, meeting_id = self.main.session.db, self.main.session.actor, self.meeting_id
        self._mutate(lambda: meetings.cancel_meeting(db, actor=actor, meeting_id=meeting_id), "Meeting not cancelled")

    # --- export and print ------------------------------------------------------------------------------------

    def export(self, *, outcomes: bool) -> None:
        """Export the agenda (or the outcome summary) in the chosen format."""
        from triage_app.services.exports import export_agenda_file

        if self.detail is None:
            return
        fmt = self.format.currentData()
        kind = "outcomes" if outcomes else "agenda"
        suggested = f"mdt-{kind}-{self.detail.meeting.meeting_date.isoformat()}.{fmt}"
        target = ExportChoice.ask(self, suggested, fmt)
        if target is None:
            return
        session, meeting_id, pseudo = self.main.session, self.meeting_id or 0, self.pseudonymised.isChecked()
        self._submit(
            lambda: export_agenda_file(
                session.db,
                actor=session.actor,
                meeting_id=meeting_id,
                fmt=fmt,
                out=target,
                rules=session.rules,
                pseudonymised=pseudo,
                outcomes=outcomes,
            ),
            lambda path: self.statusBar().showMessage(f"Exported to {path}", 10_000),
            "Export failed",
        )

    def write_letters(self) -> None:
        """One outcome letter per decided case, as PDF or Word (CSV and HTML are not letter formats)."""
        from triage_app.services.app import local_today
        from triage_app.services.exports import export_letters

        if self.detail is None:
            return
        fmt = self.format.currentData() if self.format.currentData() in ("pdf", "docx") else "docx"
        folder = FolderChoice.ask(self)
        if folder is None:
            return
        session, meeting_id = self.main.session, self.meeting_id or 0
        self._submit(
            lambda: export_letters(
                session.db, actor=session.actor, meeting_id=meeting_id, fmt=fmt, out_dir=folder, today=local_today()
            ),
            lambda paths: self.statusBar().showMessage(f"{len(paths)} letters written to {folder}", 10_000),
            "Letters not written",
        )

    def agenda_document(self, done: Callable[[QTextDocument], None]) -> None:
        """The agenda as a QTextDocument (for print and preview), built off the GUI thread."""
        from triage_app.exporters.agenda import agenda_html
        from triage_app.services.exports import make_agenda

        session, meeting_id, pseudo = self.main.session, self.meeting_id, self.pseudonymised.isChecked()

        def made(html: bytes) -> None:
            document = QTextDocument(self)
            document.setHtml(html.decode("utf-8"))
            done(document)

        self._submit(
            lambda: agenda_html(
                make_agenda(session.db, meeting_id=meeting_id or 0, rules=session.rules, pseudonymised=pseudo)
            ),
            made,
            "Agenda not prepared",
        )

    def print_preview(self) -> None:
        """Preview and print the agenda (A4)."""
        from PySide6.QtPrintSupport import QPrinter, QPrintPreviewDialog

        def show(document: QTextDocument) -> None:
            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            preview = QPrintPreviewDialog(printer, self)
            preview.paintRequested.connect(document.print_)
            preview.exec()

        self.agenda_document(show)

    # --- in the meeting ----------------------------------------------------------------------------------------

    def show_case(self, index: int) -> None:
        """One case per screen, large type for a shared display."""
        if self.detail is None or not self.detail.cases:
            self.case_title.setText("No cases on this meeting")
            self.case_body.setText("")
            return
        index = max(0, min(index, len(self.detail.cases) - 1))
        self.case_index = index
        case = self.detail.cases[index]
        row = case.row
        late = "  (late addition)" if case.late_addition else ""
        self.case_title.setText(f"Case {index + 1} of {len(self.detail.cases)}: {_line(row)}{late}")
        status = MEETING_OUTCOME_LABELS.get(case.outcome or "", "not yet decided")
        flags = ", ".join(row.flags) if row is not None and row.flags else "none"
        self.case_body.setText(
            f"Triage outcome: <b>{escape(row.outcome or '?') if row else '?'}</b> · cautions: {escape(flags)}<br>"
            f"MDT outcome so far: <b>{escape(status)}</b>"
        )
        for outcome, button in self.outcome_buttons.items():
            button.setChecked(outcome == case.outcome)
        for key, check in self.checklist.items():
            check.setChecked(case.checklist.get(key, False))
        self.rationale.setPlainText(case.rationale or "")
        self.action_table.clearContents()
        for number, action in enumerate(case.actions[: self.action_table.rowCount()]):
            self.action_table.setItem(number, 0, QTableWidgetItem(action.description))
            self.action_table.setItem(number, 1, QTableWidgetItem(action.owner or ""))
            self.action_table.setItem(number, 2, QTableWidgetItem(format_date(action.due)))
        self.previous_case_button.setEnabled(index > 0)
        self.next_case_button.setEnabled(index < len(self.detail.cases) - 1)

    def _actions_entered(self) -> list[CaseAction]:
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

    def save_outcome(self) -> None:
        """Record the chosen outcome for the case on screen (consultants only)."""
        from triage_app.services import meetings

        if self.detail is None or not self.detail.cases or self.meeting_id is None:
            return
        chosen = next((o for o, b in self.outcome_buttons.items() if b.isChecked()), None)
        if chosen is None:
            Messages.error(self, "Outcome not recorded", "Choose an outcome first.")
            return
        try:
            actions = self._actions_entered()
        except ValueError as exc:
            Messages.error(self, "Outcome not recorded", str(exc))
            return
        case = self.detail.cases[self.case_index]
        session, meeting_id = self.main.session, self.meeting_id
        ticks = {key: check.isChecked() for key, check in self.checklist.items()}
        rationale = self.rationale.toPlainText()
        advance = self.case_index + 1

        def done(_result: Any) -> None:
            self.case_index = min(advance, len(self.detail.cases) - 1) if self.detail else 0
            self.refresh()
            self.changed.emit()

        self._submit(
            lambda: meetings.record_outcome(
                session.db,
                actor=session.actor,
                meeting_id=meeting_id,
                referral_id=case.referral_id,
                outcome=chosen,
                rationale=rationale,
                checklist=ticks,
                actions=actions,
            ),
            done,
            "Outcome not recorded",
        )
