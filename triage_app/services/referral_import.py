"""Importing a file of referrals: each record stored whole or not, reported as soon as it is committed.

By default each record is its own transaction (`batch_size` 1); a migration may commit N records a transaction
(`--batch N`), each record's line then reported once its batch is committed. Either way a record goes through
the checks `register_referral` makes (identity minimum, duplicate, demographics, a second open referral, the
user's role and the rules in force, in the write transaction) and writes the same rows and the same audit event,
with Core statements rather than the ORM's unit of work (storage.bulk.insert_imported): an import writes
thousands. Importable from services.referrals as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from triage_app.domain.identity import missing_identity
from triage_app.domain.json_input import JsonTextError, json_document
from triage_app.domain.parsing import FieldError, ReferralInputError, parse_referral
from triage_app.domain.record_names import describe_record, record_number, record_reference
from triage_app.domain.referral import Referral, field_label, flatten_fields, text_problem
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import Assessment, assess
from triage_app.services.auditing import audit
from triage_app.services.changes import EVERYTHING, Changes
from triage_app.services.errors import (
    DemographicsMismatch,
    OpenReferralExists,
    PermissionDenied,
    ServiceError,
)
from triage_app.services.permissions import ENTER_REFERRAL, IMPORT_REFERRALS, action, authorize
from triage_app.services.rules_guard import RulesChanged, require_rules_in_force
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.bulk import forget_import_ids, insert_imported, newest_rules_version, patient_stored
from triage_app.storage.engine import Database, DatabaseError

log = logging.getLogger(__name__)

#: An import that added more referrals than this reports `EVERYTHING` (views reload) rather than each id.
MANY = 200

#: The most records one transaction of an import may hold (`--batch`): a transaction holds the write lock.
MAX_BATCH = 10_000


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
    stop_batch_end: int | None = None  # the last record (from 0) of the batch rolled back with `stopped_at`
    cancelled_at: int | None = None  # the first record not tried when the user cancelled (from 0)

    @property
    def ok(self) -> bool:
        """True when every record was tried and added or was already stored."""
        return (
            not self.refused
            and not self.possible_duplicates
            and not self.failed
            and self.stopped_at is None
            and self.cancelled_at is None
        )

    @property
    def not_tried(self) -> range:
        """The records (from 0) the import never tried or whose batch was rolled back: none of them is stored."""
        if self.stopped_at is not None:
            return range(self.stopped_at, self.total)
        if self.cancelled_at is not None:
            return range(self.cancelled_at, self.total)
        return range(0)

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
        if self.stopped_at is None and self.cancelled_at is not None:
            first = record_number(self.cancelled_at)
            rest = f"record {first}" if first == self.total else f"records {first}-{self.total}"
            return (
                f"cancelled after record {first - 1} of {self.total}: {self.counts()}; {rest} not tried. Run the "
                "import again with the same file: records already stored are reported as duplicates and the rest "
                "are added."
            )
        if self.stopped_at is None:
            return f"{self.counts()} of {self.total} records"
        at, last = record_number(self.stopped_at), self.total
        end = record_number(self.stop_batch_end if self.stop_batch_end is not None else self.stopped_at)
        if at == 1:
            before = "No record was stored"
        else:
            tried = "record 1" if at == 2 else f"records 1-{at - 1}"
            stored = f"{len(self.added)} stored" if self.added else "none stored"
            before = f"{tried.capitalize()} were tried, each listed above ({stored}: {self.counts()})"
            if at == 2:
                before = before.replace("were tried, each", "was tried,")
        this = f"{describe_record(self.stopped_at, reference=self.stop_reference)} {self.stop_record}"
        rest = "" if end == last else (f", record {last}" if end + 1 == last else f", records {end + 1}-{last}")
        rest = rest and f"{rest} {'was' if end + 1 == last else 'were'} not tried"
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


def batch_problem(value: object) -> str | None:
    """Why `value` is no batch size (a whole number 1-10,000), or None when it is one."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH:
        return f"the batch size must be a whole number from 1 to {MAX_BATCH:,} records a transaction; got {value!r}"
    return None


@dataclass(frozen=True, slots=True)
class _Ready:
    """A record parsed, with its identity minimum, and scored: ready for the write transaction's checks."""

    index: int
    referral: Referral
    assessment: Assessment
    reference: str | None


