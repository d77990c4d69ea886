"""The audit trail: one event per create, update, status change and export, written in the same
transaction as the change, each hash-chained to the one before.

A chain head row holds the newest event's id and hash, so altering, deleting (anywhere, the newest
included) or reordering stored events is caught by `verify_chain`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from triage_app.storage.models import AuditChainHead, AuditEventRow

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no spaces, dates as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot audit a {type(value).__name__}")


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


def record_event(
    session: Session,
    *,
    user_login: str,
    action: str,
    entity: str,
    entity_id: int | str | None,
    changes: dict[str, Any],
) -> AuditEventRow:
    """Append one event to the chain inside the caller's write transaction."""
    head = session.get(AuditChainHead, 1)
    prev_hash = head.last_hash if head is not None else GENESIS_HASH
    event_id = (head.last_event_id if head is not None else 0) + 1
    occurred_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    changes_text = canonical_json(changes)
    entity_key = None if entity_id is None else str(entity_id)
    digest = event_hash(
        event_id=event_id,
        occurred_at=occurred_at,
        user_login=user_login,
        action=action,
        entity=entity,
        entity_id=entity_key,
        changes=changes_text,
        prev_hash=prev_hash,
    )
    row = AuditEventRow(
        id=event_id,
        occurred_at=occurred_at,
        user_login=user_login,
        action=action,
        entity=entity,
        entity_id=entity_key,
        changes=changes_text,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(row)
    if head is None:
        session.add(AuditChainHead(id=1, last_event_id=event_id, last_hash=digest))
    else:
        head.last_event_id = event_id
        head.last_hash = digest
        session.add(head)
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of checking the chain: `first_broken` is the id of the first bad event, if any."""

    checked: int
    first_broken: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        """True when every link holds."""
        return self.problem is None


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain in id order; report the first event whose content or link does not hold."""
    expected_prev = GENESIS_HASH
    expected_id = 1
    checked = 0
    for row in session.execute(select(AuditEventRow).order_by(AuditEventRow.id)).scalars():  # type: ignore[arg-type]
        assert row.id is not None
        if row.id != expected_id:
            return ChainReport(
                checked, row.id, f"event {row.id}: events {expected_id} to {row.id - 1} are missing (deleted)"
            )
        if row.prev_hash != expected_prev:
            return ChainReport(
                checked,
                row.id,
                f"event {row.id}: its link to the event before does not match (an earlier event was "
                "deleted, altered or moved)",
            )
        recomputed = event_hash(
            event_id=row.id,
            occurred_at=row.occurred_at,
            user_login=row.user_login,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            changes=row.changes,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            return ChainReport(checked, row.id, f"event {row.id}: its content was altered after it was written")
        expected_prev = row.hash
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
    return ChainReport(checked, None, None)
