"""MDT meetings: plan the list, circulate and cancel, and read meetings for the screens and the agenda.

A referral is on at most one open meeting; adding it lists it, removing or a "not discussed" outcome hands it
on. Who may do each (plan, record, amend, set the capacity) is the role matrix's (services.permissions). Every
change is audited in the same transaction and returns what it changed (`Changes`, or a result carrying it).

Split by concern: the case moves planning and outcomes share are in services.meeting_cases, recording outcomes
in services.meeting_outcomes, the checks of what a meeting is planned with in services.meeting_inputs, the agenda's read and export audit in services.meeting_agenda (all importable from
here, as callers always have), and the SQL in storage.meetings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from triage_app.domain.formats import format_date
from triage_app.domain.meetings import CANCELLED, CIRCULATED, NOT_DISCUSSED, PLANNED, quorum
from triage_app.domain.rules import Rules
from triage_app.domain.workflow import READY_FOR_MDT
from triage_app.services.app import local_today
from triage_app.services.auditing import audit
from triage_app.services.changes import Changes
from triage_app.services.errors import NotFound, ServiceError
from triage_app.services.meeting_agenda import agenda_inputs as agenda_inputs
from triage_app.services.meeting_agenda import audit_export as audit_export
from triage_app.services.meeting_cases import ListedCase as ListedCase
from triage_app.services.meeting_cases import MeetingDetail as MeetingDetail
from triage_app.services.meeting_cases import MeetingSummary as MeetingSummary
from triage_app.services.meeting_cases import (
    add_to_meeting,
    describe,
    lock_referral,
    may_view,
    meeting_or_refuse,
    open_meeting,
    roll_forward,
    set_referral,
)
from triage_app.services.meeting_inputs import SameTimeMeeting as SameTimeMeeting
from triage_app.services.meeting_inputs import capacity_warning as capacity_warning
from triage_app.services.meeting_inputs import check_attendee as check_attendee
from triage_app.services.meeting_inputs import check_meeting_date as check_meeting_date
from triage_app.services.meeting_inputs import check_meeting_details
from triage_app.services.meeting_inputs import check_video_link as check_video_link
from triage_app.services.meeting_inputs import parse_attendee as parse_attendee
from triage_app.services.meeting_inputs import parse_time as parse_time
from triage_app.services.meeting_lifecycle import MeetingConflict as MeetingConflict
from triage_app.services.meeting_lifecycle import close_meeting as close_meeting
from triage_app.services.meeting_lifecycle import edit_meeting as edit_meeting
from triage_app.services.meeting_lifecycle import take_attendance as take_attendance
from triage_app.services.meeting_outcomes import OutcomeConflict as OutcomeConflict
from triage_app.services.meeting_outcomes import record_outcome as record_outcome
from triage_app.services.permissions import PLAN_MEETING, SET_MEETING_CAPACITY, authorize
from triage_app.services.users import Actor
from triage_app.storage import meetings as store
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.meetings import CAPACITY_KEY as CAPACITY_KEY  # callers read the setting's key here
from triage_app.storage.meetings import DEFAULT_CAPACITY as DEFAULT_CAPACITY
from triage_app.storage.models import MeetingRow, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CreatedMeeting:
    """A meeting just created: its id and what changed (the list of meetings)."""

    meeting_id: int
    changes: Changes


@dataclass(frozen=True, slots=True)
class FilledMeeting:
    """What filling a meeting to capacity added (highest priority first), and what changed."""

    added: list[int]
    changes: Changes


@dataclass(frozen=True, slots=True)
class CancelledMeeting:
    """Where each case of a cancelled meeting went (referral id: in words), and what changed."""

    moved: dict[int, str]
    changes: Changes


# --- meetings -------------------------------------------------------------------------------------------------


def create_meeting(
    db: Database,
    *,
    actor: Actor,
    meeting_date: date,
    meeting_time: str,
    place: str | None = None,
    video_link: str | None = None,
    chair: str | None = None,
    attendees: Sequence[tuple[str, str | None]] = (),
    allow_same_time: bool = False,
    today: date | None = None,
) -> CreatedMeeting:
    """A new planned meeting: its id, and the list of meetings changed.

    Refused: a date before `today` (the local date when not given), a video link that is not an https:// address,
    an attendee without an MDT role, and (`SameTimeMeeting`) a meeting at the date and time of another one not
    cancelled, unless `allow_same_time` confirms that a second one is meant.
    """
    authorize(actor, PLAN_MEETING, db=db)
    details = check_meeting_details(
        meeting_date,
        meeting_time,
        place=place,
        video_link=video_link,
        chair=chair,
        attendees=attendees,
        today=today or local_today(),
    )
    time_text, place, video_link, chair = details.meeting_time, details.place, details.video_link, details.chair
    attendees = details.attendees
    with db.write() as session:
        if not allow_same_time:
            other = store.meeting_at(session, meeting_date, time_text)
            if other is not None:
                raise SameTimeMeeting(
                    f"meeting {other.id} is already on {format_date(meeting_date)} at {time_text}; a second "
                    "meeting at the same date and time is created only when that is confirmed"
                )
        meeting = store.insert_meeting(
            session,
            meeting_date=meeting_date,
            meeting_time=time_text,
            place=place,
            video_link=video_link,
            chair=chair,
            created_by=actor.user_id,
            attendees=attendees,
        )
        assert meeting.id is not None
        audit(
            session,
            actor,
            "create",
            "meeting",
            meeting.id,
            {
                "date": [None, meeting_date.isoformat()],
                "time": [None, time_text],
                "place": [None, meeting.place],
                "attendees": [None, [f"{n} ({r})" for n, r in attendees]],
            },
        )
        return CreatedMeeting(meeting.id, Changes(meeting_ids=frozenset({meeting.id}), meetings=True))


def capacity(db: Database, *, actor: Actor | None = None) -> int:
    """Cases per meeting (a unit setting)."""
    with db.read() as session:
        may_view(session, actor)
        return store.capacity(session)


def set_capacity(db: Database, *, actor: Actor, cases: int) -> Changes:
    """Admin: cases per meeting. Every meeting's room changes, so the report names the list of meetings."""
    authorize(actor, SET_MEETING_CAPACITY, db=db)
    if not 1 <= cases <= 100:
        raise ServiceError(f"{cases} is out of range: a meeting takes 1 to 100 cases")
    with db.write() as session:
        before = store.store_capacity(session, cases)
        audit(session, actor, "update", "setting", CAPACITY_KEY, {"value": [before, str(cases)]})
        return Changes(meetings=True)


