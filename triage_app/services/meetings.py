"""MDT meetings: plan the list, circulate and export the agenda, record outcomes, roll cases forward.

A referral is on at most one open meeting; adding it lists it, removing or a "not discussed" outcome hands it
on. Who may do each (plan, record, amend, set the capacity) is the role matrix's (services.permissions). Every
change is audited in the same transaction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from triage_app.domain.meetings import (
    ACCEPT_FOR_SPD,
    CANCELLED,
    CIRCULATED,
    HELD,
    MDT_ROLES,
    MEETING_OUTCOME_LABELS,
    MEETING_OUTCOMES,
    NOT_DISCUSSED,
    OPEN_MEETING_STATUSES,
    PLANNED,
    CaseAction,
    CaseInput,
    MeetingInfo,
    checklist_missing,
    quorum,
)
from triage_app.domain.rules import Rules
from triage_app.domain.workflow import DISCUSSED, LISTED, READY_FOR_MDT
from triage_app.services.auditing import audit
from triage_app.services.changes import Changes
from triage_app.services.errors import NotFound, ServiceError
from triage_app.services.permissions import (
    AMEND_OUTCOME,
    PLAN_MEETING,
    RECORD_OUTCOME,
    SET_MEETING_CAPACITY,
    VIEW_MEETINGS,
    authorize,
)
from triage_app.services.users import Actor, limited_text
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import (
    AppSetting,
    AppUser,
    CaseActionRow,
    MeetingAttendeeRow,
    MeetingCaseRow,
    MeetingRow,
    ReferralRow,
    StatusChangeRow,
    utc_now,
)

log = logging.getLogger(__name__)

CAPACITY_KEY = "meeting_capacity"
DEFAULT_CAPACITY = 8
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


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
    row: Any  # storage QueueRow of the referral
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


def _may_view(session: Session, actor: Actor | None) -> None:
    """Reads take the actor (the desktop and commands give it) to check they may see meetings now."""
    if actor is not None:
        authorize(actor, VIEW_MEETINGS, session=session)


def _meeting(session: Session, meeting_id: int) -> MeetingRow:
    meeting = session.get(MeetingRow, meeting_id)
    if meeting is None:
        raise NotFound(f"there is no meeting {meeting_id}")
    return meeting


def _open_meeting(session: Session, meeting_id: int) -> MeetingRow:
    meeting = _meeting(session, meeting_id)
    if meeting.status not in OPEN_MEETING_STATUSES:
        raise ServiceError(f"the meeting of {meeting.meeting_date:%d-%b-%Y} is {meeting.status}; its list is closed")
    return meeting


def _describe(meeting: MeetingRow) -> str:
    return f"{meeting.meeting_date:%d-%b-%Y} {meeting.meeting_time}"


def parse_time(text: str) -> str:
    """A meeting time as HH:MM (24-hour); `ServiceError` names the expected form."""
    value = text.strip()
    if len(value) == 4 and value[1] == ":":
        value = "0" + value
    if not _TIME.fullmatch(value):
        raise ServiceError(f"'{text}' is not a time: write it as HH:MM, for example 13:30")
    return value


def parse_attendee(text: str) -> tuple[str, str | None]:
    """`Name:role` (role optional) as typed on the command line."""
    name_text, _, role_text = text.partition(":")
    role = role_text.strip() or None
    name = limited_text(name_text, "meeting.attendee", "attendee name")
    if name is None:
        raise ServiceError(f"attendee '{text}' has no name; write it as \"Name:role\"")
    if role is not None and role not in MDT_ROLES:
        raise ServiceError(f"'{role[:40]}' is not an MDT role: {', '.join(MDT_ROLES)}")
    return name, role


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
) -> int:
    """A new planned meeting; returns its id."""
    authorize(actor, PLAN_MEETING, db=db)
    time_text = parse_time(meeting_time)
    place = limited_text(place, "meeting.place", "place")
    video_link = limited_text(video_link, "meeting.video_link", "video link")
    chair = limited_text(chair, "meeting.chair", "chair")
    for name, role in attendees:
        limited_text(name, "meeting.attendee", "attendee name")
        if role is not None and role not in MDT_ROLES:
            raise ServiceError(f"'{role[:40]}' is not an MDT role: {', '.join(MDT_ROLES)}")
    with db.write() as session:
        meeting = MeetingRow(
            meeting_date=meeting_date,
            meeting_time=time_text,
            place=place,
            video_link=video_link,
            chair=chair,
            created_by=actor.user_id,
        )
        session.add(meeting)
        session.flush()
        assert meeting.id is not None
        for name, role in attendees:
            session.add(MeetingAttendeeRow(meeting_id=meeting.id, name=name, mdt_role=role))
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
        return meeting.id


def capacity(db: Database, *, actor: Actor | None = None) -> int:
    """Cases per meeting (a unit setting)."""
    with db.read() as session:
        _may_view(session, actor)
        return _capacity(session)


def _capacity(session: Session) -> int:
    setting = session.get(AppSetting, CAPACITY_KEY)
    return int(setting.value) if setting is not None and setting.value.isdigit() else DEFAULT_CAPACITY


def set_capacity(db: Database, *, actor: Actor, cases: int) -> None:
    """Admin: cases per meeting."""
    authorize(actor, SET_MEETING_CAPACITY, db=db)
    if not 1 <= cases <= 100:
        raise ServiceError(f"{cases} is out of range: a meeting takes 1 to 100 cases")
    with db.write() as session:
        setting = session.get(AppSetting, CAPACITY_KEY)
        before = setting.value if setting else str(DEFAULT_CAPACITY)
        session.merge(AppSetting(key=CAPACITY_KEY, value=str(cases)))
        audit(session, actor, "update", "setting", CAPACITY_KEY, {"value": [before, str(cases)]})


def list_meetings(
    db: Database, *, rules: Rules, include_closed: bool = True, actor: Actor | None = None
) -> list[MeetingSummary]:
    """Meetings by date, with case counts and quorum."""
    with db.read() as session:
        _may_view(session, actor)
        query = select(MeetingRow).order_by(col(MeetingRow.meeting_date), col(MeetingRow.meeting_time))
        if not include_closed:
            query = query.where(col(MeetingRow.status).in_(OPEN_MEETING_STATUSES))
        meetings = session.execute(query).scalars().all()
        counts = dict(
            session.execute(
                select(col(MeetingCaseRow.meeting_id), func.count()).group_by(col(MeetingCaseRow.meeting_id))
            ).all()
        )
        roles: dict[int, list[str | None]] = {}
        for meeting_id, role in session.execute(
            select(col(MeetingAttendeeRow.meeting_id), col(MeetingAttendeeRow.mdt_role))
        ).all():
            roles.setdefault(meeting_id, []).append(role)
        return [
            MeetingSummary(
                meeting_id=m.id or 0,
                meeting_date=m.meeting_date,
                meeting_time=m.meeting_time,
                place=m.place,
                status=m.status,
                cases=int(counts.get(m.id, 0)),
                quorate=quorum(roles.get(m.id or 0, []), rules.quorum_roles).quorate,
            )
            for m in meetings
        ]


def get_meeting(db: Database, *, meeting_id: int, rules: Rules, actor: Actor | None = None) -> MeetingDetail:
    """A meeting with attendees and its cases in order."""
    with db.read() as session:
        _may_view(session, actor)
        meeting = _meeting(session, meeting_id)
        attendees = tuple(
            session.execute(
                select(MeetingAttendeeRow)
                .where(col(MeetingAttendeeRow.meeting_id) == meeting_id)
                .order_by(col(MeetingAttendeeRow.id))
            ).scalars()
        )
        cases = _cases(session, meeting_id)
        rows = repo.queue_rows(session, [c.referral_id for c in cases])
        deciders = {c.decided_by for c in cases if c.decided_by is not None}
        names = (
            dict(
                session.execute(
                    select(col(AppUser.id), col(AppUser.display_name)).where(col(AppUser.id).in_(deciders))
                ).all()
            )
            if deciders
            else {}
        )
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
                actions=_actions(session, c.id or 0),
                version=c.version,
                decided_by_name=names.get(c.decided_by) if c.decided_by is not None else None,
                decided_at=c.decided_at,
            )
            for c in cases
        )
        q = quorum([a.mdt_role for a in attendees], rules.quorum_roles)
        return MeetingDetail(meeting, attendees, listed, _capacity(session), q.describe(), q.quorate)


def _find_case(session: Session, meeting_id: int | None, referral_id: int | None) -> MeetingCaseRow | None:
    return session.execute(
        select(MeetingCaseRow).where(
            col(MeetingCaseRow.meeting_id) == meeting_id, col(MeetingCaseRow.referral_id) == referral_id
        )
    ).scalar_one_or_none()


def _cases(session: Session, meeting_id: int) -> list[MeetingCaseRow]:
    return list(
        session.execute(
            select(MeetingCaseRow)
            .where(col(MeetingCaseRow.meeting_id) == meeting_id)
            .order_by(col(MeetingCaseRow.position), col(MeetingCaseRow.id))
        ).scalars()
    )


def _actions(session: Session, case_id: int) -> tuple[CaseAction, ...]:
    rows = session.execute(
        select(CaseActionRow).where(col(CaseActionRow.case_id) == case_id).order_by(col(CaseActionRow.id))
    ).scalars()
    return tuple(CaseAction(r.description, r.owner, r.due_date) for r in rows)


# --- planning -------------------------------------------------------------------------------------------------


def _set_referral(
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


def _lock_referral(session: Session, referral_id: int) -> ReferralRow:
    """Lock the referral's row until the transaction ends and re-read it (the loaded object is refreshed).

    SQLite needs it not: `Database.write()` holds the write lock from the first read (BEGIN IMMEDIATE), and
    ignores FOR UPDATE. On PostgreSQL another desktop may be listing the referral, confirming it, or lapsing
    its decision at the same moment: without the lock the checks here read the row as it was, and the
    compare-and-swap on its version then fails with a storage error instead of the service's refusal.
    """
    row: ReferralRow | None = session.execute(
        select(ReferralRow)
        .where(col(ReferralRow.id) == referral_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"referral {referral_id} does not exist")
    return row


def _add(
    session: Session, actor: Actor, meeting: MeetingRow, referral: ReferralRow, *, leaving: int | None = None
) -> MeetingCaseRow:
    """List `referral` on `meeting`; `leaving` is the meeting it is moving from, if any."""
    assert meeting.id is not None and referral.id is not None
    _lock_referral(session, referral.id)  # `referral` is re-read: its meeting and decision as they stand now
    if referral.meeting_id not in (None, meeting.id, leaving):
        other = session.get(MeetingRow, referral.meeting_id)
        if other is not None and other.status in OPEN_MEETING_STATUSES:
            raise ServiceError(
                f"referral {referral.id} is already on the meeting of {_describe(other)}; a referral is on one "
                "open meeting at most"
            )
    existing = _find_case(session, meeting.id, referral.id)
    if existing is not None:
        raise ServiceError(f"referral {referral.id} is already on this meeting")
    if referral.status not in (READY_FOR_MDT, LISTED) or referral.decided_outcome != READY_FOR_MDT:
        raise ServiceError(
            f"referral {referral.id} has no standing consultant decision of ready for MDT (its status is "
            f"{referral.status.replace('_', ' ')}); a consultant confirms the triage first"
        )
    last = session.execute(
        select(func.max(MeetingCaseRow.position)).where(col(MeetingCaseRow.meeting_id) == meeting.id)
    ).scalar_one()
    case = MeetingCaseRow(
        meeting_id=meeting.id,
        referral_id=referral.id,
        position=(last or 0) + 1,
        late_addition=meeting.status == CIRCULATED,
        added_by=actor.user_id,
    )
    session.add(case)
    _set_referral(
        session, actor, referral, status=LISTED, meeting_id=meeting.id, note=f"listed for MDT {_describe(meeting)}"
    )
    session.flush()
    return case


def add_case(db: Database, *, actor: Actor, meeting_id: int, referral_id: int) -> Changes:
    """Put a ready referral on a meeting (marked a late addition once the agenda has gone out)."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        meeting = _open_meeting(session, meeting_id)
        referral = repo.get_referral_row(session, referral_id)
        if referral is None:
            raise NotFound(f"referral {referral_id} does not exist")
        case = _add(session, actor, meeting, referral)
        audit(
            session,
            actor,
            "meeting_add_case",
            "meeting",
            meeting_id,
            {"referral_id": [None, referral_id], "late_addition": [None, case.late_addition]},
        )
        return Changes(referral_ids=frozenset({referral_id}), meetings=True)


