"""Referral use cases: register and edit (compare-and-swap), with the right-patient checks.

Each mutation runs in one write transaction with its audit event and returns what changed, with the referral
as stored (`SavedReferral.detail`, read in the same transaction), so a view needs no second read.

Split by concern, every name still importable from here: reading referrals (services.referral_reads),
rescoring and reassessment (services.reassessment), and importing a file (services.referral_import).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.identity import StoredPatient, demographic_differences, identity_changes, missing_identity
from triage_app.domain.referral import Referral, flatten_fields, format_nhs_number
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import Assessment, assess
from triage_app.domain.workflow import CLOSED, RECEIVED
from triage_app.services.auditing import audit
from triage_app.services.changes import Changes
from triage_app.services.errors import (
    ConflictError,
    DemographicsMismatch,
    DuplicateReferral,
    IdentityChanged,
    IdentityIncomplete,
    NotFound,
    OpenReferralExists,
)
from triage_app.services.permissions import EDIT_REFERRAL, ENTER_REFERRAL, VIEW_REFERRAL, authorize
from triage_app.services.reassessment import REASSESSABLE as REASSESSABLE
from triage_app.services.reassessment import BulkReassessment as BulkReassessment
from triage_app.services.reassessment import Reassessment as Reassessment
from triage_app.services.reassessment import apply_assessment as apply_assessment
from triage_app.services.reassessment import count_reassessable as count_reassessable
from triage_app.services.reassessment import reassess_in_transaction as reassess_in_transaction
from triage_app.services.reassessment import reassess_open as reassess_open
from triage_app.services.reassessment import refresh_queue_priorities as refresh_queue_priorities
from triage_app.services.referral_import import ADDED as ADDED
from triage_app.services.referral_import import DUPLICATE as DUPLICATE
from triage_app.services.referral_import import FAILED as FAILED
from triage_app.services.referral_import import POSSIBLE_DUPLICATE as POSSIBLE_DUPLICATE
from triage_app.services.referral_import import REFUSED as REFUSED
from triage_app.services.referral_import import ImportReport as ImportReport
from triage_app.services.referral_import import RecordResult as RecordResult
from triage_app.services.referral_import import import_referrals as import_referrals
from triage_app.services.referral_reads import ReferralDetail as ReferralDetail
from triage_app.services.referral_reads import current_flags as current_flags
from triage_app.services.referral_reads import get_referral as get_referral
from triage_app.services.referral_reads import list_queue as list_queue
from triage_app.services.referral_reads import read_detail
from triage_app.services.rules_guard import require_rules_in_force
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SavedReferral:
    """A stored referral after a save: its id, new version, current assessment, what changed, and the referral
    in full as stored (read in the save's own transaction, after the write: the form and panel show it as is)."""

    referral_id: int
    version: int
    assessment: Assessment
    changes: Changes
    detail: ReferralDetail


def _audit_fields(referral: Referral) -> dict[str, Any]:
    return flatten_fields(referral)


def _require_identity(referral: Referral) -> None:
    errors = missing_identity(referral)
    if errors:
        raise IdentityIncomplete(errors)


def _lock_patient(session: Session, nhs_number: str | None) -> None:
    """Hold this patient's checks until the transaction ends, so two desktops cannot both pass them.

    The duplicate, demographics and second-open-referral checks read the patient's referrals and then insert or
    change one. SQLite runs one write transaction at a time (BEGIN IMMEDIATE), so the read is still true at the
    commit. PostgreSQL runs them side by side and, under READ COMMITTED, neither sees the other's new referral:
    a transaction-scoped advisory lock on the NHS number makes the second wait for the first, then see it.
    """
    if nhs_number is None or session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"triage_app.patient:{nhs_number}".encode(), digest_size=8).digest()
    session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


