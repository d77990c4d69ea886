"""Looking at a SQLite database before anything opens it for writing, and at whether its disk can be written.

The order on every start (services.app): the file (a header, or no file at all), then `quick_check` and the
schema, all through a read-only connection that sets no journal mode, and only then an engine that writes. So a
damaged file, an emptied file or another program's database is refused or opened read-only without a byte of it
changing (the engine's WAL pragma would otherwise switch another program's file to WAL before it was refused).

The desktop defers the whole-file `quick_check` (seconds on a large file) past its first paint (`PageCheck`): the
cheap looks (header, schema revision, writability) still come first, and every write transaction waits at a gate
on the engine (`gate_writes`) until the check has answered, so nothing is written to a file before it has passed
(and a damaged one is never written: the gate refuses, saying so).

SQLite only: a database server checks its own pages and its own disk.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa

from triage_app.storage.audit_checkpoint import CheckpointError, checkpoint_path, read_checkpoint
from triage_app.storage.backup import read_manifest, verified_backups
from triage_app.storage.engine import (
    OWNER_ONLY,
    DatabaseError,
    DatabaseReadOnly,
    check_sqlite_file,
    connect_read_only,
    remove_unused_sidecars,
)
from triage_app.storage.integrity import (
    IntegrityError,
    IntegrityResult,
    open_readonly,
    quick_check,
    table_names,
)
from triage_app.storage.stopping import Stopped, StopSignal

log = logging.getLogger(__name__)

#: How much the start-up probe writes (and fsyncs) in the database's folder: a few pages of SQLite's WAL.
PROBE_BYTES = 16 * 1024
_FULL = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


class ForeignDatabase(DatabaseError):
    """A SQLite file of another program (tables, but no triage schema version): refused, left as it was."""


class ReadOnlyKind(StrEnum):
    """Why a database can only be read."""

    DAMAGED = "damaged"
    READ_ONLY = "read-only"
    DISK_FULL = "disk-full"


@dataclass(frozen=True, slots=True)
class SqliteFileCheck:
    """What the read-only look at a database file found.

    `exists` False: no file, a new database may be made there. `revision` is the schema revision (None for a
    new database). `integrity` is `quick_check`'s answer (None for a new database).
    """

    path: Path
    exists: bool
    revision: str | None
    integrity: IntegrityResult | None

    @property
    def damaged(self) -> bool:
        """True when quick_check found a problem in the file (not when the disk or system stopped it reading)."""
        return self.integrity is not None and not self.integrity.ok and self.integrity.unreadable is None


def check_sqlite_before_opening(
    path: Path, *, restore_hint: str | None = None, folder_writable: bool = True, pages: bool = True
) -> SqliteFileCheck:
    """Look at the file without writing to it: header, quick_check, schema.

    `pages` False (the desktop) leaves out `quick_check`, the one look that reads the whole file: `integrity` is
    then None and the caller checks the pages later (`PageCheck`). A schema that cannot be read is still found
    here, and then the quick check runs at once (a damaged file).

    Raises `DatabaseError` for a folder, a missing folder, a zero-byte file (`EmptyDatabaseFile`), a file that
    is not SQLite, and `ForeignDatabase` for another program's database; `restore_hint` is added to those
    messages that a backup answers. With `folder_writable` False (a full or read-only disk, found by
    `probe_writable` first) the checks read through `engine.connect_read_only`, which needs no -shm file:
    otherwise SQLite's failure to make one would read as a damaged database.
    """
    if not check_sqlite_file(path, restore_hint=restore_hint):
        return SqliteFileCheck(path, exists=False, revision=None, integrity=None)
    # storage.integrity opens the file as start-up does (immutable where the folder or disk cannot take a -shm).
    integrity = quick_check(path) if pages else None
    tables: list[str] = []
    revision: str | None = None
    try:
        with _reading(path, folder_writable) as connection:
            tables = table_names(connection)
            if "alembic_version" in tables:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = str(row[0]) if row else None
    except (IntegrityError, sqlite3.Error) as exc:
        if integrity is None:  # the schema itself cannot be read: look at the pages now, to say what is wrong
            integrity = quick_check(path)
        if integrity.ok:  # readable enough to pass quick_check, yet its schema cannot be read: damaged too
            integrity = IntegrityResult(False, (str(exc),))
    if (integrity is None or integrity.ok) and tables and "alembic_version" not in tables:
        raise ForeignDatabase(
            f"{path} is a database of another program (it has tables but no triage schema version); it has been "
            "left untouched. Choose another file with --db."
        )
    return SqliteFileCheck(path, exists=True, revision=revision, integrity=integrity)


class PageCheck:
    """The whole-file `quick_check` of a SQLite database, deferred past the desktop's first paint.

    `verdict()` runs it once (on whichever thread asks first; later callers wait for that answer) and returns
    its result. The window asks on a worker of its own after its first page; a write asks first when it comes
    earlier (`gate_writes`), so no transaction writes to the file before it has passed. `stop()` (closing the
    window) interrupts it: `Stopped`, no verdict. `refusal` is the sentence a write is refused with once the
    check found damage (services.startup_checks words it, naming the backup to restore).
    """

    def __init__(self, path: Path, *, on_damage: Callable[[IntegrityResult], str] | None = None) -> None:
        self.path = path
        self.stop_signal = StopSignal()
        #: Called (on the checking thread) when the check finds damage, before any waiting write goes on; it
        #: returns the refusal's words.
        self.on_damage = on_damage
        self.refusal: str | None = None
        #: Seconds the check took (None until it has run), for the status line and the benchmarks.
        self.seconds: float | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        #: Set when the check begins reading the file (a closing window, or a test, may then stop it).
        self.running = threading.Event()
        self._started = False
        self._result: IntegrityResult | None = None
        self._error: BaseException | None = None

    @property
    def answered(self) -> bool:
        """Whether the check has finished (passed, found damage, or was stopped)."""
        return self._done.is_set()

    @property
    def passed(self) -> bool:
        """True once the check has finished without finding damage (writes go straight on)."""
        return self._done.is_set() and self._result is not None and not self.damaged

    @property
    def damaged(self) -> bool:
        """True once the check found the file damaged (not when the disk stopped it reading)."""
        result = self._result
        return result is not None and not result.ok and result.unreadable is None

    def verdict(self) -> IntegrityResult:
        """The check's result, running it now if nobody has started it; `Stopped` when it was stopped."""
        with self._lock:
            run_here = not self._started
            self._started = True
        if run_here:
            started = time.perf_counter()
            self.running.set()
            try:
                result = quick_check(self.path, stop=self.stop_signal)
                # Stopped meanwhile (the window closing): no verdict, whatever the check read before it stopped.
                self.stop_signal.raise_if_stopped("the check of the database")
                self._result = result
                if self.damaged and self.on_damage is not None:
                    self.refusal = self.on_damage(self._result)
            except BaseException as exc:  # Stopped above all: every waiter hears it
                self._error = exc
            finally:
                self.seconds = time.perf_counter() - started
                self._done.set()
        else:
            self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def stop(self) -> None:
        """Interrupt the check (the window closes); a write waiting on it is refused, nothing written."""
        self.stop_signal.stop()


