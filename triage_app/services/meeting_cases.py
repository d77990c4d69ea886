"""What planning a meeting and recording its outcomes share: the meeting looked up, a referral listed on one
(or moved on from one) with its status, version and history, and the result types the meeting screens read.

services.meetings (planning, reads) and services.meeting_outcomes (the MDT's decisions) both move cases with
these, so a case is listed, rolled forward and taken off the same way whoever moves it. The SQL is
storage.meetings'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session

from triage_app.domain.meetings import CIRCULATED, OPEN_MEETING_STATUSES, CaseAction
from triage_app.domain.workflow import LISTED, READY_FOR_MDT
from triage_app.services.errors import NotFound, ServiceError
from triage_app.services.permissions import VIEW_MEETINGS, authorize
from triage_app.services.users import Actor
from triage_app.storage import meetings as store
from triage_app.storage import referrals as repo
from triage_app.storage.models import MeetingAttendeeRow, MeetingCaseRow, MeetingRow, ReferralRow, StatusChangeRow

if TYPE_CHECKING:
    from triage_app.storage.referrals import QueueRow


@dataclass(frozen=True, slots=True)
class MeetingSummary:
    """A line of the meetings list."""

    meeting_id: int
    meeting_date: date
    meeting_time: str
    place: str | None
    status: str
    cases: int
    quorate: bool


@dataclass(frozen=True, slots=True)
class ListedCase:
    """A case on a meeting as the planning and meeting screens show it."""

    case_id: int
    referral_id: int
    position: int
    late_addition: bool
    row: QueueRow | None  # the referral's queue line (None only if it vanished under the read)
    outcome: str | None
    rationale: str | None
    checklist: dict[str, bool]
    actions: tuple[CaseAction, ...]
    version: int  # the meeting case's version: recording passes it back (compare-and-swap)
    decided_by_name: str | None  # who recorded the outcome, if one is recorded
    decided_at: datetime | None  # when (UTC)


@dataclass(frozen=True, slots=True)
class MeetingDetail:
    """One meeting in full."""

    meeting: MeetingRow
    attendees: tuple[MeetingAttendeeRow, ...]
    cases: tuple[ListedCase, ...]
    capacity: int
    quorum_text: str
    quorate: bool
    #: Attendance was taken on the day: `quorum_text` is that of those present (else of those expected).
    attendance_taken: bool = False
    #: `9 cases on a list of 8: over capacity by 1`, or None when the list fits.
    over_capacity: str | None = None
    #: Who closed the meeting (a display name), when it is closed.
    closed_by_name: str | None = None


def may_view(session: Session, actor: Actor | None) -> None:
    """Reads take the actor (the desktop and commands give it) to check they may see meetings now."""
    if actor is not None:
        authorize(actor, VIEW_MEETINGS, session=session)


def meeting_or_refuse(session: Session, meeting_id: int) -> MeetingRow:
    """The meeting; `NotFound` names it when there is none."""
    meeting = session.get(MeetingRow, meeting_id)
    if meeting is None:
        raise NotFound(f"there is no meeting {meeting_id}")
    return meeting


def open_meeting(session: Session, meeting_id: int) -> MeetingRow:
    """The meeting, locked for the transaction (see storage.meetings.lock_meeting), refused unless its list is
    still open (planned or circulated)."""
    meeting = store.lock_meeting(session, meeting_id)
    if meeting is None:
        raise NotFound(f"there is no meeting {meeting_id}")
    if meeting.status not in OPEN_MEETING_STATUSES:
        raise ServiceError(f"the meeting of {meeting.meeting_date:%d-%b-%Y} is {meeting.status}; its list is closed")
    return meeting


def describe(meeting: MeetingRow) -> str:
    """`03-Mar-2026 13:30`: the meeting as history notes and messages name it."""
    return f"{meeting.meeting_date:%d-%b-%Y} {meeting.meeting_time}"


def lock_referral(session: Session, referral_id: int) -> ReferralRow:
    """The referral's row locked until the transaction ends, as it stands now (see storage.meetings)."""
    row = store.lock_referral(session, referral_id)
    if row is None:
        raise NotFound(f"referral {referral_id} does not exist")
    return row


def set_referral(
    session: Session, actor: Actor, referral: ReferralRow, *, status: str, meeting_id: int | None, note: str
) -> None:
    """Move a referral's status and listed meeting, with history; bumps its version (others' forms notice)."""
    before = referral.status
    assert referral.id is not None
    repo.bump_version(
        session,
        referral_id=referral.id,
        expected_version=referral.version,
        user_id=actor.user_id,
        status=status,
        meeting_id=meeting_id,
    )
    if before != status:
        session.add(
            StatusChangeRow(
                referral_id=referral.id, from_status=before, to_status=status, note=note, changed_by=actor.user_id
            )
        )


def add_to_meeting(
    session: Session, actor: Actor, meeting: MeetingRow, referral: ReferralRow, *, leaving: int | None = None
) -> MeetingCaseRow:
    """List `referral` on `meeting`; `leaving` is the meeting it is moving from, if any."""
    assert meeting.id is not None and referral.id is not None
    lock_referral(session, referral.id)  # `referral` is re-read: its meeting and decision as they stand now
    store.lock_meeting(session, meeting.id)  # one desktop numbers this meeting's list at a time
    if referral.meeting_id not in (None, meeting.id, leaving):
        other = session.get(MeetingRow, referral.meeting_id)
        if other is not None and other.status in OPEN_MEETING_STATUSES:
            raise ServiceError(
                f"referral {referral.id} is already on the meeting of {describe(other)}; a referral is on one "
                "open meeting at most"
            )
    if store.find_case(session, meeting.id, referral.id) is not None:
        raise ServiceError(f"referral {referral.id} is already on this meeting")
    if referral.status not in (READY_FOR_MDT, LISTED) or referral.decided_outcome != READY_FOR_MDT:
        raise ServiceError(
            f"referral {referral.id} has no standing consultant decision of ready for MDT (its status is "
            f"{referral.status.replace('_', ' ')}); a consultant confirms the triage first"
        )
    case = MeetingCaseRow(
        meeting_id=meeting.id,
        referral_id=referral.id,
        position=store.last_position(session, meeting.id) + 1,
        late_addition=meeting.status == CIRCULATED,
        added_by=actor.user_id,
    )
    session.add(case)
    set_referral(
        session, actor, referral, status=LISTED, meeting_id=meeting.id, note=f"listed for MDT {describe(meeting)}"
    )
    session.flush()
    return case


@dataclass(frozen=True, slots=True)
class Rolled:
    """Where a case not discussed went: the words for the audit, and the meeting it is now on (None: ready list)."""

    where: str
    meeting_id: int | None


def roll_forward(session: Session, actor: Actor, meeting: MeetingRow, case: MeetingCaseRow) -> Rolled:
    """Move a case to the next open meeting, or back to the ready list if there is none."""
    referral = repo.get_referral_row(session, case.referral_id)
    assert referral is not None
    following = store.next_open_meeting(session, meeting)
    if following is not None:
        add_to_meeting(session, actor, following, referral, leaving=meeting.id)
        return Rolled(f"moved to {describe(following)}", following.id)
    set_referral(
        session,
        actor,
        referral,
        status=READY_FOR_MDT,
        meeting_id=None,
        note=f"not discussed at {describe(meeting)}: ready for the next meeting",
    )
    return Rolled("back on the ready list (no later meeting yet)", None)
