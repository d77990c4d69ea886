"""Verified backups of the SQLite database, a manifest of them, and rotation that thins them by age.

A backup is taken only of a database that passes `PRAGMA quick_check`. It is written with SQLite's online backup
API (never a file copy, which can tear a database another process is writing) under a temporary name that
`list_backups` never matches (`.NAME.partial`), checked with `PRAGMA integrity_check` and counted, flushed to
disk, and only then renamed to its real name and entered in `manifest.json` in the backups folder (file name,
UTC time, reason, SHA-256, size, row counts, schema revision; the manifest is replaced atomically). A backup
killed part-way leaves only a partial file, which the next backup deletes; it is never counted.

What counts as a backup is a manifest entry whose file is still there with the recorded content (checked
lazily by size and modification time, by SHA-256 when those differ, and in full by `triage-app check`):
the daily-backup clock and rotation look at nothing else. Rotation keeps every backup of the last 2 days,
one a day for 14 days, one a week for 8 weeks and one a month after that, never removes the newest verified
backup, and never touches files the manifest does not list (older backups, `--out` copies) or whose content
changed (kept for whoever investigates).

One backup at a time per backups folder: a lock file (`.backup.lock`, released by the system if the process
dies) serialises backups, rotation, manifest updates and restores.

SQLite only: a PostgreSQL server is backed up with pg_dump (README, "Backups, checks and restore").

Why one module (a little over 400 lines): taking, verifying, locking and rotating a backup share the lock and
the manifest's idea of a verified backup; the manifest itself lives in `backup_manifest`.

The files and the manifest are storage.backup_manifest's; this module takes, locks and rotates (one
procedure, a little over 400 lines: the lock, the copy and the rotation share the manifest's rules).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# The files and the manifest are storage.backup_manifest's; their names stay importable from here.
from triage_app.storage.backup_manifest import AUDIT_INTACT as AUDIT_INTACT
from triage_app.storage.backup_manifest import MANIFEST_FORMAT as MANIFEST_FORMAT
from triage_app.storage.backup_manifest import MANIFEST_NAME as MANIFEST_NAME
from triage_app.storage.backup_manifest import PARTIAL_SUFFIX as PARTIAL_SUFFIX
from triage_app.storage.backup_manifest import ManifestEntry as ManifestEntry
from triage_app.storage.backup_manifest import VerifiedBackup as VerifiedBackup
from triage_app.storage.backup_manifest import backup_name as backup_name
from triage_app.storage.backup_manifest import entry_intact as entry_intact
from triage_app.storage.backup_manifest import file_sha256 as file_sha256
from triage_app.storage.backup_manifest import find_entry as find_entry
from triage_app.storage.backup_manifest import fsync_dir as fsync_dir
from triage_app.storage.backup_manifest import fsync_file as fsync_file
from triage_app.storage.backup_manifest import list_backups as list_backups
from triage_app.storage.backup_manifest import newest_verified_backup as newest_verified_backup
from triage_app.storage.backup_manifest import newest_verified_entry as newest_verified_entry
from triage_app.storage.backup_manifest import partial_name as partial_name
from triage_app.storage.backup_manifest import read_manifest as read_manifest
from triage_app.storage.backup_manifest import restore_hint as restore_hint
from triage_app.storage.backup_manifest import verified_backups as verified_backups
from triage_app.storage.backup_manifest import write_manifest as write_manifest
from triage_app.storage.engine import BUSY_TIMEOUT_MS, DatabaseError, create_owner_only_file
from triage_app.storage.integrity import (
    IntegrityError,
    integrity_check,
    quick_check,
    readonly_uri,
    row_counts,
    schema_revision,
)
from triage_app.storage.stopping import StopSignal

log = logging.getLogger(__name__)


LOCK_NAME = ".backup.lock"
#: A daily backup is due when the newest verified one is older than this (a unit opening the app every morning
#: gets one a day even if it opens a little earlier than yesterday).
DAILY_BACKUP_INTERVAL = timedelta(hours=20)
#: How long a backup asked for by a user waits for another one to finish before saying so.
LOCK_WAIT_SECONDS = 5.0
#: Rotation: everything younger than this is kept ...
KEEP_ALL_FOR = timedelta(days=2)
#: ... then one a day up to this age ...
KEEP_DAILY_FOR = timedelta(days=14)
#: ... then one a week up to this age, and one a month after.
KEEP_WEEKLY_FOR = timedelta(weeks=8)


class DamagedDatabaseError(DatabaseError):
    """The database failed its quick check: it is not backed up (nor written); the message says how to restore."""


class BackupBusy(DatabaseError):
    """Another backup or restore of the same backups folder is under way."""


# --- the lock ------------------------------------------------------------------------------------------------

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def backup_lock(backup_dir: Path, *, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the backups folder's lock (one backup, rotation or restore at a time); `BackupBusy` after waiting.

    The lock is the operating system's on `.backup.lock`, so a process killed while holding it releases it.
    """
    ensure_backup_dir(backup_dir)
    path = backup_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DatabaseError(f"cannot open the backup lock {path}: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                _try_lock(fd)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise BackupBusy(
                        f"another backup or restore is under way in {backup_dir}; nothing was done. "
                        "Try again when it has finished."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def ensure_backup_dir(backup_dir: Path) -> None:
    """Create the backups folder, owner-only, or raise `DatabaseError` saying why not."""
    try:
        backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise DatabaseError(f"cannot create the backup folder {backup_dir}: {exc.strerror or exc}") from exc


def remove_partials(directory: Path, stem: str) -> list[Path]:
    """Delete backups of `stem` left part-written by a killed backup (and their journals); return them.

    Called with the backups folder's lock held, so no backup is writing them.
    """
    removed = []
    for leftover in sorted(directory.glob(f".{stem}-*.sqlite3{PARTIAL_SUFFIX}*")):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed.append(leftover)
            log.warning("removed %s, left by a backup that did not finish", leftover.name)
    return removed


# --- taking a backup -------------------------------------------------------------------------------------------


def refuse_if_damaged(source: Path, backup_dir: Path | None, *, stop: StopSignal | None = None) -> None:
    """`DamagedDatabaseError` when `source` fails SQLite's quick check, naming the newest verified backup.

    `stop` interrupts the check (`Stopped`): no verdict either way."""
    result = quick_check(source, stop=stop)
    if result.ok:
        return
    raise DamagedDatabaseError(
        f"the database {source} is damaged ({result.summary()}): no backup was taken and none was deleted. "
        + restore_hint(backup_dir, source.stem)
    )


#: Pages a stoppable backup copies between two looks at its stop flag (4 MiB of 4 KiB pages: a few ms each).
STOPPABLE_STEP_PAGES = 1024


def _copy_online(
    source: Path,
    target: Path,
    *,
    pages: int,
    progress: Callable[[int, int], None] | None,
    stop: StopSignal | None = None,
) -> None:
    """SQLite's online backup of `source` into the new file `target`, left as a single file (journal DELETE).

    With `stop`, the copy goes in steps and looks at the flag after each: `Stopped` aborts it (the caller deletes
    the partial file)."""
    if stop is not None and pages <= 0:
        pages = STOPPABLE_STEP_PAGES
    with (
        contextlib.closing(sqlite3.connect(readonly_uri(source), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):

        def report(_status: int, remaining: int, total: int) -> None:
            if stop is not None:
                stop.raise_if_stopped("the backup")  # raised here, sqlite3 abandons the copy
            if progress is not None:
                progress(total - remaining, total)

        src.backup(dst, pages=pages, progress=report)
        if stop is not None:
            stop.raise_if_stopped("the backup")
        # The copy carries the source's WAL flag; a backup should be one self-contained file.
        dst.execute("PRAGMA journal_mode = DELETE")


def take_backup(
    source: Path,
    backup_dir: Path,
    *,
    reason: str,
    out: Path | None = None,
    pages: int = -1,
    progress: Callable[[int, int], None] | None = None,
    wait_seconds: float = LOCK_WAIT_SECONDS,
    now: datetime | None = None,
    audit_check: Callable[[Path], str] | None = None,
    stop: StopSignal | None = None,
) -> VerifiedBackup:
    """Take a verified backup of `source`: into `backup_dir` (manifest, rotation), or exactly to `out`.

    Quick-checks the source first and refuses a damaged one (`DamagedDatabaseError`, nothing written or
    deleted); copies online under a temporary name; checks the copy in full and counts its rows; flushes it;
    renames it; records it in the manifest; rotates. `out` must not exist; it is neither listed nor rotated.
    `pages` > 0 copies in steps of that many pages (`progress(done, total)` after each).

    `audit_check(copy)` verifies the audit trail (services: the chain, the checkpoint and the log, and that the
    copy's chain is the database's): `AUDIT_INTACT` or the first problem, recorded in the manifest entry. A
    problem does not stop the backup (never lose data); the caller says so.

    `stop` (the desktop's daily backup: closing the window sets it) stops the backup between its steps and
    interrupts its checks: `Stopped` is raised, the partial file is deleted and nothing is renamed or entered
    in the manifest, so nothing left looks like a good backup.
    """
    with backup_lock(backup_dir, wait_seconds=wait_seconds):
        removed = remove_partials(backup_dir, source.stem)
        if removed:
            log.info("%d partial backup file(s) removed", len(removed))
        refuse_if_damaged(source, backup_dir, stop=stop)
        taken_at = (now or datetime.now(UTC)).astimezone(UTC)
        if out is None:
            target = backup_dir / backup_name(source.stem, taken_at, reason)
        else:
            if out.exists():
                raise DatabaseError(f"{out} already exists; choose a new file name")
            target = out
        partial = target.with_name(partial_name(target.name))
        for leftover in target.parent.glob(partial.name + "*"):  # a killed --out copy to the same name
            with contextlib.suppress(OSError):
                leftover.unlink()
        create_owner_only_file(partial)
        try:
            _copy_online(source, partial, pages=pages, progress=progress, stop=stop)
            checked = integrity_check(partial, stop=stop)
            if not checked.ok:
                raise DatabaseError(
                    f"the backup copy of {source} failed its integrity check ({checked.summary()}); it was deleted "
                    "and no backup was recorded"
                )
            _look(stop)
            counts = row_counts(partial)
            revision = schema_revision(partial)
            _look(stop)
            audit = _audit_of(partial, audit_check) if stop is None else _stoppable_audit_of(partial, audit_check, stop)
            _look(stop)
            fsync_file(partial)
            digest = file_sha256(partial) if stop is None else _stoppable_sha256(partial, stop)
            _look(stop)  # the last look: from here the backup is complete and verified, and only renamed
            if out is not None and sys.platform != "win32":
                os.link(partial, target)  # fails rather than overwrite a file made meanwhile
                partial.unlink()
            else:
                if target.exists():
                    raise DatabaseError(f"{target} already exists; choose a new file name")
                partial.replace(target)
            fsync_dir(target.parent)
        except (sqlite3.Error, IntegrityError, OSError) as exc:
            raise DatabaseError(f"the backup of {source} failed: {exc}; no backup was recorded") from exc
        finally:
            for leftover in target.parent.glob(partial.name + "*"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        stat = target.stat()
        entry = ManifestEntry(
            file=target.name,
            database=source.stem,
            taken_at=taken_at,
            reason=reason,
            sha256=digest,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            row_counts=counts,
            schema_revision=revision,
            audit=audit,
        )
        if out is None:
            write_manifest(backup_dir, [*read_manifest(backup_dir), entry])
            log.info("database backed up (%s) to %s and verified", reason, target.name)
            rotate_backups(backup_dir, source.stem, now=taken_at, locked=True)
        else:
            log.info("database backed up (%s) to a chosen file and verified", reason)
        return VerifiedBackup(target, entry, checked)


def _look(stop: StopSignal | None) -> None:
    """A step boundary of a stoppable backup."""
    if stop is not None:
        stop.raise_if_stopped("the backup")


def _stoppable_sha256(path: Path, stop: StopSignal) -> str:
    """`file_sha256`, looking at the stop flag between its 1 MiB pieces (a 2 GB file takes seconds)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            stop.raise_if_stopped("the backup")
            digest.update(chunk)
    return digest.hexdigest()


def _stoppable_audit_of(copy: Path, audit_check: Callable[[Path], str] | None, stop: StopSignal) -> str | None:
    """`_audit_of` on a thread of its own, waited for while looking at the stop flag every 50 ms.

    The audit check is Python over every event and referral (seconds on a large database) and has no steps of
    its own to stop at: when stopped, the backup stops at once (`Stopped`, the copy deleted) and the check, which
    only reads, is left to end on its daemon thread; its answer is dropped.
    """
    if audit_check is None:
        return None
    answer: list[str | None] = []
    thread = threading.Thread(
        target=lambda: answer.append(_audit_of(copy, audit_check)), name="triage-backup-audit", daemon=True
    )
    thread.start()
    while thread.is_alive():
        if stop.wait(0.05):
            stop.raise_if_stopped("the backup")
        thread.join(0.0)
    return answer[0] if answer else None


def _audit_of(copy: Path, audit_check: Callable[[Path], str] | None) -> str | None:
    """What `audit_check` says of the copy; a check that fails is a problem said in words, never a lost backup."""
    if audit_check is None:
        return None
    try:
        return audit_check(copy)
    except Exception as exc:  # the backup is kept whatever the check hit; the entry says it did not verify
        log.error("the audit trail could not be verified for a backup: %s", type(exc).__name__)
        return f"the audit trail could not be verified ({type(exc).__name__}: {exc})"


def backup_sqlite(source: Path, backup_dir: Path, *, reason: str) -> Path:
    """Take a verified backup of `source` into `backup_dir` (see `take_backup`); return its path."""
    return take_backup(source, backup_dir, reason=reason).path


def backup_due(backup_dir: Path, stem: str, *, now: datetime | None = None) -> bool:
    """True when the newest verified backup of `stem` is older than `DAILY_BACKUP_INTERVAL` (or there is none).

    A backup marked with an audit problem counts here: a broken trail must not make every start take another.
    """
    entry = newest_verified_entry(backup_dir, stem, audit=False)
    if entry is None:
        return True
    return (now or datetime.now(UTC)) - entry.taken_at > DAILY_BACKUP_INTERVAL


def daily_backup_if_due(
    db_path: Path,
    backup_dir: Path,
    *,
    now: datetime | None = None,
    audit_check: Callable[[Path], str] | None = None,
    stop: StopSignal | None = None,
) -> Path | None:
    """Take the daily backup if one is due; return it, or None when none was due or another is under way.

    Only verified backups in the manifest count (a killed or damaged one never resets the clock). A damaged
    database is never backed up: `DamagedDatabaseError` says so and names the newest verified backup. A
    missing or empty file (a database not made yet) has nothing to back up. Slow for a large database (a
    quick check, a copy and a full check of the copy): call it off the path to the first window, with `stop`
    so closing the window stops it (`Stopped`; nothing is recorded and no file is left that looks like a backup).
    """
    if not db_path.is_file() or db_path.stat().st_size == 0:
        return None
    if not backup_due(backup_dir, db_path.stem, now=now):
        return None
    try:
        made = take_backup(
            db_path, backup_dir, reason="daily", wait_seconds=0, now=now, audit_check=audit_check, stop=stop
        )
    except BackupBusy:
        log.info("daily backup skipped: another backup is under way")
        return None
    if made.entry.audit_problem is not None:
        log.error("the daily backup %s was kept and marked: the audit trail did not verify", made.path.name)
    return made.path


# --- rotation ------------------------------------------------------------------------------------------------


def keep_by_age(taken: Sequence[datetime], *, now: datetime) -> frozenset[int]:
    """Which backups rotation keeps, as indexes into `taken` (their UTC times); a pure function.

    Every backup younger than 2 days (or from the future: a clock put back) is kept; older ones are thinned
    to one a calendar day (UTC) up to 14 days, one an ISO week up to 8 weeks, and one a calendar month after
    that. In each day, week or month the oldest is kept, so a backup kept once is not swapped for a newer one
    as the days go by. The newest backup is always kept.
    """
    keep: set[int] = set()
    buckets: dict[tuple[str, int, int, int], int] = {}
    for index, when in enumerate(taken):
        age = now - when
        if age < KEEP_ALL_FOR:
            keep.add(index)
            continue
        day: date = when.astimezone(UTC).date()
        if age < KEEP_DAILY_FOR:
            key = ("day", day.year, day.month, day.day)
        elif age < KEEP_WEEKLY_FOR:
            iso = day.isocalendar()
            key = ("week", iso.year, iso.week, 0)
        else:
            key = ("month", day.year, day.month, 0)
        best = buckets.get(key)
        if best is None or when < taken[best]:
            buckets[key] = index
    keep.update(buckets.values())
    if taken:
        keep.add(max(range(len(taken)), key=lambda i: taken[i]))
    return frozenset(keep)


def rotate_backups(backup_dir: Path, stem: str, *, now: datetime | None = None, locked: bool = False) -> list[Path]:
    """Thin the verified backups of `stem` by age (`keep_by_age`); return the files deleted.

    Only manifest entries whose files are intact take part: files the manifest does not list, and listed files
    whose content changed, are never deleted. Entries whose files are gone are dropped from the manifest.
    """
    if not locked:
        with backup_lock(backup_dir):
            return rotate_backups(backup_dir, stem, now=now, locked=True)
    moment = now or datetime.now(UTC)
    entries = read_manifest(backup_dir)
    # A backup marked with an audit problem is evidence: never rotated away (nor counted for the thinning).
    candidates = [
        e for e in entries if e.database == stem and e.audit_problem is None and entry_intact(backup_dir, e) is None
    ]
    kept = keep_by_age([e.taken_at for e in candidates], now=moment)
    doomed = {candidates[i].file for i in range(len(candidates)) if i not in kept}
    deleted: list[Path] = []
    remaining = []
    for entry in entries:
        path = backup_dir / entry.file
        if entry.file in doomed:
            try:
                path.unlink()
                deleted.append(path)
                continue
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("rotation could not delete %s: %s", entry.file, exc.strerror or exc)
        elif not path.exists():
            log.warning("backup %s listed in the manifest is missing; its entry is dropped", entry.file)
            continue
        remaining.append(entry)
    if len(remaining) != len(entries):
        write_manifest(backup_dir, remaining)
    for path in deleted:
        log.info("rotation removed %s", path.name)
    return deleted