def gate_writes(engine: sa.Engine, check: PageCheck, *, describe: Callable[[], str]) -> None:
    """Make every write transaction on `engine` wait for `check`, and refuse it when the file proved damaged.

    A write transaction is one begun on the engine's `write` execution option (`Database.write`); reads pass
    straight on. The listener runs before the engine's own BEGIN IMMEDIATE, so a refused write has taken no lock
    and written nothing. `describe` says where the database is, for a stopped check's refusal.
    """

    @sa.event.listens_for(engine, "begin", insert=True)
    def wait_for_pages(connection: sa.Connection) -> None:
        if not connection.get_execution_options().get("write"):
            return
        if check.passed:
            return  # the common case once the check has passed: no lock taken
        try:
            check.verdict()
        except Stopped:
            raise DatabaseReadOnly(
                f"this change was refused and nothing was changed: the check of the database {describe()} was "
                "stopped (the window is closing) before it could say the file is sound."
            ) from None
        if check.damaged:
            raise DatabaseReadOnly(
                "this change was refused and nothing was changed: the database is open for reading only. "
                + (check.refusal or f"The database {check.path} is damaged; the app writes nothing to it.")
            )


def signs_of_a_database(path: Path, backup_dir: Path | None) -> tuple[str, ...]:
    """What shows that a database was kept at `path` before, in words; () when nothing does.

    Asked when there is no file at `path`: a new database may be made there only when nothing says one was
    there. The signs: backups of it in the backups folder's manifest (entries for `path`'s stem, verified or
    not), and the audit checkpoint (`audit-checkpoint.json`) naming this database (or naming none, or not
    readable: it cannot say it was another). Reads only.
    """
    if backup_dir is None or not backup_dir.is_dir():
        return ()
    signs: list[str] = []
    listed = [entry for entry in read_manifest(backup_dir) if entry.database == path.stem]
    if listed:
        verified = len(verified_backups(backup_dir, path.stem))
        signs.append(
            f"the backups folder's manifest lists {len(listed)} backup{'s' if len(listed) != 1 else ''} of it "
            f"({verified} verified)"
        )
    where = checkpoint_path(backup_dir)
    try:
        checkpoint = read_checkpoint(where)
    except CheckpointError:
        signs.append(f"an audit checkpoint ({where.name}) is there, though it cannot be read")
    else:
        if checkpoint is not None and _names(checkpoint.database, path):
            signs.append(
                f"the audit checkpoint {where.name} recorded its audit trail up to event {checkpoint.head_id} "
                f"(at {checkpoint.at})"
            )
    return tuple(signs)


