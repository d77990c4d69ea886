"""Opening the database: URL checks, SQLite pragmas on every connection, owner-only files, and sessions.

Every SQLite connection runs with journal_mode WAL, synchronous FULL, foreign_keys ON and a busy timeout, and
transactions are begun by us (`BEGIN` or `BEGIN IMMEDIATE`) rather than by the driver, so that a write
transaction holds the write lock from its first read: compare-and-swap and the audit chain depend on it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.exc import OperationalError as SAOperationalError
from sqlmodel import Session

BUSY_TIMEOUT_MS = 10_000
SQLITE_HEADER = b"SQLite format 3\x00"
OWNER_ONLY = 0o600


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message says why and what to do, in words."""


class DatabaseLockedError(DatabaseError):
    """Another program held the database for longer than the busy timeout."""


@dataclass(frozen=True, slots=True)
class DatabaseLocation:
    """A checked database URL; `path` is set for a SQLite file."""

    url: URL
    path: Path | None

    @property
    def is_sqlite(self) -> bool:
        """True for a SQLite file (the embedded default)."""
        return self.path is not None

    def describe(self) -> str:
        """Where the database is, without a password."""
        return str(self.path) if self.path is not None else self.url.render_as_string(hide_password=True)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file (portable: forward slashes on every platform)."""
    return "sqlite:///" + path.resolve().as_posix()


def parse_database_url(text: str) -> DatabaseLocation:
    """Check a `--db` URL; raise `DatabaseError` naming what is wrong."""
    try:
        url = make_url(text.strip())
    except ArgumentError as exc:
        raise DatabaseError(
            f"'{text}' is not a database URL: use sqlite:///PATH/TO/FILE.sqlite3 or postgresql://HOST/NAME"
        ) from exc
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise DatabaseError("a SQLite database URL must name a file: sqlite:///PATH/TO/FILE.sqlite3")
        return DatabaseLocation(url, Path(url.database))
    try:
        url.get_dialect()
    except NoSuchModuleError as exc:
        raise DatabaseError(
            f"database URL '{url.render_as_string()}': unknown database type '{url.drivername}'"
        ) from exc
    return DatabaseLocation(url, None)


def check_sqlite_file(path: Path) -> None:
    """Refuse anything at `path` that is not a SQLite database, and a missing folder. Never writes to it."""
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file")
    if not path.parent.is_dir():
        raise DatabaseError(f"the folder for the database does not exist: {path.parent}")
    if path.exists():
        try:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise DatabaseError(f"cannot read the database file {path}: {exc.strerror or exc}") from exc
        if header and header != SQLITE_HEADER:
            raise DatabaseError(
                f"{path} is not a SQLite database (it may be damaged or another kind of file). "
                "It has been left untouched; restore a backup or choose another file with --db."
            )


def create_owner_only_file(path: Path) -> None:
    """Create an empty file readable and writable by its owner only, if it does not exist yet."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY)
    except FileExistsError:
        return
    except OSError as exc:
        raise DatabaseError(f"cannot create the database file {path}: {exc.strerror or exc}") from exc
    os.close(fd)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see the module docstring)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


def is_locked_error(exc: BaseException) -> bool:
    """True when SQLite gave up waiting for another connection's lock."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database table is locked" in text


class Database:
    """An engine plus the two kinds of session the app uses: read, and write (holding the write lock)."""

    def __init__(
        self, location: DatabaseLocation, *, echo: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.location = location
        self.busy_timeout_ms = busy_timeout_ms
        #: Called before every session; the GUI sets it to fail loudly on the GUI thread (see ui.worker).
        self.thread_guard: Callable[[], None] | None = None
        if location.path is not None:
            check_sqlite_file(location.path)
            create_owner_only_file(location.path)
            # Pooled: the pragmas run once per connection, not once per query (dispose() closes them).
            self.engine = sa.create_engine(location.url, echo=echo, pool_size=2, max_overflow=4)
            _configure_sqlite(self.engine, busy_timeout_ms)
        else:
            try:
                self.engine = sa.create_engine(location.url, pool_pre_ping=True, echo=echo)
            except ImportError as exc:
                raise DatabaseError(
                    f"the driver for {location.url.drivername} databases is not installed ({exc.name}); "
                    "install it or use the embedded SQLite default"
                ) from exc
        self._write_engine = self.engine.execution_options(write=True)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (a consistent snapshot under WAL)."""
        if self.thread_guard is not None:
            self.thread_guard()
        with (
            _translate_errors(self.location, self.busy_timeout_ms),
            Session(self.engine, expire_on_commit=False) as session,
        ):
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction holds the write lock from the start; commits on success."""
        if self.thread_guard is not None:
            self.thread_guard()
        with (
            _translate_errors(self.location, self.busy_timeout_ms),
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def check_connection(self) -> None:
        """Open a connection and run a trivial query, or raise `DatabaseError` saying why not."""
        with _translate_errors(self.location, self.busy_timeout_ms), self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


@contextlib.contextmanager
def _translate_errors(location: DatabaseLocation, busy_timeout_ms: int) -> Iterator[None]:
    try:
        yield
    except SAOperationalError as exc:
        if is_locked_error(exc):
            raise DatabaseLockedError(
                f"the database {location.describe()} is in use by another program and stayed locked for "
                f"{busy_timeout_ms / 1000:g} seconds; nothing was changed. Try again in a moment."
            ) from exc
        detail = str(exc.orig).strip() if exc.orig is not None else str(exc)
        if "readonly" in detail.lower() or "read-only" in detail.lower():
            raise DatabaseError(
                f"the database {location.describe()} cannot be written (read-only file or folder); nothing was changed."
            ) from exc
        if "file is not a database" in detail.lower() or "malformed" in detail.lower():
            raise DatabaseError(
                f"{location.describe()} is damaged or not a SQLite database; it has been left untouched. "
                "Restore a backup."
            ) from exc
        raise DatabaseError(f"the database {location.describe()} cannot be reached: {detail}") from exc
    except sa.exc.DatabaseError as exc:
        detail = str(exc.orig).strip() if exc.orig is not None else str(exc)
        if "file is not a database" in detail.lower() or "malformed" in detail.lower():
            raise DatabaseError(
                f"{location.describe()} is damaged or not a SQLite database; it has been left untouched. "
                "Restore a backup."
            ) from exc
        raise
