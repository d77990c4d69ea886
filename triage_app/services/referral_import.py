"""Importing a file of referrals: each record registered on its own, reported as soon as it is committed.

Importable from services.referrals as before (register_referral, which each record goes through, is read
from there when the import runs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from triage_app.domain.parsing import FieldError, ReferralInputError, parse_referral
from triage_app.domain.record_names import describe_record, record_number, record_reference
from triage_app.domain.referral import field_label, text_problem
from triage_app.domain.rules import Rules
from triage_app.services.changes import EVERYTHING, Changes
from triage_app.services.errors import (
    DemographicsMismatch,
    DuplicateReferral,
    IdentityIncomplete,
    OpenReferralExists,
    PermissionDenied,
    ServiceError,
)
from triage_app.services.permissions import IMPORT_REFERRALS, authorize
from triage_app.services.rules_guard import RulesChanged
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database, DatabaseError

log = logging.getLogger(__name__)

#: An import that added more referrals than this reports `EVERYTHING` (views reload) rather than each id.
MANY = 200


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

    @property
    def changes(self) -> Changes:
        """The referrals the import created (`EVERYTHING` past `MANY`: the views reload rather than add each)."""
        if len(self.added) > MANY:
            return EVERYTHING
        return Changes(created=frozenset(referral_id for _, referral_id, _ in self.added))

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


def _clean(text: str | None) -> str | None:
    return (text or "").strip() or None


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
    from triage_app.services.referrals import register_referral  # here: services.referrals re-exports this module

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