def _prepare(index: int, record: object, rules: Rules, as_of: date) -> _Ready | RecordResult:
    """Parse and score one record outside the transaction (no database needed); a refusal as its result."""
    reference = record_reference(record)
    try:
        referral = parse_referral(record, as_of=as_of)
    except ReferralInputError as exc:
        return RecordResult(index, REFUSED, errors=tuple(exc.errors), reference=reference)
    missing = missing_identity(referral)
    if missing:
        return RecordResult(index, REFUSED, errors=tuple(missing), reference=reference)
    return _Ready(index, referral, assess(referral, rules, as_of), reference)


def _authorize_in(session: Session, actor: Actor) -> None:
    """The user may import, and so enter referrals, as stored now: in the transaction that writes."""
    authorize(actor, IMPORT_REFERRALS, session=session)
    if not action(ENTER_REFERRAL).roles >= action(IMPORT_REFERRALS).roles:  # one read when the roles agree
        authorize(actor, ENTER_REFERRAL, session=session)


def _register_in(session: Session, actor: Actor, ready: _Ready, rules: Rules, reason: str | None) -> RecordResult:
    """One record's checks and rows in the caller's write transaction (what `register_referral` does), or why not.

    The patient's NHS number is locked first (PostgreSQL), so two importers cannot both pass the checks.
    """
    from triage_app.services import referrals as entry  # the checks the form's save makes; it imports this module

    referral, assessment = ready.referral, ready.assessment
    index, reference = ready.index, ready.reference
    entry._lock_patient(session, referral.patient.nhs_number)
    nhs, received = referral.patient.nhs_number, referral.received_on
    # One read answers the common case, a patient not yet stored: no duplicate, nothing to compare. A patient
    # already stored gets the checks of the form's save (the duplicate first, as `register_referral` has it).
    others = (
        [] if nhs is None or not patient_stored(session, nhs) else repo.referrals_for_patient(session, nhs_number=nhs)
    )
    confirmations: dict[str, object] = {}
    if others:
        if received is not None:
            existing = repo.find_referral_id(session, nhs_number=nhs or "", received_on=received)
            if existing is not None:
                return RecordResult(index, DUPLICATE, referral_id=existing, reference=reference)
        try:
            confirmations = entry._check_patient(
                session,
                referral,
                except_id=None,
                demographics_confirmed=False,
                second_referral_reason=reason,
                check_open=True,
            )
        except DemographicsMismatch as mismatch:
            return RecordResult(index, REFUSED, errors=_mismatch_errors(mismatch), reference=reference)
        except OpenReferralExists as open_referral:
            return RecordResult(index, POSSIBLE_DUPLICATE, referral_id=open_referral.existing_id, reference=reference)
    referral_id = insert_imported(session, referral=referral, assessment=assessment, user_id=actor.user_id)
    audit(
        session,
        actor,
        "create",
        "referral",
        referral_id,
        {path: [None, value] for path, value in flatten_fields(referral).items() if value is not None}
        | {"outcome": [None, assessment.outcome], "rules_version": [None, rules.version]}
        | confirmations,
    )
    log.info("referral %s registered, outcome %s", referral_id, assessment.outcome)  # ids only, as the form's save
    return RecordResult(index, ADDED, referral_id=referral_id, outcome=assessment.outcome, reference=reference)


def _mismatch_errors(mismatch: DemographicsMismatch) -> tuple[FieldError, ...]:
    return tuple(
        FieldError(
            d.field,
            f"{field_label(d.field)} differs from referral {mismatch.existing_id} of the same NHS number: "
            f"stored {d.stored}, this record {d.given}",
        )
        for d in mismatch.differences
    )


#: What stops an import (the batch's transaction is rolled back): the database, the user's role, the rules, Ctrl+C.
_STOPPING = (DatabaseError, PermissionDenied, RulesChanged, KeyboardInterrupt)


