"""Opening the database: URL checks, SQLite pragmas on every connection, owner-only files, and sessions.

Every SQLite connection runs with journal_mode WAL, synchronous FULL, foreign_keys ON and a busy timeout, and
transactions are begun by us (`BEGIN` or `BEGIN IMMEDIATE`) rather than by the driver, so that a write
transaction holds the write lock from its first read: compare-and-swap and the audit chain depend on it.

A database opened read-only (`Database(location, read_only=REASON)`: damaged, a read-only file or folder, a
full disk) refuses `write()` with `DatabaseReadOnly`, saying why and that nothing was changed. On SQLite its
connections are opened through a read-only URI (`file:PATH?mode=ro`, `immutable` where nothing may write the
file) with `query_only` on and no journal-mode pragma, so nothing the app does can write to the file, and a
read-only open leaves no -wal or -shm behind (`connect_read_only`); on PostgreSQL every transaction is READ ONLY.
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

# Split by concern, every name importable from here as before: the errors (storage.database_errors) and SQLite
# files opened without writing (storage.sqlite_files).
from triage_app.storage.database_errors import DatabaseError as DatabaseError
from triage_app.storage.database_errors import DatabaseFull as DatabaseFull
from triage_app.storage.database_errors import DatabaseLockedError as DatabaseLockedError
from triage_app.storage.database_errors import DatabaseReadOnly as DatabaseReadOnly
from triage_app.storage.database_errors import EmptyDatabaseFile as EmptyDatabaseFile
from triage_app.storage.database_errors import MissingDatabaseFile as MissingDatabaseFile
from triage_app.storage.database_errors import is_disk_full_error as is_disk_full_error
from triage_app.storage.database_errors import is_locked_error as is_locked_error
from triage_app.storage.sqlite_files import BUSY_TIMEOUT_MS as BUSY_TIMEOUT_MS
from triage_app.storage.sqlite_files import OWNER_ONLY as OWNER_ONLY
from triage_app.storage.sqlite_files import SQLITE_HEADER as SQLITE_HEADER
from triage_app.storage.sqlite_files import check_sqlite_file as check_sqlite_file
from triage_app.storage.sqlite_files import connect_read_only as connect_read_only
from triage_app.storage.sqlite_files import create_owner_only_file as create_owner_only_file
from triage_app.storage.sqlite_files import nobody_may_write as nobody_may_write
from triage_app.storage.sqlite_files import readonly_sqlite_uri as readonly_sqlite_uri
from triage_app.storage.sqlite_files import remove_unused_sidecars as remove_unused_sidecars


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


def _readonly_sqlite_connector(
    path: Path, busy_timeout_ms: int, nobody_writes: bool
) -> Callable[[], sqlite3.Connection]:
    """A DBAPI connector for `path`, read-only (see `connect_read_only`)."""

    def connect() -> sqlite3.Connection:
        return connect_read_only(path, busy_timeout_ms=busy_timeout_ms, nobody_writes=nobody_writes)

    return connect


def _configure_readonly_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA query_only = ON")  # a second lock: no statement on this connection may write
        # No journal_mode pragma: setting one writes to the file (and would switch another program's file to WAL).
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN DEFERRED")


def create_new_sqlite_file(path: Path) -> None:
    """Make a new, empty WAL database at `path` (owner-only), at once.

    The header is written straight away, so that no other process ever finds a zero-byte file it would
    (rightly) refuse as a lost database; if it cannot be written (a full disk), the empty file is removed again.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY)
    except FileExistsError:
        return  # another process made it first
    except OSError as exc:
        raise DatabaseError(f"cannot create the database file {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode = WAL").fetchone()  # writes the header (page 1)
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()
        text = "the disk is full" if is_disk_full_error(exc) else str(exc)
        raise DatabaseError(f"cannot create the database file {path}: {text}; nothing was created") from exc


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


