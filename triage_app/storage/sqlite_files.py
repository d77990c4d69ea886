"""SQLite files as the app opens them without writing: what is at a path (`check_sqlite_file`), owner-only
files, and read-only connections that leave no -wal or -shm behind (`connect_read_only`, `remove_unused_sidecars`).
Importable from storage.engine.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import sys
import threading
from pathlib import Path
from urllib.parse import quote

from triage_app.storage.database_errors import DatabaseError, EmptyDatabaseFile

#: How long a connection waits for another's lock before giving up (milliseconds).
BUSY_TIMEOUT_MS = 10_000

#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: Database files, their side files and exports holding patient data are readable by their owner only.
OWNER_ONLY = 0o600


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
