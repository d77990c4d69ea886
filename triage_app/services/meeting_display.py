"""What the in-meeting screen shows beyond the agenda's words: who made the consultant's standing triage decision
and when, and the toxin history's immunoresistance test.

One read per meeting refresh (`case_display`); the GUI words it (ui/meetings/text.py). Read-only: no `Changes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from triage_app.services.meeting_cases import may_view, meeting_or_refuse
from triage_app.services.users import Actor
from triage_app.storage import meetings as store
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import TriageDecisionRow


@dataclass(frozen=True, slots=True)
class CaseDisplay:
    """One listed referral's extra detail for the shared display."""

    referral_id: int
    decision_kind: str | None  # confirmed | overridden; None when no consultant decision stands
    decided_outcome: str | None  # the outcome the consultant confirmed or set
    computed_outcome: str | None  # what the rules computed, when the decision was made
    decided_by: str | None  # the consultant's display name
    decided_at: datetime | None  # UTC
    decision_reason: str | None  # an override's reason
    immunoresistance_tested: bool | None  # None: not recorded


def case_display(db: Database, *, meeting_id: int, actor: Actor | None = None) -> dict[int, CaseDisplay]:
    """The standing triage decision (who, when, what) and the immunoresistance test of every case on the meeting,
    by referral id."""
    with db.read() as session:
        may_view(session, actor)
        meeting_or_refuse(session, meeting_id)
        referral_ids = [c.referral_id for c in store.cases(session, meeting_id)]
        loaded = {rid: repo.load_referral(session, rid) for rid in referral_ids}
        decision_ids = [row.decision_id for row, _ in filter(None, loaded.values()) if row.decision_id is not None]
        decisions = (
            {
                d.id: d
                for d in session.execute(
                    select(TriageDecisionRow).where(col(TriageDecisionRow.id).in_(decision_ids))
                ).scalars()
            }
            if decision_ids
            else {}
        )
        names = store.user_names(session, {d.decided_by for d in decisions.values()})
        shown: dict[int, CaseDisplay] = {}
        for rid, pair in loaded.items():
            if pair is None:
                continue
            row, referral = pair
            decision = decisions.get(row.decision_id) if row.decision_id is not None else None
            shown[rid] = CaseDisplay(
                referral_id=rid,
                decision_kind=row.decision_kind if decision is not None else None,
                decided_outcome=row.decided_outcome if decision is not None else None,
                computed_outcome=row.decision_basis if decision is not None else None,
                decided_by=names.get(decision.decided_by) if decision is not None else None,
                decided_at=decision.decided_at if decision is not None else None,
                decision_reason=decision.reason if decision is not None else None,
                immunoresistance_tested=referral.botulinum_toxin.immunoresistance_tested,
            )
        return shown
