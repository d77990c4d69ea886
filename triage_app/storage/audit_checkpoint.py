"""The audit chain's head kept outside the database: `audit-checkpoint.json` in the backups folder, and the log.

A database can be edited by anyone holding the file (or the server's superuser): with the append-only
triggers dropped, a forger can rewrite the chain from an edited event onwards, delete the newest events and
move the head back, or delete every event. The chain then checks out inside the database. The checkpoint is
the head as it was last seen by the app, written after every commit that wrote audit events, so `audit verify`
can compare: a checkpoint ahead of the database means events were deleted; the same event id with another hash
means the chain was rewritten.

The file only ever moves forward. Several processes write it (two desktops, a command and the GUI, each after
its own commits, in any order), so each write reads the file, compares, and replaces it, under an exclusive
lock on a lock file beside it; the replacement is atomic (a temporary file, fsynced, renamed). A write that
fails (a full disk, a read-only folder) is logged and never undoes the change already committed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "audit-checkpoint.json"
FORMAT = 1
HISTORY_LIMIT = 50  # restarts kept in the file's history (each a restore); older ones are in the log


class CheckpointError(RuntimeError):
    """The checkpoint file exists but cannot be read as one: damaged, or written by something else."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The audit chain head as last recorded outside the database."""

    head_id: int
    head_hash: str
    at: str  # ISO 8601 UTC, when it was written
    # The database's id (its app_setting `database_id`, moving with the file); an older version wrote where the
    # database was (a path, or a server URL without password), still accepted for a database at that place.
    database: str | None
    history: tuple[dict[str, Any], ...] = ()


def checkpoint_path(backup_dir: Path) -> Path:
    """Where the checkpoint of the databases backed up into `backup_dir` lives."""
    return backup_dir / CHECKPOINT_NAME


# --- which engine writes where -------------------------------------------------------------------------------

# Keyed by the engine's connection pool: `Database.write()` sessions are bound to an option-copy of the engine
# (`execution_options(write=True)`), which shares the pool with the engine `open_session` registers.
_PATHS: weakref.WeakKeyDictionary[Any, tuple[Path, str | None]] = weakref.WeakKeyDictionary()


def set_checkpoint_path(engine: Any, path: Path | None, *, database: str | None = None) -> None:
    """Write the audit head to `path` after every commit on `engine` that wrote audit events (None: stop).

    `database` is where the database is (a path or a URL without password): the checkpoint itself names the
    database by its id (read in the transaction that wrote the events); this is for a checkpoint an older
    version wrote naming the path, which is taken over while the database is still there.
    """
    pool = engine.pool
    if path is None:
        _PATHS.pop(pool, None)
    else:
        _PATHS[pool] = (path, database)


def checkpoint_path_of(engine: Any) -> tuple[Path, str | None] | None:
    """The checkpoint file registered for `engine` (and the database name it records), if any."""
    return _PATHS.get(engine.pool)


# --- reading and writing -------------------------------------------------------------------------------------


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`; None when there is no file; `CheckpointError` when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"the audit checkpoint {path} cannot be read: {exc}") from exc
    try:
        data = json.loads(text)
        head_id, head_hash, at = data["head_id"], data["head_hash"], data["at"]
        database = data.get("database")
        history = tuple(data.get("history", ()))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"the audit checkpoint {path} is not a checkpoint (damaged or edited): {exc}") from exc
    if (
        not isinstance(head_id, int)
        or isinstance(head_id, bool)
        or head_id < 0
        or not isinstance(head_hash, str)
        or len(head_hash) != 64
        or not isinstance(at, str)
        or not (database is None or isinstance(database, str))
        or not all(isinstance(item, dict) for item in history)
    ):
        raise CheckpointError(f"the audit checkpoint {path} holds values a checkpoint cannot have (damaged or edited)")
    return Checkpoint(head_id, head_hash, at, database, history)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path`.lock for the read-compare-replace (released when the process dies)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the backups folder, before the first backup
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for about 10 s, then raises OSError
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _write(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the file atomically: a temporary file beside it (owner-only, fsynced), renamed over it."""
    data = {
        "format": FORMAT,
        "head_id": checkpoint.head_id,
        "head_hash": checkpoint.head_hash,
        "at": checkpoint.at,
        "database": checkpoint.database,
        "history": list(checkpoint.history),
    }
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if sys.platform != "win32":  # the rename itself survives a power cut once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def advance_checkpoint(
    path: Path, *, head_id: int, head_hash: str, database: str | None = None, legacy: str | None = None
) -> bool:
    """Move the checkpoint forward to `head_id`; never back. True when the file was written.

    `database` names the database (its id); a checkpoint naming another is left as it is (logged; `audit
    verify` reports it), unless it names `legacy`, this database's path as an older version wrote it: that one
    is taken over and names the id from then on. An older head (another process committed later events and wrote first) leaves the file as it is. The same
    id with another hash is not written over: that is a rewritten chain (or another database's), which
    `audit verify` reports; it is logged here.
    """
    with _locked(path):
        try:
            current = read_checkpoint(path)
        except CheckpointError as exc:
            # A damaged checkpoint is evidence (a crash cannot make one: writes are atomic). Writing a fresh one
            # over it would bless whatever was deleted before; it stays until `audit verify` has reported it and
            # an administrator restarts it (`restart_checkpoint`).
            log.error("%s; not written over", exc)
            return False
        if current is not None:
            taken_over = legacy is not None and current.database == legacy
            if (
                current.database is not None
                and database is not None
                and current.database != database
                and not taken_over
            ):
                log.warning("audit checkpoint %s records another database; not written for this one", path.name)
                return False
            if current.head_id > head_id:
                return False
            if current.head_id == head_id:
                if current.head_hash != head_hash:
                    log.error(
                        "audit head %d %s differs from the checkpoint's %s: the chain was rewritten",
                        head_id,
                        head_hash[:12],
                        current.head_hash[:12],
                    )
                return False
        history = current.history if current is not None else ()
        _write(path, Checkpoint(head_id, head_hash, _now(), database, history))
    return True


def restart_checkpoint(path: Path, *, head_id: int, head_hash: str, reason: str, database: str | None = None) -> None:
    """Start the checkpoint again at an older head, for a restore: the restored database's chain ends earlier.

    `database` is the restored database's id: the checkpoint names it from now on (None: keep the name the file
    has). The checkpoint it replaces is kept in the file's `history` (with the reason and when), so `audit verify`
    and a reader of the file can still see how far the chain had gone before the restore.
    """
    with _locked(path):
        try:
            current = read_checkpoint(path)
        except CheckpointError as exc:
            log.error("%s; replaced by the restore's checkpoint", exc)
            current = None
        history: list[dict[str, Any]] = list(current.history) if current is not None else []
        if current is not None:
            history.append(
                {
                    "head_id": current.head_id,
                    "head_hash": current.head_hash,
                    "at": current.at,
                    "database": current.database,
                    "replaced_at": _now(),
                    "reason": reason,
                }
            )
        if database is None:
            database = current.database if current is not None else None
        _write(path, Checkpoint(head_id, head_hash, _now(), database, tuple(history[-HISTORY_LIMIT:])))
    log.warning(
        "audit checkpoint restarted at head %d %s (%s)%s",
        head_id,
        head_hash[:12],
        reason,
        "" if current is None else f"; it was at {current.head_id} {current.head_hash[:12]}",
    )