def list_meetings(
    db: Database, *, rules: Rules, include_closed: bool = True, actor: Actor | None = None
) -> list[MeetingSummary]:
    """Meetings by date, with case counts and quorum."""
    with db.read() as session:
        may_view(session, actor)
        meetings = store.meetings_by_date(session, open_only=not include_closed)
        counts = store.case_counts(session)
        roles = store.attendee_roles(session)
        return [
            MeetingSummary(
                meeting_id=m.id or 0,
                meeting_date=m.meeting_date,
                meeting_time=m.meeting_time,
                place=m.place,
                status=m.status,
                cases=counts.get(m.id or 0, 0),
                quorate=quorum(roles.get(m.id or 0, []), rules.quorum_roles).quorate,
            )
            for m in meetings
        ]


def get_meeting(db: Database, *, meeting_id: int, rules: Rules, actor: Actor | None = None) -> MeetingDetail:
    """A meeting with attendees and its cases in order."""
    with db.read() as session:
        may_view(session, actor)
        meeting = meeting_or_refuse(session, meeting_id)
        attendees = store.attendees(session, meeting_id)
        cases = store.cases(session, meeting_id)
        rows = repo.queue_rows(session, [c.referral_id for c in cases])
        names = store.user_names(session, {c.decided_by for c in cases if c.decided_by is not None})
        listed = tuple(
            ListedCase(
                case_id=c.id or 0,
                referral_id=c.referral_id,
                position=c.position,
                late_addition=c.late_addition,
                row=rows.get(c.referral_id),
                outcome=c.outcome,
                rationale=c.rationale,
                checklist={
                    "patient_information_given": c.patient_information_given,
                    "consent_discussion_planned": c.consent_discussion_planned,
                    "baseline_severity_recorded": c.baseline_severity_recorded,
                },
                actions=store.actions(session, c.id or 0),
                version=c.version,
                decided_by_name=names.get(c.decided_by) if c.decided_by is not None else None,
                decided_at=c.decided_at,
            )
            for c in cases
        )
        taken = meeting.attendance_taken_at is not None
        counted = [a for a in attendees if (a.attended if taken else a.invited)]
        q = quorum([a.mdt_role for a in counted], rules.quorum_roles)
        words = q.describe() + (" (of those present)" if taken else "")
        quorate = q.quorate
        if meeting.closed_quorum:  # stored when the chair closed it: the quorum the outcomes were made with
            words, quorate = (
                meeting.closed_quorum + " (of those present, at closing)",
                meeting.closed_quorum == "Quorate",
            )
        room = store.capacity(session)
        closer = store.user_names(session, {meeting.closed_by}) if meeting.closed_by is not None else {}
        return MeetingDetail(
            meeting,
            attendees,
            listed,
            room,
            words,
            quorate,
            attendance_taken=taken,
            over_capacity=capacity_warning(len(listed), room),
            closed_by_name=closer.get(meeting.closed_by) if meeting.closed_by is not None else None,
        )