def remove_case(db: Database, *, actor: Actor, meeting_id: int, referral_id: int) -> Changes:
    """Take a referral off a meeting's list; it is ready for MDT again."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        _open_meeting(session, meeting_id)
        case = _find_case(session, meeting_id, referral_id)
        if case is None:
            raise NotFound(f"referral {referral_id} is not on meeting {meeting_id}")
        session.delete(case)
        referral = repo.get_referral_row(session, referral_id)
        assert referral is not None
        _set_referral(session, actor, referral, status=READY_FOR_MDT, meeting_id=None, note="removed from the MDT list")
        audit(session, actor, "meeting_remove_case", "meeting", meeting_id, {"referral_id": [referral_id, None]})
        return Changes(referral_ids=frozenset({referral_id}), meetings=True)


def ready_referral_ids(db: Database, *, limit: int | None = None, actor: Actor | None = None) -> list[int]:
    """Referrals ready for MDT and on no open meeting, highest priority first."""
    with db.read() as session:
        _may_view(session, actor)
        return _ready_ids(session, limit)


def _ready_ids(session: Session, limit: int | None) -> list[int]:
    query = (
        select(col(ReferralRow.id))
        .where(
            col(ReferralRow.status) == READY_FOR_MDT,
            col(ReferralRow.decided_outcome) == READY_FOR_MDT,
            col(ReferralRow.meeting_id).is_(None),
        )
        .order_by(col(ReferralRow.priority).desc(), col(ReferralRow.id))
    )
    if limit is not None:
        query = query.limit(limit)
    return [int(i) for i in session.execute(query).scalars()]


def fill_to_capacity(db: Database, *, actor: Actor, meeting_id: int) -> list[int]:
    """Add the highest-priority ready referrals until the meeting is full; returns the ids added."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        meeting = _open_meeting(session, meeting_id)
        room = _capacity(session) - len(_cases(session, meeting_id))
        if room <= 0:
            return []
        added = []
        for referral_id in _ready_ids(session, room):
            referral = repo.get_referral_row(session, referral_id)
            assert referral is not None
            _add(session, actor, meeting, referral)
            added.append(referral_id)
        audit(session, actor, "meeting_fill", "meeting", meeting_id, {"added": [None, added]})
        return added