def _write_batch(
    db: Database,
    actor: Actor,
    batch: list[_Ready | RecordResult],
    rules: Rules,
    reason: str | None,
    *,
    savepoints: bool = False,
) -> list[RecordResult]:
    """One transaction: the role and the rules checked in it, then each record; committed at the end.

    With `savepoints`, each record has one: a record the database refuses (a constraint, a driver's error on one
    value) is rolled back alone and reported, the others stay in the batch. (The import first writes a batch
    without them, and only a batch that met such an error is written again with them: they cost a statement pair
    and a flush a record.) An error of the database itself (locked, full, unreachable) or a stopping check rolls
    the whole batch back (raised).
    """
    results: list[RecordResult] = []
    with db.write() as session:
        _authorize_in(session, actor)
        if newest_rules_version(session) != rules.version:  # one Core read; the guard words the refusal
            require_rules_in_force(session, rules)
        for item in batch:
            if isinstance(item, RecordResult):
                results.append(item)
                continue
            if not savepoints:
                results.append(_register_in(session, actor, item, rules, reason))
                continue
            nested = session.begin_nested()
            try:
                result = _register_in(session, actor, item, rules, reason)
            except (sa.exc.OperationalError, *_STOPPING):
                raise
            except Exception as exc:  # this record alone: rolled back to its savepoint, reported, the batch goes on
                nested.rollback()
                forget_import_ids(session)
                log.error("import: record %d not stored after %s", record_number(item.index), type(exc).__name__)
                results.append(RecordResult(item.index, FAILED, problem=_problem(exc), reference=item.reference))
                continue
            nested.commit()
            results.append(result)
    return results


def import_referrals(
    db: Database,
    *,
    actor: Actor,
    records: Iterable[object],
    rules: Rules,
    as_of: date,
    second_referral_reason: str | None = None,
    on_result: Callable[[RecordResult], None] | None = None,
    batch_size: int = 1,
    should_stop: Callable[[], bool] | None = None,
) -> ImportReport:
    """Register each record: a bad record never blocks the good ones; each is stored whole or not.

    A record for a patient who already has an open referral is reported as a possible duplicate and not added,
    unless `second_referral_reason` says why a second referral is wanted. Demographics that disagree with the
    stored patient are refused (confirming a change needs a person looking at both, in the app).

    `batch_size` records go in one transaction (1, the default: each its own). `on_result` hears each record's
    result once its transaction is committed (the command line prints it at once), so what was reported is what
    is stored, whatever happens next. Every record is tried: an unexpected error on one (a driver's
    OverflowError, say) is reported for that record and the import goes on. A database that stops the import
    (locked past the busy timeout, disk full, read-only, damaged: `DatabaseError`), or the user's role or the
    rules in force changing underneath it, rolls back the batch in hand and ends the import: the report says where
    (`stopped_at`, the batch's first record) and why. `should_stop` is asked before each batch (the desktop's
    Cancel): when it says so the import ends there (`cancelled_at`), everything committed before staying.
    """
    problem = batch_problem(batch_size)
    if problem is not None:
        raise ServiceError(problem)
    authorize(actor, IMPORT_REFERRALS, db=db)  # refused before anything is read or parsed; checked again as it writes
    report = ImportReport()
    items = list(records)
    report.total = len(items)
    reason = _clean(second_referral_reason)
    if reason is not None:
        problem = text_problem(reason, "second_referral_reason")
        if problem is not None:
            raise ServiceError(f"second referral reason: {problem}")
    for start in range(0, len(items), batch_size):
        if should_stop is not None and should_stop():
            report.cancelled_at = start
            log.info("import cancelled before record %d of %d", record_number(start), report.total)
            return report
        chunk = items[start : start + batch_size]
        batch = [_prepare(start + offset, record, rules, as_of) for offset, record in enumerate(chunk)]
        if not any(isinstance(item, _Ready) for item in batch):
            results = [item for item in batch if isinstance(item, RecordResult)]
        else:
            try:
                results = _write_batch(db, actor, batch, rules, reason)
            except _STOPPING as exc:
                _stop(report, db, exc, start, chunk, as_of)
                return report
            except Exception as exc:
                if len(chunk) == 1:  # one record's unexpected error must not hide the rest or end the import
                    results = [_failed(db, start, chunk[0], exc, as_of)]
                else:  # rolled back whole: again, a savepoint a record, so that only the refused one is left out
                    try:
                        results = _write_batch(db, actor, batch, rules, reason, savepoints=True)
                    except (
                        Exception,
                        KeyboardInterrupt,
                    ) as again:  # at the batch's commit, not one record's: the batch is rolled back
                        _stop(report, db, again, start, chunk, as_of)
                        return report
        for result in results:
            report.record(result)
            if on_result is not None:
                on_result(result)
    return report