# --- planning -------------------------------------------------------------------------------------------------


def _cases_changed(meeting_ids: set[int], referral_ids: Sequence[int]) -> Changes:
    """The report of a change to meetings' lists: the referrals moved (status, meeting) and the meetings."""
    return Changes(referral_ids=frozenset(referral_ids), meeting_ids=frozenset(meeting_ids))


def add_case(db: Database, *, actor: Actor, meeting_id: int, referral_id: int) -> Changes:
    """Put a ready referral on a meeting (marked a late addition once the agenda has gone out)."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        # The referral is locked before the meeting, as recording an outcome that rolls a case on does: the same
        # order everywhere, so two desktops never wait on each other's lock.
        referral = lock_referral(session, referral_id)
        meeting = open_meeting(session, meeting_id)
        case = add_to_meeting(session, actor, meeting, referral)
        audit(
            session,
            actor,
            "meeting_add_case",
            "meeting",
            meeting_id,
            {"referral_id": [None, referral_id], "late_addition": [None, case.late_addition]},
        )
        return _cases_changed({meeting_id}, [referral_id])


def remove_case(db: Database, *, actor: Actor, meeting_id: int, referral_id: int) -> Changes:
    """Take a referral off a meeting's list; it is ready for MDT again."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        open_meeting(session, meeting_id)
        case = store.find_case(session, meeting_id, referral_id)
        if case is None:
            raise NotFound(f"referral {referral_id} is not on meeting {meeting_id}")
        session.delete(case)
        session.flush()
        store.close_gaps(session, meeting_id)  # the list stays numbered 1..n, in this transaction
        referral = repo.get_referral_row(session, referral_id)
        assert referral is not None
        set_referral(session, actor, referral, status=READY_FOR_MDT, meeting_id=None, note="removed from the MDT list")
        audit(session, actor, "meeting_remove_case", "meeting", meeting_id, {"referral_id": [referral_id, None]})
        return _cases_changed({meeting_id}, [referral_id])


def ready_referral_ids(db: Database, *, limit: int | None = None, actor: Actor | None = None) -> list[int]:
    """Referrals ready for MDT and on no open meeting, highest priority first."""
    with db.read() as session:
        may_view(session, actor)
        return store.ready_ids(session, limit)