class Database:
    """An engine plus the two kinds of session the app uses: read, and write (holding the write lock)."""

    def __init__(
        self,
        location: DatabaseLocation,
        read_only: str | None = None,
        *,
        echo: bool = False,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        nobody_writes: bool = False,
    ) -> None:
        """`read_only`: why the database can only be read (then nothing is written; on SQLite no file is made
        beside it either when `nobody_writes`, a damaged file or a full disk, or the file is one nobody may write:
        see `connect_read_only`)."""
        self.location = location
        self.busy_timeout_ms = busy_timeout_ms
        #: Why the database is open for reading only (a sentence that says what to do), or None.
        self.read_only = read_only
        #: Called before every session; the GUI sets it to fail loudly on the GUI thread (see ui.worker).
        self.thread_guard: Callable[[], None] | None = None
        if location.path is not None and read_only is not None:
            if not check_sqlite_file(location.path):
                raise DatabaseError(f"there is no database at {location.path} to open for reading")
            self.engine = sa.create_engine(
                "sqlite+pysqlite://",
                creator=_readonly_sqlite_connector(location.path, busy_timeout_ms, nobody_writes),
                poolclass=sa.pool.QueuePool,  # "sqlite://" alone would mean one in-memory connection per thread
                echo=echo,
                pool_size=2,
                max_overflow=4,
            )
            _configure_readonly_sqlite(self.engine, busy_timeout_ms)
        elif location.path is not None:
            if not check_sqlite_file(location.path):
                create_new_sqlite_file(location.path)
            # Pooled: the pragmas run once per connection, not once per query (dispose() closes them).
            self.engine = sa.create_engine(location.url, echo=echo, pool_size=2, max_overflow=4)
            _configure_sqlite(self.engine, busy_timeout_ms)
        else:
            # A server: every transaction of a read-only session is READ ONLY (libpq's options, psycopg 2 and 3), and
            # a write that waits for another program's lock gives up after the same time as on SQLite, saying so,
            # rather than waiting for ever.
            options = f"-c lock_timeout={int(busy_timeout_ms)}"
            if read_only is not None:
                options += " -c default_transaction_read_only=on"
            connect_args = {"options": options}
            try:
                self.engine = sa.create_engine(location.url, pool_pre_ping=True, echo=echo, connect_args=connect_args)
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
    def snapshot(self) -> Iterator[Session]:
        """A session whose every read sees the database at one moment, while others commit: what `read` gives on
        SQLite (one deferred transaction under WAL); REPEATABLE READ on a server, whose default (READ COMMITTED)
        lets each statement see newer commits (a check comparing two reads would find a false mismatch)."""
        if self.engine.dialect.name == "sqlite":
            with self.read() as session:
                yield session
            return
        if self.thread_guard is not None:
            self.thread_guard()
        with (
            _translate_errors(self.location, self.busy_timeout_ms),
            self.engine.connect() as connection,
            Session(
                bind=connection.execution_options(isolation_level="REPEATABLE READ"), expire_on_commit=False
            ) as session,
        ):
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction holds the write lock from the start; commits on success.

        A read-only database refuses with `DatabaseReadOnly` before anything is begun.
        """
        if self.thread_guard is not None:
            self.thread_guard()
        if self.read_only is not None:
            raise DatabaseReadOnly(
                f"this change was refused and nothing was changed: the database is open for reading only. "
                f"{self.read_only}"
            )
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
    except sa.exc.DatabaseError as exc:
        # An operational error (SQLite's own: locked, read-only, cannot open) has messages of its own; any driver
        # error may be a full disk or a damaged file.
        operational = isinstance(exc, SAOperationalError)
        if operational and is_locked_error(exc):
            raise DatabaseLockedError(
                f"the database {location.describe()} is in use by another program and stayed locked for "
                f"{busy_timeout_ms / 1000:g} seconds; nothing was changed. Try again in a moment."
            ) from exc
        detail = str(exc.orig).strip() if exc.orig is not None else str(exc)
        if is_disk_full_error(exc):
            raise DatabaseFull(
                f"the disk holding the database {location.describe()} is full, so the change could not be saved; "
                "nothing was changed. Free space on that disk, then try again."
            ) from exc
        if operational and ("readonly" in detail.lower() or "read-only" in detail.lower()):
            raise DatabaseError(
                f"the database {location.describe()} cannot be written (read-only file or folder); nothing was changed."
            ) from exc
        if "file is not a database" in detail.lower() or "malformed" in detail.lower():
            raise DatabaseError(
                f"{location.describe()} is damaged or not a SQLite database; it has been left untouched. "
                "Restore a backup."
            ) from exc
        if operational:
            raise DatabaseError(f"the database {location.describe()} cannot be reached: {detail}") from exc
        raise