def _failed(db: Database, index: int, record: object, exc: BaseException, as_of: date) -> RecordResult:
    """A record whose own transaction failed unexpectedly: reported, with a referral holding its key, if any."""
    log.error("import: record %d not stored after %s", record_number(index), type(exc).__name__)
    found = _stored_id(db, record, as_of)
    return RecordResult(
        index,
        FAILED,
        referral_id=found if isinstance(found, int) else None,
        problem=_problem(exc)
        + (" (the database could not be read to check it was not stored)" if found is _UNKNOWN else ""),
        reference=record_reference(record),
    )


def _stop(report: ImportReport, db: Database, exc: BaseException, start: int, chunk: list[object], as_of: date) -> None:
    """The import ends at the batch starting at `start`, rolled back: say where, why, and what a read finds."""
    if isinstance(exc, KeyboardInterrupt):
        reason_text = "interrupted (Ctrl+C)"
    elif isinstance(exc, _STOPPING):
        reason_text = str(exc).rstrip(".")
    else:
        reason_text = _problem(exc)
    report.stopped_at, report.stop_reason = start, _without_nothing_changed(reason_text)
    report.stop_reference = record_reference(chunk[0])
    report.stop_batch_end = start + len(chunk) - 1
    # The transaction was rolled back; a read (which a lock, a full disk or a read-only file allows) checks.
    notes: list[str] = []
    for offset, record in enumerate(chunk):
        found = _stored_id(db, record, as_of)
        where = "it" if len(chunk) == 1 else f"record {record_number(start + offset)}"
        if found is _UNKNOWN:
            notes = ["may or may not have been stored (the database could not be read to check)"]
            break
        if found is not None:
            notes.append(f"{where} may have been stored: referral {found} holds its NHS number and received date")
    if len(chunk) == 1:
        if notes:
            report.stop_record = notes[0].replace("it may", "may") + (" (check it)" if "referral" in notes[0] else "")
    else:
        first, last = record_number(start), record_number(start + len(chunk) - 1)
        report.stop_record = f"and the rest of its batch (records {first}-{last}) were not stored (the batch's " + (
            "transaction was rolled back)"
        )
        if notes:
            report.stop_record += "; " + "; ".join(notes) + " (check them)"
    # The log numbers records as the terminal does (from 1), and names none (no patient data in logs).
    log.error("import stopped at record %d of %d: %s", record_number(start), report.total, type(exc).__name__)


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


#: The largest file the desktop imports (bytes): 10,000 referrals take about 15 MB; a larger file is a mistake or
#: an export of something else, and reading it would hold the worker (and the user) for minutes.
MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024


class ImportFileError(ServiceError):
    """The file cannot be imported at all (unreadable, not JSON, not referrals, too big): nothing was stored."""


def read_import_file(path: Path, *, max_bytes: int = MAX_IMPORT_FILE_BYTES) -> list[object]:
    """The records of a referrals file, as `triage-app import` reads it: one referral (a JSON object) or a JSON
    array of them. Raises `ImportFileError` naming what is wrong before anything is stored.

    A record of the wrong kind inside an array (a number, a list) is refused here too, naming its place: a file
    whose records are not referrals is the wrong file, better said once than as a refusal per record.
    """
    name = path.name
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ImportFileError(f"{name}: is not a file")
        if size > max_bytes:
            raise ImportFileError(
                f"{name}: the file is too big to import ({size / 1_048_576:,.0f} MB; at most "
                f"{max_bytes / 1_048_576:,.0f} MB). Split it, or use `triage-app import --batch N` for a migration"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{name}: no such file") from None
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        document = json_document(raw, name)
    except JsonTextError as exc:
        raise ImportFileError(str(exc)) from None
    records: list[object] = list(document) if isinstance(document, list) else [document]
    if not isinstance(document, list | dict):
        raise ImportFileError(
            f"{name}: holds {_json_kind(document)}; expected a referral (JSON object) or a JSON array of referrals"
        )
    if not records:
        raise ImportFileError(f"{name}: the array is empty: there are no referrals to import")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ImportFileError(
                f"{name}: record {record_number(index)} is {_json_kind(record)}, not a referral (a JSON object); "
                "nothing was imported"
            )
    return records


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    return "a JSON object" if isinstance(value, dict) else type(value).__name__
