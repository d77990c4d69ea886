"""The chase list and the MDT actions across meetings, sorted and filtered in SQL (indexes of schema 0010).

Referrals awaiting information come by chase date, the ones with no date first (someone must set one), through
`ix_referral_chase` (status, chase_on). Actions come open first, by due date (`ix_case_action_due`), or one
owner's by due date (`ix_case_action_owner`); each with its patient and its meeting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from triage_app.domain.workflow import AWAITING_INFORMATION
from triage_app.storage.models import AppUser, CaseActionRow, MeetingCaseRow, MeetingRow, ReferralRow


@dataclass(frozen=True, slots=True)
class ChaseRow:
    """A referral awaiting information as the chase list shows it."""

    referral_id: int
    version: int
    family_name: str | None
    given_name: str | None
    nhs_number: str | None
    date_of_birth: date | None
    received_on: date | None
    referrer_name: str | None
    awaited: str | None
    chase_on: date | None
    chased_on: date | None


def chase_rows(session: Session, *, due_by: date | None = None, limit: int | None = None) -> list[ChaseRow]:
    """Referrals awaiting information, no chase date first, then by chase date (oldest first), then by id.

    Given `due_by`, only those with no chase date or one before it (overdue on `due_by`).
    """
    r = ReferralRow
    columns: list[Any] = [
        r.id,
        r.version,
        r.family_name,
        r.given_name,
        r.nhs_number,
        r.date_of_birth,
        r.received_on,
        r.referrer_name,
        r.awaited,
        r.chase_on,
        r.chased_on,
    ]
    query = select(*columns).where(col(r.status) == AWAITING_INFORMATION)
    if due_by is not None:
        query = query.where(col(r.chase_on).is_(None) | (col(r.chase_on) < due_by))
    query = query.order_by(col(r.chase_on).asc().nulls_first(), col(r.id))
    if limit is not None:
        query = query.limit(limit)
    return [ChaseRow(*row) for row in session.execute(query).all()]


def set_chase(
    session: Session,
    referral_id: int,
    *,
    awaited: str | None,
    chase_on: date | None,
    chased_on: date | None,
) -> None:
    """Store what a referral awaits and when to chase it (no new version: the referral's content is unchanged)."""
    session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id)
        .values(awaited=awaited, chase_on=chase_on, chased_on=chased_on)
    )


@dataclass(frozen=True, slots=True)
class ActionRow:
    """An MDT action with its patient and meeting, and who ticked it off."""

    action_id: int
    description: str
    owner: str | None
    due_date: date | None
    done_at: datetime | None
    done_by: str | None
    referral_id: int
    family_name: str | None
    given_name: str | None
    nhs_number: str | None
    date_of_birth: date | None
    meeting_id: int
    meeting_date: date


def action_rows(
    session: Session,
    *,
    owner: str | None = None,
    due_by: date | None = None,
    include_done: bool = False,
    action_id: int | None = None,
) -> list[ActionRow]:
    """MDT actions across meetings: open ones (and, with `include_done`, done ones after them) by due date, those
    with no due date last. `owner` keeps one owner's (exactly as entered); `due_by` keeps open actions due before
    it (overdue on `due_by`)."""
    a, c, m, r = CaseActionRow, MeetingCaseRow, MeetingRow, ReferralRow
    columns: list[Any] = [
        a.id,
        a.description,
        a.owner,
        a.due_date,
        a.done_at,
        AppUser.display_name,
        r.id,
        r.family_name,
        r.given_name,
        r.nhs_number,
        r.date_of_birth,
        m.id,
        m.meeting_date,
    ]
    query = (
        select(*columns)
        .join(c, col(c.id) == col(a.case_id))
        .join(m, col(m.id) == col(c.meeting_id))
        .join(r, col(r.id) == col(c.referral_id))
        .outerjoin(AppUser, col(AppUser.id) == col(a.done_by))
    )
    if action_id is not None:
        query = query.where(col(a.id) == action_id)
    if owner is not None:
        query = query.where(col(a.owner) == owner)
    if due_by is not None:
        query = query.where(col(a.done_at).is_(None), col(a.due_date) < due_by)
    elif not include_done:
        query = query.where(col(a.done_at).is_(None))
    query = query.order_by(
        col(a.done_at).asc().nulls_first(), col(a.due_date).asc().nulls_last(), col(m.meeting_date), col(a.id)
    )
    return [ActionRow(*row) for row in session.execute(query).all()]


def action_owners(session: Session) -> list[str]:
    """Every owner named on an action, in order (the filter's choices)."""
    query = (
        select(col(CaseActionRow.owner))
        .where(col(CaseActionRow.owner).is_not(None))
        .distinct()
        .order_by(col(CaseActionRow.owner))
    )
    return [str(owner) for owner in session.execute(query).scalars()]


def mark_done(session: Session, action_id: int, *, user_id: int, when: datetime) -> bool:
    """Tick an open action off; False when it was already done (or does not exist)."""
    result = session.execute(
        update(CaseActionRow)
        .where(col(CaseActionRow.id) == action_id, col(CaseActionRow.done_at).is_(None))
        .values(done_at=when, done_by=user_id)
    )
    return bool(getattr(result, "rowcount", 0))