def reorder(db: Database, *, actor: Actor, meeting_id: int, referral_ids: Sequence[int]) -> None:
    """Set the order of a meeting's cases (every case once)."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        _open_meeting(session, meeting_id)
        cases = {c.referral_id: c for c in _cases(session, meeting_id)}
        if sorted(cases) != sorted(referral_ids):
            raise ServiceError("the new order must list every case of the meeting exactly once")
        before = [c.referral_id for c in sorted(cases.values(), key=lambda c: c.position)]
        for position, referral_id in enumerate(referral_ids, start=1):
            cases[referral_id].position = position
            session.add(cases[referral_id])
        audit(session, actor, "meeting_reorder", "meeting", meeting_id, {"order": [before, list(referral_ids)]})


def circulate(db: Database, *, actor: Actor, meeting_id: int) -> None:
    """Mark the agenda as circulated: cases added from now on are late additions."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        meeting = _open_meeting(session, meeting_id)
        before = meeting.status
        meeting.status = CIRCULATED
        meeting.circulated_at = utc_now()
        meeting.version += 1
        session.add(meeting)
        audit(session, actor, "meeting_circulate", "meeting", meeting_id, {"status": [before, CIRCULATED]})


def _next_open_meeting(session: Session, after: MeetingRow) -> MeetingRow | None:
    return session.execute(
        select(MeetingRow)
        .where(
            col(MeetingRow.status).in_(OPEN_MEETING_STATUSES),
            col(MeetingRow.id) != after.id,
            (col(MeetingRow.meeting_date) > after.meeting_date)
            | (
                (col(MeetingRow.meeting_date) == after.meeting_date)
                & (col(MeetingRow.meeting_time) > after.meeting_time)
            ),
        )
        .order_by(col(MeetingRow.meeting_date), col(MeetingRow.meeting_time))
        .limit(1)
    ).scalar_one_or_none()


