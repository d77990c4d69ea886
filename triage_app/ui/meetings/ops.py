"""The meeting window's database work as ops: functions of the open session, run by `AppContext`.

A writing op returns the service's `Changes`, which the context broadcasts. Where a service does not report
its changes yet (it returns an id, a list or nothing), the op names what it touched itself, so the report is
never empty by mistake. Reads (`read_meetings`) return one typed result for one refresh of the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from triage_app.domain.meetings import Agenda, build_agenda
from triage_app.services.changes import Changes

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.meetings import MeetingDetail, MeetingSummary
    from triage_app.storage.referrals import QueueRow
    from triage_app.ui.meetings.dialogs import NewMeeting

#: An op that writes: run it with `AppContext.run`.
WriteOp = Callable[["AppSession"], Changes]


def reported(result: object, touched: Changes) -> Changes:
    """The `Changes` a service returned (itself or its `.changes`), else `touched`: what the op knows it changed."""
    if isinstance(result, Changes):
        return result
    changes = getattr(result, "changes", None)
    return changes if isinstance(changes, Changes) else touched


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


@dataclass(frozen=True, slots=True)
class CreatedMeeting:
    """A meeting just created: its id (the window shows it next) and what changed."""

    meeting_id: int
    changes: Changes


def create_meeting_op(values: NewMeeting) -> Callable[[AppSession], CreatedMeeting]:
    """Create a meeting with these details."""

    def op(session: AppSession) -> CreatedMeeting:
        from triage_app.services import meetings

        result: object = meetings.create_meeting(session.db, actor=session.actor, **values)
        meeting_id = result if isinstance(result, int) else int(getattr(result, "meeting_id"))  # noqa: B009
        return CreatedMeeting(meeting_id, reported(result, Changes(meeting_ids=frozenset({meeting_id}), meetings=True)))

    return op


def add_case_op(meeting_id: int, referral_id: int) -> WriteOp:
    """Put a ready referral on the meeting."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        result = meetings.add_case(session.db, actor=session.actor, meeting_id=meeting_id, referral_id=referral_id)
        return reported(result, _cases_changed(meeting_id, [referral_id]))

    return op


def remove_case_op(meeting_id: int, referral_id: int) -> WriteOp:
    """Take a case off the meeting (back on the ready list)."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        result = meetings.remove_case(session.db, actor=session.actor, meeting_id=meeting_id, referral_id=referral_id)
        return reported(result, _cases_changed(meeting_id, [referral_id]))

    return op


def fill_op(meeting_id: int) -> WriteOp:
    """Fill the meeting to capacity with the highest-priority ready referrals."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        result: object = meetings.fill_to_capacity(session.db, actor=session.actor, meeting_id=meeting_id)
        added = [int(i) for i in result] if isinstance(result, list) else []
        return reported(result, _cases_changed(meeting_id, added))

    return op


def reorder_op(meeting_id: int, referral_ids: Sequence[int]) -> WriteOp:
    """Store the cases' order as shown."""
    ids = list(referral_ids)

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        result: object = meetings.reorder(session.db, actor=session.actor, meeting_id=meeting_id, referral_ids=ids)
        return reported(result, Changes(meeting_ids=frozenset({meeting_id})))

    return op


def circulate_op(meeting_id: int) -> WriteOp:
    """Mark the agenda circulated: cases added after it are late additions."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        result: object = meetings.circulate(session.db, actor=session.actor, meeting_id=meeting_id)
        return reported(result, Changes(meeting_ids=frozenset({meeting_id}), meetings=True))

    return op


def cancel_op(meeting_id: int) -> WriteOp:
    """Cancel the meeting; its cases move to the next one (or back on the ready list)."""

    def op(session: AppSession) -> Changes:
        from triage_app.services import meetings

        result: object = meetings.cancel_meeting(session.db, actor=session.actor, meeting_id=meeting_id)
        moved = [int(i) for i in result] if isinstance(result, dict) else []
        return reported(result, _cases_changed(meeting_id, moved))

    return op


def _cases_changed(meeting_id: int, referral_ids: Sequence[int]) -> Changes:
    # The referrals' status and meeting changed, the meeting's list and its count in every list of meetings.
    return Changes(referral_ids=frozenset(referral_ids), meeting_ids=frozenset({meeting_id}), meetings=True)
