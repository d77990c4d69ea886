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
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


class DatabaseReadOnly(DatabaseError):
    """A change was asked of a database opened read-only; the message says why it is read-only and that
    nothing was changed."""


class DatabaseFull(DatabaseError):
    """The disk holding the database is full (SQLite's "database or disk is full"); nothing was changed."""


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


class EmptyDatabaseFile(DatabaseError):
    """An existing database file holds nothing (zero bytes): refused, never made into a new database."""


class MissingDatabaseFile(DatabaseError):
    """No database file, where the backups folder (its manifest or the audit checkpoint) shows one was kept:
    refused, never replaced by a new, empty database (storage.preflight.signs_of_a_database)."""


def check_sqlite_file(path: Path, *, restore_hint: str | None = None) -> bool:
    """Refuse anything at `path` that is not a SQLite database, and a missing folder. Never writes to it.

    Returns True when the file exists (a database to open) and False when it does not (a new one may be made
    there). An existing file of zero bytes is NOT a new database: a copy that failed, a full disk or a crash
    emptied it, and making a new database in its place would hide the loss and make the caller its
    administrator. It is refused (`EmptyDatabaseFile`). `restore_hint` is added to the refusals (the newest
    verified backup and how to restore it).
    """
    hint = f" {restore_hint}" if restore_hint else " Restore a backup or choose another file with --db."
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file")
    if not path.parent.is_dir():
        raise DatabaseError(f"the folder for the database does not exist: {path.parent}")
    if not path.exists():
        return False
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise DatabaseError(f"cannot read the database file {path}: {exc.strerror or exc}") from exc
    if not header:
        raise EmptyDatabaseFile(
            f"{path} is empty (0 bytes): the database it held has been lost from this file (an interrupted copy, "
            "a full disk or a crash can do this). It has been left untouched and no new database was made in its "
            f"place.{hint}"
        )
    if header != SQLITE_HEADER:
        raise DatabaseError(
            f"{path} is not a SQLite database (it may be damaged or another kind of file). "
            f"It has been left untouched.{hint}"
        )
    return True