def _roll_forward(session: Session, actor: Actor, meeting: MeetingRow, case: MeetingCaseRow) -> str:
    """Move a case to the next open meeting, or back to the ready list if there is none."""
    referral = repo.get_referral_row(session, case.referral_id)
    assert referral is not None
    following = _next_open_meeting(session, meeting)
    if following is not None:
        _add(session, actor, following, referral, leaving=meeting.id)
        return f"moved to {_describe(following)}"
    _set_referral(
        session,
        actor,
        referral,
        status=READY_FOR_MDT,
        meeting_id=None,
        note=f"not discussed at {_describe(meeting)}: ready for the next meeting",
    )
    return "back on the ready list (no later meeting yet)"


def cancel_meeting(db: Database, *, actor: Actor, meeting_id: int) -> dict[int, str]:
    """Cancel a meeting; its cases move to the next open meeting. Returns where each case went."""
    authorize(actor, PLAN_MEETING, db=db)
    with db.write() as session:
        meeting = _open_meeting(session, meeting_id)
        decided = [c for c in _cases(session, meeting_id) if c.outcome not in (None, NOT_DISCUSSED)]
        if decided:
            raise ServiceError(
                f"the meeting of {_describe(meeting)} has recorded outcomes ({len(decided)}): it was held, so it "
                "cannot be cancelled"
            )
        moved = {}
        for case in _cases(session, meeting_id):
            if case.outcome is None:
                moved[case.referral_id] = _roll_forward(session, actor, meeting, case)
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
        return moved


