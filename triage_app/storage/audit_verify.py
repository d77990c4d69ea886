"""Verifying the audit chain in the database: every link and hash, every referral against its last recorded
state, and the append-only triggers. Part of storage.audit (which re-exports these names).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session

from triage_app.storage.audit_chain import (
    APPEND_ONLY_TRIGGERS,
    GENESIS_HASH,
    STATE_KEY,
    all_referral_states,
    event_hash,
)
from triage_app.storage.models import (
    AuditChainHead,
    AuditEventRow,
)

log = logging.getLogger(__name__)

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


def describe_event_range(first: int, last: int) -> str:
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
