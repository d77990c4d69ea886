"""The audit trail: one event per create, update, status change and export, written in the same
transaction as the change, each hash-chained to the one before.

Three things make it hold (safety.md, "Nothing lost, nothing hidden"):

- Append-only in the database: schema 0005's triggers refuse UPDATE and DELETE of events, and any change of
  the chain head other than moving it forward (SQLite triggers; PostgreSQL trigger functions). A refusal
  reaches the user as a `DatabaseError` saying so, never a traceback.
- The head outside the database: after every commit that wrote events, the new head is logged
  (`audit head ID HASH db=KEY`) and written to the checkpoint file (storage.audit_checkpoint). `audit verify`
  compares both with the database (`compare_checkpoint`, `compare_logged_heads`); a restore logs a marker
  (`log_chain_restart`) after which the log's older heads no longer count.
- Referral states in the chain: every commit that wrote an event and changed referrals records, for each
  changed referral, its version and a SHA-256 of its stored content. `verify_referrals` recomputes it for every
  referral, so a referral changed in the database without an event is found by id.

How events are written: `record_event` queues the event on the session; the session's `before_commit` hook
flushes, reads the state of every referral the transaction changed (tracked by mapper and ORM-execute hooks, so
no caller names them), and inserts the queued events, linked and hashed, with each referral's state in the
last event that names it (else in the transaction's last event). The states are therefore those committed,
whatever order a service made its changes and its events in. A failure there rolls the whole transaction back:
change and event stand or fall together.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, object_session
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter
from sqlmodel import Session

from triage_app.storage.audit_checkpoint import (
    Checkpoint,
    CheckpointError,
    advance_checkpoint,
    checkpoint_path_of,
    read_checkpoint,
)
from triage_app.storage.engine import DatabaseError
from triage_app.storage.models import (
    AppSetting,
    AuditChainHead,
    AuditEventRow,
    OralMedicationRow,
    PhenotypeComponentRow,
    ReferralRow,
)

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64

#: The key, in an event's changes, of the referral states it records: [None, {"scheme": 1, "referrals":
#: {"17": [version, sha256] or [version, sha256, "new"] (created in that transaction), or null (deleted)}}].
STATE_KEY = "referral_state"
STATE_SCHEME = 1

#: The referral columns whose content the state hash covers (scheme 1): the patient, the referral's fields,
#: status, meeting, outcome and standing decision, and who changed it when. Not `priority` and
#: `priority_waiting`: the waiting term grows with the calendar and is refreshed daily without an event.
#: A fixed list, not "every column": a column added by a later schema must not change every stored hash.
REFERRAL_STATE_COLUMNS: tuple[str, ...] = (
    "status",
    "external_id",
    "received_on",
    "nhs_number",
    "family_name",
    "given_name",
    "family_name_key",
    "given_name_key",
    "date_of_birth",
    "sex",
    "hospital_number",
    "referrer_name",
    "referrer_role",
    "referrer_organisation_ods",
    "receiving_unit_ods",
    "condition",
    "aetiology",
    "distribution",
    "onset",
    "onset_month_only",
    "specialist_confirmed",
    "phenotype_components_known",
    "head_tremor",
    "twstrs_total",
    "twstrs_pain",
    "tsui",
    "bont_cycles",
    "bont_guidance",
    "bont_response",
    "bont_immunoresistance_tested",
    "oral_medications_known",
    "physio_completed",
    "physio_outcome",
    "dysphagia",
    "prior_neck_surgery",
    "congenital_head_or_spine_abnormality",
    "cervical_spine_disease",
    "clinical_question",
    "meeting_id",
    "current_assessment_id",
    "outcome",
    "decision_id",
    "decided_outcome",
    "decision_kind",
    "decision_basis",
    "queue_outcome",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)

#: Words every append-only refusal carries (the migration's trigger messages start with them).
REFUSAL_MARKER = "audit trail is append-only"

#: The triggers schema 0005 creates, by dialect: `check_append_only` reports any that are gone or disabled.
APPEND_ONLY_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "audit_event_no_update",
        "audit_event_no_delete",
        "audit_event_no_replace",
        "audit_chain_head_no_delete",
        "audit_chain_head_forward_only",
        "audit_chain_head_no_replace",
    ),
    "postgresql": (
        "audit_event_append_only",
        "audit_event_no_truncate",
        "audit_chain_head_forward_only",
        "audit_chain_head_no_truncate",
    ),
}

#: The app_setting key of the database's own id: random, made with the first audited change of a database that
#: has none (an event records it), carried by its backups and restores, shared by a copy. The checkpoint and the
#: head lines in the log name the database by it, so they follow the file when its folder is moved.
DATABASE_ID_KEY = "database_id"
_DATABASE_ID = re.compile(r"^[0-9a-f]{32}$")

_PENDING = "audit.pending"  # session.info: events queued by record_event, written at commit
_TOUCHED = "audit.touched"  # session.info: {referral id: created in this transaction}
_NEW_HEAD = "audit.new_head"  # session.info: (id, hash) of the head this commit wrote, for after_commit
_CHUNK = 500  # ids per IN (...) list


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot audit a {type(value).__name__}")


# One encoder for every call (json.dumps with options builds a new one each time: a third of verify's time).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no spaces, dates as ISO strings."""
    return _ENCODER.encode(value)