def _check_patient(
    session: Any,
    referral: Referral,
    *,
    except_id: int | None,
    demographics_confirmed: bool,
    second_referral_reason: str | None,
    check_open: bool,
) -> dict[str, Any]:
    """The right patient: demographics that disagree with the stored ones, and a second open referral.

    Returns what the audit event records about the user's confirmations; raises when one is needed.
    """
    nhs = referral.patient.nhs_number
    if nhs is None:
        return {}
    others = repo.referrals_for_patient(session, nhs_number=nhs, except_id=except_id)
    if not others:
        return {}
    audit: dict[str, Any] = {}
    newest = others[0]
    differences = demographic_differences(
        StoredPatient(newest.referral_id, newest.family_name, newest.given_name, newest.date_of_birth), referral
    )
    if differences:
        if not demographics_confirmed:
            raise DemographicsMismatch(existing_id=newest.referral_id, differences=differences)
        audit["demographics_confirmed"] = [
            {d.field: d.stored for d in differences} | {"referral": newest.referral_id},
            {d.field: d.given for d in differences},
        ]
    still_open = [o for o in others if o.status != CLOSED]
    if check_open and still_open:
        if second_referral_reason is None:
            first = still_open[0]
            raise OpenReferralExists(existing_id=first.referral_id, received_on=first.received_on, status=first.status)
        audit["second_referral_reason"] = [None, second_referral_reason]
        audit["open_referrals"] = [None, [o.referral_id for o in still_open]]
    return audit


def _other_patient(session: Any, referral: Referral, referral_id: int) -> str | None:
    """Who else is stored under the referral's (new) NHS number, in words: name, NHS number, date of birth."""
    nhs = referral.patient.nhs_number
    others = [] if nhs is None else repo.referrals_for_patient(session, nhs_number=nhs, except_id=referral_id)
    if not others:
        return None
    first = others[0]
    return (
        f"{format_name(first.family_name, first.given_name) or 'name not recorded'}, NHS {format_nhs_number(nhs)}, "
        f"born {format_date(first.date_of_birth) or 'not recorded'} (referral {first.referral_id})"
    )


def _clean(text: str | None) -> str | None:
    return (text or "").strip() or None


@contextmanager
def _saving(
    db: Database,
    actor: Actor,
    action: str,
    referral: Referral,
    rules: Rules,
    as_of: date,
    second_referral_reason: str | None,
) -> Iterator[tuple[Session, str | None, Assessment]]:
    """What saving a referral, new or edited, does first: the actor may (`action`), the identity minimum is
    there, the referral is scored; then, in the write transaction it yields with the reason and the assessment,
    the rules are still those in force and the patient's NHS number is locked."""
    authorize(actor, action, db=db)
    _require_identity(referral)
    reason = _clean(second_referral_reason)
    assessment = assess(referral, rules, as_of)
    with db.write() as session:
        require_rules_in_force(session, rules)  # another desktop may have approved newer rules since this one started
        _lock_patient(session, referral.patient.nhs_number)
        yield session, reason, assessment


def register_referral(
    db: Database,
    *,
    actor: Actor,
    referral: Referral,
    rules: Rules,
    as_of: date,
    demographics_confirmed: bool = False,
    second_referral_reason: str | None = None,
) -> SavedReferral:
    """Store a new referral, score it and store the assessment, all in one transaction.

    Refuses a referral without its identity minimum (`IdentityIncomplete`), one whose NHS number and received
    date are already stored (`DuplicateReferral`), one whose NHS number is stored with another family name or
    date of birth unless `demographics_confirmed` (`DemographicsMismatch`), and a second open referral for the
    same patient without a written reason (`OpenReferralExists`). Confirmations are audited.
    """
    with _saving(db, actor, ENTER_REFERRAL, referral, rules, as_of, second_referral_reason) as (
        session,
        reason,
        assessment,
    ):
        _refuse_duplicate(session, referral)
        confirmations = _check_patient(
            session,
            referral,
            except_id=None,
            demographics_confirmed=demographics_confirmed,
            second_referral_reason=reason,
            check_open=True,
        )
        row = repo.insert_referral(session, referral=referral, user_id=actor.user_id, status=RECEIVED)
        assert row.id is not None
        repo.store_assessment(session, referral_id=row.id, assessment=assessment, user_id=actor.user_id)
        audit(
            session,
            actor,
            "create",
            "referral",
            row.id,
            {path: [None, value] for path, value in _audit_fields(referral).items() if value is not None}
            | {"outcome": [None, assessment.outcome], "rules_version": [None, rules.version]}
            | confirmations,
        )
        log.info("referral %s registered, outcome %s", row.id, assessment.outcome)
        return SavedReferral(row.id, 1, assessment, Changes(created=frozenset({row.id})), read_detail(session, row.id))