# --- outcomes -------------------------------------------------------------------------------------------------


class OutcomeConflict(ServiceError):
    """Someone recorded or amended this case's outcome after the user loaded it; nothing was overwritten."""


def _require_standing_decision(referral: ReferralRow, outcome: str) -> None:
    if outcome == ACCEPT_FOR_SPD and referral.decided_outcome != READY_FOR_MDT:
        raise ServiceError(
            "accepting for SPD needs a standing consultant decision of ready for MDT: the triage changed "
            "since it was confirmed, so a consultant reconfirms it first"
        )


def record_outcome(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    referral_id: int,
    outcome: str,
    rationale: str | None,
    today: date,
    checklist: dict[str, bool] | None = None,
    actions: Iterable[CaseAction] | None = None,
    expected_version: int | None = None,
    amend_reason: str | None = None,
    expected_referral_version: int | None = None,
) -> Changes:
    """Record the MDT's decision on a case (consultants only), as a compare-and-swap on the meeting case.

    Refused before the meeting's date, without a rationale, for a case not on the meeting, and, for accepting
    for SPD, without the NICE 1.1 checklist or a standing consultant decision of ready for MDT. Recording
    over an existing outcome is an amendment: it needs the version the user saw and a written reason. A case
    not discussed rolls to the next meeting.
    """
    # An amendment (a reason given) is checked as one at once; one recorded over unawares is checked below.
    authorize(actor, AMEND_OUTCOME if (amend_reason or "").strip() else RECORD_OUTCOME, db=db)
    if outcome not in MEETING_OUTCOMES:
        raise ServiceError(f"'{outcome}' is not an MDT outcome: {', '.join(MEETING_OUTCOMES)}")
    rationale = limited_text(rationale, "outcome.rationale", "rationale")
    if rationale is None:
        raise ServiceError("an MDT outcome needs a rationale: write why the MDT decided it")
    amend_reason = limited_text(amend_reason, "outcome.amend_reason", "reason for amending")
    ticks = checklist or {}
    if outcome == ACCEPT_FOR_SPD:
        missing = checklist_missing(ticks)
        if missing:
            raise ServiceError("accepting for SPD needs the checklist first: " + "; ".join(missing))
    action_list = None if actions is None else list(actions)  # None: keep what an amended outcome had
    for action in action_list or ():
        if limited_text(action.description, "action.description", "action") is None:
            raise ServiceError("an action needs a description")
        limited_text(action.owner, "action.owner", "action owner")
    with db.write() as session:
        meeting = _meeting(session, meeting_id)
        if meeting.status == CANCELLED:
            raise ServiceError("this meeting was cancelled")
        if today < meeting.meeting_date:
            raise ServiceError(
                f"the meeting is on {meeting.meeting_date:%d-%b-%Y}: outcomes are recorded on or after that date"
            )
        case = _find_case(session, meeting_id, referral_id)
        if case is None:
            raise NotFound(f"referral {referral_id} is not on meeting {meeting_id}")
        assert case.id is not None
        before = case.outcome
        if before is not None:
            authorize(actor, AMEND_OUTCOME, session=session)
            decider = session.get(AppUser, case.decided_by) if case.decided_by is not None else None
            who = decider.display_name if decider is not None else "another user"
            when = f"{case.decided_at:%d-%b-%Y %H:%M} UTC" if case.decided_at else "earlier"
            if expected_version is None or expected_version != case.version:
                raise OutcomeConflict(
                    f"{MEETING_OUTCOME_LABELS.get(before, before)} was already recorded for this case by {who} "
                    f"({when}); nothing was overwritten. To amend it, give its current version ({case.version}) "
                    "and a reason."
                )
            if amend_reason is None:
                raise ServiceError("amending a recorded outcome needs a written reason")
            if before == NOT_DISCUSSED or outcome == NOT_DISCUSSED:
                raise ServiceError(
                    "a case not discussed has moved on to the next meeting, and a discussed case cannot become "
                    "not discussed: record the outcome on the meeting that discusses it"
                )
        elif expected_version is not None and expected_version != case.version:
            raise OutcomeConflict("this case changed after you loaded it; nothing was recorded. Reload it first.")
        referral = repo.get_referral_row(session, referral_id)
        assert referral is not None
        if expected_referral_version is not None and referral.version != expected_referral_version:
            raise OutcomeConflict(
                "this referral was changed after its case was put on the screen (for example an edit to its "
                "history or cautions); nothing was recorded. Look at the case as it is now, then record."
            )
        _require_standing_decision(referral, outcome)
        swapped = session.execute(
            update(MeetingCaseRow)
            .where(col(MeetingCaseRow.id) == case.id, col(MeetingCaseRow.version) == case.version)
            .values(
                outcome=outcome,
                rationale=rationale,
                patient_information_given=bool(ticks.get("patient_information_given")),
                consent_discussion_planned=bool(ticks.get("consent_discussion_planned")),
                baseline_severity_recorded=bool(ticks.get("baseline_severity_recorded")),
                decided_by=actor.user_id,
                decided_at=utc_now(),
                version=case.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if swapped.rowcount != 1:  # type: ignore[attr-defined]
            raise OutcomeConflict("this case changed while you were recording; nothing was recorded. Reload it.")
        # Read the referral again, locked, after the case (the order remove_case takes them in): on PostgreSQL
        # an edit may have lapsed its decision since the read above. A refusal here rolls the case back too.
        referral = _lock_referral(session, referral_id)
        _require_standing_decision(referral, outcome)
        if action_list is None:
            action_list = list(_actions(session, case.id))  # an amendment keeps the agreed actions
        session.execute(delete(CaseActionRow).where(col(CaseActionRow.case_id) == case.id))
        for action in action_list:
            session.add(
                CaseActionRow(
                    case_id=case.id, description=action.description.strip(), owner=action.owner, due_date=action.due
                )
            )
        where = ""
        label = MEETING_OUTCOME_LABELS[outcome]
        if outcome == NOT_DISCUSSED:
            where = _roll_forward(session, actor, meeting, case)
        elif referral.status == LISTED:
            _set_referral(
                session, actor, referral, status=DISCUSSED, meeting_id=None, note=f"MDT {_describe(meeting)}: {label}"
            )
        elif before is not None:
            session.add(
                StatusChangeRow(
                    referral_id=referral_id,
                    from_status=referral.status,
                    to_status=referral.status,
                    note=f"MDT outcome amended to {label}: {amend_reason}",
                    changed_by=actor.user_id,
                )
            )
        audit(
            session,
            actor,
            "meeting_outcome_amended" if before is not None else "meeting_outcome",
            "meeting_case",
            case.id,
            {
                "referral_id": [None, referral_id],
                "outcome": [before, outcome],
                "rationale": [case.rationale if before is not None else None, rationale],
                "amend_reason": [None, amend_reason],
                "checklist": [None, {k: bool(v) for k, v in ticks.items()}],
                "actions": [None, [a.description for a in action_list]],
                "rolled": [None, where or None],
                "version": [case.version, case.version + 1],
            },
        )
        session.flush()
        remaining = session.execute(
            select(func.count())
            .select_from(MeetingCaseRow)
            .where(col(MeetingCaseRow.meeting_id) == meeting_id, col(MeetingCaseRow.outcome).is_(None))
        ).scalar_one()
        if remaining == 0 and meeting.status != HELD:
            meeting.status = HELD
            session.add(meeting)
        return Changes(referral_ids=frozenset({referral_id}), meetings=True)


# --- agenda contents ----------------------------------------------------------------------------------------------


def agenda_inputs(db: Database, *, meeting_id: int, actor: Actor | None = None) -> tuple[MeetingInfo, list[CaseInput]]:
    """Everything the agenda shows, read in one transaction."""
    with db.read() as session:
        _may_view(session, actor)
        meeting = _meeting(session, meeting_id)
        attendees = (
            session.execute(
                select(MeetingAttendeeRow)
                .where(col(MeetingAttendeeRow.meeting_id) == meeting_id)
                .order_by(col(MeetingAttendeeRow.id))
            )
            .scalars()
            .all()
        )
        info = MeetingInfo(
            meeting_id=meeting_id,
            meeting_date=meeting.meeting_date,
            meeting_time=meeting.meeting_time,
            place=meeting.place,
            video_link=meeting.video_link,
            chair=meeting.chair,
            attendees=tuple((a.name, a.mdt_role) for a in attendees),
            status=meeting.status,
            circulated_at=meeting.circulated_at,
        )
        inputs = []
        for case in _cases(session, meeting_id):
            loaded = repo.load_referral(session, case.referral_id)
            if loaded is None:
                continue
            row, referral = loaded
            stored = (
                None if row.current_assessment_id is None else repo.load_assessment(session, row.current_assessment_id)
            )
            inputs.append(
                CaseInput(
                    position=case.position,
                    referral_id=case.referral_id,
                    referral=referral,
                    triage_outcome=row.outcome,
                    priority=row.priority,
                    criteria=tuple((c.criterion_id, c.status, c.reason) for c in stored.criteria) if stored else (),
                    flags=stored.flags if stored else (),
                    late_addition=case.late_addition,
                    outcome=case.outcome,
                    rationale=case.rationale,
                    actions=_actions(session, case.id or 0),
                    decided_outcome=row.decided_outcome,
                    decision_kind=row.decision_kind,
                )
            )
        return info, inputs


def audit_export(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    what: str,
    file_names: Sequence[str],
    pseudonymised: bool,
    publish: Callable[[], None] | None = None,
) -> None:
    """Record an export in the audit trail, one event per file (its name, never its content).

    `publish` (putting the written files in place) runs inside the same write transaction, after the events are
    written and before the commit: if it fails nothing is recorded, and if recording or the commit fails the
    caller removes the files, so a file and its audit event stand or fall together.
    """
    with db.write() as session:
        for file_name in file_names:
            audit(
                session,
                actor,
                "export",
                "meeting",
                meeting_id,
                {"what": [None, what], "file": [None, file_name], "pseudonymised": [None, pseudonymised]},
            )
        if publish is not None:
            publish()