def event_hash(
    *,
    event_id: int,
    occurred_at: str,
    user_login: str,
    action: str,
    entity: str,
    entity_id: str | None,
    changes: str,
    prev_hash: str,
) -> str:
    """SHA-256 over the event's content and the previous event's hash."""
    payload = canonical_json([event_id, occurred_at, user_login, action, entity, entity_id, changes, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- which referrals a transaction changed -------------------------------------------------------------------


def _touched(session: OrmSession) -> dict[int, bool]:
    touched: dict[int, bool] = session.info.setdefault(_TOUCHED, {})
    return touched


def note_referrals_written(session: OrmSession, ids: Iterable[int], *, created: bool = False) -> None:
    """Tell the audit that this transaction wrote these referrals (for Core statements the hooks do not see,
    such as storage.bulk's inserts): their states go into the transaction's audit events."""
    touched = _touched(session)
    for referral_id in ids:
        touched[int(referral_id)] = touched.get(int(referral_id), False) or created


@event.listens_for(ReferralRow, "after_insert")
def _referral_inserted(_mapper: Any, _connection: Any, target: ReferralRow) -> None:
    session = object_session(target)
    if session is not None and target.id is not None:
        _touched(session)[target.id] = True


@event.listens_for(ReferralRow, "after_update")
@event.listens_for(ReferralRow, "after_delete")
def _referral_changed(_mapper: Any, _connection: Any, target: ReferralRow) -> None:
    session = object_session(target)
    if session is not None and target.id is not None:
        _touched(session).setdefault(target.id, False)


def _referral_ids_in(clause: Any) -> set[int] | None:
    """The referral ids a WHERE clause limits a statement to (`id == X`, `id IN (...)`), or None if unknown."""
    if clause is None:
        return None
    ids: set[int] = set()
    found = False
    for node in visitors.iterate(clause):
        if not isinstance(node, BinaryExpression):
            continue
        left, right = node.left, node.right
        table = getattr(left, "table", None)
        if getattr(left, "name", None) != "id" or getattr(table, "name", None) != ReferralRow.__tablename__:
            continue
        if not isinstance(right, BindParameter):
            continue
        value = right.effective_value
        if node.operator is operators.eq and isinstance(value, int):
            ids.add(value)
            found = True
        elif node.operator is operators.in_op and isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
            found = True
    return ids if found else None


@event.listens_for(OrmSession, "do_orm_execute")
def _note_referral_statement(state: ORMExecuteState) -> None:
    """UPDATE and DELETE statements on referrals run through the session (the services' compare-and-swap)."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) != ReferralRow.__tablename__:
        return
    ids = _referral_ids_in(getattr(state.statement, "whereclause", None))
    if ids is None:
        log.warning("a change to referrals not limited by id: the audit cannot record their states")
        return
    note_referrals_written(state.session, ids)


# --- referral states -----------------------------------------------------------------------------------------


def _referral_table() -> sa.Table:
    table: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
    return table


def _state_hash(values: Sequence[Any], medications: list[Any], components: list[Any]) -> str:
    payload = canonical_json([STATE_SCHEME, list(values), medications, components])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _children(
    connection: sa.Connection, where: Any, where_components: Any
) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    meds_table: sa.Table = OralMedicationRow.__table__  # type: ignore[attr-defined]
    comp_table: sa.Table = PhenotypeComponentRow.__table__  # type: ignore[attr-defined]
    medications: dict[int, list[Any]] = {}
    for rid, position, drug, outcome in connection.execute(
        select(meds_table.c.referral_id, meds_table.c.position, meds_table.c.drug, meds_table.c.outcome)
        .where(where(meds_table.c.referral_id))
        .order_by(meds_table.c.referral_id, meds_table.c.position, meds_table.c.id)
    ):
        medications.setdefault(rid, []).append([position, drug, outcome])
    components: dict[int, list[Any]] = {}
    for rid, component, position in connection.execute(
        select(comp_table.c.referral_id, comp_table.c.component, comp_table.c.position)
        .where(where_components(comp_table.c.referral_id))
        .order_by(comp_table.c.referral_id, comp_table.c.position, comp_table.c.component)
    ):
        components.setdefault(rid, []).append([component, position])
    return medications, components


def _states_where(connection: sa.Connection, condition: Any) -> Iterator[tuple[int, int, str]]:
    """(id, version, state hash) of the referrals whose id meets `condition` (a function of an id column)."""
    table = _referral_table()
    columns = [table.c[name] for name in REFERRAL_STATE_COLUMNS]
    rows = connection.execute(
        select(table.c.id, table.c.version, *columns).where(condition(table.c.id)).order_by(table.c.id)
    ).all()
    if not rows:
        return
    medications, components = _children(connection, condition, condition)
    for row in rows:
        rid, version = int(row[0]), int(row[1])
        yield rid, version, _state_hash(row[2:], medications.get(rid, []), components.get(rid, []))


def referral_states(connection: sa.Connection, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """The version and state hash of each referral in `ids` that exists."""
    wanted = sorted(set(ids))
    states: dict[int, tuple[int, str]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for rid, version, digest in _states_where(connection, lambda c, chunk=chunk: c.in_(chunk)):
            states[rid] = (version, digest)
    return states


def all_referral_states(connection: sa.Connection, *, chunk: int = 5_000) -> Iterator[tuple[int, int, str]]:
    """(id, version, state hash) of every referral, in id order, read a chunk of ids at a time."""
    after = 0
    table = _referral_table()
    while True:
        last = connection.execute(
            select(sa.func.max(table.c.id)).where(
                table.c.id.in_(select(table.c.id).where(table.c.id > after).order_by(table.c.id).limit(chunk))
            )
        ).scalar_one()
        if last is None:
            return
        low, high = after, int(last)
        yield from _states_where(connection, lambda c, low=low, high=high: (c > low) & (c <= high))
        after = high


# --- writing events ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    row: AuditEventRow
    changes: dict[str, Any]
    referral_id: int | None  # the referral the event is about (entity "referral"), if any


def record_event(
    session: Session,
    *,
    user_login: str,
    action: str,
    entity: str,
    entity_id: int | str | None,
    changes: dict[str, Any],
) -> AuditEventRow:
    """Append one event to the chain inside the caller's write transaction.

    The event is written when the transaction commits (its id, time and hash are set then, on the returned
    row), with the states of the referrals the transaction changed; if the commit fails, neither the change
    nor the event is stored.
    """
    canonical_json(changes)  # refuse a value that cannot be audited now, where the caller can see why
    entity_key = None if entity_id is None else str(entity_id)
    row = AuditEventRow(
        occurred_at="",
        user_login=user_login,
        action=action,
        entity=entity,
        entity_id=entity_key,
        changes="",
        prev_hash="",
        hash="",
    )
    referral_id = None
    if entity == "referral" and entity_key is not None and entity_key.isdigit():
        referral_id = int(entity_key)
        _touched(session).setdefault(referral_id, False)
    session.info.setdefault(_PENDING, []).append(_Pending(row, dict(changes), referral_id))
    return row


def read_database_id(connection: sa.Connection) -> str | None:
    """The database's id (see `DATABASE_ID_KEY`), or None when it has none yet (or no settings table)."""
    table: sa.Table = AppSetting.__table__  # type: ignore[attr-defined]
    value = connection.execute(select(table.c.value).where(table.c.key == DATABASE_ID_KEY)).scalar()
    if value is None or not _DATABASE_ID.match(str(value)):
        return None
    return str(value)


def _new_database_id(connection: sa.Connection, pending: list[_Pending]) -> str:
    """Give the database its id, in the transaction that writes its first events, with an event saying so."""
    table: sa.Table = AppSetting.__table__  # type: ignore[attr-defined]
    database_id = uuid.uuid4().hex
    connection.execute(sa.delete(table).where(table.c.key == DATABASE_ID_KEY))  # a malformed value, if any
    connection.execute(sa.insert(table).values(key=DATABASE_ID_KEY, value=database_id))
    row = AuditEventRow(
        occurred_at="",
        user_login=pending[0].row.user_login,
        action="create",
        entity="setting",
        entity_id=DATABASE_ID_KEY,
        changes="",
        prev_hash="",
        hash="",
    )
    pending.insert(0, _Pending(row, {"value": [None, database_id]}, None))
    return database_id


def _lock_head(session: OrmSession) -> AuditChainHead | None:
    """The head row, locked until the commit on a server (SQLite: the write lock is already held)."""
    head: AuditChainHead | None = session.execute(
        select(AuditChainHead)
        .where(AuditChainHead.id == 1)  # type: ignore[arg-type]
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    return head


def _attach_states(pending: list[_Pending], states: dict[int, tuple[int, str] | None], created: set[int]) -> None:
    """Put each referral's state in the last event about it, else in the transaction's last event."""
    target: dict[int, int] = {}
    for index, item in enumerate(pending):
        if item.referral_id is not None:
            target[item.referral_id] = index
    grouped: dict[int, dict[str, Any]] = {}
    for rid, state in states.items():
        entry: Any = None if state is None else [state[0], state[1], *(["new"] if rid in created else [])]
        grouped.setdefault(target.get(rid, len(pending) - 1), {})[str(rid)] = entry
    for index, referrals in grouped.items():
        pending[index].changes[STATE_KEY] = [None, {"scheme": STATE_SCHEME, "referrals": referrals}]


@event.listens_for(OrmSession, "before_commit")
def _write_pending_events(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released; the events go in with the outer commit
    if not session.info.get(_PENDING):
        touched = session.info.pop(_TOUCHED, None)
        if touched:
            log.warning("referrals %s changed without an audit event", sorted(touched)[:20])
        return
    session.flush()  # the services' last changes, so the states read below are the ones committed
    pending: list[_Pending] = session.info.pop(_PENDING)
    touched = session.info.pop(_TOUCHED, {})
    connection = session.connection()
    database_id = read_database_id(connection) or _new_database_id(connection, pending)
    if touched:
        found = referral_states(connection, touched)
        states: dict[int, tuple[int, str] | None] = {rid: found.get(rid) for rid in touched}
        _attach_states(pending, states, {rid for rid, new in touched.items() if new})
    head = _lock_head(session)
    prev_hash = head.last_hash if head is not None else GENESIS_HASH
    event_id = head.last_event_id if head is not None else 0
    occurred_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    for item in pending:
        event_id += 1
        row = item.row
        row.id = event_id
        row.occurred_at = occurred_at
        row.changes = canonical_json(item.changes)
        row.prev_hash = prev_hash
        row.hash = event_hash(
            event_id=event_id,
            occurred_at=occurred_at,
            user_login=row.user_login,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            changes=row.changes,
            prev_hash=prev_hash,
        )
        prev_hash = row.hash
        session.add(row)
    if head is None:
        session.add(AuditChainHead(id=1, last_event_id=event_id, last_hash=prev_hash))
    else:
        head.last_event_id = event_id
        head.last_hash = prev_hash
        session.add(head)
    session.flush()
    session.info[_NEW_HEAD] = (event_id, prev_hash, session.get_bind(), database_id)


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    new_head = session.info.pop(_NEW_HEAD, None)
    if new_head is None:
        return
    head_id, head_hash, bind, database_id = new_head
    # ids, hash and the database's id only: no patient data, no path (`audit verify` compares these lines)
    log.info("audit head %d %s db=%s", head_id, head_hash, database_id)
    registered = checkpoint_path_of(bind)
    if registered is None:
        return
    path, where = registered
    try:
        # Named by the database's id; a checkpoint an older version named by this path is taken over.
        advance_checkpoint(path, head_id=head_id, head_hash=head_hash, database=database_id, legacy=where)
    except OSError as exc:  # committed already: say so in the log, never undo or hide the change
        log.error("audit checkpoint %s not written (head %d): %s", path, head_id, exc.strerror or exc)


@event.listens_for(OrmSession, "after_transaction_end")
def _forget(session: OrmSession, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended (commit or rollback)
        for key in (_PENDING, _TOUCHED, _NEW_HEAD):
            session.info.pop(key, None)


@event.listens_for(sa.Engine, "handle_error")
def _refusal_in_words(context: Any) -> BaseException | None:
    """An append-only trigger's refusal, from SQLite or PostgreSQL, as a `DatabaseError` in words."""
    original = context.original_exception
    if REFUSAL_MARKER not in str(original):
        return None
    detail = str(original).strip().splitlines()[0]
    start = detail.find(REFUSAL_MARKER)
    return DatabaseError(
        f"refused by the database: {detail[start:]}. Audit events are never changed or deleted; nothing was changed."
    )


# --- verifying -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of checking the chain: `first_broken` is the id of the first bad event, if any.

    `last_id` and `last_hash` are where the chain ends (the head row's values when it holds); `states` maps each
    referral id to (event id, its last recorded state: (version, hash, created) or None when recorded deleted).
    """

    checked: int
    first_broken: int | None
    problem: str | None
    last_id: int = 0
    last_hash: str = GENESIS_HASH
    states: dict[int, tuple[int, tuple[int, str, bool] | None]] = field(default_factory=dict, repr=False)
    first_created: int | None = None  # the lowest referral id recorded as created with its state

    @property
    def intact(self) -> bool:
        """True when every link holds."""
        return self.problem is None


_STATE_MARK = f'"{STATE_KEY}"'


def _collect_states(
    event_id: int, changes: str, states: dict[int, tuple[int, tuple[int, str, bool] | None]], created: list[int]
) -> None:
    try:
        recorded = json.loads(changes)[STATE_KEY][1]["referrals"]
    except (ValueError, KeyError, IndexError, TypeError):
        return  # a field of that name in an old event, not a state record
    for key, entry in recorded.items():
        if entry is None:
            states[int(key)] = (event_id, None)
        else:
            new = len(entry) > 2 and entry[2] == "new"
            states[int(key)] = (event_id, (int(entry[0]), str(entry[1]), new))
            if new and (not created or int(key) < created[0]):
                created[:] = [int(key)]


def _events(first: int, last: int) -> str:
    """`event 5 was` or `events 5 to 7 were`: a range of event ids in words."""
    return f"event {first} was" if first == last else f"events {first} to {last} were"


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain in id order; report the first event whose content or link does not hold.

    Read with plain rows (not ORM objects), so 100,000 events take about a second. The referral states
    recorded in the events are collected on the way (for `verify_referrals`).
    """
    expected_prev = GENESIS_HASH
    expected_id = 1
    checked = 0
    states: dict[int, tuple[int, tuple[int, str, bool] | None]] = {}
    created: list[int] = []  # the lowest referral id recorded as created, once one is
    table: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
    rows = session.connection().execute(
        select(
            table.c.id,
            table.c.occurred_at,
            table.c.user_login,
            table.c.action,
            table.c.entity,
            table.c.entity_id,
            table.c.changes,
            table.c.prev_hash,
            table.c.hash,
        ).order_by(table.c.id)
    )
    for row_id, occurred_at, user_login, action, entity, entity_id, changes, prev_hash, stored_hash in rows:
        if row_id != expected_id:
            return ChainReport(
                checked, row_id, f"event {row_id}: events {expected_id} to {row_id - 1} are missing (deleted)"
            )
        if prev_hash != expected_prev:
            return ChainReport(
                checked,
                row_id,
                f"event {row_id}: its link to the event before does not match (an earlier event was "
                "deleted, altered or moved)",
            )
        recomputed = event_hash(
            event_id=row_id,
            occurred_at=occurred_at,
            user_login=user_login,
            action=action,
            entity=entity,
            entity_id=entity_id,
            changes=changes,
            prev_hash=prev_hash,
        )
        if recomputed != stored_hash:
            return ChainReport(checked, row_id, f"event {row_id}: its content was altered after it was written")
        if _STATE_MARK in changes:
            _collect_states(row_id, changes, states, created)
        expected_prev = stored_hash
        expected_id += 1
        checked += 1
    head = session.get(AuditChainHead, 1)
    last_id, last_hash = (0, GENESIS_HASH) if head is None else (head.last_event_id, head.last_hash)
    if last_id != expected_id - 1 or last_hash != expected_prev:
        return ChainReport(
            checked,
            expected_id,
            f"the chain ends at event {expected_id - 1} but the last event written was {last_id}: "
            "the newest events were deleted or replaced",
        )
    return ChainReport(checked, None, None, expected_id - 1, expected_prev, states, created[0] if created else None)


@dataclass(frozen=True, slots=True)
class ReferralCheck:
    """Every referral's stored state against the last audit event that recorded it."""

    checked: int
    not_covered: int  # stored before referral states were recorded (schema 0005): nothing to compare with
    problems: tuple[str, ...]


def verify_referrals(session: Session, chain: ChainReport) -> ReferralCheck:
    """Recompute each referral's version and state hash and compare them with its last audit event's.

    A referral with no recorded state is "not covered" when it is older than the first referral recorded as
    created with its state (it was stored before this check existed); a newer one was stored without an event.
    """
    states = chain.states
    first_created = chain.first_created
    problems: list[str] = []
    checked = not_covered = 0
    seen: set[int] = set()
    for rid, version, digest in all_referral_states(session.connection()):
        checked += 1
        seen.add(rid)
        recorded = states.get(rid)
        if recorded is None:
            if first_created is not None and rid > first_created:
                problems.append(f"referral {rid}: stored without an audit event (version {version})")
            else:
                not_covered += 1
            continue
        event_id, state = recorded
        if state is None:
            problems.append(f"referral {rid}: present, but its last audit event (event {event_id}) records it deleted")
        elif state[0] != version:
            problems.append(
                f"referral {rid}: changed without an audit event (version {version}, last event says version "
                f"{state[0]})"
            )
        elif state[1] != digest:
            problems.append(
                f"referral {rid}: content differs from its last audit event (event {event_id}, version {version})"
            )
    for rid in sorted(set(states) - seen):
        event_id, state = states[rid]
        if state is not None:
            problems.append(
                f"referral {rid}: deleted without an audit event (its last event, {event_id}, says version {state[0]})"
            )
    return ReferralCheck(checked, not_covered, tuple(problems))


def check_append_only(session: Session) -> str | None:
    """A sentence when the append-only triggers of schema 0005 are missing or disabled, else None."""
    connection = session.connection()
    dialect = connection.dialect.name
    expected = APPEND_ONLY_TRIGGERS.get(dialect)
    if expected is None:
        return None
    if dialect == "sqlite":
        present = set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
    else:
        present = set(
            connection.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
            ).scalars()
        )
    missing = [name for name in expected if name not in present]
    if not missing:
        return None
    return (
        f"the database's append-only protection of the audit trail is gone ({len(missing)} of {len(expected)} "
        f"triggers dropped or disabled: {', '.join(missing)}): someone changed the schema, and events may have "
        "been altered"
    )


def _same_place(recorded: str, where: str | None) -> bool:
    """True when a checkpoint an older version named by a path (or URL) names the database at `where`."""
    if where is None:
        return False
    if recorded == where:
        return True
    if "://" in recorded or "://" in where:
        return False
    try:
        return Path(recorded).resolve() == Path(where).resolve()
    except (OSError, RuntimeError):
        return False


def checkpoint_names_this(recorded: str | None, *, database: str | None, where: str | None) -> bool:
    """True when a checkpoint naming `recorded` is this database's: its id (`database`), or, for a checkpoint an
    older version named by the path, this database's path (`where`). A checkpoint naming nothing is anyone's."""
    if recorded is None:
        return True
    if database is not None and recorded == database:
        return True
    return _same_place(recorded, where)


def compare_checkpoint(
    session: Session, chain: ChainReport, path: Path | None, *, database: str | None, where: str | None = None
) -> tuple[str, str | None]:
    """The database's chain against the checkpoint file: (what was compared, in words; the problem or None).

    `database` is the database's id (None when it has none yet), `where` its path or URL: a checkpoint names
    the database by its id, or (written by an older version) by its path. One that names another database is a
    problem: the database in this folder was replaced, or the folder was moved while the checkpoint still named
    the path.
    """
    if path is None:
        return "checkpoint not compared (no checkpoint file is kept for this database)", None
    try:
        checkpoint: Checkpoint | None = read_checkpoint(path)
    except CheckpointError as exc:
        return f"checkpoint {path} unreadable", f"{exc}: the head outside the database cannot be compared"
    if checkpoint is None:
        if chain.checked == 0:
            return f"checkpoint not compared (no checkpoint file at {path}: a new install)", None
        return f"no checkpoint file at {path}", checkpoint_missing(path, chain.checked)
    if not checkpoint_names_this(checkpoint.database, database=database, where=where):
        this = f"id {database}" if database is not None else str(where)
        return (
            f"checkpoint not compared ({path} records another database, {checkpoint.database})",
            f"the checkpoint {path} records another database ({checkpoint.database}), not this one ({this}): the "
            "database here was replaced by another, or the data folder was moved while the checkpoint still named "
            f"the database by its path. The head outside the database cannot be compared: if the folder was moved "
            f"on purpose, compare the head_id and head_hash in that file (event {checkpoint.head_id}) with this "
            "database's event of that id, then move the file aside and keep it with the old logs/ folder as the "
            "record of the move; the next change recorded in the trail writes a new checkpoint",
        )
    where = f"the checkpoint ({path}, written {checkpoint.at})"
    if chain.checked == 0 and checkpoint.head_id > 0:
        return (
            f"checkpoint at event {checkpoint.head_id}",
            f"the database holds no audit events, but {where} records event {checkpoint.head_id}: all events "
            "(and the head) were deleted",
        )
    if checkpoint.head_id > chain.last_id:
        return (
            f"checkpoint at event {checkpoint.head_id}",
            f"the database's chain ends at event {chain.last_id}, but {where} records event {checkpoint.head_id}: "
            f"{_events(chain.last_id + 1, checkpoint.head_id)} deleted and the head moved back",
        )
    if checkpoint.head_id == 0:
        return "checkpoint at event 0 (matches)", None
    table: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
    stored = session.connection().execute(select(table.c.hash).where(table.c.id == checkpoint.head_id)).scalar()
    if stored != checkpoint.head_hash:
        return (
            f"checkpoint at event {checkpoint.head_id}",
            f"event {checkpoint.head_id} differs from {where} (hash {str(stored)[:12]}..., checkpoint "
            f"{checkpoint.head_hash[:12]}...): the chain was rewritten",
        )
    behind = "" if checkpoint.head_id == chain.last_id else f", database at event {chain.last_id}"
    return f"checkpoint at event {checkpoint.head_id} matches{behind}", None


def checkpoint_missing(path: Path, events: int) -> str:
    """The problem of a checkpoint file gone while the database holds events, and what to do if that is legitimate."""
    return (
        f"the checkpoint file {path} is missing though the trail has {events} events: it was removed, or the "
        "database was moved here from another data folder. If it was moved on purpose: compare the head_id and "
        "head_hash in the old data folder's backups/audit-checkpoint.json with this database's event of that id, "
        "and keep that file and the old logs/ folder as the record of the move; the next change recorded in the "
        "trail writes a new checkpoint here"
    )


# --- the head in the app log ---------------------------------------------------------------------------------

#: Words a restore's reason carries when an administrator accepted a backup whose audit trail did not verify.
ACCEPTED_MARK = "accepting an audit problem"

#: Which logger writes the head and restart lines: `audit verify` reads only this logger's lines, so a problem it
#: logs itself (which may quote an id and hash) is never read back as a head.
_LOGGER_MARK = f" {__name__}: "
_HEAD_LINE = re.compile(
    re.escape(_LOGGER_MARK) + r"audit head (?P<id>\d+) (?P<hash>[0-9a-f]{64}) db=(?P<db>[0-9a-f]{32})\s*$"
)
_RESTART_LINE = re.compile(
    re.escape(_LOGGER_MARK)
    + r"audit chain restarted at (?P<id>\d+) (?P<hash>[0-9a-f]{64}) \((?P<reason>.*)\) db=(?P<db>[0-9a-f]{32})\s*$"
)


@functools.lru_cache(maxsize=32)
def _key_of(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]


def database_key(url: sa.URL | str) -> str:
    """The key an older version gave a database in the log lines (32 hex digits of a SHA-256 of where it is);
    `audit verify` still reads lines so keyed for a database at that place. Lines are now keyed by the
    database's own id (`read_database_id`), which moves with the file.

    A SQLite file is keyed by its resolved path, so the URL given on the command line, the engine's and the
    restore's all agree; a server by its URL without the password. Give the database's location URL, never a
    read-only engine's (whose URL names no file).
    """
    parsed = sa.make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return _key_of("sqlite:" + _resolved(parsed.database))
    return _key_of(parsed.render_as_string(hide_password=True))


@functools.lru_cache(maxsize=32)
def _resolved(path: str) -> str:
    return Path(path).resolve().as_posix()


def log_chain_restart(head_id: int, head_hash: str, *, reason: str, database: sa.URL | str) -> None:
    """Log that the chain restarts at this head (a restore put an older database in place): `audit verify`
    ignores the heads logged for this database before the newest such line. `reason` names the backup file and
    who restored it (and an audit problem accepted), never a path. `database`: the database's id, else its URL."""
    key = database if isinstance(database, str) and _DATABASE_ID.match(database) else database_key(database)
    log.warning("audit chain restarted at %d %s (%s) db=%s", head_id, head_hash, reason, key)


@dataclass(frozen=True, slots=True)
class LoggedHead:
    """A head of this database's chain read from the app log, and where (file and time of the line)."""

    event_id: int
    hash: str
    where: str
    reason: str = ""  # a restart marker's reason (which backup, by whom, an audit problem accepted)


@dataclass(frozen=True, slots=True)
class LoggedHeads:
    """What the app log holds for one database: its heads since the newest restart marker."""

    files: tuple[Path, ...]  # the files read, oldest first
    heads: tuple[LoggedHead, ...]  # distinct (id, hash) pairs, each where first seen
    restart: LoggedHead | None  # the newest restart marker, if any
    unreadable: tuple[str, ...] = ()  # a sentence for each file that could not be read


def log_files(log_dir: Path, name: str) -> list[Path]:
    """The rotating log's files, oldest first: `name.5` ... `name.1`, then `name`."""
    rotated: list[tuple[int, Path]] = []
    for candidate in log_dir.glob(f"{glob.escape(name)}.*"):
        suffix = candidate.name[len(name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    files = [path for _, path in sorted(rotated, reverse=True)]
    current = log_dir / name
    if current.exists():
        files.append(current)
    return files


def read_logged_heads(files: Sequence[Path], key: str | Collection[str]) -> LoggedHeads:
    """The heads logged for the database `key` (its id, and the key an older version gave it by its path: see
    `database_key`) in `files` (oldest first), after the newest restart marker. Reads the lines of this module's
    logger only."""
    keys = {key} if isinstance(key, str) else set(key)
    heads: dict[tuple[int, str], LoggedHead] = {}
    restart: LoggedHead | None = None
    unreadable: list[str] = []
    read: list[Path] = []
    for path in files:
        try:
            with path.open(encoding="utf-8", errors="replace") as stream:
                for line in stream:
                    if _LOGGER_MARK not in line:
                        continue
                    match = _HEAD_LINE.search(line) or _RESTART_LINE.search(line)
                    if match is None or match["db"] not in keys:
                        continue
                    reason = match["reason"] if match.re is _RESTART_LINE else ""
                    found = LoggedHead(int(match["id"]), match["hash"], f"{path.name}, {line[:19]}", reason)
                    if match.re is _RESTART_LINE:
                        heads.clear()  # the chain restarted here: the heads before belong to the replaced file
                        restart = found
                    heads.setdefault((found.event_id, found.hash), found)
        except OSError as exc:
            unreadable.append(f"the app log {path} cannot be read ({exc.strerror or exc})")
            continue
        read.append(path)
    return LoggedHeads(tuple(read), tuple(heads.values()), restart, tuple(unreadable))


def compare_logged_heads(session: Session, chain: ChainReport, logged: LoggedHeads) -> tuple[str, list[str]]:
    """The database's chain against the heads the app logged: (what was compared, in words; the problems).

    A logged id beyond the chain's end means events were deleted and the head moved back; a logged id whose
    event has another hash means the chain was rewritten.
    """
    problems = [f"{sentence}: the heads logged there cannot be compared" for sentence in logged.unreadable]
    since = "" if logged.restart is None else f" since the restore at event {logged.restart.event_id}"
    if logged.restart is not None and ACCEPTED_MARK in logged.restart.reason:
        since += " (a restore that accepted a backup whose audit trail did not verify)"
    if not logged.heads:
        return f"app log: no head of this database logged{since} ({len(logged.files)} files read)", problems
    newest = max(logged.heads, key=lambda head: head.event_id)
    if newest.event_id > chain.last_id:
        if chain.checked == 0:
            problems.append(
                f"the database holds no audit events, but the app log ({newest.where}) records event "
                f"{newest.event_id} written: all events (and the head) were deleted"
            )
        else:
            problems.append(
                f"the database's chain ends at event {chain.last_id}, but the app log ({newest.where}) records "
                f"event {newest.event_id} written: {_events(chain.last_id + 1, newest.event_id)} deleted "
                "and the head moved back"
            )
    within = sorted((head for head in logged.heads if head.event_id <= chain.last_id), key=lambda h: h.event_id)
    table: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
    stored: dict[int, str] = {}
    wanted = sorted({head.event_id for head in within})
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for event_id, digest in session.connection().execute(
            select(table.c.id, table.c.hash).where(table.c.id.in_(chunk))
        ):
            stored[int(event_id)] = str(digest)
    differing = [head for head in within if stored.get(head.event_id) != head.hash]
    if differing:
        first = differing[0]
        more = "" if len(differing) == 1 else f" (and {len(differing) - 1} more logged heads differ)"
        problems.append(
            f"event {first.event_id} differs from the head the app log recorded ({first.where}: hash "
            f"{first.hash[:12]}..., database {str(stored.get(first.event_id))[:12]}...): the chain was "
            f"rewritten{more}"
        )
    if problems:
        return f"app log: {len(logged.heads)} heads compared{since}", problems
    return (
        f"app log: {len(logged.heads)} logged heads match{since} (up to event {newest.event_id}, "
        f"{len(logged.files)} files read)",
        problems,
    )
