"""The queue's SQL: what a view holds (`QueueFilter`), in which order, its rows, counts and the priorities.

The 18-week clock is read for the day a screen is made, not frozen at scoring (H07): given an `RttClock`, the
queue filters, counts, sorts and shows `rtt_breach_risk` from the received date against cutoff dates worked out
in Python (`received_on <= cutoff`), which SQLite and PostgreSQL both run on the received-date index.

Why one module (about 400 lines): the filter, the order, the pages and the counts must agree on what a view
holds, so they are written side by side.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session, col

from triage_app.domain.formats import format_date
from triage_app.domain.meetings import OPEN_MEETING_STATUSES
from triage_app.domain.scoring import RTT_FLAG, RttClock
from triage_app.storage.models import (
    AssessmentFlagRow,
    MeetingCaseRow,
    MeetingRow,
    ReferralRow,
)
from triage_app.storage.search_keys import search_selects


def _prefix_range(column: Any, prefix: str) -> sa.ColumnElement[bool]:
    """column starts with prefix, as an index range (prefix <= column < prefix + highest character)."""
    return sa.and_(column >= prefix, column < prefix + "\U0010ffff")


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
    search: str | None = None  # name parts in any order, NHS-number digits (any spacing), hospital number
    open_only: bool = False
    meeting_id: int | None = None  # listed on this (open) meeting
    clock: RttClock | None = None


def search_ids(text: str) -> sa.CompoundSelect[Any]:
    """The ids of the referrals a typed search finds, as one query: the whole family or given name's start, the
    hospital number as typed or upper-cased, the NHS number's start, and by the search-key table (every word a
    name part's start, "Given Family" or "FAMILY, Given"; four or more digits anywhere in an NHS number).

    One `id IN (... UNION ALL ...)` rather than an OR of conditions: each part is an index range, and PostgreSQL
    joins an IN at the top of the WHERE (an IN inside an OR became a filter tested on every referral).
    """
    key = text.upper()
    referral_id = col(ReferralRow.id)
    parts: list[sa.Select[Any]] = [
        select(referral_id).where(_prefix_range(col(ReferralRow.family_name_key), key)),
        select(referral_id).where(_prefix_range(col(ReferralRow.given_name_key), key)),
        select(referral_id).where(col(ReferralRow.hospital_number) == text),
        *search_selects(text),
    ]
    if key != text:
        parts.append(select(referral_id).where(col(ReferralRow.hospital_number) == key))
    digits = text.replace(" ", "").replace("-", "")
    if digits.isdigit():
        parts.append(select(referral_id).where(_prefix_range(col(ReferralRow.nhs_number), digits)))
    return sa.union_all(*parts)


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
        conditions.append(col(ReferralRow.id).in_(search_ids(text)))
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
    stop: Callable[[], bool] | None = None,
) -> list[int]:
    """Referral ids in queue order (highest priority first by default); ties broken by id.

    `stop`, asked between batches of a long read, ends it early (what was read so far is returned): a view
    the user has left already need not hold the one database worker while a million ids arrive.

    An empty value (no priority, date of birth, received date...) is the lowest, on either backend: last in a
    descending order, first in an ascending one. That is SQLite's rule and the opposite of PostgreSQL's, and an
    explicit NULLS LAST would keep PostgreSQL off the column's index; so a sort on a column that may be empty is
    read in two parts, the rows with a value and the rows without, each in an order both backends take from the
    index (H08: a referral without a priority never heads the queue on a server).
    """
    ids: list[int] = []
    _collect_ids(session, ids, queue_filter, sort, descending, limit, offset, stop)
    return ids


def queue_id_array(
    session: Session,
    *,
    queue_filter: QueueFilter,
    sort: str = "priority",
    descending: bool = True,
    stop: Callable[[], bool] | None = None,
) -> array[int]:
    """Every id of a view in order, as `queue_ids` reads them, into an array of 64-bit ints, batch by batch.

    A million ids as a list of Python ints costs 10-30 ms to build or free in one C call, holding the interpreter
    lock all that time (a stall of the GUI thread, wherever the list is freed); the array is filled a batch at a
    time and freed at once.
    """
    ids: array[int] = array("q")
    _collect_ids(session, ids, queue_filter, sort, descending, None, 0, stop)
    return ids


def _collect_ids(
    session: Session,
    into: MutableSequence[int],
    queue_filter: QueueFilter,
    sort: str,
    descending: bool,
    limit: int | None,
    offset: int,
    stop: Callable[[], bool] | None,
) -> None:
    conditions = queue_conditions(queue_filter)
    order = queue_order(queue_filter, sort, descending)
    column = _nullable_sort_column(sort)
    if column is None:
        _ids(session, into, conditions, order, limit, offset, stop)
        return
    known, empty = column.is_not(None), column.is_(None)
    first, second = (known, empty) if descending else (empty, known)
    _ids(session, into, [*conditions, first], order, limit, offset, stop)
    if (limit is not None and len(into) >= limit) or (stop is not None and stop()):
        return
    skipped = 0  # rows of the second part before the page: only when the page starts past the whole first part
    if offset and not into and limit is not None:
        query = select(func.count()).select_from(ReferralRow).where(*conditions, first)
        skipped = max(0, offset - int(session.connection().execute(query).scalar_one()))
    rest = None if limit is None else limit - len(into)
    _ids(session, into, [*conditions, second], order, rest, skipped, stop)


def _nullable_sort_column(sort: str) -> Any | None:
    """The column a sort orders by, if it may be empty (None for "id", "status" and "breaches", which order
    empty values themselves)."""
    if sort not in SORT_COLUMNS:
        return None
    table: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
    column = table.c[SORT_COLUMNS[sort].key]
    return column if column.nullable else None


def _ids(
    session: Session,
    into: MutableSequence[int],
    conditions: list[sa.ColumnElement[bool]],
    order: list[sa.ColumnElement[Any]],
    limit: int | None,
    offset: int,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Append to `into` the ids of the referrals meeting `conditions` in `order` (`stop()` true between batches
    ends the read).

    Read through the driver's cursor a few thousand rows at a time: one long C-level fetch of a million ids
    would hold the interpreter lock and freeze the GUI thread for its whole length.
    """
    query = select(col(ReferralRow.id)).where(*conditions).order_by(*order)
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
        while batch := cursor.fetchmany(4096):
            into.extend(row[0] for row in batch)
            if stop is not None and stop():
                break
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
    rules_version: str | None = None  # the rules its current assessment was made with (None: not assessed)


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
    "(SELECT m.meeting_date || ' ' || m.meeting_time FROM meeting AS m WHERE m.id = referral.meeting_id), "
    # The rules its assessment was made with, by primary key (the queue marks rows not yet reassessed, H05).
    "(SELECT a.rules_version FROM assessment AS a WHERE a.id = referral.current_assessment_id) "
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
    assessment_ids = [row[-3] for row in rows if row[-3] is not None]
    flags: dict[int, list[str]] = {}
    if assessment_ids:
        marks = ",".join("?" * len(assessment_ids))
        for assessment_id, flag in _driver_rows(session, _QUEUE_FLAGS_SQL.format(marks=marks), assessment_ids):
            flags.setdefault(assessment_id, []).append(flag)
    result: dict[int, QueueRow] = {}
    for values in rows:
        rid, version, priority, nhs, family, given, born, hospital, received = values[:9]
        outcome, status, decided, kind, assessment_id, meeting, rules_version = values[9:]
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
            rules_version=rules_version,
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
    """Open meetings by date: (id, "03-Dec-2026 13:30", cases on its list, decided or not)."""
    # Counted from the meeting's list, not from referral.meeting_id: a case with an outcome leaves its referral's
    # meeting_id empty, so counting referrals showed 3 on a list of 9 once 6 were decided.
    listed = dict(
        session.execute(
            select(col(MeetingCaseRow.meeting_id), func.count()).group_by(col(MeetingCaseRow.meeting_id))
        ).all()
    )
    rows = session.execute(
        select(MeetingRow)
        .where(col(MeetingRow.status).in_(OPEN_MEETING_STATUSES))
        .order_by(col(MeetingRow.meeting_date), col(MeetingRow.meeting_time))
    ).scalars()
    return tuple((m.id or 0, f"{format_date(m.meeting_date)} {m.meeting_time}", int(listed.get(m.id, 0))) for m in rows)
