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

This module writes; the chain's shared parts (canonical JSON, hashes, referral states, the database's id) are in
storage.audit_chain, the checks in storage.audit_verify and the head kept outside the database in
storage.audit_heads, all importable from here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, object_session
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter
from sqlmodel import Session

# Split by concern: the chain's shared parts, its checks and the head kept outside the database. Their public
# names stay importable from here, where every caller has imported them.
from triage_app.storage.audit_chain import APPEND_ONLY_TRIGGERS as APPEND_ONLY_TRIGGERS
from triage_app.storage.audit_chain import DATABASE_ID_KEY as DATABASE_ID_KEY
from triage_app.storage.audit_chain import GENESIS_HASH as GENESIS_HASH
from triage_app.storage.audit_chain import REFERRAL_STATE_COLUMNS as REFERRAL_STATE_COLUMNS
from triage_app.storage.audit_chain import REFUSAL_MARKER as REFUSAL_MARKER
from triage_app.storage.audit_chain import STATE_KEY as STATE_KEY
from triage_app.storage.audit_chain import STATE_SCHEME as STATE_SCHEME
from triage_app.storage.audit_chain import all_referral_states as all_referral_states
from triage_app.storage.audit_chain import canonical_json as canonical_json
from triage_app.storage.audit_chain import event_hash as event_hash
from triage_app.storage.audit_chain import read_database_id as read_database_id
from triage_app.storage.audit_chain import referral_states as referral_states
from triage_app.storage.audit_checkpoint import (
    advance_checkpoint,
    checkpoint_path_of,
)
from triage_app.storage.audit_heads import ACCEPTED_MARK as ACCEPTED_MARK
from triage_app.storage.audit_heads import LoggedHead as LoggedHead
from triage_app.storage.audit_heads import LoggedHeads as LoggedHeads
from triage_app.storage.audit_heads import checkpoint_missing as checkpoint_missing
from triage_app.storage.audit_heads import checkpoint_names_this as checkpoint_names_this
from triage_app.storage.audit_heads import compare_checkpoint as compare_checkpoint
from triage_app.storage.audit_heads import compare_logged_heads as compare_logged_heads
from triage_app.storage.audit_heads import database_key as database_key
from triage_app.storage.audit_heads import log_chain_restart as log_chain_restart
from triage_app.storage.audit_heads import log_files as log_files
from triage_app.storage.audit_heads import read_logged_heads as read_logged_heads
from triage_app.storage.audit_verify import ChainReport as ChainReport
from triage_app.storage.audit_verify import ReferralCheck as ReferralCheck
from triage_app.storage.audit_verify import check_append_only as check_append_only
from triage_app.storage.audit_verify import verify_chain as verify_chain
from triage_app.storage.audit_verify import verify_referrals as verify_referrals
from triage_app.storage.change_feed import note_own_events
from triage_app.storage.engine import DatabaseError
from triage_app.storage.models import (
    AppSetting,
    AuditChainHead,
    AuditEventRow,
    ReferralRow,
)
from triage_app.storage.plain_insert import insert_plain

log = logging.getLogger(__name__)

_PENDING = "audit.pending"  # session.info: events queued by record_event, written at commit
_TOUCHED = "audit.touched"  # session.info: {referral id: created in this transaction}
_NEW_HEAD = "audit.new_head"  # session.info: (id, hash) of the head this commit wrote, for after_commit

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


# --- writing events ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    """An event queued until the commit: plain values (an ORM row per event cost more than the event itself)."""

    user_login: str
    action: str
    entity: str
    entity_id: str | None
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
) -> None:
    """Append one event to the chain inside the caller's write transaction.

    The event is written when the transaction commits (its id, time and hash are set then), with the states of
    the referrals the transaction changed; if the commit fails, neither the change nor the event is stored.
    The events of a transaction go in with one executemany INSERT (a reassessment batch writes hundreds).
    """
    canonical_json(changes)  # refuse a value that cannot be audited now, where the caller can see why
    entity_key = None if entity_id is None else str(entity_id)
    referral_id = None
    if entity == "referral" and entity_key is not None and entity_key.isdigit():
        referral_id = int(entity_key)
        _touched(session).setdefault(referral_id, False)
    session.info.setdefault(_PENDING, []).append(
        _Pending(user_login, action, entity, entity_key, dict(changes), referral_id)
    )


def _new_database_id(connection: sa.Connection, pending: list[_Pending]) -> str:
    """Give the database its id, in the transaction that writes its first events, with an event saying so."""
    table: sa.Table = AppSetting.__table__  # type: ignore[attr-defined]
    database_id = uuid.uuid4().hex
    connection.execute(sa.delete(table).where(table.c.key == DATABASE_ID_KEY))  # a malformed value, if any
    connection.execute(sa.insert(table).values(key=DATABASE_ID_KEY, value=database_id))
    first = pending[0].user_login
    pending.insert(0, _Pending(first, "create", "setting", DATABASE_ID_KEY, {"value": [None, database_id]}, None))
    return database_id


_HEADS: sa.Table = AuditChainHead.__table__  # type: ignore[attr-defined]
#: Built once (every audited commit runs them): the head row locked until the commit on a server (SQLite: the
#: write lock is already held), and the head moved forward.
_LOCK_HEAD = sa.select(_HEADS.c.last_event_id, _HEADS.c.last_hash).where(_HEADS.c.id == 1).with_for_update()
_MOVE_HEAD = (
    sa.update(_HEADS)
    .where(_HEADS.c.id == 1)
    .values(last_event_id=sa.bindparam("event_id"), last_hash=sa.bindparam("head_hash"))
)


def _lock_head(connection: sa.Connection) -> tuple[int, str] | None:
    """The head (last event id, its hash), locked until the commit on a server; None before the first event."""
    row = connection.execute(_LOCK_HEAD).first()
    return None if row is None else (int(row[0]), str(row[1]))


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
    head = _lock_head(connection)
    event_id, prev_hash = head if head is not None else (0, GENESIS_HASH)
    occurred_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    rows: list[dict[str, Any]] = []
    for item in pending:
        event_id += 1
        changes = canonical_json(item.changes)
        digest = event_hash(
            event_id=event_id,
            occurred_at=occurred_at,
            user_login=item.user_login,
            action=item.action,
            entity=item.entity,
            entity_id=item.entity_id,
            changes=changes,
            prev_hash=prev_hash,
        )
        rows.append(
            {
                "id": event_id,
                "occurred_at": occurred_at,
                "user_login": item.user_login,
                "action": item.action,
                "entity": item.entity,
                "entity_id": item.entity_id,
                "changes": changes,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    events: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
    insert_plain(connection, events, rows)  # one executemany of plain values: no ORM, no compiled parameters
    note_own_events(connection, [(row["id"], row["hash"]) for row in rows])  # not reported back to this desktop
    # The head through Core, as the events: the ORM's unit of work for one row cost more than the events.
    if head is None:
        connection.execute(sa.insert(_HEADS).values(id=1, last_event_id=event_id, last_hash=prev_hash))
    else:
        connection.execute(_MOVE_HEAD, {"event_id": event_id, "head_hash": prev_hash})
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
