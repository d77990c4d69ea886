"""The change feed: the audit events another desktop wrote since this one last looked, and what wakes it.

Every change is already an audit event (who, when, what, which id) written in the change's own transaction, so
the events with an id above the last one a desktop has seen are exactly what changed since (the chain head is
locked until each commit, so ids are committed in order: no event appears later below one already read). One
indexed query (`events_after`, the primary key) reads them with their author's display name.

What wakes a desktop to read it:

- PostgreSQL: schema 0006's trigger sends `NOTIFY triage_changes, '<newest event id>'` when events are inserted
  (an id only: no names, no patient data); `ServerNotifications` holds its own connection with LISTEN and waits
  on its socket (psycopg's `notifies(timeout=...)`), off the GUI thread.
- SQLite: `DataVersionProbe` asks `PRAGMA data_version` on a dedicated connection: it moves when any other
  connection committed (cheap: SQLite reads it from the WAL index in memory).

Events this process wrote itself (through one `Database`) are told apart by id and hash, not by login (one person
may use two desktops): `track_own_events(engine)` records the id and hash of every event inserted through that
engine's pool; the feed skips them, since the op that wrote them has broadcast its own `Changes`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL

from triage_app.storage.audit_chain import STATE_KEY
from triage_app.storage.models import AuditEventRow

#: The channel schema 0006's trigger notifies (payload: the newest event id of the insert, digits only).
CHANNEL = "triage_changes"
#: How the listener's connection names itself to the server (pg_stat_activity.application_name).
LISTENER_NAME = "triage-live-updates"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One audit event as the feed reads it: no field values, only what changed and who changed it."""

    id: int
    occurred_at: datetime
    user_login: str
    display_name: str | None
    action: str
    entity: str
    entity_id: str | None
    #: The event's hash (which tells this desktop's own events from others', see `own_events`).
    hash: str = ""
    #: Referral id -> its version after this event's transaction (None: deleted), from the event's states.
    referral_versions: dict[int, int | None] = field(default_factory=dict)
    #: For a meeting case's event: (meeting id, referral id) of that case, when it still exists.
    case: tuple[int, int] | None = None


def latest_event_id(connection: sa.Connection) -> int:
    """The newest audit event's id (0 when there is none)."""
    value = connection.execute(sa.text("SELECT max(id) FROM audit_event")).scalar()
    return int(value or 0)


def events_after(connection: sa.Connection, after_id: int, *, limit: int) -> list[FeedEvent]:
    """The events with an id above `after_id`, oldest first, at most `limit` of them.

    An event with no entity id (a demo load, a restore, a backup) is read without its details: it means
    "everything" or nothing, never a list of referrals.
    """
    rows = connection.execute(
        sa.text(
            "SELECT e.id, e.occurred_at, e.user_login, u.display_name, e.action, e.entity, e.entity_id, e.hash, "
            "CASE WHEN e.entity_id IS NULL THEN NULL ELSE e.changes END "
            "FROM audit_event e LEFT JOIN app_user u ON u.login = e.user_login "
            "WHERE e.id > :after ORDER BY e.id LIMIT :limit"
        ),
        {"after": after_id, "limit": limit},
    ).all()
    cases = _cases(connection, [int(r[6]) for r in rows if r[5] == "meeting_case" and str(r[6] or "").isdigit()])
    events = []
    for event_id, occurred_at, login, name, action, entity, entity_id, digest, changes in rows:
        case = cases.get(int(entity_id)) if entity == "meeting_case" and str(entity_id or "").isdigit() else None
        events.append(
            FeedEvent(
                id=int(event_id),
                occurred_at=_parse_time(occurred_at),
                user_login=str(login),
                display_name=None if name is None else str(name),
                action=str(action),
                entity=str(entity),
                entity_id=None if entity_id is None else str(entity_id),
                hash=str(digest),
                referral_versions=_referral_versions(changes),
                case=case,
            )
        )
    return events


