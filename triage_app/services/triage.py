"""Consultant triage decisions and workflow status changes.

Confirming or overriding an outcome is a consultant's action, enforced here and not only in the GUI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from triage_app.domain.scoring import OUTCOMES
from triage_app.domain.workflow import (
    CONSULTANT,
    CONSULTANT_TRANSITIONS,
    STATUS_FOR_OUTCOME,
    STATUS_LABELS,
    STATUSES,
    TRIAGEABLE,
    can_move,
    meeting_managed,
)
from triage_app.services.errors import ConflictError, InvalidTransition, NotFound, ServiceError
from triage_app.services.referrals import Changes, require_entry
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.audit import record_event
from triage_app.storage.engine import Database
from triage_app.storage.models import StatusChangeRow, TriageDecisionRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """The stored decision, the referral's new version and status."""

    decision_id: int
    version: int
    status: str
    changes: Changes


def decide_triage(
    db: Database,
    *,
    actor: Actor,
    referral_id: int,
    expected_version: int,
    override_outcome: str | None = None,
    reason: str | None = None,
) -> DecisionResult:
    """Confirm the current assessment's outcome, or override it with a written reason (consultants only).

    Moves the referral to the status the decided outcome implies, recorded in its history.
    """
    actor.require(CONSULTANT, "confirm or override a triage decision")
    reason = (reason or "").strip() or None
    if override_outcome is not None:
        if override_outcome not in OUTCOMES:
            raise ServiceError(f"'{override_outcome}' is not a triage outcome: {', '.join(OUTCOMES)}")
        if reason is None:
            raise ServiceError("an override needs a written reason")
    with db.write() as session:
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        if row.current_assessment_id is None or row.outcome is None:
            raise ServiceError("this referral has not been assessed yet")
        if row.status not in TRIAGEABLE:
            raise InvalidTransition(
                f"this referral is {STATUS_LABELS[row.status].lower()}: the MDT has it now, so its triage can no "
                "longer be confirmed or overridden"
            )
        outcome = override_outcome or row.outcome
        decision = "overridden" if override_outcome is not None and override_outcome != row.outcome else "confirmed"
        target = STATUS_FOR_OUTCOME[outcome]
        before_status = row.status
        values = {"status": target} if target != before_status else {}
        if values and not can_move(before_status, target):
            raise InvalidTransition(
                f"a referral that is {STATUS_LABELS[before_status].lower()} cannot be triaged again; "
                "move it back to received first"
            )
        version = _cas(session, referral_id, expected_version, actor, values)
        entry = TriageDecisionRow(
            referral_id=referral_id,
            assessment_id=row.current_assessment_id,
            decision=decision,
            outcome=outcome,
            reason=reason,
            decided_by=actor.user_id,
        )
        session.add(entry)
        if values:
            session.add(
                StatusChangeRow(
                    referral_id=referral_id,
                    from_status=before_status,
                    to_status=target,
                    note=f"triage {decision}: {outcome}",
                    changed_by=actor.user_id,
                )
            )
        session.flush()
        assert entry.id is not None
        record_event(
            session,
            user_login=actor.login,
            action=f"triage_{decision}",
            entity="referral",
            entity_id=referral_id,
            changes={
                "outcome": [row.outcome, outcome],
                "status": [before_status, target],
                "reason": [None, reason],
                "version": [expected_version, version],
            },
        )
        log.info("referral %s triage %s as %s", referral_id, decision, outcome)
        return DecisionResult(entry.id, version, target, Changes(referral_ids=frozenset({referral_id})))


def change_status(
    db: Database, *, actor: Actor, referral_id: int, expected_version: int, status: str, note: str | None = None
) -> DecisionResult:
    """Move a referral along the workflow. Triage moves and MDT moves are consultant actions."""
    if status not in STATUSES:
        raise ServiceError(f"'{status}' is not a status: {', '.join(STATUSES)}")
    require_entry(actor)
    with db.write() as session:
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        before = row.status
        if not can_move(before, status):
            raise InvalidTransition(
                f"a referral cannot go from {STATUS_LABELS[before].lower()} to {STATUS_LABELS[status].lower()}"
            )
        if meeting_managed(before, status):
            raise InvalidTransition(
                "listing for a meeting, and taking a case off one, is done in the MDT meetings window"
            )
        if (before, status) in CONSULTANT_TRANSITIONS:
            actor.require(
                CONSULTANT, f"move a referral from {STATUS_LABELS[before].lower()} to {STATUS_LABELS[status].lower()}"
            )
        version = _cas(session, referral_id, expected_version, actor, {"status": status})
        change = StatusChangeRow(
            referral_id=referral_id, from_status=before, to_status=status, note=note, changed_by=actor.user_id
        )
        session.add(change)
        session.flush()
        assert change.id is not None
        record_event(
            session,
            user_login=actor.login,
            action="status_change",
            entity="referral",
            entity_id=referral_id,
            changes={"status": [before, status], "note": [None, note], "version": [expected_version, version]},
        )
        return DecisionResult(change.id, version, status, Changes(referral_ids=frozenset({referral_id})))


def _cas(session: object, referral_id: int, expected_version: int, actor: Actor, values: dict[str, str]) -> int:
    try:
        return repo.bump_version(
            session,  # type: ignore[arg-type]
            referral_id=referral_id,
            expected_version=expected_version,
            user_id=actor.user_id,
            **values,
        )
    except repo.VersionConflict as conflict:
        raise ConflictError.from_version_conflict(conflict) from None
