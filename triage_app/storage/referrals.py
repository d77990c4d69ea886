"""Referral repository: domain `Referral` <-> rows, compare-and-swap saves, assessments, the queue query.

Functions take the caller's session and keyword-only arguments; the services own the transaction.

The 18-week clock is read for the day a screen is made, not frozen at scoring (H07): given an `RttClock`, the
queue filters, counts, sorts and shows `rtt_breach_risk` from the received date against cutoff dates worked out
in Python (`received_on <= cutoff`), which SQLite and PostgreSQL both run on the received-date index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from triage_app.domain.formats import format_date
from triage_app.domain.meetings import OPEN_MEETING_STATUSES
from triage_app.domain.referral import Referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import RTT_FLAG, Assessment, RttClock, waiting_term, weeks_waiting
from triage_app.storage.models import (
    AppUser,
    AssessmentCriterionRow,
    AssessmentFlagRow,
    AssessmentMissingRow,
    AssessmentRow,
    MeetingRow,
    OralMedicationRow,
    PhenotypeComponentRow,
    ReferralRow,
    StatusChangeRow,
    utc_now,
)
from triage_app.storage.referral_fields import (
    read_unmapped,
    referral_columns,
    referral_from_rows,
    search_key,
    split_columns,
    write_unmapped,
)

__all__ = ["referral_columns", "referral_from_rows", "search_key"]


class VersionConflict(Exception):
    """The stored referral is newer than the version the user loaded."""

    def __init__(self, *, referral_id: int, expected: int, current: ReferralRow, changed_by: str) -> None:
        super().__init__(
            f"referral {referral_id} was changed by {changed_by} at {current.updated_at:%d-%b-%Y %H:%M} UTC "
            f"(version {current.version}; you loaded version {expected})"
        )
        self.referral_id = referral_id
        self.expected = expected
        self.current_version = current.version
        self.changed_by = changed_by
        self.changed_at: datetime = current.updated_at


def _prefix_range(column: Any, prefix: str) -> sa.ColumnElement[bool]:
    """column starts with prefix, as an index range (prefix <= column < prefix + highest character)."""
    return sa.and_(column >= prefix, column < prefix + "\U0010ffff")


def _write_children(session: Session, referral_id: int, referral: Referral) -> None:
    session.execute(delete(OralMedicationRow).where(col(OralMedicationRow.referral_id) == referral_id))
    session.execute(delete(PhenotypeComponentRow).where(col(PhenotypeComponentRow.referral_id) == referral_id))
    for position, medication in enumerate(referral.oral_medications or ()):
        session.add(
            OralMedicationRow(
                referral_id=referral_id, position=position, drug=medication.drug, outcome=medication.outcome
            )
        )
    for position, component in enumerate(referral.phenotype.components or ()):
        session.add(PhenotypeComponentRow(referral_id=referral_id, component=component, position=position))


def insert_referral(session: Session, *, referral: Referral, user_id: int, status: str) -> ReferralRow:
    """Store a new referral (version 1) with its child rows and first status."""
    now = utc_now()
    declared, undeclared = split_columns(referral_columns(referral))
    row = ReferralRow(
        **declared,
        status=status,
        version=1,
        created_at=now,
        created_by=user_id,
        updated_at=now,
        updated_by=user_id,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    write_unmapped(session, row.id, undeclared)
    _write_children(session, row.id, referral)
    session.add(StatusChangeRow(referral_id=row.id, from_status=None, to_status=status, changed_by=user_id))
    session.flush()
    return row


def update_referral(
    session: Session, *, referral_id: int, expected_version: int, referral: Referral, user_id: int
) -> int:
    """Compare-and-swap: save only if the stored version is still `expected_version`; return the new one.

    Raises `VersionConflict` naming who changed it and when. Never a silent overwrite.
    """
    declared, undeclared = split_columns(referral_columns(referral))
    result = session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id, col(ReferralRow.version) == expected_version)
        .values(**declared, version=ReferralRow.version + 1, updated_at=utc_now(), updated_by=user_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise_conflict(session, referral_id=referral_id, expected_version=expected_version)
    write_unmapped(session, referral_id, undeclared)
    _write_children(session, referral_id, referral)
    session.flush()
    return expected_version + 1


def bump_version(session: Session, *, referral_id: int, expected_version: int, user_id: int, **values: Any) -> int:
    """Compare-and-swap for changes other than the referral's fields (status, for one)."""
    result = session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id, col(ReferralRow.version) == expected_version)
        .values(**values, version=ReferralRow.version + 1, updated_at=utc_now(), updated_by=user_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise_conflict(session, referral_id=referral_id, expected_version=expected_version)
    return expected_version + 1


def raise_conflict(session: Session, *, referral_id: int, expected_version: int) -> None:
    """Raise `VersionConflict` (or `LookupError` when the referral is gone)."""
    current = session.execute(
        select(ReferralRow).where(col(ReferralRow.id) == referral_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if current is None:
        raise LookupError(f"referral {referral_id} does not exist")
    user = session.get(AppUser, current.updated_by)
    name = user.display_name if user is not None else f"user {current.updated_by}"
    raise VersionConflict(referral_id=referral_id, expected=expected_version, current=current, changed_by=name)


def get_referral_row(session: Session, referral_id: int) -> ReferralRow | None:
    """The referral's row, freshly read."""
    return session.execute(
        select(ReferralRow).where(col(ReferralRow.id) == referral_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def load_referral(session: Session, referral_id: int) -> tuple[ReferralRow, Referral] | None:
    """The row and the domain referral, or None."""
    row = get_referral_row(session, referral_id)
    if row is None:
        return None
    medications = (
        session.execute(select(OralMedicationRow).where(col(OralMedicationRow.referral_id) == referral_id))
        .scalars()
        .all()
    )
    components = (
        session.execute(select(PhenotypeComponentRow).where(col(PhenotypeComponentRow.referral_id) == referral_id))
        .scalars()
        .all()
    )
    return row, referral_from_rows(row, medications, components, read_unmapped(session, referral_id))


def find_referral_id(session: Session, *, nhs_number: str, received_on: date) -> int | None:
    """The referral with this NHS number and received date (the duplicate key), if any."""
    return session.execute(
        select(col(ReferralRow.id)).where(
            col(ReferralRow.nhs_number) == nhs_number, col(ReferralRow.received_on) == received_on
        )
    ).scalar_one_or_none()


def store_assessment(session: Session, *, referral_id: int, assessment: Assessment, user_id: int) -> AssessmentRow:
    """Store an assessment as the referral's current one; earlier ones stay as history."""
    session.execute(
        update(AssessmentRow)
        .where(col(AssessmentRow.referral_id) == referral_id, col(AssessmentRow.is_current).is_(True))
        .values(is_current=False)
        .execution_options(synchronize_session=False)
    )
    terms = assessment.priority_terms
    row = AssessmentRow(
        referral_id=referral_id,
        is_current=True,
        assessed_on=assessment.as_of,
        assessed_by=user_id,
        rules_version=assessment.rules_version,
        outcome=assessment.outcome,
        priority=assessment.priority,
        priority_severity=terms.severity,
        priority_pain=terms.pain,
        priority_waiting=terms.waiting,
        weeks_waiting=assessment.weeks_waiting,
        summary=assessment.summary,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    for criterion in assessment.criteria:
        session.add(
            AssessmentCriterionRow(
                assessment_id=row.id, criterion_id=criterion.id, status=criterion.status, reason=criterion.reason
            )
        )
    for flag in assessment.flags:
        session.add(AssessmentFlagRow(assessment_id=row.id, flag=flag))
    for path in assessment.missing:
        session.add(AssessmentMissingRow(assessment_id=row.id, field_path=path))
    # The queue's copy of the current result. Not a user edit, so the version is left alone; a standing
    # decision keeps showing until the service decides whether it lapsed (see set_decision).
    session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id)
        .values(
            current_assessment_id=row.id,
            outcome=assessment.outcome,
            queue_outcome=sa.func.coalesce(col(ReferralRow.decided_outcome), assessment.outcome),
            priority=assessment.priority,
            priority_waiting=terms.waiting,
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return row


def set_decision(
    session: Session,
    *,
    referral_id: int,
    decision_id: int | None,
    outcome: str | None,
    kind: str | None,
    basis: str | None,
) -> None:
    """Record (or, with all None, clear) the referral's standing decision and what the queue shows."""
    session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id)
        .values(
            decision_id=decision_id,
            decided_outcome=outcome,
            decision_kind=kind,
            decision_basis=basis,
            queue_outcome=outcome if outcome is not None else col(ReferralRow.outcome),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()


@dataclass(frozen=True, slots=True)
class PatientReferral:
    """Another referral stored for the same NHS number: who, when, and where it stands."""

    referral_id: int
    received_on: date | None
    status: str
    family_name: str | None
    given_name: str | None
    date_of_birth: date | None


def referrals_for_patient(session: Session, *, nhs_number: str, except_id: int | None = None) -> list[PatientReferral]:
    """Every referral stored for this NHS number, newest first (the duplicate and demographics checks).

    One stored without a received date (before the identity minimum) comes last: SQLite sorts NULL lowest,
    PostgreSQL highest, so the order says where NULLs go rather than leaving it to the database.
    """
    query = (
        select(ReferralRow)
        .where(col(ReferralRow.nhs_number) == nhs_number)
        .order_by(
            col(ReferralRow.received_on).is_(None), col(ReferralRow.received_on).desc(), col(ReferralRow.id).desc()
        )
    )
    if except_id is not None:
        query = query.where(col(ReferralRow.id) != except_id)
    return [
        PatientReferral(r.id or 0, r.received_on, r.status, r.family_name, r.given_name, r.date_of_birth)
        for r in session.execute(query).scalars()
    ]


@dataclass(frozen=True, slots=True)
class StoredAssessment:
    """A stored assessment with its criteria, flags and missing fields."""

    row: AssessmentRow
    criteria: tuple[AssessmentCriterionRow, ...]
    flags: tuple[str, ...]
    missing: tuple[str, ...]


def load_assessment(session: Session, assessment_id: int) -> StoredAssessment | None:
    """One stored assessment in full."""
    row = session.get(AssessmentRow, assessment_id)
    if row is None:
        return None
    criteria = (
        session.execute(
            select(AssessmentCriterionRow)
            .where(col(AssessmentCriterionRow.assessment_id) == assessment_id)
            .order_by(col(AssessmentCriterionRow.criterion_id))
        )
        .scalars()
        .all()
    )
    order = {key: i for i, key in enumerate(("R1", "R2", "R3", "R4", "S1", "S2", "S3", "S4", "S5"))}
    flags = (
        session.execute(
            select(col(AssessmentFlagRow.flag)).where(col(AssessmentFlagRow.assessment_id) == assessment_id)
        )
        .scalars()
        .all()
    )
    missing = (
        session.execute(
            select(col(AssessmentMissingRow.field_path)).where(col(AssessmentMissingRow.assessment_id) == assessment_id)
        )
        .scalars()
        .all()
    )
    return StoredAssessment(
        row=row,
        criteria=tuple(sorted(criteria, key=lambda c: order.get(c.criterion_id, 99))),
        flags=tuple(sorted(flags)),
        missing=tuple(sorted(missing)),
    )


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the queue shows: each set field narrows it.

    `clock` is the 18-week clock of the day the view is made: with it, the `rtt_breach_risk` view holds the
    referrals waiting at or past the warning week today, and the "breaches" sort can run. Without it that view
    falls back to the caution as stored at scoring.
    """

    outcome: str | None = None
    status: str | None = None
    flag: str | None = None
    search: str | None = None  # NHS number (any spacing), family or given name prefix, hospital number
    open_only: bool = False
    meeting_id: int | None = None  # listed on this (open) meeting
    clock: RttClock | None = None


def rtt_condition(clock: RttClock) -> sa.ColumnElement[bool]:
    """Referrals whose `rtt_breach_risk` stands on the clock's day: assessed (as every flag needs) and received on
    or before the warning cutoff."""
    return sa.and_(
        col(ReferralRow.current_assessment_id).is_not(None), col(ReferralRow.received_on) <= clock.warning_cutoff
    )


def rtt_band(clock: RttClock) -> sa.ColumnElement[int]:
    """2 for 18 weeks or more, 1 from the warning week, 0 otherwise (a missing received date included)."""
    received = col(ReferralRow.received_on)
    return sa.case((received <= clock.breach_cutoff, 2), (received <= clock.warning_cutoff, 1), else_=0)


def queue_conditions(queue_filter: QueueFilter) -> list[sa.ColumnElement[bool]]:
    """SQL conditions for a filter, shared by the page query and the counts."""
    conditions: list[sa.ColumnElement[bool]] = []
    if queue_filter.outcome:  # the standing decision where there is one, else the computed outcome
        conditions.append(col(ReferralRow.queue_outcome) == queue_filter.outcome)
    if queue_filter.status:
        conditions.append(col(ReferralRow.status) == queue_filter.status)
    if queue_filter.meeting_id is not None:
        conditions.append(col(ReferralRow.meeting_id) == queue_filter.meeting_id)
    if queue_filter.open_only:
        conditions.append(col(ReferralRow.status) != "closed")
    if queue_filter.flag == RTT_FLAG and queue_filter.clock is not None:
        conditions.append(rtt_condition(queue_filter.clock))  # today's, not the stored one
    elif queue_filter.flag:
        flagged = select(col(AssessmentFlagRow.assessment_id)).where(col(AssessmentFlagRow.flag) == queue_filter.flag)
        conditions.append(col(ReferralRow.current_assessment_id).in_(flagged))
    text = (queue_filter.search or "").strip()
    if text:
        key = text.upper()
        options: list[sa.ColumnElement[bool]] = [
            _prefix_range(col(ReferralRow.family_name_key), key),
            _prefix_range(col(ReferralRow.given_name_key), key),
            col(ReferralRow.hospital_number) == text,
            col(ReferralRow.hospital_number) == key,
        ]
        family, _, given = key.partition(",")
        if given.strip():  # "ASHWORTH, M" as the queue shows names
            options.append(
                sa.and_(
                    col(ReferralRow.family_name_key) == family.strip(),
                    _prefix_range(col(ReferralRow.given_name_key), given.strip()),
                )
            )
        digits = text.replace(" ", "").replace("-", "")
        if digits.isdigit():
            options.append(_prefix_range(col(ReferralRow.nhs_number), digits))
        conditions.append(sa.or_(*options))
    return conditions


#: "Breaches first": 18 weeks or more, then from the warning week, then the rest; each by priority (needs a clock).
SORT_BREACHES = "breaches"

#: sort key name -> column; ties are broken by id so pages never overlap.
SORT_COLUMNS: dict[str, Any] = {
    "priority": ReferralRow.priority,
    "nhs_number": ReferralRow.nhs_number,
    "name": ReferralRow.family_name_key,
    "date_of_birth": ReferralRow.date_of_birth,
    "received_on": ReferralRow.received_on,
    "outcome": ReferralRow.queue_outcome,
    "status": ReferralRow.status,
    "id": ReferralRow.id,
}
#: Every sort the queue takes.
QUEUE_SORTS: tuple[str, ...] = (*SORT_COLUMNS, SORT_BREACHES)


def queue_order(queue_filter: QueueFilter, sort: str, descending: bool) -> list[sa.ColumnElement[Any]]:
    """ORDER BY terms for a sort; ties broken by id. "breaches" puts referrals without a priority last."""
    identity = col(ReferralRow.id)
    if sort == SORT_BREACHES:
        if queue_filter.clock is None:
            raise ValueError("the breaches-first order needs the day the 18-week clock is read for (a clock)")
        priority = col(ReferralRow.priority)
        terms: list[Any] = [rtt_band(queue_filter.clock), priority.is_not(None), priority, identity]
        return [term.desc() if descending else term.asc() for term in terms]
    if sort not in SORT_COLUMNS:
        raise ValueError(f"'{sort}' is not a queue order: choose {', '.join(QUEUE_SORTS)}")
    column = col(SORT_COLUMNS[sort])
    return [column.desc(), identity.desc()] if descending else [column.asc(), identity.asc()]


def queue_ids(
    session: Session,
    *,
    queue_filter: QueueFilter,
    sort: str = "priority",
    descending: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[int]:
    """Referral ids in queue order (highest priority first by default); ties broken by id.

    Read through the driver's cursor a few thousand rows at a time: one long C-level fetch of a million ids
    would hold the interpreter lock and freeze the GUI thread for its whole length.
    """
    query = (
        select(col(ReferralRow.id))
        .where(*queue_conditions(queue_filter))
        .order_by(*queue_order(queue_filter, sort, descending))
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    params = _driver_values(compiled, connection.dialect)
    positional = compiled.positiontup
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if positional is not None:
            cursor.execute(str(compiled), [params[name] for name in positional])
        else:
            cursor.execute(str(compiled), params)
        ids: list[int] = []
        while batch := cursor.fetchmany(4096):
            ids.extend(row[0] for row in batch)
        return ids
    finally:
        cursor.close()


def matching_ids(session: Session, ids: Sequence[int], queue_filter: QueueFilter) -> set[int]:
    """Which of these referrals the filter holds: a view tells from it whether a change moved rows in or out."""
    if not ids:
        return set()
    query = select(col(ReferralRow.id)).where(col(ReferralRow.id).in_(list(ids)), *queue_conditions(queue_filter))
    return set(session.execute(query).scalars())


def _driver_values(compiled: Any, dialect: sa.Dialect) -> dict[str, Any]:
    """The statement's parameters as its driver takes them: each through its type's bind processor, as
    SQLAlchemy would (a date becomes ISO text for SQLite rather than relying on sqlite3's deprecated adapter)."""
    params: dict[str, Any] = compiled.construct_params()
    for name, bind in compiled.binds.items():
        if name in params:
            processor = bind.type.bind_processor(dialect)
            if processor is not None:
                params[name] = processor(params[name])
    return params


def count_by(session: Session, column_name: str, queue_filter: QueueFilter | None = None) -> dict[str | None, int]:
    """Counts of referrals grouped by `outcome` or `status`."""
    column = col(getattr(ReferralRow, column_name))
    query = select(column, func.count()).group_by(column)
    if queue_filter is not None:
        query = query.where(*queue_conditions(queue_filter))
    return {key: count for key, count in session.execute(query)}


def refresh_priorities(session: Session, *, as_of: date, rules: Rules, apply: bool = True) -> int:
    """Bring the queue's priorities up to `as_of`: the waiting term grows as referrals wait.

    Only open referrals whose waiting term is below its cap can change, so the daily cost follows the
    number of recent referrals, not the size of the queue. Stored assessments keep their own date.
    Returns the number of referrals whose priority changed (with `apply=False`: would change; nothing is
    written, so a start can read first and write only when a priority moved).
    """
    query = select(
        col(ReferralRow.id), col(ReferralRow.received_on), col(ReferralRow.priority), col(ReferralRow.priority_waiting)
    ).where(
        col(ReferralRow.priority_waiting) < rules.waiting_weight,
        col(ReferralRow.status) != "closed",
        col(ReferralRow.received_on).is_not(None),
    )
    changed = []
    for referral_id, received_on, priority, waiting in session.execute(query):
        weeks = weeks_waiting(received_on, as_of)
        term = waiting_term(weeks, rules)
        if term != waiting and priority is not None and waiting is not None:
            changed.append({"rid": referral_id, "p": priority - waiting + term, "w": term})
    if changed and apply:
        table: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]  # Core executemany: one statement
        session.connection().execute(
            update(table)
            .where(table.c.id == sa.bindparam("rid"))
            .values(priority=sa.bindparam("p"), priority_waiting=sa.bindparam("w")),
            changed,
        )
    return len(changed)


@dataclass(frozen=True, slots=True)
class QueueRow:
    """What one line of the queue shows."""

    id: int
    version: int
    priority: int | None
    nhs_number: str | None
    family_name: str | None
    given_name: str | None
    date_of_birth: date | None
    hospital_number: str | None
    received_on: date | None
    outcome: str | None  # computed by the rules
    status: str
    flags: tuple[str, ...]
    meeting: str | None = None  # "YYYY-MM-DD HH:MM" of the open meeting it is listed on
    decided_outcome: str | None = None  # the consultant's standing decision, if any
    decision_kind: str | None = None  # confirmed | overridden


_QUEUE_COLUMNS = (
    "id",
    "version",
    "priority",
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "hospital_number",
    "received_on",
    "outcome",
    "status",
    "decided_outcome",
    "decision_kind",
    "current_assessment_id",
)
assert set(_QUEUE_COLUMNS) <= set(ReferralRow.model_fields), "queue columns must be referral columns"


_QUEUE_ROWS_SQL = (
    f"SELECT {', '.join(_QUEUE_COLUMNS)}, "
    "(SELECT m.meeting_date || ' ' || m.meeting_time FROM meeting AS m WHERE m.id = referral.meeting_id) "
    f"FROM {ReferralRow.__tablename__} WHERE id IN ({{marks}})"
)
_QUEUE_FLAGS_SQL = (
    f"SELECT assessment_id, flag FROM {AssessmentFlagRow.__tablename__} WHERE assessment_id IN ({{marks}}) "
    "ORDER BY flag"
)


def _driver_rows(session: Session, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run a fixed query on the driver's cursor: the queue's page reads are its hottest path.

    `sql` marks its parameters `?`; they become the driver's own marks (`%s` for psycopg on PostgreSQL).
    """
    connection = session.connection()
    if connection.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")  # the fixed queries hold no literal question marks
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def queue_rows(session: Session, ids: Sequence[int], *, clock: RttClock | None = None) -> dict[int, QueueRow]:
    """The queue lines for these referral ids (one page), with their current flags; given a clock,
    `rtt_breach_risk` is the clock's day's rather than the one stored at scoring."""
    if not ids:
        return {}
    rows = _driver_rows(session, _QUEUE_ROWS_SQL.format(marks=",".join("?" * len(ids))), ids)
    assessment_ids = [row[-2] for row in rows if row[-2] is not None]
    flags: dict[int, list[str]] = {}
    if assessment_ids:
        marks = ",".join("?" * len(assessment_ids))
        for assessment_id, flag in _driver_rows(session, _QUEUE_FLAGS_SQL.format(marks=marks), assessment_ids):
            flags.setdefault(assessment_id, []).append(flag)
    result: dict[int, QueueRow] = {}
    for values in rows:
        (
            rid,
            version,
            priority,
            nhs,
            family,
            given,
            born,
            hospital,
            received,
            outcome,
            status,
            decided,
            kind,
            assessment_id,
            meeting,
        ) = values
        stored = tuple(flags.get(assessment_id, ()))
        received_on = _date(received)
        result[rid] = QueueRow(
            rid,
            version,
            priority,
            nhs,
            family,
            given,
            _date(born),
            hospital,
            received_on,
            outcome,
            status,
            flags=stored if clock is None else clock.flags(stored, received_on),
            meeting=meeting,
            decided_outcome=decided,
            decision_kind=kind,
        )
    return result


def _date(value: Any) -> date | None:
    """The driver returns SQLite dates as ISO text."""
    return None if value is None else value if isinstance(value, date) else date.fromisoformat(value)


def queue_count(session: Session, queue_filter: QueueFilter) -> int:
    """How many referrals the filter shows."""
    query = select(func.count()).select_from(ReferralRow).where(*queue_conditions(queue_filter))
    return int(session.connection().execute(query).scalar_one())


def flag_counts(
    session: Session, queue_filter: QueueFilter | None = None, *, clock: RttClock | None = None
) -> dict[str, int]:
    """Referrals carrying each flag in their current assessment; given a clock, `rtt_breach_risk` counts the
    referrals at or past the warning week on the clock's day (every referral with a current assessment, as the
    other flags count), not those flagged when they were scored."""
    query = (
        select(col(AssessmentFlagRow.flag), func.count())
        .join(ReferralRow, col(ReferralRow.current_assessment_id) == col(AssessmentFlagRow.assessment_id))
        .group_by(col(AssessmentFlagRow.flag))
    )
    conditions = [] if queue_filter is None else queue_conditions(queue_filter)
    if clock is not None:
        query = query.where(col(AssessmentFlagRow.flag) != RTT_FLAG)
    counts = {flag: count for flag, count in session.connection().execute(query.where(*conditions)).all()}
    if clock is not None:
        at_risk = select(func.count()).select_from(ReferralRow).where(rtt_condition(clock), *conditions)
        counts[RTT_FLAG] = int(session.connection().execute(at_risk).scalar_one())
    return counts


def open_meetings(session: Session) -> tuple[tuple[int, str, int], ...]:
    """Open meetings by date: (id, "03-Dec-2026 13:30", referrals listed on it)."""
    listed = dict(
        session.execute(
            select(col(ReferralRow.meeting_id), func.count())
            .where(col(ReferralRow.meeting_id).is_not(None))
            .group_by(col(ReferralRow.meeting_id))
        ).all()
    )
    rows = session.execute(
        select(MeetingRow)
        .where(col(MeetingRow.status).in_(OPEN_MEETING_STATUSES))
        .order_by(col(MeetingRow.meeting_date), col(MeetingRow.meeting_time))
    ).scalars()
    return tuple((m.id or 0, f"{format_date(m.meeting_date)} {m.meeting_time}", int(listed.get(m.id, 0))) for m in rows)
