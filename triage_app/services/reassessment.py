"""Rescoring: a new assessment stored as current (a changed outcome lapses the standing decision), the
reassessment of open referrals a rules approval or `triage-app reassess` makes, and the daily priority refresh.
Importable from services.referrals as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from triage_app.domain.rules import Rules
from triage_app.domain.scoring import Assessment, assess, outcome_words
from triage_app.domain.workflow import DISCUSSED, LISTED, RECEIVED, TRIAGEABLE
from triage_app.services.auditing import audit
from triage_app.services.changes import EVERYTHING, NOTHING, Changes
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import AssessmentRow, ReferralRow, StatusChangeRow, TriageDecisionRow

log = logging.getLogger(__name__)


def apply_assessment(session: Any, *, actor: Actor, referral_id: int, assessment: Assessment) -> str | None:
    """Store a new assessment as current; if it changes the computed outcome a standing decision was made on,
    the decision lapses: the referral needs triage again and its history says why.

    A listed referral stays on its meeting, marked for reconfirmation; a discussed one keeps its MDT outcome and
    status, and a consultant reconfirms its triage for the record.
    Returns the history note when a decision lapsed.
    """
    stored = repo.store_assessment(session, referral_id=referral_id, assessment=assessment, user_id=actor.user_id)
    row = repo.get_referral_row(session, referral_id)
    assert row is not None and stored.id is not None
    if row.decided_outcome is None or row.decision_basis == assessment.outcome:
        return None
    if row.status not in TRIAGEABLE and row.status not in (LISTED, DISCUSSED):
        return None
    note = (
        f"triage changed since confirmation: was {outcome_words(row.decision_basis)}, "
        f"now {outcome_words(assessment.outcome)}"
    )
    session.add(
        TriageDecisionRow(
            referral_id=referral_id,
            assessment_id=stored.id,
            decision="lapsed",
            outcome=assessment.outcome,
            reason=note,
            decided_by=actor.user_id,
        )
    )
    repo.set_decision(session, referral_id=referral_id, decision_id=None, outcome=None, kind=None, basis=None)
    before = row.status
    after = RECEIVED if before in TRIAGEABLE else before
    repo.bump_version(
        session, referral_id=referral_id, expected_version=row.version, user_id=actor.user_id, status=after
    )
    session.add(
        StatusChangeRow(
            referral_id=referral_id, from_status=before, to_status=after, note=note, changed_by=actor.user_id
        )
    )
    audit(
        session,
        actor,
        "triage_lapsed",
        "referral",
        referral_id,
        {
            "decided_outcome": [row.decided_outcome, None],
            "outcome": [row.decision_basis, assessment.outcome],
            "status": [before, after],
        },
    )
    session.flush()
    log.info("referral %s: standing triage decision lapsed", referral_id)
    return note


#: Statuses that have not reached an MDT: new rules may rescore them. A listed, discussed or closed referral keeps
#: the assessment the MDT saw (a rules change never alters what a meeting had before it).
REASSESSABLE = TRIAGEABLE


def _reassessable_ids(session: Session, *, rules: Rules, only_stale: bool, ids: list[int] | None = None) -> list[int]:
    """Open referrals not yet at an MDT (nor on a meeting's list), optionally only those assessed by other rules."""
    query = (
        select(col(ReferralRow.id))
        .join(AssessmentRow, col(AssessmentRow.id) == col(ReferralRow.current_assessment_id), isouter=True)
        .where(col(ReferralRow.status).in_(sorted(REASSESSABLE)), col(ReferralRow.meeting_id).is_(None))
    )
    if only_stale:
        query = query.where((col(AssessmentRow.rules_version) != rules.version) | col(AssessmentRow.id).is_(None))
    if ids is not None:
        query = query.where(col(ReferralRow.id).in_(ids))
    return list(session.execute(query.order_by(col(ReferralRow.id))).scalars())


@dataclass(frozen=True, slots=True)
class Reassessment:
    """What a reassessment did: the referrals rescored and those whose standing triage decision lapsed."""

    referral_ids: tuple[int, ...]
    lapsed: tuple[int, ...]


def count_reassessable(session: Session, *, rules: Rules, only_stale: bool = False) -> int:
    """How many referrals a reassessment with `rules` would rescore (an approval shows it before it is made)."""
    return len(_reassessable_ids(session, rules=rules, only_stale=only_stale))


def reassess_in_transaction(
    session: Session, *, actor: Actor, rules: Rules, as_of: date, only_stale: bool, ids: list[int] | None = None
) -> Reassessment:
    """Rescore, inside the caller's write transaction, the open referrals that have not reached an MDT.

    Used by a rules approval, so the approval and the reassessment it causes commit together or not at all.
    """
    done: list[int] = []
    lapsed: list[int] = []
    for referral_id in _reassessable_ids(session, rules=rules, only_stale=only_stale, ids=ids):
        loaded = repo.load_referral(session, referral_id)
        if loaded is None:
            continue
        _, referral = loaded
        assessment = assess(referral, rules, as_of)
        if apply_assessment(session, actor=actor, referral_id=referral_id, assessment=assessment) is not None:
            lapsed.append(referral_id)
        audit(
            session,
            actor,
            "reassess",
            "referral",
            referral_id,
            {"rules_version": [None, rules.version], "outcome": [None, assessment.outcome]},
        )
        done.append(referral_id)
    return Reassessment(tuple(done), tuple(lapsed))


@dataclass(frozen=True, slots=True)
class BulkReassessment:
    """What `reassess_open` rescored, and what changed (every view reloads: a bulk change)."""

    referral_ids: list[int]
    changes: Changes


def reassess_open(
    db: Database, *, actor: Actor, rules: Rules, as_of: date, only_stale: bool = True
) -> BulkReassessment:
    """Rescore open referrals that have not reached an MDT whose current assessment used another rules version
    (or all of them). Listed, discussed and closed referrals are never rescored.

    Earlier assessments are kept as history. Returns the ids reassessed; `EVERYTHING` changed when any were.
    """
    with db.read() as session:
        ids = _reassessable_ids(session, rules=rules, only_stale=only_stale)
    done: list[int] = []
    batch = 500
    for start in range(0, len(ids), batch):
        with db.write() as session:
            # checked again inside the write: a referral listed since the read keeps the assessment it has
            result = reassess_in_transaction(
                session, actor=actor, rules=rules, as_of=as_of, only_stale=only_stale, ids=ids[start : start + batch]
            )
            done.extend(result.referral_ids)
    if done:
        log.info("reassessed %d open referrals with rules %s", len(done), rules.version)
    return BulkReassessment(done, EVERYTHING if done else NOTHING)


def refresh_queue_priorities(db: Database, *, rules: Rules, as_of: date) -> int:
    """Update today's priorities in the queue (the waiting term grows week by week)."""
    with db.write() as session:
        return repo.refresh_priorities(session, as_of=as_of, rules=rules)