def fill_to_capacity(db: Database, *, actor: Actor, meeting_id: int) -> FilledMeeting:
    """Add the highest-priority ready referrals until the meeting is full: the ids added, and what changed."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        meeting = open_meeting(session, meeting_id)
        room = store.capacity(session) - len(store.cases(session, meeting_id))
        if room <= 0:
            return FilledMeeting([], Changes())
        added = []
        for referral_id in store.ready_ids(session, room):
            referral = repo.get_referral_row(session, referral_id)
            assert referral is not None
            add_to_meeting(session, actor, meeting, referral)
            added.append(referral_id)
        audit(session, actor, "meeting_fill", "meeting", meeting_id, {"added": [None, added]})
        return FilledMeeting(added, _cases_changed({meeting_id}, added))


def reorder(db: Database, *, actor: Actor, meeting_id: int, referral_ids: Sequence[int]) -> Changes:
    """Set the order of a meeting's cases (every case once)."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        open_meeting(session, meeting_id)
        cases = {c.referral_id: c for c in store.cases(session, meeting_id)}
        if sorted(cases) != sorted(referral_ids):
            raise ServiceError("the new order must list every case of the meeting exactly once")
        before = [c.referral_id for c in sorted(cases.values(), key=lambda c: c.position)]
        for position, referral_id in enumerate(referral_ids, start=1):
            cases[referral_id].position = position
            session.add(cases[referral_id])
        audit(session, actor, "meeting_reorder", "meeting", meeting_id, {"order": [before, list(referral_ids)]})
        return Changes(meeting_ids=frozenset({meeting_id}))


def circulate(db: Database, *, actor: Actor, meeting_id: int) -> Changes:
    """Mark the agenda as circulated: cases added from now on are late additions.

    Once only: late additions are judged against the time it went out, so a second circulation is refused
    (naming when it went) and changes nothing.
    """
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        meeting = open_meeting(session, meeting_id)
        if meeting.status == CIRCULATED or meeting.circulated_at is not None:
            raise ServiceError(f"the agenda of the meeting of {describe(meeting)} {circulated_when(meeting)}")
        before = meeting.status
        meeting.status = CIRCULATED
        meeting.circulated_at = utc_now()
        meeting.version += 1
        session.add(meeting)
        audit(session, actor, "meeting_circulate", "meeting", meeting_id, {"status": [before, CIRCULATED]})
        return Changes(meeting_ids=frozenset({meeting_id}), meetings=True)


def circulated_when(meeting: MeetingRow) -> str:
    """`was already circulated at 21-Nov-2026 14:05` (local time), as a refused second circulation says it."""
    if meeting.circulated_at is None:
        return "was already circulated"
    local = meeting.circulated_at.astimezone()
    return f"was already circulated at {format_date(local.date())} {local:%H:%M}"


def cancel_meeting(db: Database, *, actor: Actor, meeting_id: int) -> CancelledMeeting:
    """Cancel a meeting; its cases move to the next open meeting. Returns where each case went."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        meeting = open_meeting(session, meeting_id)
        decided = [c for c in store.cases(session, meeting_id) if c.outcome not in (None, NOT_DISCUSSED)]
        if decided:
            raise ServiceError(
                f"the meeting of {describe(meeting)} has recorded outcomes ({len(decided)}): it was held, so it "
                "cannot be cancelled"
            )
        moved: dict[int, str] = {}
        touched = {meeting_id}
        for case in store.cases(session, meeting_id):
            if case.outcome is None:
                rolled = roll_forward(session, actor, meeting, case)
                moved[case.referral_id] = rolled.where
                touched |= {rolled.meeting_id} if rolled.meeting_id is not None else set()
        meeting.status = CANCELLED
        meeting.version += 1
        session.add(meeting)
        audit(
            session,
            actor,
            "meeting_cancel",
            "meeting",
            meeting_id,
            {"status": [PLANNED, CANCELLED], "moved": [None, {str(k): v for k, v in moved.items()}]},
        )
        changes = Changes(referral_ids=frozenset(moved), meeting_ids=frozenset(touched), meetings=True)
        return CancelledMeeting(moved, changes)
