"""Consultant triage decisions and workflow status changes.

Confirming or overriding an outcome is a consultant's action, enforced here (services.permissions) and not
only in the GUI; so is every status move, each an action of the role matrix. A decision stands on the referral until a later change of the computed outcome lapses it (services.referrals).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from triage_app.domain.scoring import OUTCOMES, READY_FOR_MDT, outcome_words
from triage_app.domain.workflow import (
    DISCUSSED,
    LISTED,
    MOVE_BY_DECISION,
    MOVE_BY_MEETING,
    RECEIVED,
    STATUS_FOR_OUTCOME,
    STATUS_LABELS,
    STATUSES,
    TRIAGEABLE,
    can_move,
    move_needs_reason,
    move_rule,
)
from triage_app.services.auditing import audit
from triage_app.services.changes import Changes
from triage_app.services.errors import ConflictError, InvalidTransition, NotFound, ServiceError
from triage_app.services.permissions import (
    CONFIRM_TRIAGE,
    OVERRIDE_TRIAGE,
    VIEW_REFERRAL,
    authorize,
    status_move_action,
)
from triage_app.services.referral_reads import ReferralDetail, read_detail
from triage_app.services.users import Actor, limited_text
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.meetings import user_names
from triage_app.storage.models import MeetingCaseRow, ReferralRow, StatusChangeRow, TriageDecisionRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """The stored decision (or status change), the referral's new version and status, what changed, and the
    referral in full as stored (read in the same transaction, after the write: the panel shows it as is)."""

    decision_id: int
    version: int
    status: str
    changes: Changes
    detail: ReferralDetail


class StaleAssessment(ServiceError):
    """The referral was reassessed after the consultant opened it: they must look at the new result first."""


def _lock_referral(session: Session, referral_id: int) -> None:
    """Lock the referral's row before reading it, so the decision is made on what is stored at the commit.

    On SQLite the write transaction already holds the database's write lock (BEGIN IMMEDIATE). On PostgreSQL
    a reassessment may be changing the computed outcome at the same moment without bumping the version (only
    a lapse does), so the compare-and-swap alone would let a decision stand on the outcome it replaced.
    SQLite ignores FOR UPDATE.
    """
    session.execute(
        select(col(ReferralRow.id)).where(col(ReferralRow.id) == referral_id).with_for_update(key_share=True)
    )


def decide_triage(
    db: Database,
    *,
    actor: Actor,
    referral_id: int,
    expected_version: int,
    override_outcome: str | None = None,
    reason: str | None = None,
    expected_assessment_id: int | None = None,
) -> DecisionResult:
    """Confirm the current assessment's outcome, or override it with a written reason (consultants only).

    The decision stands on the referral and moves it to the status the decided outcome implies, recorded in
    its history. A listed referral whose decision lapsed can be reconfirmed; decided otherwise than ready for
    MDT, it leaves its meeting. `expected_assessment_id` is the assessment the consultant was shown.
    """
    authorize(actor, CONFIRM_TRIAGE if override_outcome is None else OVERRIDE_TRIAGE, db=db)
    reason = limited_text(reason, "triage.reason", "reason")
    if override_outcome is not None:
        if override_outcome not in OUTCOMES:
            raise ServiceError(f"'{override_outcome}' is not a triage outcome: {', '.join(OUTCOMES)}")
        if reason is None:
            raise ServiceError("an override needs a written reason")
    with db.write() as session:
        _lock_referral(session, referral_id)
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        if row.current_assessment_id is None or row.outcome is None:
            raise ServiceError("this referral has not been assessed yet")
        if expected_assessment_id is not None and expected_assessment_id != row.current_assessment_id:
            # Name the change that made it stale (an edit, or a rules approval's reassessment), and who made it.
            by = user_names(session, [row.updated_by]).get(row.updated_by, "another user")
            raise StaleAssessment(
                f"this referral was changed by {by} at {row.updated_at:%d-%b-%Y %H:%M} UTC after you opened it and "
                "its triage assessed again, so the "
                "triage you saw is no longer current; nothing was recorded. Look at the new result, then decide."
            )
        relisting = row.status == LISTED and row.decided_outcome is None
        # After the MDT discussed it, a changed triage is reconfirmed for the record; the MDT's outcome stands.
        rediscussed = row.status == DISCUSSED and row.decided_outcome is None
        if row.status not in TRIAGEABLE and not relisting and not rediscussed:
            raise InvalidTransition(
                f"this referral is {STATUS_LABELS[row.status].lower()}: the MDT has it now, so its triage can no "
                "longer be confirmed or overridden"
            )
        outcome = override_outcome or row.outcome
        decision = "overridden" if override_outcome is not None and override_outcome != row.outcome else "confirmed"
        if row.decided_outcome == outcome and row.decision_basis == row.outcome:
            raise ServiceError(
                f"this triage already stands as {outcome_words(outcome)}: nothing was recorded (override it to "
                "record another outcome)"
            )
        before_status = row.status
        target = LISTED if relisting and outcome == READY_FOR_MDT else STATUS_FOR_OUTCOME[outcome]
        if rediscussed:
            target = DISCUSSED
        values: dict[str, object] = {"status": target} if target != before_status else {}
        if relisting and target != LISTED:
            values["meeting_id"] = None  # decided otherwise than ready: it leaves its meeting
        elif values and not can_move(before_status, target):
            raise InvalidTransition(
                f"a referral that is {STATUS_LABELS[before_status].lower()} cannot be triaged again; "
                "move it back to received first"
            )
        version = _cas(session, referral_id, expected_version, actor, values)
        if relisting and target != LISTED:
            _leave_meeting(session, row)
        entry = TriageDecisionRow(
            referral_id=referral_id,
            assessment_id=row.current_assessment_id,
            decision=decision,
            outcome=outcome,
            reason=reason,
            decided_by=actor.user_id,
        )
        session.add(entry)
        session.flush()
        assert entry.id is not None
        repo.set_decision(
            session, referral_id=referral_id, decision_id=entry.id, outcome=outcome, kind=decision, basis=row.outcome
        )
        if target != before_status:
            session.add(
                StatusChangeRow(
                    referral_id=referral_id,
                    from_status=before_status,
                    to_status=target,
                    note=f"triage {decision}: {outcome_words(outcome)}",
                    changed_by=actor.user_id,
                )
            )
        audit(
            session,
            actor,
            f"triage_{decision}",
            "referral",
            referral_id,
            {
                "outcome": [row.outcome, outcome],
                "status": [before_status, target],
                "reason": [None, reason],
                "version": [expected_version, version],
            },
        )
        log.info("referral %s triage %s", referral_id, decision)
        # A listed referral reconfirmed stays on its meeting or leaves it: that meeting's case changed.
        meetings = frozenset({row.meeting_id}) if relisting and row.meeting_id is not None else frozenset()
        changes = Changes(referral_ids=frozenset({referral_id}), meeting_ids=meetings)
        return DecisionResult(entry.id, version, target, changes, read_detail(session, referral_id))


def _leave_meeting(session: Session, row: ReferralRow) -> None:
    """Take a referral off the (open) meeting it is listed on, keeping decided cases as they are."""
    for case in session.execute(
        select(MeetingCaseRow).where(col(MeetingCaseRow.referral_id) == row.id, col(MeetingCaseRow.outcome).is_(None))
    ).scalars():
        session.delete(case)


def change_status(
    db: Database,
    *,
    actor: Actor,
    referral_id: int,
    expected_version: int,
    status: str,
    note: str | None = None,
) -> DecisionResult:
    """Move a referral along the workflow.

    Each plain move is an action of the role matrix (`status_move_action`): coordinators move a referral to
    awaiting information and back; every other move is a consultant's, and closing a referral the MDT never
    discussed needs a written reason. Statuses that record a triage outcome are reached by confirming or
    overriding, and listing belongs to the meeting window. Who may is checked against the status the referral
    has in the write transaction, so a move is judged on the referral as it is, not as it was shown.
    """
    if status not in STATUSES:
        raise ServiceError(f"'{status}' is not a status: {', '.join(STATUSES)}")
    note = limited_text(note, "status.note", "reason")
    with db.write() as session:
        _lock_referral(session, referral_id)
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        before = row.status
        # Who may, first: judged on the status as stored now. A move the workflow forbids, or that is not a plain
        # move, is refused below, but only to someone who may see the referral at all.
        move = status_move_action(before, status) if can_move(before, status) else None
        authorize(actor, move or VIEW_REFERRAL, session=session)
        if not can_move(before, status):
            raise InvalidTransition(
                f"a referral cannot go from {STATUS_LABELS[before].lower()} to {STATUS_LABELS[status].lower()}"
            )
        rule = move_rule(before, status)
        if rule == MOVE_BY_MEETING:
            raise InvalidTransition(
                "listing for a meeting, and taking a case off one, is done in the MDT meetings window"
            )
        if rule == MOVE_BY_DECISION:
            raise InvalidTransition(
                f"'{STATUS_LABELS[status]}' records a triage decision: a consultant confirms or overrides the "
                "triage instead"
            )
        if move_needs_reason(before, status) and note is None:
            raise ServiceError("closing a referral the MDT has not discussed needs a written reason")
        version = _cas(session, referral_id, expected_version, actor, {"status": status})
        if status == RECEIVED and row.decided_outcome is not None:  # back to needing triage
            repo.set_decision(session, referral_id=referral_id, decision_id=None, outcome=None, kind=None, basis=None)
        change = StatusChangeRow(
            referral_id=referral_id, from_status=before, to_status=status, note=note, changed_by=actor.user_id
        )
        session.add(change)
        session.flush()
        assert change.id is not None
        audit(
            session,
            actor,
            "status_change",
            "referral",
            referral_id,
            {"status": [before, status], "note": [None, note], "version": [expected_version, version]},
        )
        changes = Changes(referral_ids=frozenset({referral_id}))
        return DecisionResult(change.id, version, status, changes, read_detail(session, referral_id))


def _cas(session: Session, referral_id: int, expected_version: int, actor: Actor, values: dict[str, object]) -> int:
    try:
        return repo.bump_version(
            session,
            referral_id=referral_id,
            expected_version=expected_version,
            user_id=actor.user_id,
            **values,
        )
    except repo.VersionConflict as conflict:
        raise ConflictError.from_version_conflict(conflict) from None
