"""The file moves of a restore: staging the verified copy, making sure no other program has the database open,
moving the current file and its side files aside (never deleting them) and putting them back if a step fails.
Part of services.restore.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from triage_app.services.maintenance_common import (
    IN_USE,
    SIDE_FILES,
    DatabaseInUse,
    RestoreFailed,
    RestoreRefused,
    not_completed,
    why_stopped,
)
from triage_app.storage.backup import (
    file_sha256,
    fsync_dir,  # a rename made durable, as backups make theirs
)
from triage_app.storage.engine import (
    OWNER_ONLY,
    create_owner_only_file,
)

log = logging.getLogger(__name__)


def wal_has_content(db_path: Path) -> bool:
    wal = db_path.with_name(db_path.name + "-wal")
    return wal.is_file() and wal.stat().st_size > 0


@contextlib.contextmanager
def sole_user(db_path: Path) -> Iterator[None]:
    """Hold an exclusive SQLite lock on the database file, refusing (`DatabaseInUse`) if anyone else has it open.

    In WAL mode `BEGIN EXCLUSIVE` leaves readers be; `locking_mode=EXCLUSIVE` takes the whole file and fails
    while any other connection has it open, idle or not. It is taken through a hard link with a name of its
    own, so SQLite looks for the link's -wal (none) and leaves a crash-left -wal of the database as it is:
    closing the connection neither checkpoints it into the file nor deletes it. Where a hard link cannot be
    made, the database's own name is used, but only when there is no -wal with content to lose.
    """
    if not db_path.exists():
        yield
        return
    probe = db_path.with_name(f".{db_path.name}.lockprobe-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        probe.unlink()
    try:
        os.link(db_path, probe)
        target = probe
    except OSError:
        if wal_has_content(db_path):
            raise RestoreRefused(
                f"cannot make sure no other program has {db_path} open on this file system, and a -wal file beside "
                "it holds changes that checking would write into it. Close every copy of the app, then move the "
                "database and its -wal and -shm files to another folder and run the restore again. Nothing was changed"
            ) from None
        target = db_path
    connection = sqlite3.connect(target, timeout=0, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout = 0")
        connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            connection.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                raise DatabaseInUse(IN_USE.format(path=db_path)) from None
            raise
        except sqlite3.DatabaseError as exc:  # not a database at all: no SQLite program can have it open
            log.info("lock check on a file SQLite cannot read: %s", exc)
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        connection.close()
        if target == probe:
            for leftover in (probe, *(probe.with_name(probe.name + s) for s in SIDE_FILES)):
                with contextlib.suppress(OSError):
                    leftover.unlink()


def move(source: Path, target: Path) -> None:
    """Move a file; across file systems, copy it (flushed) and then remove the original."""
    try:
        source.replace(target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copy2(source, target)
        with target.open("rb+") as handle:
            os.fsync(handle.fileno())
        source.unlink()


def stage_copy(backup: Path, db_path: Path, digest: str) -> Path:
    """Copy the backup beside the database under a temporary name, flushed, owner-only; check its SHA-256."""
    staged = db_path.with_name(f".{db_path.name}.restoring-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        staged.unlink()
    create_owner_only_file(staged)
    try:
        with backup.open("rb") as source, staged.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
            target.flush()
            os.fsync(target.fileno())
        staged.chmod(OWNER_ONLY)
        if file_sha256(staged) != digest:
            raise RestoreRefused(f"the copy of {backup} differs from it (the disk?); nothing was changed")
    except BaseException:
        with contextlib.suppress(OSError):
            staged.unlink()
        raise
    return staged


def swap_in(db_path: Path, staged: Path, replaced_dir: Path) -> tuple[Path, ...]:
    """Move the database and its side files into `replaced_dir`, then rename `staged` into place.

    If anything fails part-way, the files already moved are moved back (`RestoreFailed` says so, or says where
    they are if they could not be).
    """
    moved: list[Path] = []
    present = [db_path.with_name(n) for n in (db_path.name, *(db_path.name + s for s in SIDE_FILES))]
    present = [source for source in present if source.exists()]
    try:
        if present:  # no folder for nothing: a missing file leaves no empty replaced-* behind
            replaced_dir.mkdir(mode=0o700, parents=True)
        for source in present:
            move(source, replaced_dir / source.name)
            moved.append(replaced_dir / source.name)
        staged.replace(db_path)
        fsync_dir(db_path.parent)
        if present:
            fsync_dir(replaced_dir)
    except OSError as exc:
        put_back(db_path, tuple(moved), replaced_dir, exc, restored=False)
        raise AssertionError("unreachable") from exc  # pragma: no cover - put_back always raises
    return tuple(moved)


def put_back(db_path: Path, moved: tuple[Path, ...], replaced_dir: Path, exc: BaseException, *, restored: bool) -> None:
    """Undo a swap that could not be finished, then raise `RestoreFailed` saying truly where the files are.

    `restored`: the backup's copy is in place (and perhaps opened): it and any -wal/-shm it grew are removed
    first (the backup itself is untouched), so the original's side files never pair with another file.
    """
    if restored:
        for name in (db_path.name, *(db_path.name + s for s in SIDE_FILES)):
            with contextlib.suppress(FileNotFoundError):
                db_path.with_name(name).unlink()
    stuck: list[Path] = []
    for aside in reversed(moved):
        try:
            move(aside, db_path.with_name(aside.name))
        except OSError:
            stuck.append(aside)
    if not stuck:
        with contextlib.suppress(OSError):
            replaced_dir.rmdir()  # empty again: nothing to keep
        with contextlib.suppress(OSError):
            fsync_dir(db_path.parent)
        raise not_completed(exc, db_path) from exc
    log.error("restore not completed: %s; %d file(s) could not be moved back", type(exc).__name__, len(stuck))
    raise RestoreFailed(
        f"the restore could not be completed: {why_stopped(exc, db_path.parent)}, and the current database could "
        f"not be moved back: {', '.join(p.name for p in stuck)} are in {replaced_dir}. Move them back beside "
        f"{db_path.name} in {db_path.parent} (nothing was deleted) before starting the app"
    ) from exc
