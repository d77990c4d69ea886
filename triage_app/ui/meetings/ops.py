"""The meeting window's database work as ops: functions of the open session, run by `AppContext`.

A writing op returns what the service returns: its `Changes`, or a typed result carrying `.changes` (a new
meeting's id, the cases a fill added, where a cancelled meeting's cases went); the context broadcasts the
changes. Reads (`read_meetings`) return one typed result for one refresh of the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from triage_app.domain.meetings import Agenda, build_agenda

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes
    from triage_app.services.meetings import (
        CancelledMeeting,
        CreatedMeeting,
        FilledMeeting,
        MeetingDetail,
        MeetingSummary,
    )
    from triage_app.storage.referrals import QueueRow
    from triage_app.ui.meetings.dialogs import NewMeeting


@dataclass(frozen=True, slots=True)
class MeetingsRead:
    """One read of everything the window shows: the meetings, the chosen one in full, the ready referrals."""

    listing: list[MeetingSummary]
    detail: MeetingDetail | None
    agenda: Agenda | None
    ready_ids: list[int]
    ready_rows: dict[int, QueueRow]


def read_meetings(chosen: int | None) -> Callable[[AppSession], MeetingsRead]:
    """The op reading the meetings list, meeting `chosen` (with its agenda text) and the ready list."""

    def op(session: AppSession) -> MeetingsRead:
        from triage_app.services import meetings
        from triage_app.services.queue import page

        db, rules, actor = session.db, session.rules, session.actor
        listing = meetings.list_meetings(db, rules=rules, actor=actor)
        detail = agenda = None
        if chosen:
            detail = meetings.get_meeting(db, meeting_id=chosen, rules=rules, actor=actor)
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
        return MeetingsRead(listing, detail, agenda, ready_ids, page(db, ids=ready_ids, actor=actor))

    return op


def create_meeting_op(values: NewMeeting) -> Callable[[AppSession], CreatedMeeting]:
    """Create a meeting with these details (its id comes back: the window shows it next)."""

    def op(session: AppSession) -> CreatedMeeting:
        from triage_app.services import meetings

        return meetings.create_meeting(session.db, actor=session.actor, **values)

    return op


def add_case_op(meeting_id: int, referral_id: int) -> Callable[[AppSession], Changes]:
    """Put a ready referral on the meeting."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        return meetings.add_case(session.db, actor=session.actor, meeting_id=meeting_id, referral_id=referral_id)

    return op


def remove_case_op(meeting_id: int, referral_id: int) -> Callable[[AppSession], Changes]:
    """Take a case off the meeting (back on the ready list)."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        return meetings.remove_case(session.db, actor=session.actor, meeting_id=meeting_id, referral_id=referral_id)

    return op


def fill_op(meeting_id: int) -> Callable[[AppSession], FilledMeeting]:
    """Fill the meeting to capacity with the highest-priority ready referrals."""

    def op(session: AppSession) -> FilledMeeting:
        from triage_app.services import meetings

        return meetings.fill_to_capacity(session.db, actor=session.actor, meeting_id=meeting_id)

    return op


def reorder_op(meeting_id: int, referral_ids: Sequence[int]) -> Callable[[AppSession], Changes]:
    """Store the cases' order as shown."""
    ids = list(referral_ids)

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        return meetings.reorder(session.db, actor=session.actor, meeting_id=meeting_id, referral_ids=ids)

    return op


def circulate_op(meeting_id: int) -> Callable[[AppSession], Changes]:
    """Mark the agenda circulated: cases added after it are late additions."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        return meetings.circulate(session.db, actor=session.actor, meeting_id=meeting_id)

    return op


def cancel_op(meeting_id: int) -> Callable[[AppSession], CancelledMeeting]:
    """Cancel the meeting; its cases move to the next one (or back on the ready list)."""

    def op(session: AppSession) -> CancelledMeeting:
        from triage_app.services import meetings

        return meetings.cancel_meeting(session.db, actor=session.actor, meeting_id=meeting_id)

    return op
