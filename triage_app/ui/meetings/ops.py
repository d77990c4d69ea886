"""The meeting window's database work as ops: functions of the open session, run by `AppContext`.

A writing op returns what the service returns: its `Changes`, or a typed result carrying `.changes` (a new
meeting's id, the cases a fill added, where a cancelled meeting's cases went); the context broadcasts the
changes. Reads (`read_meetings`) return one typed result for one refresh of the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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


def _meetings_op(service: str, **values: Any) -> Callable[[AppSession], Any]:
    """The op calling `services.meetings.<service>(db, actor=..., **values)` with the open session (the services
    are imported on the worker, not when the window is built)."""

    def op(session: AppSession) -> Any:
        from triage_app.services import meetings

        return getattr(meetings, service)(session.db, actor=session.actor, **values)

    return op


def create_meeting_op(values: NewMeeting) -> Callable[[AppSession], CreatedMeeting]:
    """Create a meeting with these details (its id comes back: the window shows it next)."""
    return _meetings_op("create_meeting", **values)


def add_case_op(meeting_id: int, referral_id: int) -> Callable[[AppSession], Changes]:
    """Put a ready referral on the meeting."""
    return _meetings_op("add_case", meeting_id=meeting_id, referral_id=referral_id)


def remove_case_op(meeting_id: int, referral_id: int) -> Callable[[AppSession], Changes]:
    """Take a case off the meeting (back on the ready list)."""
    return _meetings_op("remove_case", meeting_id=meeting_id, referral_id=referral_id)


def fill_op(meeting_id: int) -> Callable[[AppSession], FilledMeeting]:
    """Fill the meeting to capacity with the highest-priority ready referrals."""
    return _meetings_op("fill_to_capacity", meeting_id=meeting_id)


def reorder_op(meeting_id: int, referral_ids: Sequence[int]) -> Callable[[AppSession], Changes]:
    """Store the cases' order as shown."""
    return _meetings_op("reorder", meeting_id=meeting_id, referral_ids=list(referral_ids))


def circulate_op(meeting_id: int) -> Callable[[AppSession], Changes]:
    """Mark the agenda circulated: cases added after it are late additions."""
    return _meetings_op("circulate", meeting_id=meeting_id)


def cancel_op(meeting_id: int) -> Callable[[AppSession], CancelledMeeting]:
    """Cancel the meeting; its cases move to the next one (or back on the ready list)."""
    return _meetings_op("cancel_meeting", meeting_id=meeting_id)


def edit_meeting_op(meeting_id: int, version: int, values: NewMeeting) -> Callable[[AppSession], Changes]:
    """Store the meeting's edited details, if it is still the version on screen (compare-and-swap)."""
    return _meetings_op("edit_meeting", meeting_id=meeting_id, expected_version=version, **values)


def attendance_op(
    meeting_id: int, version: int, present: Sequence[tuple[str, str | None]]
) -> Callable[[AppSession], Changes]:
    """Record who is at the meeting, each in their MDT role today."""
    return _meetings_op("take_attendance", meeting_id=meeting_id, expected_version=version, present=list(present))


def close_op(meeting_id: int, version: int, not_quorate_reason: str | None = None) -> Callable[[AppSession], Changes]:
    """Close the meeting (a consultant): every case has an outcome; the quorum of those present is stored (an
    inquorate one only with a written reason)."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        return meetings.close_meeting(
            session.db,
            actor=session.actor,
            meeting_id=meeting_id,
            expected_version=version,
            rules=session.rules,
            not_quorate_reason=not_quorate_reason,
        )

    return op
