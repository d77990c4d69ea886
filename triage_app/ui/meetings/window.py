"""The MDT meetings window: the list of meetings, the chosen meeting's header, and its two screens.

Wiring only: the planning screen (planning.py, with the exports of exports.py) and the in-meeting screen
(in_meeting.py) do the work. The window reads everything it shows in one query (`ops.read_meetings`) and reads
again when a broadcast `Changes` touches what it shows: its meeting, the list of meetings, or any referral
(one triaged or moved may join or leave the ready list). While the user has typed an outcome they have not
recorded on the in-meeting screen, a broadcast refresh waits until the entry is recorded or dropped, or the user
turns to the planning screen (nothing moves under their hands).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.formats import format_date
from triage_app.domain.meetings import CANCELLED, OPEN_MEETING_STATUSES
from triage_app.services.permissions import PLAN_MEETING, RECORD_OUTCOME, who_may
from triage_app.ui.dialogs import Messages, ReasonDialog
from triage_app.ui.meetings.dialogs import AttendanceDialog, Confirmation, EditMeetingDialog, NewMeetingDialog
from triage_app.ui.meetings.in_meeting import InMeetingScreen
from triage_app.ui.meetings.ops import (
    MeetingsRead,
    attendance_op,
    cancel_op,
    close_op,
    create_meeting_op,
    edit_meeting_op,
    read_meetings,
)
from triage_app.ui.meetings.planning import ID_ROLE, PlanningScreen, item_id
from triage_app.ui.meetings.screen import failure_report
from triage_app.ui.screen_fit import fit_to_screen
from triage_app.ui.theme import scheme_colour

if TYPE_CHECKING:
    from triage_app.services.changes import Changes
    from triage_app.services.meetings import CreatedMeeting, MeetingDetail
    from triage_app.ui.context import AppContext


class MeetingWindow(QMainWindow):
    """Planning and in-meeting screens for the unit's MDT meetings."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("MDT meetings")
        # Fit a 1366x768 laptop or projector: the outcome controls must never fall off screen (scrolls if need be).
        fit_to_screen(self, 1250, 820)
        self.meeting_id: int | None = None  # the meeting chosen (its detail may still be on its way)
        self.detail: MeetingDetail | None = None  # the meeting as last read
        self._reading = False  # a read is on the worker
        self._read_again = False  # something changed while it ran: read once more when it lands
        self._deferred: Changes | None = None  # a broadcast held back while an outcome is typed
        self._stale = False  # a broadcast arrived while the window was hidden

        self.meetings = QListWidget()
        self.meetings.setAccessibleName("Meetings")
        self.meetings.setWordWrap(True)  # a narrow pane: wrap the date, status and counts rather than cut them
        self.meetings.currentItemChanged.connect(self._choose)
        self.new_button = QPushButton("&New meeting…")
        self.new_button.clicked.connect(self.new_meeting)
        self.cancel_button = QPushButton("Cancel meeting")
        self.cancel_button.clicked.connect(self.cancel_meeting)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("Meetings"))
        left_layout.addWidget(self.meetings, 1)
        left_layout.addWidget(self.new_button)
        left_layout.addWidget(self.cancel_button)

        self.header = QLabel("Choose or create a meeting")
        self.header.setWordWrap(True)
        self.header.setAccessibleName("Meeting details")
        self.quorum = QLabel()
        self.quorum.setAccessibleName("Quorum")
        self.capacity = QLabel()
        self.capacity.setAccessibleName("Cases and capacity")
        # The meeting's life: its details edited until it is held, attendance on the day, closing by the chair.
        self.edit_button = QPushButton("&Edit meeting…")
        self.edit_button.setToolTip("Change the date, time, place, video link, chair or attendees (until it is held)")
        self.edit_button.clicked.connect(self.edit_meeting)
        self.attendance_button = QPushButton("A&ttendance…")
        self.attendance_button.setToolTip("On the day: who is here, in which MDT role (quorum counts those present)")
        self.attendance_button.clicked.connect(self.take_attendance)
        self.close_button = QPushButton("C&lose meeting…")
        self.close_button.setToolTip(
            "The chair (a consultant) closes the meeting once every case has an outcome or is marked not discussed"
        )
        self.close_button.clicked.connect(self.close_meeting)
        self.planning = PlanningScreen(context)
        self.exports = self.planning.exports
        self.in_meeting = InMeetingScreen(context)
        for screen in (self.planning, self.in_meeting):
            screen.message.connect(self._message)
            screen.refresh_wanted.connect(self.refresh)
        self.in_meeting.entry_cleared.connect(self._apply_deferred)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.planning, "&Planning")
        self.tabs.addTab(self.in_meeting, "&In the meeting")
        self.tabs.currentChanged.connect(self._tab_changed)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.capacity)
        top.addWidget(self.quorum)
        right_layout.addLayout(top)
        life = QHBoxLayout()
        for button in (self.edit_button, self.attendance_button, self.close_button):
            life.addWidget(button)
        life.addStretch(1)
        right_layout.addLayout(life)
        right_layout.addWidget(self.tabs, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 4)
        self.setCentralWidget(splitter)
        context.changed.connect(self.on_changed)
        self._enable()

    def _message(self, text: str, timeout: int) -> None:
        self.statusBar().showMessage(text, timeout)

    # --- reading ---------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the meetings, the chosen meeting and the ready list again (one read at a time)."""
        if self.context.session is None:
            return
        if self._reading:
            self._read_again = True  # the read on its way may predate the change: one more after it
            return
        self._reading, self._read_again = True, False

        def read_done() -> None:
            self._reading = False

        title = "Meetings could not be read"
        failed = failure_report(self, title, read_done)
        self.context.query(read_meetings(self.meeting_id), title=title, on_success=self._show, on_failure=failed)

    def on_changed(self, changes: Changes) -> None:
        """A broadcast: read again only when it touches what this window shows, and never under typed text."""
        if not self._concerns(changes):
            return
        if not self.isVisible():
            self._stale = True  # read when shown again
            return
        if self.tabs.currentWidget() is self.in_meeting and self.in_meeting.has_unrecorded(commit=False):
            self._deferred = changes if self._deferred is None else self._deferred.merge(changes)
            self._message("Changes arrived: shown once this outcome is recorded or discarded", 0)
            return
        self.refresh()

    def _concerns(self, changes: Changes) -> bool:
        # Any referral may join or leave the ready list (triaged, moved, listed elsewhere); users and rules
        # change what may be done and how cases read.
        return bool(changes.touches_meeting(self.meeting_id) or changes.all_referrals or changes.users or changes.rules)

    def _apply_deferred(self) -> None:
        """The entry was recorded or dropped: show what arrived meanwhile."""
        if self._deferred is not None:
            self._deferred = None
            self.statusBar().clearMessage()
            self.refresh()

    def _tab_changed(self, _index: int) -> None:
        # Off the in-meeting screen nothing moves under the typing: show what waited (the entry is kept).
        if self.tabs.currentWidget() is not self.in_meeting:
            self._apply_deferred()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        """Shown again after a change it missed while hidden: read again."""
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def _show(self, read: MeetingsRead) -> None:
        self._reading = False
        if self._read_again:
            self.refresh()  # what landed may predate a change: show it, and read again
        self.meetings.blockSignals(True)
        self.meetings.clear()
        for summary in read.listing:
            quorate = "quorate" if summary.quorate else "NOT quorate"
            item = QListWidgetItem(
                f"{format_date(summary.meeting_date)} {summary.meeting_time} · {summary.status} · "
                f"{summary.cases} cases · {quorate}"
            )
            item.setData(ID_ROLE, summary.meeting_id)
            self.meetings.addItem(item)
            if summary.meeting_id == self.meeting_id:
                self.meetings.setCurrentItem(item)
        self.meetings.blockSignals(False)
        detail = read.detail if read.detail is not None and read.detail.meeting.id == self.meeting_id else None
        self.detail = detail
        agenda_cases = {} if read.agenda is None or detail is None else {c.referral_id: c for c in read.agenda.cases}
        self.planning.show_lists(detail, read.ready_ids, read.ready_rows)
        if detail is None:
            self.header.setText("Choose or create a meeting")
            self.quorum.setText("")
            self.capacity.setText("")
        else:
            self.header.setText(header_text(detail))
            self.quorum.setText(("✔ " if detail.quorate else "✘ ") + detail.quorum_text)
            self.quorum.setStyleSheet("" if detail.quorate else f"color: {scheme_colour('alert')}; font-weight: bold;")
            if detail.over_capacity:
                self.capacity.setText("⚠ " + detail.over_capacity)
                self.capacity.setStyleSheet(f"color: {scheme_colour('alert')}; font-weight: bold;")
            else:
                self.capacity.setText(f"{len(detail.cases)} of {detail.capacity} cases")
                self.capacity.setStyleSheet("")
        self.in_meeting.show_meeting(detail, agenda_cases)
        self._enable()

    def _choose(self, item: QListWidgetItem | None, previous: QListWidgetItem | None = None) -> None:
        if not self.in_meeting.may_discard():
            # The user keeps their unrecorded text: put the list back on the meeting they were in.
            self.meetings.blockSignals(True)
            if previous is None:
                self.meetings.setCurrentRow(-1)
            else:
                self.meetings.setCurrentItem(previous)
            self.meetings.blockSignals(False)
            return
        self.meeting_id = None if item is None else item_id(item)
        self.in_meeting.reset()
        self.refresh()

    def _enable(self) -> None:
        """The meeting list's buttons follow the meeting shown and the role matrix; the screens their own."""
        planner = self.context.may(PLAN_MEETING)
        consultant = self.context.may(RECORD_OUTCOME)
        meeting = None if self.detail is None else self.detail.meeting
        is_open = meeting is not None and meeting.status in OPEN_MEETING_STATUSES
        not_closed = meeting is not None and meeting.closed_at is None and meeting.status != CANCELLED
        self.cancel_button.setEnabled(is_open and planner)
        self.new_button.setEnabled(planner)
        self.edit_button.setEnabled(is_open and planner and meeting is not None and meeting.closed_at is None)
        self.attendance_button.setEnabled(not_closed and (planner or consultant))
        self.close_button.setEnabled(not_closed and consultant)
        if not planner:
            for widget in (self.new_button, self.cancel_button, self.edit_button):
                widget.setToolTip(who_may(PLAN_MEETING))
        if not consultant:
            self.close_button.setToolTip(
                "Only a consultant (the chair) can close a meeting: closing fixes the MDT's decisions"
            )
        self.planning.enable()
        self.in_meeting.enable()

    # --- the list of meetings --------------------------------------------------------------------------------

    def new_meeting(self) -> None:
        """Ask for the details and create the meeting; it is shown once created."""
        if not self.in_meeting.may_discard():
            return
        values = NewMeetingDialog.ask(self)
        if values is None:
            return
        title = "Meeting not created"

        def done(created: CreatedMeeting) -> None:
            self.meeting_id = created.meeting_id  # the broadcast that follows reads and shows it
            self.in_meeting.reset()

        self.context.run(
            create_meeting_op(values), title=title, on_success=done, on_failure=failure_report(self, title)
        )

    def edit_meeting(self) -> None:
        """Edit the meeting's details (until it is held); stored only if no other desktop changed it meanwhile."""
        detail = self.detail
        if detail is None or detail.meeting.id is None:
            return
        m = detail.meeting
        values = EditMeetingDialog.ask_edit(
            self,
            {
                "meeting_date": m.meeting_date,
                "meeting_time": m.meeting_time,
                "place": m.place or "",
                "video_link": m.video_link or "",
                "chair": m.chair or "",
                "attendees": [(a.name, a.mdt_role) for a in detail.attendees if a.invited],
            },
        )
        if values is None:
            return
        title = "Meeting not changed"
        self.context.run(
            edit_meeting_op(detail.meeting.id, m.version, values),
            title=title,
            on_success=lambda _changes: self._message("Meeting details saved", 5000),
            on_failure=failure_report(self, title, self.refresh),
        )

    def take_attendance(self) -> None:
        """Tick who is here today and in which MDT role; the quorum is then that of those present."""
        detail = self.detail
        if detail is None or detail.meeting.id is None:
            return
        people = [(a.name, a.mdt_role, bool(a.attended)) for a in detail.attendees]
        present = AttendanceDialog.ask(self, people)
        if present is None:
            return
        title = "Attendance not recorded"
        self.context.run(
            attendance_op(detail.meeting.id, detail.meeting.version, present),
            title=title,
            on_success=lambda _changes: self._message("Attendance recorded", 5000),
            on_failure=failure_report(self, title, self.refresh),
        )

    def close_meeting(self) -> None:
        """The chair closes the meeting: asked first, with the quorum it will store and what closing means."""
        detail = self.detail
        if detail is None or detail.meeting.id is None or not self.in_meeting.may_discard():
            return
        undecided = sum(1 for c in detail.cases if c.outcome is None)
        text = (
            f"Close the meeting of {format_date(detail.meeting.meeting_date)} {detail.meeting.meeting_time}?\n\n"
            f"{detail.quorum_text}. {len(detail.cases)} cases"
            + (f", {undecided} still without an outcome (closing will be refused)" if undecided else ", all decided")
            + ".\n\nOnce closed, the meeting cannot be edited and its attendance is final; an outcome is then "
            "changed only by a consultant's amendment with a reason."
        )
        if not Confirmation.ask(self, "Close meeting", text, "&Close meeting"):
            return
        reason = None
        if detail.attendance_taken and not detail.quorate:
            # The quorate MDT decides: an inquorate meeting's outcomes stand only with a reason, kept with them.
            reason = ReasonDialog.ask(
                "Close a meeting that was not quorate",
                f"{detail.quorum_text}. The quorate MDT decides: write why this meeting's outcomes stand (for "
                "example, the missing member's view was taken before the meeting). The reason is stored with the "
                "meeting's quorum and audited.",
                self,
            )
            if not reason:
                return
        title = "Meeting not closed"
        self.context.run(
            close_op(detail.meeting.id, detail.meeting.version, reason),
            title=title,
            on_success=lambda _changes: self._message("Meeting closed", 5000),
            on_failure=failure_report(self, title, self.refresh),
        )

    def cancel_meeting(self) -> None:
        """Cancel this meeting; its cases move on."""
        meeting_id = None if self.detail is None else self.detail.meeting.id
        if meeting_id is None or not Messages.confirm(
            self, "Cancel meeting", "Cancel this meeting? Its cases move to the next meeting."
        ):
            return
        title = "Meeting not cancelled"
        self.context.run(cancel_op(meeting_id), title=title, on_failure=failure_report(self, title, self.refresh))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Closing asks before unrecorded text is dropped."""
        if not self.in_meeting.may_discard():
            event.ignore()
            return
        self.in_meeting.clear_entry()
        super().closeEvent(event)


def header_text(detail: MeetingDetail) -> str:
    """The meeting's header line (rich text): when, where, chair, status in words, and what changed or closed it."""
    m = detail.meeting
    where = " · ".join(p for p in (m.place, m.video_link) if p) or "place not set"
    status = _STATUS_WORDS.get(m.status, m.status)
    text = (
        f"<b>{format_date(m.meeting_date)} {m.meeting_time}</b> · {escape(where)} · chair "
        f"{escape(m.chair or 'not set')} · {status}"
    )
    if m.changed_since_circulated_at is not None and m.closed_at is None:
        text += f" · <b style='color:{scheme_colour('alert')}'>changed since circulated: send the agenda again</b>"
    if m.closed_at is not None:
        closed = m.closed_at.astimezone()
        text += f" · closed by {escape(detail.closed_by_name or 'the chair')} on {format_date(closed.date())} {closed:%H:%M}"
    return text


#: A meeting's status in words, as its header says it.
_STATUS_WORDS = {
    "planned": "planned",
    "circulated": "agenda circulated",
    "held": "held",
    "cancelled": "cancelled",
}
