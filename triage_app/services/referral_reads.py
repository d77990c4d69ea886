"""Reading referrals: one in full (`ReferralDetail`, which a save and a decision also return, read in their own
transaction), queue rows in order, and current flags. Importable from services.referrals as before."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from triage_app.domain.referral import Referral
from triage_app.services.errors import NotFound
from triage_app.services.permissions import VIEW_QUEUE, VIEW_REFERRAL, authorize
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import AppUser, AssessmentFlagRow, ReferralRow, StatusChangeRow, TriageDecisionRow


@dataclass(frozen=True, slots=True)
class ReferralDetail:
    """Everything the triage panel and the form show for one referral."""

    row: ReferralRow
    referral: Referral
    assessment: repo.StoredAssessment | None
    history: tuple[StatusChangeRow, ...]
    decisions: tuple[TriageDecisionRow, ...]
    user_names: dict[int, str]


def read_detail(session: Session, referral_id: int) -> ReferralDetail:
    """The referral in full as `session` sees it (a save reads it in its own transaction, after the write)."""
    loaded = repo.load_referral(session, referral_id)
    if loaded is None:
        raise NotFound(f"referral {referral_id} does not exist")
    row, referral = loaded
    stored = None if row.current_assessment_id is None else repo.load_assessment(session, row.current_assessment_id)
    history = session.execute(
        select(StatusChangeRow).where(col(StatusChangeRow.referral_id) == referral_id).order_by(col(StatusChangeRow.id))
    ).scalars()
    decisions = session.execute(
        select(TriageDecisionRow)
        .where(col(TriageDecisionRow.referral_id) == referral_id)
        .order_by(col(TriageDecisionRow.id))
    ).scalars()
    names = {u.id: u.display_name for u in session.execute(select(AppUser)).scalars() if u.id is not None}
    return ReferralDetail(row, referral, stored, tuple(history), tuple(decisions), names)


def get_referral(db: Database, *, referral_id: int, actor: Actor | None = None) -> ReferralDetail:
    """One referral in full, with its current assessment, status history and triage decisions.

    Given the `actor` (the desktop and commands give it), checks they may see referrals (`view_referral`).
    """
    with db.read() as session:
        if actor is not None:
            authorize(actor, VIEW_REFERRAL, session=session)
        return read_detail(session, referral_id)


def list_queue(
    db: Database,
    *,
    queue_filter: repo.QueueFilter | None = None,
    sort: str = "priority",
    descending: bool = True,
    limit: int | None = None,
    offset: int = 0,
    actor: Actor | None = None,
) -> list[ReferralRow]:
    """Referral rows in queue order, highest priority first (given the `actor`, checks `view_queue`)."""
    chosen = queue_filter or repo.QueueFilter()
    with db.read() as session:
        if actor is not None:
            authorize(actor, VIEW_QUEUE, session=session)
        ids = repo.queue_ids(session, queue_filter=chosen, sort=sort, descending=descending, limit=limit, offset=offset)
        if not ids:
            return []
        rows = {r.id: r for r in session.execute(select(ReferralRow).where(col(ReferralRow.id).in_(ids))).scalars()}
        return [rows[i] for i in ids]


def current_flags(db: Database, *, referral_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Current flags of each referral given."""
    ids = list(referral_ids)
    result: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return {}
    with db.read() as session:
        query = (
            select(col(ReferralRow.id), col(AssessmentFlagRow.flag))
            .join(AssessmentFlagRow, col(AssessmentFlagRow.assessment_id) == col(ReferralRow.current_assessment_id))
            .where(col(ReferralRow.id).in_(ids))
            .order_by(col(AssessmentFlagRow.flag))
        )
        for referral_id, flag in session.execute(query):
            result[referral_id].append(flag)
    return {k: tuple(v) for k, v in result.items()}
