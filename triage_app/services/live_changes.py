"""Live updates between desktops: what other desktops changed since this one last looked, as one `Changes`.

`ChangeFeed(db)` starts at the newest audit event; each `read()` turns the events written since by anyone else
(storage.change_feed: another process, another `Database`) into one `FeedBatch`: the `Changes` every view already
refreshes from (referral ids, new referrals, meetings, users, rules, or `EVERYTHING` for a restore, a demo load,
an unknown kind of event, or more events than is worth listing) and, for each referral, who changed it last, when,
and which version that made (`RemoteEdit`), for the panel's "Changed by NAME at HH:MM on another desktop" and the
open form's bar. Events this desktop wrote are skipped: its own ops broadcast their `Changes` already.

`waker(db)` gives what tells the desktop's watcher that something may have changed: a LISTEN connection on
PostgreSQL, `PRAGMA data_version` on SQLite (storage.change_feed). The watcher thread itself is the GUI's
(ui.live_updates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from triage_app.services.changes import NOTHING, Changes
from triage_app.storage.change_feed import (
    DataVersionProbe,
    FeedEvent,
    ServerNotifications,
    events_after,
    forget_own_events,
    latest_event_id,
    notification_ids,
    own_events,
    track_own_events,
)
from triage_app.storage.engine import Database
from triage_app.storage.meetings import CAPACITY_KEY

#: More new events than this in one read: say "everything may have changed" rather than list them.
MAX_EVENTS = 500

#: Who made a change when too many events came to name them (`Changes.by` is never None for a remote change).
OTHER_DESKTOPS = "other desktops"
#: Everything may have changed, somewhere else.
EVERYTHING_ELSEWHERE = Changes(everything=True, by=OTHER_DESKTOPS)

#: Events that change nothing another desktop shows (the export itself, a backup).
_CHANGE_NOTHING = frozenset({"export", "backup"})


@dataclass(frozen=True, slots=True)
class RemoteEdit:
    """Who changed a referral on another desktop, when, and the version their change made (None: deleted)."""

    referral_id: int
    by: str
    at: datetime
    version: int | None


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """What other desktops changed: the `Changes` to broadcast and, per referral, the last remote edit."""

    changes: Changes = NOTHING
    edits: dict[int, RemoteEdit] = field(default_factory=dict)
    #: The newest event read (the next read starts after it).
    last_event_id: int = 0

    def __bool__(self) -> bool:
        return bool(self.changes)


def _who(event: FeedEvent) -> str:
    return event.display_name or event.user_login


def batch_of(events: list[FeedEvent], *, own: Mapping[int, str] | None = None, complete: bool = True) -> FeedBatch:
    """One `FeedBatch` for these events (oldest first), skipping this desktop's own (`own`: id -> hash).

    `complete` False: more events followed than were read, so the batch says `EVERYTHING`.
    """
    last = events[-1].id if events else 0
    if not complete:
        return FeedBatch(EVERYTHING_ELSEWHERE, {}, last)
    referral_ids: set[int] = set()
    created: set[int] = set()
    meeting_ids: set[int] = set()
    meetings = users = rules = everything = False
    edits: dict[int, RemoteEdit] = {}
    names: set[str] = set()
    own = own or {}
    for event in events:
        if own.get(event.id) == event.hash:
            continue
        names.add(_who(event))
        entity, key, action = event.entity, event.entity_id, event.action
        number = int(key) if key is not None and key.isdigit() else None
        referral_ids.update(event.referral_versions)
        for rid, version in event.referral_versions.items():
            edits[rid] = RemoteEdit(rid, _who(event), event.occurred_at, version)
        if entity == "referral" and number is not None:
            (created if action == "create" else referral_ids).add(number)
        elif entity == "meeting" and number is not None:
            meeting_ids.add(number)
            meetings = True  # a meeting list shows each meeting's status and count of cases
        elif entity == "meeting_case":
            if event.case is not None:
                meeting_ids.add(event.case[0])
                referral_ids.add(event.case[1])
            else:
                meetings = True
        elif entity == "user":
            users = True
        elif entity == "rules":
            rules = True
        elif entity == "setting" and key == CAPACITY_KEY:
            meetings = True
        elif entity == "setting" and action == "create":
            pass  # the database's id, given with its first events
        elif action in _CHANGE_NOTHING:
            pass
        else:  # a demo load (no id), a restore, anything this version does not know: read everything again
            everything = True
    referral_ids -= created
    changes = Changes(
        referral_ids=frozenset(referral_ids),
        created=frozenset(created),
        meeting_ids=frozenset(meeting_ids),
        meetings=meetings,
        users=users,
        rules=rules,
        everything=everything,
        by=" and ".join(sorted(names)) or None,
    )
    if everything:
        changes = Changes(everything=True, by=changes.by)
    return FeedBatch(changes if changes else NOTHING, edits, last)


class ChangeFeed:
    """The changes other desktops made to `db`, read from its audit trail after the newest event seen."""

    def __init__(self, db: Database, *, after_id: int | None = None, max_events: int = MAX_EVENTS) -> None:
        """Start after `after_id`, or after the newest event now (what the desktop has just read)."""
        self.db = db
        self.max_events = max_events
        track_own_events(db.engine)  # before reading the start: every own commit from now on is known
        if after_id is None:
            with db.read() as session:
                after_id = latest_event_id(session.connection())
        self.last_event_id = after_id

    def read(self) -> FeedBatch:
        """What changed since the last read (NOTHING when nothing did, or only this desktop's ops)."""
        with self.db.read() as session:
            connection = session.connection()
            events = events_after(connection, self.last_event_id, limit=self.max_events + 1)
            if not events:
                if latest_event_id(connection) < self.last_event_id:  # a restore took the trail back
                    self.last_event_id = latest_event_id(connection)
                    return FeedBatch(EVERYTHING_ELSEWHERE, {}, self.last_event_id)
                return FeedBatch(NOTHING, {}, self.last_event_id)
        complete = len(events) <= self.max_events
        own = own_events(self.db.engine)
        batch = batch_of(events[: self.max_events], own=own, complete=complete)
        if not complete:  # skip to the newest: everything is read again anyway
            with self.db.read() as session:
                batch = FeedBatch(batch.changes, {}, latest_event_id(session.connection()))
        self.last_event_id = batch.last_event_id
        forget_own_events(self.db.engine, self.last_event_id)
        return batch


class Waker(Protocol):
    """Tells a watcher that the database may have changed."""

    def wait(self, timeout: float) -> bool:
        """Block at most `timeout` seconds; True when something may have changed."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class _SqliteWaker:
    def __init__(self, db: Database) -> None:
        assert db.location.path is not None
        self._probe = DataVersionProbe(db.location.path)

    def wait(self, timeout: float) -> bool:
        # The caller sleeps between polls (interruptibly): here only the cheap check.
        return self._probe.moved()

    def close(self) -> None:
        self._probe.close()


class _ServerWaker:
    def __init__(self, db: Database) -> None:
        self._notifications = ServerNotifications(db.location.url)
        self.last_notified = 0

    def wait(self, timeout: float) -> bool:
        payloads = self._notifications.wait(timeout)
        ids = notification_ids(payloads)
        if ids:
            self.last_notified = max(self.last_notified, *ids)
        return bool(payloads)

    def backend_pid(self) -> int:
        return self._notifications.backend_pid()

    def close(self) -> None:
        self._notifications.close()


def waker(db: Database) -> Waker:
    """What wakes a watcher of `db`: PRAGMA data_version on SQLite (polled), LISTEN on PostgreSQL (pushed).

    Opens a connection of its own (on the calling thread); raises the driver's error when the server is down.
    """
    if db.location.is_sqlite:
        return _SqliteWaker(db)
    return _ServerWaker(db)


def polls(db: Database) -> bool:
    """True when the watcher must poll (SQLite); False when the server pushes notifications."""
    return db.location.is_sqlite