def create_owner_only_file(path: Path) -> None:
    """Create an empty file readable and writable by its owner only, if it does not exist yet."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY)
    except FileExistsError:
        return
    except OSError as exc:
        raise DatabaseError(f"cannot create the database file {path}: {exc.strerror or exc}") from exc
    os.close(fd)


def readonly_sqlite_uri(path: Path, *, immutable: bool = False) -> str:
    """The read-only URI of a SQLite file (percent-encoded, so '?' or '#' in a folder name is safe)."""
    return "file:" + quote(path.resolve().as_posix(), safe="/:") + "?mode=ro" + ("&immutable=1" if immutable else "")


def _wal_has_content(path: Path) -> bool:
    """True when a -wal file beside the database holds frames (committed changes not yet in the file)."""
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def nobody_may_write(path: Path) -> bool:
    """True when no ordinary account may write the file: no write bit for anyone, or a read-only file system.

    Such a file can be read `immutable` (no -shm, no -wal made beside it) once no -wal holds changes.
    """
    try:
        if path.stat().st_mode & 0o222 == 0:
            return True
        return bool(hasattr(os, "statvfs") and os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


#: SQLite's "dead man switch" byte in a -shm file: every connection using the -shm holds a lock on it.
_SHM_DMS_BYTE = 128
#: -shm files held open (with a failed lock on them) so that closing them cannot drop this process's own
#: SQLite locks on the same file (POSIX locks are released by closing any descriptor of the file).
_HELD_OPEN: list[int] = []
#: Read-only connections open in this process, per database file, and the files whose -wal/-shm they made:
#: those are removed when the last of them closes (`remove_unused_sidecars`).
_OPEN_READERS: dict[Path, int] = {}
_MADE_SIDECARS: set[Path] = set()
_READERS_LOCK = threading.Lock()


def remove_unused_sidecars(path: Path) -> bool:
    """Remove the -wal and -shm beside `path` when nobody uses them and the -wal holds nothing; True if gone.

    SQLite's own protocol: a write lock on the -shm's DMS byte is granted only when no connection (of any
    process, this one included: an open-file-description lock conflicts with this process's POSIX locks) has
    the -shm open; it is held while the files are removed. Linux only; elsewhere the files are left as they are.
    """
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if _wal_has_content(path):
        return False
    if not shm.exists():
        with contextlib.suppress(FileNotFoundError):
            wal.unlink()
        return not wal.exists()
    if sys.platform != "linux":
        return False
    import fcntl

    try:
        fd = os.open(shm, os.O_RDWR)
    except OSError:
        return False
    lock = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS_BYTE, 1, 0)
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lock)
    except OSError:
        _HELD_OPEN.append(fd)  # in use (perhaps here): closing this descriptor would drop this process's locks
        return False
    try:
        if _wal_has_content(path):
            return False
        with contextlib.suppress(FileNotFoundError):
            wal.unlink()
        shm.unlink()
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


class _ReadOnlyConnection(sqlite3.Connection):
    """A read-only connection; when the last one on a file closes, the -wal and -shm they made are removed."""

    database_path: Path | None = None

    def close(self) -> None:
        super().close()
        path, self.database_path = self.database_path, None
        if path is None:
            return
        with _READERS_LOCK:
            _OPEN_READERS[path] -= 1
            last = _OPEN_READERS[path] == 0
            if last:
                del _OPEN_READERS[path]
            made = last and path in _MADE_SIDECARS
            if made and remove_unused_sidecars(path):
                _MADE_SIDECARS.discard(path)


def _open(uri: str, timeout: float) -> _ReadOnlyConnection:
    return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False, factory=_ReadOnlyConnection)


def _track(connection: _ReadOnlyConnection, path: Path, made: bool) -> _ReadOnlyConnection:
    key = path.resolve()
    with _READERS_LOCK:
        _OPEN_READERS[key] = _OPEN_READERS.get(key, 0) + 1
        if made:
            _MADE_SIDECARS.add(key)
    connection.database_path = key
    return connection


def connect_read_only(
    path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, nobody_writes: bool = False
) -> sqlite3.Connection:
    """A read-only DBAPI connection to the SQLite file at `path`, opened at once; it never writes the file.

    `nobody_writes` (a damaged database, a full disk: nothing may write the file), or a file nobody may write
    (`nobody_may_write`): provided no -wal holds changes, the file is opened `immutable`, which makes no file
    beside it at all. Otherwise it is opened `mode=ro`: a WAL database read that way needs its -shm index,
    which SQLite creates beside the file with the file's own permissions; what this opening made is set
    owner-only (0600) at once and removed again when the connection closes, if nobody else is using it then.
    On a full disk or in a folder that cannot be written that fails ("disk I/O error", "unable to open"); then,
    provided no -wal holds changes, the file is opened `immutable` after all. A -wal holding changes that
    cannot be read is said in words.
    """
    timeout = busy_timeout_ms / 1000
    if (nobody_writes or nobody_may_write(path)) and not _wal_has_content(path):
        return _open(readonly_sqlite_uri(path, immutable=True), timeout)
    sidecars = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    existed = {side: side.exists() for side in sidecars}
    connection = _open(readonly_sqlite_uri(path), timeout)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file (and its WAL)
    except sqlite3.OperationalError as exc:
        connection.close()
        text = str(exc).lower()
        if "disk i/o error" not in text and "unable to open" not in text and "readonly" not in text:
            raise
        for side in sidecars:  # only what this attempt made, and only while it holds nothing
            with contextlib.suppress(OSError):
                if not existed[side] and side.stat().st_size <= 4096 and not _wal_has_content(path):
                    side.unlink()
        if _wal_has_content(path):
            raise sqlite3.OperationalError(
                f"{path.name}-wal holds changes that cannot be read while the disk is full or read-only: free "
                "space (or make the folder writable) and try again"
            ) from exc
        return _open(readonly_sqlite_uri(path, immutable=True), timeout)
    except sqlite3.DatabaseError:
        pass  # a damaged file: opened, and each read says what it can or cannot read
    made = any(not existed[side] and side.exists() for side in sidecars)
    tracked = _track(connection, path, made)
    with _READERS_LOCK:
        ours = tracked.database_path in _MADE_SIDECARS
    for side in sidecars if ours else ():
        # SQLite gives them the database file's permissions (0444, 0644), again on every opening while the -wal
        # is empty: the ones made here are owner-only.
        with contextlib.suppress(OSError):
            side.chmod(OWNER_ONLY)
    return tracked


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


def is_locked_error(exc: BaseException) -> bool:
    """True when SQLite gave up waiting for another connection's lock."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database table is locked" in text


def is_disk_full_error(exc: BaseException) -> bool:
    """True when SQLite (or the operating system) said the disk is full."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database or disk is full" in text or "no space left on device" in text


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
            # A server: every transaction of a read-only session is READ ONLY (libpq's options, psycopg 2 and 3).
            connect_args = {"options": "-c default_transaction_read_only=on"} if read_only is not None else {}
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
    except SAOperationalError as exc:
        if is_locked_error(exc):
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
        if is_disk_full_error(exc):
            raise DatabaseFull(
                f"the disk holding the database {location.describe()} is full, so the change could not be saved; "
                "nothing was changed. Free space on that disk, then try again."
            ) from exc
        if "file is not a database" in detail.lower() or "malformed" in detail.lower():
            raise DatabaseError(
                f"{location.describe()} is damaged or not a SQLite database; it has been left untouched. "
                "Restore a backup."
            ) from exc
        raise
