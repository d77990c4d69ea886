"""Referral use cases: register, edit (compare-and-swap), import, reassess, and read the queue.

Each mutation runs in one write transaction with its audit event and returns what changed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.identity import StoredPatient, demographic_differences, identity_changes, missing_identity
from triage_app.domain.parsing import FieldError, ReferralInputError, parse_referral
from triage_app.domain.record_names import describe_record, record_number, record_reference
from triage_app.domain.referral import Referral, field_label, flatten_fields, format_nhs_number, text_problem
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import Assessment, assess, outcome_words
from triage_app.domain.workflow import CLOSED, DISCUSSED, LISTED, RECEIVED, TRIAGEABLE
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
    PermissionDenied,
    ServiceError,
)
from triage_app.services.permissions import (
    EDIT_REFERRAL,
    ENTER_REFERRAL,
    IMPORT_REFERRALS,
    VIEW_QUEUE,
    VIEW_REFERRAL,
    authorize,
)
from triage_app.services.rules_guard import RulesChanged, require_rules_in_force
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database, DatabaseError
from triage_app.storage.models import (
    AppUser,
    AssessmentFlagRow,
    AssessmentRow,
    ReferralRow,
    StatusChangeRow,
    TriageDecisionRow,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SavedReferral:
    """A stored referral after a save: its id, new version and current assessment."""

    referral_id: int
    version: int
    assessment: Assessment
    changes: Changes


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
    authorize(actor, ENTER_REFERRAL, db=db)
    _require_identity(referral)
    reason = _clean(second_referral_reason)
    assessment = assess(referral, rules, as_of)
    with db.write() as session:
        require_rules_in_force(session, rules)  # another desktop may have approved newer rules since this one started
        _lock_patient(session, referral.patient.nhs_number)
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
        return SavedReferral(row.id, 1, assessment, Changes(referral_ids=frozenset({row.id})))


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
    authorize(actor, EDIT_REFERRAL, db=db)
    _require_identity(referral)
    reason = _clean(second_referral_reason)
    assessment = assess(referral, rules, as_of)
    with db.write() as session:
        require_rules_in_force(session, rules)  # another desktop may have approved newer rules since this one started
        _lock_patient(session, referral.patient.nhs_number)
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
            return SavedReferral(referral_id, expected_version, assessment, Changes())
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
        return SavedReferral(referral_id, version, assessment, Changes(referral_ids=frozenset({referral_id})))


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


ADDED = "added"
DUPLICATE = "duplicate"
POSSIBLE_DUPLICATE = "possible_duplicate"
REFUSED = "refused"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What became of one record of an import, reported as soon as it is committed (or refused).

    `kind` is ADDED (stored as `referral_id`, scored `outcome`), DUPLICATE or POSSIBLE_DUPLICATE (of the stored
    `referral_id`; not added), REFUSED (`errors` name each field) or FAILED (an unexpected error on this record
    alone, `problem` says which; nothing of it was stored).
    """

    index: int  # the record's place in the file, from 0; people see `record_number(index)`, from 1
    kind: str
    referral_id: int | None = None
    outcome: str | None = None
    errors: tuple[FieldError, ...] = ()
    problem: str | None = None
    #: What the file calls the record (`external_id REF-1`, else `NHS number ...`): for the terminal, never the log.
    reference: str | None = None

    @property
    def where(self) -> str:
        """`record 250 (external_id REF-250)`: the record numbered from 1 and named as the file names it."""
        return describe_record(self.index, reference=self.reference)

    def line(self) -> str:
        """The record's line as `triage-app import` prints it."""
        where = self.where
        if self.kind == ADDED:
            return f"{where}: added as referral {self.referral_id} ({self.outcome})"
        if self.kind == DUPLICATE:
            return f"{where}: duplicate of referral {self.referral_id} (same NHS number and received date); not added"
        if self.kind == POSSIBLE_DUPLICATE:
            return (
                f"{where}: possible duplicate of referral {self.referral_id} (the patient already has an open "
                "referral); not added. Check it; to add a second referral, import it with --second-referral-reason "
                "TEXT"
            )
        if self.kind == REFUSED:
            return f"{where}: refused"
        if self.referral_id is not None:  # the error came, yet a referral with its key is stored: say so
            return (
                f"{where}: error ({self.problem}); referral {self.referral_id} holds this record's NHS number and "
                "received date: check it"
            )
        return f"{where}: not stored: {self.problem}"


