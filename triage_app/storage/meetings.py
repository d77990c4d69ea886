"""The meetings' SQL: meetings, their attendees, cases and agreed actions, beside storage.referrals.

The use cases (services.meetings) decide what may happen, check who may do it and audit it; the queries and
writes they need live here, each taking the caller's open session (one transaction per use case).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from triage_app.domain.meetings import CANCELLED, OPEN_MEETING_STATUSES, CaseAction
from triage_app.domain.workflow import READY_FOR_MDT
from triage_app.storage.models import (
    AppSetting,
    AppUser,
    CaseActionRow,
    MeetingAttendeeRow,
    MeetingCaseRow,
    MeetingRow,
    ReferralRow,
)

#: The unit setting of cases per meeting, and its value when none is set.
CAPACITY_KEY = "meeting_capacity"
DEFAULT_CAPACITY = 8


def capacity(session: Session) -> int:
    """Cases per meeting (the unit's setting, else `DEFAULT_CAPACITY`)."""
    setting = session.get(AppSetting, CAPACITY_KEY)
    return int(setting.value) if setting is not None and setting.value.isdigit() else DEFAULT_CAPACITY


def store_capacity(session: Session, cases: int) -> str:
    """Set the cases per meeting; returns the value it had (as stored, or the default)."""
    setting = session.get(AppSetting, CAPACITY_KEY)
    before = setting.value if setting else str(DEFAULT_CAPACITY)
    session.merge(AppSetting(key=CAPACITY_KEY, value=str(cases)))
    return before


def insert_meeting(
    session: Session,
    *,
    meeting_date: date,
    meeting_time: str,
    place: str | None,
    video_link: str | None,
    chair: str | None,
    created_by: int,
    attendees: Sequence[tuple[str, str | None]],
) -> MeetingRow:
    """A new planned meeting with its attendees (name, MDT role); its id is set."""
    meeting = MeetingRow(
        meeting_date=meeting_date,
        meeting_time=meeting_time,
        place=place,
        video_link=video_link,
        chair=chair,
        created_by=created_by,
    )
    session.add(meeting)
    session.flush()
    assert meeting.id is not None
    for name, role in attendees:
        session.add(MeetingAttendeeRow(meeting_id=meeting.id, name=name, mdt_role=role))
    return meeting


def meeting_at(session: Session, meeting_date: date, meeting_time: str) -> MeetingRow | None:
    """A meeting not cancelled at this date and time (the first made), if there is one."""
    return (
        session.execute(
            select(MeetingRow)
            .where(
                col(MeetingRow.meeting_date) == meeting_date,
                col(MeetingRow.meeting_time) == meeting_time,
                col(MeetingRow.status) != CANCELLED,
            )
            .order_by(col(MeetingRow.id))
            .limit(1)
        )
        .scalars()
        .first()
    )


def meetings_by_date(session: Session, *, open_only: bool = False) -> list[MeetingRow]:
    """Meetings by date and time (only planned and circulated ones, if `open_only`)."""
    query = select(MeetingRow).order_by(col(MeetingRow.meeting_date), col(MeetingRow.meeting_time))
    if open_only:
        query = query.where(col(MeetingRow.status).in_(OPEN_MEETING_STATUSES))
    return list(session.execute(query).scalars().all())


def case_counts(session: Session) -> dict[int, int]:
    """Cases listed on each meeting that has any."""
    rows = session.execute(
        select(col(MeetingCaseRow.meeting_id), func.count()).group_by(col(MeetingCaseRow.meeting_id))
    ).all()
    return {int(meeting_id): int(count) for meeting_id, count in rows}


def attendee_roles(session: Session) -> dict[int, list[str | None]]:
    """The MDT roles each meeting's quorum counts (None for an attendee without one): those marked present once
    its attendance is taken, the expected attendees until then."""
    roles: dict[int, list[str | None]] = {}
    rows = session.execute(
        select(
            col(MeetingAttendeeRow.meeting_id),
            col(MeetingAttendeeRow.mdt_role),
            col(MeetingAttendeeRow.attended),
            col(MeetingAttendeeRow.invited),
            col(MeetingRow.attendance_taken_at),
        ).join(MeetingRow, col(MeetingRow.id) == col(MeetingAttendeeRow.meeting_id))
    ).all()
    for meeting_id, role, attended, invited, taken in rows:
        roles.setdefault(meeting_id, [])
        if attended if taken is not None else invited:
            roles[meeting_id].append(role)
    return roles


def attendees(session: Session, meeting_id: int) -> tuple[MeetingAttendeeRow, ...]:
    """A meeting's attendees in the order they were added."""
    return tuple(
        session.execute(
            select(MeetingAttendeeRow)
            .where(col(MeetingAttendeeRow.meeting_id) == meeting_id)
            .order_by(col(MeetingAttendeeRow.id))
        ).scalars()
    )


def user_names(session: Session, user_ids: Collection[int]) -> dict[int, str]:
    """Display names of these users."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(col(AppUser.id), col(AppUser.display_name)).where(col(AppUser.id).in_(list(user_ids)))
    ).all()
    return {int(user_id): name for user_id, name in rows}


def find_case(session: Session, meeting_id: int | None, referral_id: int | None) -> MeetingCaseRow | None:
    """The case of `referral_id` on `meeting_id`, if it is listed there."""
    return session.execute(
        select(MeetingCaseRow).where(
            col(MeetingCaseRow.meeting_id) == meeting_id, col(MeetingCaseRow.referral_id) == referral_id
        )
    ).scalar_one_or_none()


def cases(session: Session, meeting_id: int) -> list[MeetingCaseRow]:
    """A meeting's cases in their order."""
    return list(
        session.execute(
            select(MeetingCaseRow)
            .where(col(MeetingCaseRow.meeting_id) == meeting_id)
            .order_by(col(MeetingCaseRow.position), col(MeetingCaseRow.id))
        ).scalars()
    )


def close_gaps(session: Session, meeting_id: int) -> None:
    """Number the meeting's cases 1..n in their order (after one is taken off), in the caller's transaction."""
    for position, case in enumerate(cases(session, meeting_id), start=1):
        if case.position != position:
            case.position = position
            session.add(case)
    session.flush()


def actions(session: Session, case_id: int) -> tuple[CaseAction, ...]:
    """The actions agreed for a case, in the order they were recorded."""
    rows = session.execute(
        select(CaseActionRow).where(col(CaseActionRow.case_id) == case_id).order_by(col(CaseActionRow.id))
    ).scalars()
    return tuple(CaseAction(r.description, r.owner, r.due_date) for r in rows)


def replace_actions(session: Session, case_id: int, agreed: Iterable[CaseAction]) -> None:
    """Store `agreed` as the case's actions in place of those it had."""
    session.execute(delete(CaseActionRow).where(col(CaseActionRow.case_id) == case_id))
    for action in agreed:
        session.add(
            CaseActionRow(
                case_id=case_id, description=action.description.strip(), owner=action.owner, due_date=action.due
            )
        )


def last_position(session: Session, meeting_id: int) -> int:
    """The position of the meeting's last case (0 when it has none)."""
    last = session.execute(
        select(func.max(MeetingCaseRow.position)).where(col(MeetingCaseRow.meeting_id) == meeting_id)
    ).scalar_one()
    return int(last or 0)


def lock_referral(session: Session, referral_id: int) -> ReferralRow | None:
    """Lock the referral's row until the transaction ends and re-read it (a loaded object is refreshed).

    SQLite needs it not: `Database.write()` holds the write lock from the first read (BEGIN IMMEDIATE), and
    ignores FOR UPDATE. On PostgreSQL another desktop may be listing the referral, confirming it, or lapsing
    its decision at the same moment: without the lock a check reads the row as it was, and the compare-and-swap
    on its version then fails with a storage error instead of the service's refusal.
    """
    row: ReferralRow | None = session.execute(
        select(ReferralRow)
        .where(col(ReferralRow.id) == referral_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    return row


def lock_meeting(session: Session, meeting_id: int) -> MeetingRow | None:
    """Lock the meeting's row until the transaction ends and re-read it: its list is changed by one desktop at a
    time, so a new case's position (last + 1) and the renumbering after one is taken off never collide.

    SQLite serialises writers already (BEGIN IMMEDIATE) and ignores FOR UPDATE; PostgreSQL needs the lock.
    """
    row: MeetingRow | None = session.execute(
        select(MeetingRow)
        .where(col(MeetingRow.id) == meeting_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    return row


def ready_ids(session: Session, limit: int | None = None) -> list[int]:
    """Referrals ready for MDT (a standing decision of it) and on no meeting, highest priority first."""
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


def next_open_meeting(session: Session, after: MeetingRow) -> MeetingRow | None:
    """The first open meeting later than `after` (by date, then time), if any."""
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


def swap_case_outcome(session: Session, case: MeetingCaseRow, **values: object) -> bool:
    """Write `values` to the case if its version is still the one loaded (compare-and-swap); bumps the version.

    False when someone changed the case since (nothing written).
    """
    swapped = session.execute(
        update(MeetingCaseRow)
        .where(col(MeetingCaseRow.id) == case.id, col(MeetingCaseRow.version) == case.version)
        .values(**values, version=case.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(swapped.rowcount == 1)  # type: ignore[attr-defined]


def undecided_cases(session: Session, meeting_id: int) -> int:
    """How many of the meeting's cases have no outcome yet."""
    return int(
        session.execute(
            select(func.count())
            .select_from(MeetingCaseRow)
            .where(col(MeetingCaseRow.meeting_id) == meeting_id, col(MeetingCaseRow.outcome).is_(None))
        ).scalar_one()
    )


def replace_expected_attendees(session: Session, meeting_id: int, wanted: Sequence[tuple[str, str]]) -> None:
    """Make the meeting's expected attendees `wanted` (name, MDT role), in that order.

    One kept by name (without regard to case) keeps their attendance mark; one taken off goes, unless they were
    marked present on the day (then they stay, as someone who came without being expected).
    """
    wanted_keys = {name.casefold() for name, _ in wanted}
    marks: dict[str, bool | None] = {}
    for old in attendees(session, meeting_id):
        key = old.name.casefold()
        if key in wanted_keys:
            marks[key] = old.attended
            session.delete(old)  # re-added below in the new order (attendees are read by id)
        elif old.invited and old.attended:
            old.invited = False
            session.add(old)
        elif old.invited:
            session.delete(old)
    session.flush()
    for name, role in wanted:
        session.add(
            MeetingAttendeeRow(meeting_id=meeting_id, name=name, mdt_role=role, attended=marks.get(name.casefold()))
        )
    session.flush()


def mark_attendance(session: Session, meeting_id: int, present: Sequence[tuple[str, str]]) -> None:
    """Mark each attendee there or not from `present` (name, MDT role on the day); add those not expected.

    A name matches without regard to case. Someone added on the day at an earlier taking and not present now is
    taken off again (they were never expected).
    """
    there = {name.casefold(): (name, role) for name, role in present}
    for attendee in attendees(session, meeting_id):
        key = attendee.name.casefold()
        if key in there:
            attendee.attended = True
            attendee.mdt_role = there.pop(key)[1]  # the role they took on the day is the one quorum counts
            session.add(attendee)
        elif attendee.invited:
            attendee.attended = False
            session.add(attendee)
        else:
            session.delete(attendee)
    for name, role in there.values():
        session.add(MeetingAttendeeRow(meeting_id=meeting_id, name=name, mdt_role=role, attended=True, invited=False))
    session.flush()
