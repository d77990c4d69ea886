"""The errors the storage layer raises, in words a user can act on, and how a driver's error is recognised.
Importable from storage.engine (where callers have always imported them).
"""

from __future__ import annotations


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message says why and what to do, in words."""


class DatabaseLockedError(DatabaseError):
    """Another program held the database for longer than the busy timeout."""


class DatabaseReadOnly(DatabaseError):
    """A change was asked of a database opened read-only; the message says why it is read-only and that
    nothing was changed."""


class DatabaseFull(DatabaseError):
    """The disk holding the database is full (SQLite's "database or disk is full"); nothing was changed."""


class EmptyDatabaseFile(DatabaseError):
    """An existing database file holds nothing (zero bytes): refused, never made into a new database."""


class MissingDatabaseFile(DatabaseError):
    """No database file, where the backups folder (its manifest or the audit checkpoint) shows one was kept:
    refused, never replaced by a new, empty database (storage.preflight.signs_of_a_database)."""


#: PostgreSQL's SQLSTATE when `lock_timeout` ran out (lock_not_available).
LOCK_NOT_AVAILABLE = "55P03"


def is_locked_error(exc: BaseException) -> bool:
    """True when the database gave up waiting for another connection's lock (SQLite's busy timeout, or a
    server's `lock_timeout`)."""
    original = getattr(exc, "orig", exc)
    if getattr(original, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return True
    text = str(original).lower()
    return "database is locked" in text or "database table is locked" in text


def is_disk_full_error(exc: BaseException) -> bool:
    """True when SQLite (or the operating system) said the disk is full."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database or disk is full" in text or "no space left on device" in text
