"""Rescoring: a new assessment stored as current (a changed outcome lapses the standing decision), the
reassessment of open referrals a rules approval or `triage-app reassess` makes, and the daily priority refresh.
Importable from services.referrals as before.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
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
from triage_app.storage import reassess_batch as batch_repo
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database, DatabaseError
from triage_app.storage.models import AssessmentRow, ReferralRow, StatusChangeRow, TriageDecisionRow
from triage_app.storage.stopping import Stopped, StopSignal

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
    return _lapse_if_changed(
        session,
        actor=actor,
        referral_id=referral_id,
        standing=(row.status, row.version, row.decided_outcome, row.decision_basis),
        assessment=assessment,
        assessment_id=stored.id,
    )


def _lapse_if_changed(
    session: Any,
    *,
    actor: Actor,
    referral_id: int,
    standing: tuple[str, int, str | None, str | None],
    assessment: Assessment,
    assessment_id: int,
) -> str | None:
    """The lapse `apply_assessment` describes, given the referral's (status, version, decided outcome, decision
    basis) as they stood before the new assessment; returns the history note when the decision lapsed."""
    status, version, decided_outcome, decision_basis = standing
    if decided_outcome is None or decision_basis == assessment.outcome:
        return None
    if status not in TRIAGEABLE and status not in (LISTED, DISCUSSED):
        return None
    note = (
        f"triage changed since confirmation: was {outcome_words(decision_basis)}, "
        f"now {outcome_words(assessment.outcome)}"
    )
    session.add(
        TriageDecisionRow(
            referral_id=referral_id,
            assessment_id=assessment_id,
            decision="lapsed",
            outcome=assessment.outcome,
            reason=note,
            decided_by=actor.user_id,
        )
    )
    repo.set_decision(session, referral_id=referral_id, decision_id=None, outcome=None, kind=None, basis=None)
    before = status
    after = RECEIVED if before in TRIAGEABLE else before
    repo.bump_version(session, referral_id=referral_id, expected_version=version, user_id=actor.user_id, status=after)
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
            "decided_outcome": [decided_outcome, None],
            "outcome": [decision_basis, assessment.outcome],
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

    Used by a rules approval, so the approval and the reassessment it causes commit together or not at all, and
    by each batch of `reassess_open`. Reads and writes a few hundred referrals at a time with Core statements
    (storage.reassess_batch); one audit event a referral, in the same transaction.
    """
    done: list[int] = []
    lapsed: list[int] = []
    todo = _reassessable_ids(session, rules=rules, only_stale=only_stale, ids=ids)
    for start in range(0, len(todo), CHUNK):
        loaded = batch_repo.load_referrals(session, todo[start : start + CHUNK])
        scored = [(item.referral_id, assess(item.referral, rules, as_of)) for item in loaded]
        new_ids = batch_repo.store_assessments(session, scored=scored, user_id=actor.user_id)
        for item, (referral_id, assessment) in zip(loaded, scored, strict=True):
            standing = (item.status, item.version, item.decided_outcome, item.decision_basis)
            note = _lapse_if_changed(
                session,
                actor=actor,
                referral_id=referral_id,
                standing=standing,
                assessment=assessment,
                assessment_id=new_ids[referral_id],
            )
            if note is not None:
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


#: Referrals read and written per round of statements inside a transaction (SQLite's bound-parameter limit is
#: far above it; the IN lists stay short).
CHUNK = 500


@dataclass(frozen=True, slots=True)
class BulkReassessment:
    """What `reassess_open` rescored, and what changed (every view reloads: a bulk change).

    `stopped` when a Cancel (or closing the window) stopped it between batches: the batches done are kept and
    `remaining` referrals still carry an assessment by other rules (shown as not yet reassessed)."""

    referral_ids: list[int]
    changes: Changes
    lapsed: tuple[int, ...] = ()
    stopped: bool = False
    remaining: int = 0


#: Referrals a background reassessment commits at a time: each batch and its audit events are one transaction,
#: short enough that other desktops' writes wait little, and a Cancel keeps every batch done.
BATCH_SIZE = 300


def reassess_open(
    db: Database,
    *,
    actor: Actor,
    rules: Rules,
    as_of: date,
    only_stale: bool = True,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    stop: StopSignal | None = None,
) -> BulkReassessment:
    """Rescore open referrals that have not reached an MDT whose current assessment used another rules version
    (or all of them). Listed, discussed and closed referrals are never rescored.

    In batches of `batch_size`, one write transaction each with its audit events (each batch whole or not at
    all). `progress(done, total)` after each batch; `stop` (a Cancel) is looked at between batches and keeps the
    batches committed (`stopped`, `remaining`). Earlier assessments are kept as history. Returns the ids
    reassessed; `EVERYTHING` changed when any were.
    """
    try:
        # At a million referrals this first look reads every open referral for a second or more: `stop` (closing
        # the window) interrupts it on SQLite rather than waiting for it.
        with db.read() as session, _stoppable(session, stop):
            ids = _reassessable_ids(session, rules=rules, only_stale=only_stale)
    except (Stopped, DatabaseError):
        if stop is None or not stop.stopped:
            raise
        return BulkReassessment([], NOTHING, stopped=True, remaining=0)
    done: list[int] = []
    lapsed: list[int] = []
    total = len(ids)
    if progress is not None:
        progress(0, total)
    stopped = False
    for start in range(0, total, batch_size):
        if stop is not None and stop.stopped:
            stopped = True
            break
        with db.write() as session:
            # checked again inside the write: a referral listed since the read keeps the assessment it has
            result = reassess_in_transaction(
                session,
                actor=actor,
                rules=rules,
                as_of=as_of,
                only_stale=only_stale,
                ids=ids[start : start + batch_size],
            )
        done.extend(result.referral_ids)
        lapsed.extend(result.lapsed)
        if progress is not None:
            progress(min(start + batch_size, total), total)
    if done:
        log.info("reassessed %d open referrals with rules %s", len(done), rules.version)
    if stopped:
        log.info("reassessment stopped with %d referrals still to reassess", total - len(done))
    return BulkReassessment(
        done,
        EVERYTHING if done else NOTHING,
        tuple(lapsed),
        stopped=stopped,
        remaining=0 if not stopped else max(0, total - start),
    )


@contextlib.contextmanager
def _stoppable(session: Session, stop: StopSignal | None) -> Iterator[None]:
    """While inside, `stop.stop()` interrupts the statement `session` runs on a SQLite connection (a server's
    statement runs to its end: the work stops after it)."""
    if stop is None:
        yield
        return
    raw = session.connection().connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):
        stop.raise_if_stopped("the reassessment")
        yield
        return
    with stop.watch(raw):
        yield


def count_stale(db: Database, *, rules: Rules) -> int:
    """How many open referrals not yet at an MDT carry an assessment by other rules than `rules` (or none)."""
    with db.read() as session:
        return count_reassessable(session, rules=rules, only_stale=True)


def refresh_queue_priorities(db: Database, *, rules: Rules, as_of: date) -> int:
    """Update today's priorities in the queue (the waiting term grows week by week)."""
    with db.write() as session:
        return repo.refresh_priorities(session, as_of=as_of, rules=rules)