def _names(recorded: str | None, path: Path) -> bool:
    """Whether a checkpoint's `database` is the file at `path` (a checkpoint naming none counts: it may be)."""
    if recorded is None:
        return True
    if len(recorded) == 32 and all(c in "0123456789abcdef" for c in recorded):
        return True  # a database's own id (storage.audit): the database kept in this data folder, wherever it was
    if "://" in recorded:  # a database server's URL: another database
        return False
    try:
        return Path(recorded).resolve() == path.resolve()
    except OSError:
        return Path(recorded) == path


@contextlib.contextmanager
def _reading(path: Path, folder_writable: bool) -> Iterator[sqlite3.Connection]:
    if folder_writable:
        with open_readonly(path) as connection:
            yield connection
        return
    connection = connect_read_only(path)
    try:
        yield connection
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class WriteProblem:
    """Why a folder or file cannot be written: `kind` (read-only or disk full) and the system's words."""

    kind: ReadOnlyKind
    detail: str


def _problem(exc: OSError) -> WriteProblem:
    if exc.errno in _FULL:
        return WriteProblem(ReadOnlyKind.DISK_FULL, exc.strerror or str(exc))
    if exc.errno in _READ_ONLY:
        return WriteProblem(ReadOnlyKind.READ_ONLY, exc.strerror or str(exc))
    return WriteProblem(ReadOnlyKind.READ_ONLY, exc.strerror or str(exc))


def _write_probe(folder: Path, size: int) -> None:
    """Write `size` bytes to a new file in `folder`, fsync them and remove the file (the fault tests patch this)."""
    fd, name = _make_probe_file(folder)
    try:
        block = b"\0" * size
        written = 0
        while written < size:
            written += os.write(fd, block[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            Path(name).unlink()


def _make_probe_file(folder: Path) -> tuple[int, str]:
    name = str(folder / f".triage-space-probe-{os.getpid()}")
    return os.open(name, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600), name


def probe_writable(folder: Path, *, size: int = PROBE_BYTES) -> WriteProblem | None:
    """Whether a database in `folder` could save a change: a few KB written and fsynced, then removed.

    None when it can; otherwise why not (ENOSPC/EDQUOT: the disk is full; EROFS/EACCES/EPERM: read-only).
    """
    try:
        _write_probe(folder, size)
    except OSError as exc:
        return _problem(exc)
    return None


def file_write_problem(path: Path) -> WriteProblem | None:
    """Whether the database file itself (and its -wal and -shm beside it, if there) can be written.

    A -wal or -shm that cannot be written beside a database that can is most often left by an older read-only
    start (SQLite gives them the database file's permissions). When it is this account's own, the -wal holds
    nothing and no program has them open, they are removed (SQLite makes them anew) and the database is
    writable; otherwise the problem says exactly which file to make writable, and how.
    """
    if path.exists() and not os.access(path, os.W_OK):
        return WriteProblem(ReadOnlyKind.READ_ONLY, f"{path.name} is read-only")
    sidecars = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    stuck = [side for side in sidecars if side.exists() and not os.access(side, os.W_OK)]
    if not stuck:
        return None
    if path.exists() and all(_own(side) for side in stuck):
        for side in stuck:  # ours: make them writable again, so that the lock check can open the -shm
            with contextlib.suppress(OSError):
                side.chmod(OWNER_ONLY)
        if remove_unused_sidecars(path) or not any(side.exists() and not os.access(side, os.W_OK) for side in sidecars):
            return None
    names = " and ".join(side.name for side in stuck)
    wal = sidecars[0]
    holds = wal.exists() and wal.stat().st_size > 0
    what_to_do = (
        f"{wal.name} holds changes not yet in the database: never delete it. Close every copy of the app, then "
        f"make {names} writable by this account (chmod 600, as their owner or IT)"
        if holds
        else f"close every copy of the app, then delete {names} (they hold no data; SQLite makes them anew) or make "
        "them writable by this account (chmod 600, as their owner or IT)"
    )
    return WriteProblem(
        ReadOnlyKind.READ_ONLY,
        f"{names} beside it {'is' if len(stuck) == 1 else 'are'} read-only (owned by {_owner(stuck[0])}): {what_to_do}",
    )


def _own(path: Path) -> bool:
    """True when `path` belongs to the account running the app (or cannot be told: Windows)."""
    if not hasattr(os, "geteuid"):
        return False
    try:
        return path.stat().st_uid == os.geteuid()
    except OSError:
        return False


def _owner(path: Path) -> str:
    """The login owning `path`, or its number."""
    try:
        uid = path.stat().st_uid
    except OSError:
        return "unknown"
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)