def _refuse_duplicate(session: Any, referral: Referral, *, except_id: int | None = None) -> None:
    nhs, received = referral.patient.nhs_number, referral.received_on
    if nhs is None or received is None:
        return
    existing = repo.find_referral_id(session, nhs_number=nhs, received_on=received)
    if existing is not None and existing != except_id:
        raise DuplicateReferral(
            f"a referral for this NHS number received on {received:%d-%b-%Y} is already in the queue "
            f"(referral {existing})",
            existing_id=existing,
        )


def update_referral(
    db: Database,
    *,
    actor: Actor,
    referral_id: int,
    expected_version: int,
    referral: Referral,
    rules: Rules,
    as_of: date,
    demographics_confirmed: bool = False,
    second_referral_reason: str | None = None,
) -> SavedReferral:
    """Save edits made to version `expected_version`; rescore. `ConflictError` if someone saved since.

    The same identity checks as `register_referral`; a changed triage lapses a standing decision.
    """
    with _saving(db, actor, EDIT_REFERRAL, referral, rules, as_of, second_referral_reason) as (
        session,
        reason,
        assessment,
    ):
        loaded = repo.load_referral(session, referral_id)
        if loaded is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        stored_row, before = loaded
        old, new = _audit_fields(before), _audit_fields(referral)
        diff = {
            path: [old.get(path), new.get(path)]
            for path in sorted(old.keys() | new.keys())
            if old.get(path) != new.get(path)
        }
        if not diff:  # nothing changed: no new version (another user's open form stays current), no event
            if stored_row.version != expected_version:
                try:
                    repo.raise_conflict(session, referral_id=referral_id, expected_version=expected_version)
                except repo.VersionConflict as conflict:
                    raise ConflictError.from_version_conflict(conflict) from None
            return SavedReferral(
                referral_id, expected_version, assessment, Changes(), read_detail(session, referral_id)
            )
        own = identity_changes(before, referral)
        if own and not demographics_confirmed:
            raise IdentityChanged(
                referral_id=referral_id, differences=own, other_patient=_other_patient(session, referral, referral_id)
            )
        _refuse_duplicate(session, referral, except_id=referral_id)
        confirmations = _check_patient(
            session,
            referral,
            except_id=referral_id,
            demographics_confirmed=demographics_confirmed,
            second_referral_reason=reason,
            check_open=referral.patient.nhs_number != before.patient.nhs_number,
        )
        try:
            version = repo.update_referral(
                session,
                referral_id=referral_id,
                expected_version=expected_version,
                referral=referral,
                user_id=actor.user_id,
            )
        except repo.VersionConflict as conflict:
            raise ConflictError.from_version_conflict(conflict) from None
        if own:
            confirmations["identity_changed"] = [{d.field: d.stored for d in own}, {d.field: d.given for d in own}]
        audit(
            session,
            actor,
            "update",
            "referral",
            referral_id,
            diff | {"version": [expected_version, version]} | confirmations,
        )
        if apply_assessment(session, actor=actor, referral_id=referral_id, assessment=assessment) is not None:
            version += 1
        log.info("referral %s updated to version %s (%d fields)", referral_id, version, len(diff))
        changes = Changes(referral_ids=frozenset({referral_id}))
        return SavedReferral(referral_id, version, assessment, changes, read_detail(session, referral_id))


def patient_referrals(
    db: Database, *, nhs_number: str, except_id: int | None = None, actor: Actor | None = None
) -> list[repo.PatientReferral]:
    """Referrals already stored for this NHS number, newest first (the form shows open ones as it is typed).

    Reads take the `actor` (the desktop gives it) to check they may see referrals now; see services.permissions.
    """
    with db.read() as session:
        if actor is not None:
            authorize(actor, VIEW_REFERRAL, session=session)
        return repo.referrals_for_patient(session, nhs_number=nhs_number, except_id=except_id)