@dataclass(slots=True)
class ImportReport:
    """Per record of an import: what was added, refused (and why) or recognised as a duplicate; and, when the
    database stopped the import part-way, where and why (`stopped_at`, `stop_reason`)."""

    added: list[tuple[int, int, str]] = field(default_factory=list)  # (record index, referral id, outcome)
    refused: list[tuple[int, list[FieldError]]] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (record index, existing referral id)
    # (record index, the patient's open referral): not added unless the import gives a reason for a second one
    possible_duplicates: list[tuple[int, int]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (record index, what went wrong): not stored
    results: list[RecordResult] = field(default_factory=list)  # every record tried, in order
    total: int = 0
    stopped_at: int | None = None  # the record the database stopped on (from 0): no record after it was tried
    stop_reason: str | None = None
    stop_reference: str | None = None  # what the file calls the record the import stopped on
    #: What became of the record the import stopped on, checked by reading the database afterwards.
    stop_record: str = "was not stored (its transaction was rolled back)"

    @property
    def ok(self) -> bool:
        """True when every record was tried and added or was already stored."""
        return not self.refused and not self.possible_duplicates and not self.failed and self.stopped_at is None

    def record(self, result: RecordResult) -> None:
        """Add one record's result to the lists."""
        self.results.append(result)
        if result.kind == ADDED:
            assert result.referral_id is not None and result.outcome is not None
            self.added.append((result.index, result.referral_id, result.outcome))
        elif result.kind == DUPLICATE:
            assert result.referral_id is not None
            self.duplicates.append((result.index, result.referral_id))
        elif result.kind == POSSIBLE_DUPLICATE:
            assert result.referral_id is not None
            self.possible_duplicates.append((result.index, result.referral_id))
        elif result.kind == REFUSED:
            self.refused.append((result.index, list(result.errors)))
        else:
            self.failed.append((result.index, result.problem or "unexpected error"))

    def counts(self) -> str:
        """`3 added, 1 duplicate, 0 possible duplicate, 1 refused` (and failed ones, if any)."""
        text = (
            f"{len(self.added)} added, {len(self.duplicates)} duplicate, {len(self.possible_duplicates)} possible "
            f"duplicate, {len(self.refused)} refused"
        )
        return text + (f", {len(self.failed)} not stored after an error" if self.failed else "")

    def summary(self) -> str:
        """The last line of an import: the counts; or, when it stopped, exactly which records were stored.

        Records are numbered from 1, as the per-record lines number them ("stopped at record 250 of 400").
        """
        if self.stopped_at is None:
            return f"{self.counts()} of {self.total} records"
        at, last = record_number(self.stopped_at), self.total
        if at == 1:
            before = "No record was stored"
        else:
            tried = "record 1" if at == 2 else f"records 1-{at - 1}"
            stored = f"{len(self.added)} stored" if self.added else "none stored"
            before = f"{tried.capitalize()} were tried, each listed above ({stored}: {self.counts()})"
            if at == 2:
                before = before.replace("were tried, each", "was tried,")
        this = f"{describe_record(self.stopped_at, reference=self.stop_reference)} {self.stop_record}"
        rest = "" if at == last else (f", record {last}" if at + 1 == last else f", records {at + 1}-{last}")
        rest = rest and f"{rest} {'was' if at + 1 == last else 'were'} not tried"
        return (
            f"stopped at record {at} of {self.total}: {self.stop_reason}. {before}; {this}{rest}. Run the import "
            "again with the same file: records already stored are reported as duplicates and the rest are added."
        )


def _without_nothing_changed(message: str) -> str:
    """A database error's message, less its "nothing was changed" (true of the one transaction, not the import)."""
    text = re.sub(r"[;,:]\s*nothing (?:was|has been) changed\b([.;,])?", lambda m: m.group(1) or "", message)
    text = re.sub(r"\s*\bNothing (?:was|has been) changed\b[.;,]?", "", text)
    return text.strip().rstrip(".;,")


def _problem(exc: BaseException) -> str:
    """An unexpected error in a few words (its type and first line; SQLAlchemy's statement left out)."""
    original = getattr(exc, "orig", None) or exc
    detail = str(original).strip().splitlines()[0] if str(original).strip() else ""
    detail = detail if len(detail) <= 200 else detail[:199] + "…"
    return f"{type(original).__name__}" + (f": {detail}" if detail else "")


def import_referrals(
    db: Database,
    *,
    actor: Actor,
    records: Iterable[object],
    rules: Rules,
    as_of: date,
    second_referral_reason: str | None = None,
    on_result: Callable[[RecordResult], None] | None = None,
) -> ImportReport:
    """Register each record on its own: a bad record never blocks the good ones; each is stored whole or not.

    A record for a patient who already has an open referral is reported as a possible duplicate and not added,
    unless `second_referral_reason` says why a second referral is wanted. Demographics that disagree with the
    stored patient are refused (confirming a change needs a person looking at both, in the app).

    `on_result` hears each record's result as soon as it is committed (the command line prints it at once), so
    what was reported is what is stored, whatever happens next. Every record is tried: an unexpected error on one
    (a driver's OverflowError, say) is reported for that record and the import goes on. A database that stops
    the import (locked past the busy timeout, disk full, read-only, damaged: `DatabaseError`), or the user's role
    or the rules in force changing underneath it, ends it: the report says where (`stopped_at`) and why.
    """
    authorize(actor, IMPORT_REFERRALS, db=db)
    report = ImportReport()
    items = list(records)
    report.total = len(items)
    reason = _clean(second_referral_reason)
    if reason is not None:
        problem = text_problem(reason, "second_referral_reason")
        if problem is not None:
            raise ServiceError(f"second referral reason: {problem}")
    for index, record in enumerate(items):
        try:
            # Named by what the file says (its external_id, else the NHS number as given), for the user's terminal.
            result = replace(
                _import_one(db, actor, index, record, rules, as_of, reason), reference=record_reference(record)
            )
        except (DatabaseError, PermissionDenied, RulesChanged, KeyboardInterrupt) as exc:
            reason_text = "interrupted (Ctrl+C)" if isinstance(exc, KeyboardInterrupt) else str(exc).rstrip(".")
            report.stopped_at, report.stop_reason = index, _without_nothing_changed(reason_text)
            report.stop_reference = record_reference(record)
            # The transaction was rolled back; a read (which a lock, a full disk or a read-only file allows) checks.
            found = _stored_id(db, record, as_of)
            if found is _UNKNOWN:
                report.stop_record = "may or may not have been stored (the database could not be read to check)"
            elif found is not None:
                report.stop_record = (
                    f"may have been stored: referral {found} holds its NHS number and received date (check it)"
                )
            # The log numbers records as the terminal does (from 1), and names none (no patient data in logs).
            log.error("import stopped at record %d of %d: %s", record_number(index), report.total, type(exc).__name__)
            return report
        except Exception as exc:  # one record's unexpected error must not hide the rest or end the import
            log.error("import: record %d not stored after %s", record_number(index), type(exc).__name__)
            found = _stored_id(db, record, as_of)
            result = RecordResult(
                index,
                FAILED,
                referral_id=found if isinstance(found, int) else None,
                problem=_problem(exc)
                + (" (the database could not be read to check it was not stored)" if found is _UNKNOWN else ""),
                reference=record_reference(record),
            )
        report.record(result)
        if on_result is not None:
            on_result(result)
    return report


_UNKNOWN = object()


def _stored_id(db: Database, record: object, as_of: date) -> object:
    """The referral stored under the record's NHS number and received date, None, or `_UNKNOWN` (unreadable):
    what an import says of a record whose transaction failed is checked, not assumed."""
    try:
        referral = parse_referral(record, as_of=as_of)
    except ReferralInputError:
        return None
    nhs, received = referral.patient.nhs_number, referral.received_on
    if nhs is None or received is None:
        return None
    try:
        with db.read() as session:
            return repo.find_referral_id(session, nhs_number=nhs, received_on=received)
    except Exception:  # a damaged or vanished database: say it could not be checked
        return _UNKNOWN


def _import_one(
    db: Database, actor: Actor, index: int, record: object, rules: Rules, as_of: date, reason: str | None
) -> RecordResult:
    """Parse and register one record; the result, or the exception that stops the import."""
    try:
        referral = parse_referral(record, as_of=as_of)
    except ReferralInputError as exc:
        return RecordResult(index, REFUSED, errors=tuple(exc.errors))
    try:
        saved = register_referral(
            db, actor=actor, referral=referral, rules=rules, as_of=as_of, second_referral_reason=reason
        )
    except IdentityIncomplete as missing:
        return RecordResult(index, REFUSED, errors=tuple(missing.errors))
    except DemographicsMismatch as mismatch:
        errors = tuple(
            FieldError(
                d.field,
                f"{field_label(d.field)} differs from referral {mismatch.existing_id} of the same NHS number: "
                f"stored {d.stored}, this record {d.given}",
            )
            for d in mismatch.differences
        )
        return RecordResult(index, REFUSED, errors=errors)
    except DuplicateReferral as dup:
        return RecordResult(index, DUPLICATE, referral_id=dup.existing_id)
    except OpenReferralExists as open_referral:
        return RecordResult(index, POSSIBLE_DUPLICATE, referral_id=open_referral.existing_id)
    return RecordResult(index, ADDED, referral_id=saved.referral_id, outcome=saved.assessment.outcome)


@dataclass(frozen=True, slots=True)
class ReferralDetail:
    """Everything the triage panel and the form show for one referral."""

    row: ReferralRow
    referral: Referral
    assessment: repo.StoredAssessment | None
    history: tuple[StatusChangeRow, ...]
    decisions: tuple[TriageDecisionRow, ...]
    user_names: dict[int, str]


def get_referral(db: Database, *, referral_id: int, actor: Actor | None = None) -> ReferralDetail:
    """One referral in full, with its current assessment, status history and triage decisions.

    Given the `actor` (the desktop and commands give it), checks they may see referrals (`view_referral`).
    """
    with db.read() as session:
        if actor is not None:
            authorize(actor, VIEW_REFERRAL, session=session)
        loaded = repo.load_referral(session, referral_id)
        if loaded is None:
            raise NotFound(f"referral {referral_id} does not exist")
        row, referral = loaded
        stored = None if row.current_assessment_id is None else repo.load_assessment(session, row.current_assessment_id)
        history = (
            session.execute(
                select(StatusChangeRow)
                .where(col(StatusChangeRow.referral_id) == referral_id)
                .order_by(col(StatusChangeRow.id))
            )
            .scalars()
            .all()
        )
        decisions = (
            session.execute(
                select(TriageDecisionRow)
                .where(col(TriageDecisionRow.referral_id) == referral_id)
                .order_by(col(TriageDecisionRow.id))
            )
            .scalars()
            .all()
        )
        names = {u.id: u.display_name for u in session.execute(select(AppUser)).scalars() if u.id is not None}
        return ReferralDetail(row, referral, stored, tuple(history), tuple(decisions), names)


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


def reassess_open(db: Database, *, actor: Actor, rules: Rules, as_of: date, only_stale: bool = True) -> list[int]:
    """Rescore open referrals that have not reached an MDT whose current assessment used another rules version
    (or all of them). Listed, discussed and closed referrals are never rescored.

    Earlier assessments are kept as history. Returns the ids reassessed.
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
    return done


def refresh_queue_priorities(db: Database, *, rules: Rules, as_of: date) -> int:
    """Update today's priorities in the queue (the waiting term grows week by week)."""
    with db.write() as session:
        return repo.refresh_priorities(session, as_of=as_of, rules=rules)
