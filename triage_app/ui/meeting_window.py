"""The MDT meeting window: plan the list (drag ready referrals across, reorder, fill to capacity), export and
print the agenda, and, in the meeting, record each case's outcome on one large screen.

All database work goes through the main window's worker; this window only lays out and asks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QModelIndex, Qt, QTime, Signal
from PySide6.QtGui import QCloseEvent, QDropEvent, QFont, QKeySequence, QShortcut, QTextDocument
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
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
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
    TRIAGE_CHANGED,
    AgendaCase,
    CaseAction,
    build_agenda,
)
from triage_app.domain.referral import format_nhs_number, limit_of
from triage_app.services.permissions import (
    AMEND_OUTCOME,
    EXPORT_AGENDA,
    EXPORT_LETTERS,
    EXPORT_OUTCOMES,
    PLAN_MEETING,
    RECORD_OUTCOME,
    who_may,
)
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
        f"{format_name(row.family_name, row.given_name)} · born {format_date(row.date_of_birth) or '?'}"
    )  # three identifiers on every line a coordinator acts on


def _scaled(font: QFont, factor: float, *, bold: bool = False) -> QFont:
    """`font` enlarged for the shared display (point or pixel sized)."""
    larger = QFont(font)
    if larger.pointSizeF() > 0:
        larger.setPointSizeF(larger.pointSizeF() * factor)
    elif larger.pixelSize() > 0:
        larger.setPixelSize(round(larger.pixelSize() * factor))
    larger.setBold(bold)
    return larger


def patient_label(case: Any) -> str:
    """The three identifiers of a listed case, for messages and questions: `FAMILY, Given (NHS …, born …)`."""
    row = case.row
    if row is None:
        return f"referral {case.referral_id}"
    name = format_name(row.family_name, row.given_name) or "name not recorded"
    nhs = format_nhs_number(row.nhs_number) or "not recorded"
    born = format_date(row.date_of_birth) or "not recorded"
    return f"{name} (NHS {nhs}, born {born})"


def _when(value: datetime | None) -> str:
    if value is None:
        return "time not recorded"
    local = value.astimezone()
    return f"{format_date(local.date())} {local:%H:%M}"


def case_html(case: Any, agenda: AgendaCase | None) -> str:
    """The case body of the in-meeting screen, every field in words and escaped (rich text)."""
    parts: list[str] = []
    if case.outcome is not None:
        label = MEETING_OUTCOME_LABELS.get(case.outcome, case.outcome)
        who = case.decided_by_name or "another user"
        actions = "; ".join(agenda.actions) if agenda is not None and agenda.actions else "none"
        parts.append(
            '<table width="100%" cellpadding="6" style="background:#e8f5e9; color:#1b5e20;"><tr><td>'
            f"<b>✔ Recorded: {escape(label)}</b> by {escape(who)}, {_when(case.decided_at)} — rationale: "
            f"{escape(case.rationale or 'not given')}<br>Actions: {escape(actions)}<br>"
            "<i>Recording again amends it: choose the outcome, write its rationale and the reason for amending."
            "</i></td></tr></table>"
        )
    else:
        parts.append("<p><b>MDT outcome: not yet recorded.</b></p>")
    if agenda is None:  # the agenda text was not read (the case was added meanwhile): the next refresh has it
        parts.append("<p>Reading the case…</p>")
        return "".join(parts)
    triage = agenda.triage
    prefix = TRIAGE_CHANGED.upper()
    if triage.startswith(prefix):
        rest = triage[len(prefix) :].lstrip(": ")
        triage_cell = (
            '<span style="background:#fff3cd; color:#5c3c00;"><b>⚠ TRIAGE CHANGED: RECONFIRM</b></span> — '
            f"{escape(rest)}. The consultant decision lapsed; accepting for SPD is refused until a consultant "
            "reconfirms the triage."
        )
    else:
        triage_cell = escape(triage)
    rows: list[tuple[str, str]] = [
        ("Referrer", escape(agenda.referrer)),
        ("Received", escape(agenda.received)),
    ]
    if agenda.hospital_number:
        rows.append(("Hospital number", escape(agenda.hospital_number)))
    rows += [
        ("Clinical question", escape(agenda.clinical_question)),
        ("Triage", triage_cell),
        # Cautions before the detail: short, and what the MDT must not miss.
        ("Cautions", "<br>".join(escape(f) for f in agenda.flags) or "none found"),
    ]
    rows += [(label, escape(text)) for label, text in agenda.lines]  # the domain words them already
    criteria = []
    for line in agenda.criteria:
        head, _, reason = line.partition(". ")  # "R1 …: not met" then its reason
        criteria.append(f"<b>{escape(head)}.</b> {escape(reason)}" if reason else f"<b>{escape(head)}</b>")
    rows.append(("Criteria", "<br>".join(criteria) or "not assessed"))
    parts.append('<table cellspacing="0" cellpadding="4">')
    for label, cell in rows:
        parts.append(
            f'<tr><td valign="top" style="padding-right:12px;"><b>{escape(label)}</b></td><td>{cell}</td></tr>'
        )
    parts.append("</table>")
    return "".join(parts)


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
        self.place.setMaxLength(limit_of("meeting.place"))
        self.video = QLineEdit()
        self.video.setMaxLength(limit_of("meeting.video_link"))
        self.chair = QLineEdit()
        self.chair.setMaxLength(limit_of("meeting.chair"))
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
        available = self.screen().availableGeometry()
        # Fit a 1366x768 laptop or projector: the outcome controls must never fall off screen.
        self.resize(min(1250, available.width()), min(820, available.height() - 40))
        self.detail: Any = None
        self.agenda_cases: dict[int, AgendaCase] = {}
        self.meeting_id: int | None = None
        self.case_index = 0
        self.shown: tuple[int, int] | None = None  # (meeting id, referral id) of the case on screen
        self._goto: int | None = None  # the referral to show, blank, after a successful record
        self._recording = False

        self.meetings = QListWidget()
        self.meetings.setAccessibleName("Meetings")
        self.meetings.setWordWrap(True)  # a narrow pane: wrap the date, status and counts rather than cut them
        self.meetings.currentItemChanged.connect(self._choose)
        self.new_button = new_button = QPushButton("&New meeting…")
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
        base = page.font()
        control_font = _scaled(base, 1.15)
        self.case_title = QLabel()
        self.case_title.setWordWrap(True)
        self.case_title.setTextFormat(Qt.TextFormat.RichText)
        self.case_title.setFont(_scaled(base, 1.5))
        self.case_title.setAccessibleName("Case number and patient: name, NHS number, date of birth")
        self.case_body = QLabel()
        self.case_body.setWordWrap(True)
        self.case_body.setTextFormat(Qt.TextFormat.RichText)
        self.case_body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.case_body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.case_body.setFont(_scaled(base, 1.3))
        self.case_body.setAccessibleName("The case in full")
        # A long case scrolls; the outcome controls below stay on screen.
        self.case_scroll = QScrollArea()
        self.case_scroll.setWidgetResizable(True)
        self.case_scroll.setWidget(self.case_body)
        self.case_scroll.setMinimumHeight(120)

        self.outcome_group = QButtonGroup(self)
        outcome_grid = QGridLayout()
        outcome_label = QLabel("Outcome:")
        outcome_label.setFont(_scaled(base, 1.15, bold=True))
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
        entry = QGridLayout()
        entry.addWidget(rationale_label, 0, 0)
        entry.addWidget(actions_label, 0, 1)
        entry.addWidget(self.rationale, 1, 0)
        entry.addWidget(self.action_table, 1, 1)
        entry.setColumnStretch(0, 1)
        entry.setColumnStretch(1, 1)
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
        self.save_outcome_button = QPushButton("Record outcome (Ctrl+Enter)")
        self.save_outcome_button.setFont(_scaled(base, 1.15, bold=True))
        self.save_outcome_button.clicked.connect(self.save_outcome)
        self.previous_case_button = QPushButton("← Previous case (PgUp)")
        self.previous_case_button.clicked.connect(lambda: self.move_case(-1))
        self.next_case_button = QPushButton("Next case (PgDn) →")
        self.next_case_button.clicked.connect(lambda: self.move_case(1))
        nav = QHBoxLayout()
        nav.addWidget(self.previous_case_button)
        nav.addStretch(1)
        nav.addWidget(self.save_outcome_button)
        nav.addStretch(1)
        nav.addWidget(self.next_case_button)
        layout.addWidget(self.case_title)
        layout.addWidget(self.case_scroll, 1)
        layout.addLayout(outcome_grid)
        layout.addLayout(checks)
        layout.addLayout(entry)
        layout.addLayout(amend)
        layout.addLayout(nav)
        # Parented to the page: these keys act only while the in-meeting tab is showing.
        for key in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(key), page, self.save_outcome)
        QShortcut(QKeySequence(Qt.Key.Key_PageDown), page, lambda: self.move_case(1))
        QShortcut(QKeySequence(Qt.Key.Key_PageUp), page, lambda: self.move_case(-1))
        for number, outcome in enumerate(MEETING_OUTCOMES, start=1):
            QShortcut(QKeySequence(f"Alt+{number}"), page, lambda o=outcome: self.choose_outcome(o))
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
        db, rules, chosen, actor = session.db, session.rules, self.meeting_id, session.actor

        def task() -> Any:
            listing = meetings.list_meetings(db, rules=rules, actor=actor)
            detail = meetings.get_meeting(db, meeting_id=chosen, rules=rules, actor=actor) if chosen else None
            agenda = None
            if chosen:
                # Every field of every case already in words, as the agenda prints it.
                info, inputs = meetings.agenda_inputs(db, meeting_id=chosen, actor=actor)
                agenda = build_agenda(
                    info,
                    inputs,
                    quorum_roles=rules.quorum_roles,
                    generated_at=datetime.now(UTC),
                    rtt_warning_weeks=rules.rtt_warning_weeks,  # today's 18-week caution, as the agenda prints it
                )
            ready_ids = meetings.ready_referral_ids(db, actor=actor)
            return listing, detail, agenda, ready_ids, page(db, ids=ready_ids, actor=actor)

        self._submit(task, self._show, "Meetings could not be read")

    def _show(self, result: Any) -> None:
        listing, detail, agenda, ready_ids, rows = result
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
        self.agenda_cases = {} if agenda is None else {c.referral_id: c for c in agenda.cases}
        self.cases.clear()
        if detail is None:
            self.header.setText("Choose or create a meeting")
            self.quorum.setText("")
            self.capacity.setText("")
            self._show_meeting_case()
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
                if case.row is not None and case.row.decided_outcome is None:
                    late += "  [TRIAGE CHANGED: RECONFIRM]"
                outcome = f"  → {MEETING_OUTCOME_LABELS[case.outcome]}" if case.outcome else ""
                item = QListWidgetItem(f"{case.position}. {_line(case.row)}{late}{outcome}")
                item.setData(REFERRAL_ROLE, case.referral_id)
                self.cases.addItem(item)
            self._show_meeting_case()
        self._enable()

    def _choose(self, item: QListWidgetItem | None, previous: QListWidgetItem | None = None) -> None:
        if not self.may_discard():
            # The user keeps their unrecorded text: put the list back on the meeting they were in.
            self.meetings.blockSignals(True)
            if previous is None:
                self.meetings.setCurrentRow(-1)
            else:
                self.meetings.setCurrentItem(previous)
            self.meetings.blockSignals(False)
            return
        self._clear_entry()
        self.meeting_id = None if item is None else item.data(REFERRAL_ROLE)
        self.case_index = 0
        self.shown = None
        self.refresh()

    def may(self, action: str) -> bool:
        """Whether the signed-in user's roles allow the action (services.permissions); the service decides.

        Asked of the main window, which also refuses every writing action while the database is read-only.
        """
        return bool(self.main.may(action))

    def _enable(self) -> None:
        """Controls follow the meeting shown and the role matrix; one disabled by role says who may use it."""
        planner = self.may(PLAN_MEETING)
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
            widget.setEnabled(is_open and planner)
        self.new_button.setEnabled(planner)
        # Dragging plans the list too: only a planner can drag referrals across or reorder them.
        self.ready.setDragEnabled(planner)
        self.cases.setDragDropMode(
            QAbstractItemView.DragDropMode.DragDrop if planner else QAbstractItemView.DragDropMode.NoDragDrop
        )
        for widget in (self.new_button, self.add_button, self.fill_button, self.circulate_button, self.cancel_button):
            if not planner:
                widget.setToolTip(who_may(PLAN_MEETING))
        has = self.detail is not None
        for widget, action in (
            (self.export_button, EXPORT_AGENDA),
            (self.print_button, EXPORT_AGENDA),
            (self.outcomes_button, EXPORT_OUTCOMES),
            (self.letters_button, EXPORT_LETTERS),
        ):
            allowed = self.may(action)
            widget.setEnabled(has and allowed)
            if not allowed:
                widget.setToolTip(who_may(action))
        self._enable_entry()

    def _consultant(self) -> bool:
        return self.may(RECORD_OUTCOME)

    def _enable_entry(self) -> None:
        consultant = self._consultant()
        has_case = self.detail is not None and bool(self.detail.cases)
        for control in (
            self.save_outcome_button,
            *self.outcome_buttons.values(),
            *self.checklist.values(),
            self.rationale,
            self.action_table,
        ):
            control.setEnabled(consultant and has_case)
            control.setToolTip("" if consultant else NOT_CONSULTANT)
        recorded = (
            has_case
            and 0 <= self.case_index < len(self.detail.cases)
            and self.detail.cases[self.case_index].outcome is not None
        )
        # Only an amendment takes a reason; an empty, disabled field says so for a first record.
        amender = self.may(AMEND_OUTCOME)
        self.amend_reason.setEnabled(amender and recorded)
        self.amend_reason.setToolTip(
            who_may(AMEND_OUTCOME) if not amender else "" if recorded else "Only when amending a recorded outcome"
        )

    # --- planning actions ------------------------------------------------------------------------------------

    def _mutate(self, task: Callable[[], Any], title: str) -> None:
        def done(_result: Any) -> None:
            self.refresh()
            self.changed.emit()

        self._submit(task, done, title)

    def new_meeting(self) -> None:
        """Ask for the details and create the meeting."""
        from triage_app.services import meetings

        if not self.may_discard():
            return
        values = NewMeetingDialog.ask(self)
        if values is None:
            return
        db, actor = self.main.session.db, self.main.session.actor

        def done(meeting_id: int) -> None:
            self._clear_entry()
            self.meeting_id = meeting_id
            self.case_index = 0
            self.shown = None
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
        """Export the agenda (or the outcome summary) in the chosen format.

        The save dialog asks before replacing a file (Qt's own question), so its answer is passed on as
        `overwrite`; a file in the data folder (or the database itself) is still refused, in the error dialog,
        and nothing is written.
        """
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
        data_dir = self.main.paths.data_dir

        def task() -> tuple[Path, list[str]]:
            notes: list[str] = []  # where the export was recorded, on a read-only database
            path = export_agenda_file(
                session.db,
                actor=session.actor,
                meeting_id=meeting_id,
                fmt=fmt,
                out=target,
                pseudonymised=pseudo,
                outcomes=outcomes,
                data_dir=data_dir,
                overwrite=True,  # the save dialog has asked before replacing an existing file
                notes=notes,
            )
            return path, notes

        def done(result: tuple[Path, list[str]]) -> None:
            path, notes = result
            self.statusBar().showMessage(f"Exported to {path}" + "".join(f"; {note}" for note in notes), 10_000)

        self._submit(task, done, "Export failed")

    def write_letters(self) -> None:
        """One outcome letter per decided case, as PDF or Word (CSV and HTML are not letter formats).

        If letters of this meeting are already in the chosen folder, none is written until the user agrees to
        replace them (a folder dialog cannot ask); a folder in the data folder is refused in the error dialog.
        """
        if self.detail is None:
            return
        fmt = self.format.currentData() if self.format.currentData() in ("pdf", "docx") else "docx"
        folder = FolderChoice.ask(self)
        if folder is None:
            return
        self._write_letters_to(folder, fmt, overwrite=False)

    def _write_letters_to(self, folder: Path, fmt: str, *, overwrite: bool) -> None:
        """Write the letters on the database worker; offer to replace letters already in `folder`."""
        from triage_app.services.app import local_today
        from triage_app.services.exports import ExportWouldOverwrite, export_letters

        session, meeting_id, data_dir = self.main.session, self.meeting_id or 0, self.main.paths.data_dir

        def task() -> tuple[list[Path], list[str]]:
            notes: list[str] = []  # where the letters were recorded, on a read-only database
            paths = export_letters(
                session.db,
                actor=session.actor,
                meeting_id=meeting_id,
                fmt=fmt,
                out_dir=folder,
                today=local_today(),
                data_dir=data_dir,
                overwrite=overwrite,
                notes=notes,
            )
            return paths, notes

        def done(result: tuple[list[Path], list[str]]) -> None:
            paths, notes = result
            self.statusBar().showMessage(
                f"{len(paths)} letters written to {folder}" + "".join(f"; {note}" for note in notes), 10_000
            )

        def failed(error: BaseException) -> None:
            if isinstance(error, ExportWouldOverwrite) and not overwrite:
                names = "\n".join(path.name for path in error.existing)
                if Messages.confirm(
                    self,
                    "Replace letters",
                    f"These letters are already in {folder}:\n{names}\n\nReplace them? No letter has been written yet.",
                ):
                    self._write_letters_to(folder, fmt, overwrite=True)
                    return
                self.statusBar().showMessage("No letters written: the letters already there were left as they are")
                return
            log.error("Letters not written: %s", type(error).__name__)
            Messages.error(self, "Letters not written", str(error))
            self.refresh()

        self.main.worker.submit(task, done, failed)

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
                make_agenda(
                    session.db,
                    meeting_id=meeting_id or 0,
                    pseudonymised=pseudo,
                    actor=session.actor,  # printing takes the agenda out of the app: an export
                )
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

    @classmethod
    def ask_discard(cls, parent: QWidget | None, text: str) -> bool:
        """Whether to drop what the user typed and did not record. (Tests replace this class method.)"""
        box = QMessageBox(QMessageBox.Icon.Question, "Outcome not recorded", text, parent=parent)
        discard = box.addButton("&Discard", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("&Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.exec()
        return box.clickedButton() is discard

    def chosen_outcome(self) -> str | None:
        """The outcome ticked on screen, if any."""
        return next((o for o, b in self.outcome_buttons.items() if b.isChecked()), None)

    def choose_outcome(self, outcome: str) -> None:
        """Alt+1..Alt+6: tick an outcome (consultants only; the buttons are disabled otherwise)."""
        button = self.outcome_buttons[outcome]
        if button.isEnabled():
            button.setChecked(True)

    def _commit_action_edit(self) -> None:
        # A cell still being typed in holds its text in the editor: moving the current cell commits it.
        current = self.action_table.currentIndex()
        self.action_table.setCurrentIndex(QModelIndex())
        self.action_table.setCurrentIndex(current if current.isValid() else self.action_table.model().index(0, 0))

    def has_unrecorded(self) -> bool:
        """Whether the user chose, ticked or typed anything on this case that is not recorded."""
        self._commit_action_edit()
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

    def may_discard(self) -> bool:
        """True when nothing unrecorded is on screen, or the user agrees to drop it."""
        if self.detail is None or not self.detail.cases or self.shown is None or not self.has_unrecorded():
            return True
        case = self.detail.cases[self.case_index]
        return self.ask_discard(self, f"Discard the outcome you have not recorded for {patient_label(case)}?")

    def _clear_entry(self) -> None:
        """A blank outcome entry: nothing chosen, ticked or typed."""
        # An exclusive group always keeps one button checked; lift it to untick them all.
        self.outcome_group.setExclusive(False)
        for button in self.outcome_buttons.values():
            button.setChecked(False)
        self.outcome_group.setExclusive(True)
        for check in self.checklist.values():
            check.setChecked(False)
        self.rationale.clear()
        self._commit_action_edit()
        self.action_table.clearContents()
        self.amend_reason.clear()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Closing asks before unrecorded text is dropped."""
        if not self.may_discard():
            event.ignore()
            return
        self._clear_entry()
        super().closeEvent(event)

    def move_case(self, offset: int) -> None:
        """PgDn/PgUp and the Next/Previous buttons: another case, asking before unrecorded text is dropped."""
        if self.detail is None or not self.detail.cases:
            return
        target = self.case_index + offset
        if not 0 <= target < len(self.detail.cases) or not self.may_discard():
            return
        self.show_case(target)

    def _show_meeting_case(self) -> None:
        """After a refresh: the case the user was on (their text kept), or the next one after a record."""
        detail = self.detail
        if detail is None or not detail.cases:
            self.show_case(0)
            return
        ids = [c.referral_id for c in detail.cases]
        goto, self._goto = self._goto, None
        if goto is not None and goto in ids:
            self.show_case(ids.index(goto))
        elif self.shown is not None and self.shown[0] == detail.meeting.id and self.shown[1] in ids:
            self.show_case(ids.index(self.shown[1]), keep_entry=True)
        else:
            if self.shown is not None and self.shown[0] == detail.meeting.id and self.has_unrecorded():
                self.statusBar().showMessage("The case on screen left this meeting; its unrecorded entry was cleared")
            self.show_case(min(self.case_index, len(ids) - 1))

    def show_case(self, index: int, *, keep_entry: bool = False) -> None:
        """Show case `index` in full, in large type for a shared display. A case starts blank; `keep_entry`
        keeps what the user typed when the same case is read again (a refresh)."""
        if not keep_entry:
            self._clear_entry()
        if self.detail is None or not self.detail.cases:
            self.shown = None
            self.case_index = 0
            self.case_title.setText("No cases on this meeting" if self.detail is not None else "No meeting chosen")
            self.case_body.setText("")
            self.previous_case_button.setEnabled(False)
            self.next_case_button.setEnabled(False)
            self._enable_entry()
            return
        index = max(0, min(index, len(self.detail.cases) - 1))
        self.case_index = index
        case = self.detail.cases[index]
        self.shown = (self.detail.meeting.id or 0, case.referral_id)
        agenda = self.agenda_cases.get(case.referral_id)
        late = " <i>(late addition)</i>" if case.late_addition else ""
        if agenda is not None:
            name, nhs, born = agenda.name, agenda.nhs_number, agenda.date_of_birth or "not recorded"
        else:
            row = case.row
            name = format_name(row.family_name, row.given_name) if row else f"referral {case.referral_id}"
            nhs = format_nhs_number(row.nhs_number) if row else "not recorded"
            born = format_date(row.date_of_birth) if row else "not recorded"
        self.case_title.setText(
            f"Case {index + 1} of {len(self.detail.cases)}: <b>{escape(name)}</b>{late}<br>"
            f"NHS {escape(nhs)} · born {escape(born)}"
        )
        self.case_body.setText(case_html(case, agenda))
        if not keep_entry:
            self.case_scroll.verticalScrollBar().setValue(0)
        self.previous_case_button.setEnabled(index > 0)
        self.next_case_button.setEnabled(index < len(self.detail.cases) - 1)
        self._enable_entry()

    def _actions_entered(self) -> list[CaseAction]:
        self._commit_action_edit()
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
        """Ctrl+Enter or Record: record the chosen outcome for the case on screen (consultants only).

        The case (meeting, referral and the version shown) is captured at the key press, so a refresh or a
        move while the call runs cannot redirect the outcome to another patient.
        """
        from triage_app.services import meetings
        from triage_app.services.app import local_today

        if self.detail is None or not self.detail.cases or self.shown is None or self._recording:
            return
        case = self.detail.cases[self.case_index]
        meeting_id, referral_id, version = self.detail.meeting.id or 0, case.referral_id, case.version
        referral_version = case.row.version if case.row is not None else None  # what the screen showed
        patient = patient_label(case)
        title = "Outcome not recorded"
        if not self._consultant():
            Messages.error(self, title, f"{NOT_CONSULTANT}: nothing was recorded for {patient}.")
            return
        chosen = self.chosen_outcome()
        rationale = self.rationale.toPlainText().strip()
        amending = case.outcome is not None
        amend_reason = self.amend_reason.text().strip() if amending else ""
        missing = []
        if chosen is None:
            missing.append("choose an outcome (Alt+1 to Alt+6)")
        if not rationale:
            missing.append("write the rationale")
        if amending and not amend_reason:
            missing.append("write the reason for amending the recorded outcome")
        if missing:
            Messages.error(self, title, f"Nothing was recorded for {patient}: {'; '.join(missing)}.")
            return
        assert chosen is not None
        try:
            actions = self._actions_entered()
        except ValueError as exc:
            Messages.error(self, title, f"Nothing was recorded for {patient}: {exc}.")
            return
        ids = [c.referral_id for c in self.detail.cases]
        following = ids[self.case_index + 1] if self.case_index + 1 < len(ids) else referral_id
        session = self.main.session
        ticks = {key: check.isChecked() for key, check in self.checklist.items()}
        today = local_today()
        label = MEETING_OUTCOME_LABELS[chosen]

        def task() -> Any:
            return meetings.record_outcome(
                session.db,
                actor=session.actor,
                meeting_id=meeting_id,
                referral_id=referral_id,
                outcome=chosen,
                rationale=rationale,
                today=today,
                checklist=ticks,
                actions=actions or (None if amending else ()),  # an amendment with no new actions keeps them
                expected_version=version,
                expected_referral_version=referral_version,
                amend_reason=amend_reason or None,
            )

        def done(_result: Any) -> None:
            self._recording = False
            if self.shown == (meeting_id, referral_id):  # still on it: its entry is now stored
                self._clear_entry()
                self._goto = following
            self.statusBar().showMessage(f"{'Amended' if amending else 'Recorded'}: {label} for {patient}", 15_000)
            self.refresh()
            self.changed.emit()

        def failed(error: BaseException) -> None:
            self._recording = False
            log.error("%s: %s", title, type(error).__name__)
            text = f"Nothing was recorded for {patient}: {error}"
            if isinstance(error, meetings.OutcomeConflict):
                text += (
                    "\n\nThe case now shows the outcome recorded meanwhile; your entry is kept. To change that "
                    "outcome, write the reason for amending and record again."
                )
            Messages.error(self, title, text)
            self.refresh()  # the same case is read again with the entry kept, showing what is stored now

        self._recording = True
        self.main.worker.submit(task, done, failed)