def _cases(connection: sa.Connection, case_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not case_ids:
        return {}
    statement = sa.text("SELECT id, meeting_id, referral_id FROM meeting_case WHERE id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)
    )
    return {int(i): (int(m), int(r)) for i, m, r in connection.execute(statement, {"ids": sorted(set(case_ids))})}


def _parse_time(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)


def _referral_versions(changes: Any) -> dict[int, int | None]:
    """The referral states a commit recorded in this event (storage.audit: `{id: [version, hash, ...] | None}`)."""
    if not changes or STATE_KEY not in str(changes):
        return {}
    try:
        state = json.loads(changes)[STATE_KEY][1]
        referrals = state["referrals"]
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    versions: dict[int, int | None] = {}
    for key, entry in referrals.items():
        if str(key).isdigit():
            versions[int(key)] = int(entry[0]) if isinstance(entry, list) and entry else None
    return versions


# --- events this process wrote -------------------------------------------------------------------------------

_own_lock = threading.Lock()
#: pool -> {event id: event hash} of the events inserted through it, from the moment they are flushed.
_own: weakref.WeakKeyDictionary[Any, dict[int, str]] = weakref.WeakKeyDictionary()


_pools: weakref.WeakKeyDictionary[sa.Engine, Any] = weakref.WeakKeyDictionary()  # engine -> the pool tracked


def track_own_events(engine: sa.Engine) -> None:
    """From now on, remember the id and hash of every audit event inserted through `engine`'s connections."""
    with _own_lock:
        _own.setdefault(engine.pool, {})
        _pools[engine] = engine.pool
    if not event.contains(engine, "engine_disposed", _pool_replaced):
        event.listen(engine, "engine_disposed", _pool_replaced)


def _pool_replaced(engine: sa.Engine) -> None:
    """`dispose()` gives the engine a new pool (its write engine follows it): keep tracking under the new one."""
    with _own_lock:
        old = _pools.get(engine)
        if old is not None and old is not engine.pool:
            _own[engine.pool] = _own.pop(old, {})
            _pools[engine] = engine.pool


def own_events(engine: sa.Engine) -> dict[int, str]:
    """Event id -> hash of the events inserted through `engine` (tracked) that the feed has not passed yet.

    Recorded when the insert is flushed, before the commit: a server may deliver the notification of a commit
    before the committing thread returns. The hash tells a committed event of ours from another desktop's event
    that took the same id after our transaction rolled back (the hash covers the time to the microsecond).
    """
    with _own_lock:
        return dict(_own.get(engine.pool, {}))


def forget_own_events(engine: sa.Engine, up_to: int) -> None:
    """The feed has read up to `up_to`: forget own ids at or below it (the record stays small)."""
    with _own_lock:
        ids = _own.get(engine.pool)
        if ids:
            for event_id in [i for i in ids if i <= up_to]:
                del ids[event_id]


@event.listens_for(AuditEventRow, "after_insert")
def _event_inserted(_mapper: Any, connection: sa.Connection, target: AuditEventRow) -> None:
    if target.id is None:
        return
    note_own_events(connection, [(int(target.id), target.hash)])


def note_own_events(connection: sa.Connection, events: list[tuple[int, str]]) -> None:
    """Record (id, hash) of events this desktop inserts with Core statements (storage.audit writes a
    transaction's events with one executemany, which the ORM's after_insert hook does not see)."""
    with _own_lock:
        ids = _own.get(connection.engine.pool)
        if ids is not None:
            for event_id, digest in events:
                ids[event_id] = digest


# --- what wakes a desktop ------------------------------------------------------------------------------------


class DataVersionProbe:
    """SQLite: `moved()` is True when another connection committed since the last call (PRAGMA data_version).

    Its own connection, opened on the thread that uses it, never writes (query_only) and never creates a file.
    """

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=1.0
        )
        self._connection.execute("PRAGMA query_only = ON")
        self._version = self._read()

    def _read(self) -> int:
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def moved(self) -> bool:
        """True when the database changed since the last call (or since the probe was opened)."""
        version = self._read()
        moved, self._version = version != self._version, version
        return moved

    def close(self) -> None:
        """Close the probe's connection."""
        self._connection.close()


def listener_conninfo(url: URL) -> str:
    """The libpq connection string of a PostgreSQL SQLAlchemy URL (`postgresql+psycopg://...`)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class ServerNotifications:
    """PostgreSQL: a connection of its own that LISTENs on `CHANNEL`; `wait` returns when notified or timed out.

    A lost connection (the server restarted, the network dropped) raises psycopg's `OperationalError` from
    `wait`; the caller closes this one and opens another.
    """

    def __init__(self, url: URL, *, connect_timeout: int = 3) -> None:
        import psycopg  # the optional extra: only a server database needs it

        self._connection = psycopg.connect(
            listener_conninfo(url),
            autocommit=True,
            connect_timeout=connect_timeout,
            application_name=LISTENER_NAME,
        )
        self._connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> list[str]:
        """The payloads of the notifications that arrived within `timeout` seconds (empty when none did)."""
        payloads = [n.payload for n in self._connection.notifies(timeout=timeout, stop_after=1)]
        if payloads:  # a burst (one per inserting statement): take what is already there, without waiting
            payloads.extend(n.payload for n in self._connection.notifies(timeout=0.0))
        return payloads

    def backend_pid(self) -> int:
        """The server process serving this connection (tests end it to simulate a restart)."""
        return int(self._connection.info.backend_pid)

    def close(self) -> None:
        """Close the connection (whatever state it is in)."""
        with contextlib.suppress(Exception):
            self._connection.close()


def notification_ids(payloads: Iterable[str]) -> list[int]:
    """The event ids the notifications carried (anything else is ignored)."""
    return [int(p) for p in payloads if p.strip().isdigit()]
