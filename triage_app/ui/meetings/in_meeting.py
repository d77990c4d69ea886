"""The in-meeting screen: one case in full, in large type for a shared display, and its outcome recorded.

The case on screen is held by (meeting id, referral id), never by its row: a refresh that reorders the list
keeps the same patient (and what was typed for them), and a record captures the case at the key press.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget

from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, MEETING_OUTCOMES, AgendaCase
from triage_app.services.permissions import AMEND_OUTCOME, RECORD_OUTCOME
from triage_app.ui.dialogs import Messages
from triage_app.ui.meetings.dialogs import DiscardQuestion
from triage_app.ui.meetings.entry import NOT_CONSULTANT, OutcomeEntry
from triage_app.ui.meetings.progress import CaseStrip
from triage_app.ui.meetings.screen import MeetingScreen, failure_report
from triage_app.ui.meetings.text import case_html, case_title, patient_label, scaled

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes
    from triage_app.services.meeting_display import CaseDisplay
    from triage_app.services.meetings import ListedCase, MeetingDetail
    from triage_app.ui.context import AppContext

log = logging.getLogger(__name__)


class InMeetingScreen(MeetingScreen):
    """The case on screen, Previous/Next, and the outcome entry with Record (Ctrl+Enter)."""

    #: The entry was recorded or dropped: a refresh held back while it was typed may now be shown.
    entry_cleared = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.agenda_cases: dict[int, AgendaCase] = {}
        self.case_index = 0
        self.shown: tuple[int, int] | None = None  # (meeting id, referral id) of the case on screen
        self._goto: int | None = None  # the referral to show, blank, after a successful record
        self._recording = False

        self.displays: dict[int, CaseDisplay] = {}  # who decided each case's triage, and when (by referral id)
        self.zoom = 1.0  # Ctrl+= / Ctrl+-: the case's type for the room, on top of the desktop's scale
        self.case_title = QLabel()
        self.case_title.setWordWrap(True)
        self.case_title.setTextFormat(Qt.TextFormat.RichText)
        self.case_title.setAccessibleName("Case number and patient: name, NHS number, hospital number, date of birth")
        self.case_body = QLabel()
        self.case_body.setWordWrap(True)
        self.case_body.setTextFormat(Qt.TextFormat.RichText)
        self.case_body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.case_body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.case_body.setAccessibleName("The case in full")
        self.case_body.setContentsMargins(4, 4, 12, 4)
        # A long case scrolls; the outcome controls beside it stay on screen.
        self.case_scroll = QScrollArea()
        self.case_scroll.setWidgetResizable(True)
        self.case_scroll.setWidget(self.case_body)
        self.case_scroll.setMinimumSize(320, 120)
        self.strip = CaseStrip()
        self.strip.chosen.connect(self.jump_to)
        self.entry = OutcomeEntry()
        self.entry.problem.connect(lambda text: self.message.emit(text, 15_000))
        # The entry scrolls on its own on a small screen: the case and Record stay where they are.
        self.entry_scroll = QScrollArea()
        self.entry_scroll.setWidgetResizable(True)
        self.entry_scroll.setWidget(self.entry)
        self.entry_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.entry_scroll.setMinimumWidth(300)
        self.save_outcome_button = QPushButton("Record outcome (Ctrl+Enter)")
        self.save_outcome_button.clicked.connect(self.save_outcome)
        self.previous_case_button = QPushButton("← Previous case (PgUp)")
        self.previous_case_button.clicked.connect(lambda: self.move_case(-1))
        self.next_case_button = QPushButton("Next case (PgDn) →")
        self.next_case_button.clicked.connect(lambda: self.move_case(1))
        self.full_screen_button = QPushButton("Full screen (F11)")
        self.full_screen_button.setToolTip("The meeting window on the whole display; F11 again or Esc to return")
        self.full_screen_button.clicked.connect(self.toggle_full_screen)
        nav = QHBoxLayout()
        nav.addWidget(self.previous_case_button)
        nav.addWidget(self.next_case_button)
        nav.addStretch(1)
        nav.addWidget(self.full_screen_button)
        nav.addStretch(1)
        nav.addWidget(self.save_outcome_button)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(self.case_scroll)
        self.split.addWidget(self.entry_scroll)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self._split_moved = False  # the user dragged the divider: keep their widths
        self.split.splitterMoved.connect(lambda *_: setattr(self, "_split_moved", True))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.case_title)
        layout.addWidget(self.strip)
        layout.addWidget(self.split, 1)
        layout.addWidget(self.entry.outcome_panel)
        layout.addLayout(nav)
        self.apply_zoom()
        # Parented to this screen: these keys act only while the in-meeting tab is showing.
        for key in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(key), self, self.save_outcome)
        QShortcut(QKeySequence(Qt.Key.Key_PageDown), self, lambda: self.move_case(1))
        QShortcut(QKeySequence(Qt.Key.Key_PageUp), self, lambda: self.move_case(-1))
        QShortcut(QKeySequence(Qt.Key.Key_F11), self, self.toggle_full_screen)
        for key in ("Ctrl+=", "Ctrl++"):
            QShortcut(QKeySequence(key), self, lambda: self.apply_zoom(self.zoom + 0.15))
        QShortcut(QKeySequence("Ctrl+-"), self, lambda: self.apply_zoom(self.zoom - 0.15))
        QShortcut(QKeySequence("Ctrl+0"), self, lambda: self.apply_zoom(1.0))
        for number, outcome in enumerate(MEETING_OUTCOMES, start=1):
            QShortcut(QKeySequence(f"Alt+{number}"), self, lambda o=outcome: self.entry.choose_outcome(o))

    def apply_zoom(self, zoom: float | None = None) -> None:
        """The case's type: large for a shared display (from the desktop's own scale), Ctrl+= / Ctrl+- for the room."""
        if zoom is not None:
            self.zoom = max(0.7, min(zoom, 2.5))
        base = self.font()
        # Larger again on a wide display (a projector at 1920): the desktop's scale, times the room's.
        room = 1.25 if self.width() < 1500 else 1.5
        self.case_title.setFont(scaled(base, (room + 0.2) * self.zoom))
        self.case_body.setFont(scaled(base, room * self.zoom))
        self.save_outcome_button.setFont(scaled(base, 1.15, bold=True))
        for button in (self.previous_case_button, self.next_case_button):
            button.setFont(scaled(base, 1.1))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        """The case takes three fifths of the width and the entry two, until the user drags the divider."""
        super().resizeEvent(event)
        if (event.oldSize().width() < 1500) != (event.size().width() < 1500):
            self.apply_zoom()
        if not self._split_moved:
            width = self.split.width()
            self.split.setSizes([width * 3 // 5, width - width * 3 // 5])

    def toggle_full_screen(self) -> None:
        """F11: the meeting window fills the display (a projector), and back."""
        window = self.window()
        if window.isFullScreen():
            window.showNormal()
        else:
            window.showFullScreen()

    # --- what is typed ---------------------------------------------------------------------------------------

    def has_unrecorded(self, *, commit: bool = True) -> bool:
        """Whether the user chose, ticked or typed anything on this case that is not recorded."""
        return self.entry.has_unrecorded(commit=commit)

    def may_discard(self) -> bool:
        """True when nothing unrecorded is on screen, or the user agrees to drop it."""
        case = self.case_on_screen()
        if case is None or not self.has_unrecorded():
            return True
        return DiscardQuestion.ask(self, f"Discard the outcome you have not recorded for {patient_label(case)}?")

    def case_on_screen(self) -> ListedCase | None:
        """The case shown, or None."""
        if self.detail is None or not self.detail.cases or self.shown is None:
            return None
        return self.detail.cases[self.case_index]

    def clear_entry(self) -> None:
        """A blank entry; a refresh held back while something was typed may now be shown."""
        self.entry.clear()
        self.entry_cleared.emit()

    def reset(self) -> None:
        """Another meeting was chosen: a blank entry on its first case once it is read."""
        self.clear_entry()
        self.case_index = 0
        self.shown = None

    # --- showing ---------------------------------------------------------------------------------------------

    def show_meeting(self, detail: MeetingDetail | None, agenda_cases: dict[int, AgendaCase]) -> None:
        """After a read: the case the user was on (their text kept), or the next one after a record."""
        if detail is None or self.detail is None or detail.meeting.id != self.detail.meeting.id:
            self.displays = {}  # another meeting's: never shown against this one's cases
        self.detail, self.agenda_cases = detail, agenda_cases
        if detail is not None and detail.meeting.id is not None:
            self.read_display(detail.meeting.id)
        self.entry.set_owners([a.name for a in detail.attendees] if detail is not None else [])
        if detail is None or not detail.cases:
            self.show_case(0)
            return
        ids = [c.referral_id for c in detail.cases]
        goto, self._goto = self._goto, None
        if goto is not None and goto in ids:
            self.show_case(ids.index(goto))
            # After a record the next case is the one that followed the recorded case in the list (H09).
            if self.shown != (detail.meeting.id, goto):
                log.error("After recording, the case shown is not the one that followed it")
                self.message.emit("Check the case on screen: it is not the one after the case recorded", 0)
        elif self.shown is not None and self.shown[0] == detail.meeting.id and self.shown[1] in ids:
            self.show_case(ids.index(self.shown[1]), keep_entry=True)
        else:
            if self.shown is not None and self.shown[0] == detail.meeting.id and self.has_unrecorded():
                self.message.emit("The case on screen left this meeting; its unrecorded entry was cleared", 0)
            self.show_case(min(self.case_index, len(ids) - 1))

    def move_case(self, offset: int) -> None:
        """PgDn/PgUp and the Next/Previous buttons: another case, asking before unrecorded text is dropped."""
        if self.detail is None or not self.detail.cases:
            return
        target = self.case_index + offset
        if not 0 <= target < len(self.detail.cases) or not self.may_discard():
            return
        self.show_case(target)

    def jump_to(self, referral_id: int) -> None:
        """A click on the progress strip: that case, asking before unrecorded text is dropped."""
        if self.detail is None:
            return
        ids = [c.referral_id for c in self.detail.cases]
        if referral_id not in ids or (self.shown is not None and self.shown[1] == referral_id):
            self.strip.mark_current(None if self.shown is None else self.shown[1])
            return
        if not self.may_discard():
            self.strip.mark_current(None if self.shown is None else self.shown[1])  # the click leaves it unchecked
            return
        self.show_case(ids.index(referral_id))

    def read_display(self, meeting_id: int) -> None:
        """Read who decided each case's triage and when; the case on screen is shown again when it lands."""

        def op(session: AppSession) -> dict[int, CaseDisplay]:
            from triage_app.services.meeting_display import case_display

            return case_display(session.db, meeting_id=meeting_id, actor=session.actor)

        def landed(displays: dict[int, CaseDisplay]) -> None:
            if self.detail is None or self.detail.meeting.id != meeting_id:
                return  # another meeting is on screen now
            self.displays = displays
            self.render_case()

        title = "The cases' triage decisions could not be read"
        self.context.query(op, title=title, on_success=landed, on_failure=failure_report(self, title))

    def render_case(self) -> None:
        """The case on screen drawn again (what was typed and the scroll position stay)."""
        case = self.case_on_screen()
        if case is None or self.detail is None:
            return
        agenda = self.agenda_cases.get(case.referral_id)
        self.case_title.setText(case_title(case, agenda, self.case_index, len(self.detail.cases)))
        self.case_body.setText(case_html(case, agenda, self.displays.get(case.referral_id)))

    def show_case(self, index: int, *, keep_entry: bool = False) -> None:
        """Show case `index` in full, in large type for a shared display. A case starts blank; `keep_entry`
        keeps what the user typed when the same case is read again (a refresh)."""
        if not keep_entry:
            self.clear_entry()
        if self.detail is None or not self.detail.cases:
            self.shown = None
            self.case_index = 0
            self.case_title.setText("No cases on this meeting" if self.detail is not None else "No meeting chosen")
            self.case_body.setText("")
            self.strip.show_cases((), None)
            self.previous_case_button.setEnabled(False)
            self.next_case_button.setEnabled(False)
            self.enable()
            return
        index = max(0, min(index, len(self.detail.cases) - 1))
        self.case_index = index
        case = self.detail.cases[index]
        self.shown = (self.detail.meeting.id or 0, case.referral_id)
        self.render_case()
        self.strip.show_cases(self.detail.cases, case.referral_id)
        if not keep_entry:
            self.case_scroll.verticalScrollBar().setValue(0)
        self.previous_case_button.setEnabled(index > 0)
        self.next_case_button.setEnabled(index < len(self.detail.cases) - 1)
        self.enable()

    def enable(self) -> None:
        """The entry follows the role matrix and the case shown."""
        consultant = self.context.may(RECORD_OUTCOME)
        has_case = self.detail is not None and bool(self.detail.cases)
        self.save_outcome_button.setEnabled(consultant and has_case)
        self.save_outcome_button.setToolTip("" if consultant else NOT_CONSULTANT)
        recorded = (
            self.detail is not None
            and 0 <= self.case_index < len(self.detail.cases)
            and self.detail.cases[self.case_index].outcome is not None
        )
        self.entry.enable(
            consultant=consultant, has_case=has_case, amender=self.context.may(AMEND_OUTCOME), recorded=recorded
        )

    # --- recording -------------------------------------------------------------------------------------------

    def save_outcome(self) -> None:
        """Ctrl+Enter or Record: record the chosen outcome for the case on screen (consultants only).

        The case (meeting, referral and the version shown) is captured at the key press, so a refresh or a
        move while the call runs cannot redirect the outcome to another patient.
        """
        from triage_app.services import meetings
        from triage_app.services.app import local_today

        case = self.case_on_screen()
        if self.detail is None or case is None or self._recording:
            return
        meeting_id, referral_id, version = self.detail.meeting.id or 0, case.referral_id, case.version
        referral_version = case.row.version if case.row is not None else None  # what the screen showed
        patient = patient_label(case)
        title = "Outcome not recorded"
        if not self.context.may(RECORD_OUTCOME):
            Messages.error(self, title, f"{NOT_CONSULTANT}: nothing was recorded for {patient}.")
            return
        entry = self.entry
        chosen = entry.chosen_outcome()
        rationale = entry.rationale.toPlainText().strip()
        amending = case.outcome is not None
        amend_reason = entry.amend_reason.text().strip() if amending else ""
        missing = []
        if chosen is None:
            missing.append("choose an outcome (Alt+1 to Alt+6)")
        if not rationale:
            missing.append("write the rationale")
        if amending and not amend_reason:
            missing.append("write the reason for amending the recorded outcome")
        if missing or chosen is None:
            Messages.error(self, title, f"Nothing was recorded for {patient}: {'; '.join(missing)}.")
            return
        try:
            actions = entry.actions_entered()
        except ValueError as exc:
            Messages.error(self, title, f"Nothing was recorded for {patient}: {exc}.")
            return
        ids = [c.referral_id for c in self.detail.cases]
        following = ids[self.case_index + 1] if self.case_index + 1 < len(ids) else referral_id
        ticks, today, label = entry.ticks(), local_today(), MEETING_OUTCOME_LABELS[chosen]

        def op(session: AppSession) -> Changes:
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

        def done(_changes: Changes) -> None:
            # The broadcast that follows reads the meeting again and shows the next case.
            self._recording = False
            if self.shown == (meeting_id, referral_id):  # still on it: its entry is now stored
                self._goto = following
                self.clear_entry()
            self.message.emit(f"{'Amended' if amending else 'Recorded'}: {label} for {patient}", 15_000)

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
            self.refresh_wanted.emit()  # the same case is read again with the entry kept, showing what is stored now

        self._recording = True
        self.context.run(op, title=title, on_success=done, on_failure=failed)
