"""The backups folder's files and manifest: names, checksums, the manifest read and written (fsynced), and which
backups are intact and verified. Part of storage.backup (importable from there).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage_app.storage.engine import DatabaseError
from triage_app.storage.integrity import (
    IntegrityResult,
    describe_counts,
)

log = logging.getLogger(__name__)


MANIFEST_NAME = "manifest.json"
PARTIAL_SUFFIX = ".partial"
MANIFEST_FORMAT = 1
#: A manifest entry's `audit` when the audit trail verified as the backup was taken.
AUDIT_INTACT = "intact"


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One verified backup as the manifest records it."""

    file: str
    database: str  # the stem of the database file it copies ("triage")
    taken_at: datetime  # UTC, when the copy's snapshot was taken
    reason: str  # daily, manual, before-upgrade
    sha256: str
    size: int
    mtime_ns: int
    row_counts: dict[str, int] = field(default_factory=dict)
    schema_revision: str | None = None
    integrity: str = "ok"
    # The audit trail as verified when the backup was taken: AUDIT_INTACT, or the first problem found (the backup
    # is kept and marked); None for a backup taken before backups verified the trail.
    audit: str | None = None

    @property
    def audit_problem(self) -> str | None:
        """The audit trail's first problem when the backup was taken, or None (intact, or not checked then)."""
        return None if self.audit is None or self.audit == AUDIT_INTACT else self.audit

    def describe_audit(self) -> str:
        """`audit: intact`, `audit: did not verify: ...`, or `audit: not checked (taken before ...)`."""
        if self.audit is None:
            return "audit: not checked (taken before backups verified the audit trail)"
        return "audit: intact" if self.audit == AUDIT_INTACT else f"audit: did not verify: {self.audit}"

    def to_json(self) -> dict[str, Any]:
        """The entry as the manifest's JSON holds it."""
        data = asdict(self)
        data["taken_at"] = self.taken_at.astimezone(UTC).isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestEntry:
        """Read an entry back; `ValueError`/`KeyError`/`TypeError` for one that is not well formed."""
        taken = datetime.fromisoformat(str(data["taken_at"]))
        if taken.tzinfo is None:
            raise ValueError("taken_at has no time zone")
        counts = data.get("row_counts") or {}
        if not isinstance(counts, dict):
            raise TypeError("row_counts is not an object")
        revision = data.get("schema_revision")
        return cls(
            file=str(data["file"]),
            database=str(data["database"]),
            taken_at=taken.astimezone(UTC),
            reason=str(data["reason"]),
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            mtime_ns=int(data["mtime_ns"]),
            row_counts={str(k): int(v) for k, v in counts.items()},
            schema_revision=None if revision is None else str(revision),
            integrity=str(data.get("integrity", "ok")),
            audit=None if data.get("audit") is None else str(data["audit"]),
        )

    def describe(self) -> str:
        """`triage-20260105T081500123456Z-daily.sqlite3 (taken 2026-01-05 08:15 UTC, 312 referrals, ...)`."""
        counts = describe_counts(self.row_counts)
        when = self.taken_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"{self.file} (taken {when}" + (f", {counts})" if counts else ")")


@dataclass(frozen=True, slots=True)
class VerifiedBackup:
    """A backup just taken and checked: where it is, and its manifest entry (also for `--out` copies)."""

    path: Path
    entry: ManifestEntry
    integrity: IntegrityResult

    def describe_verification(self) -> str:
        """`integrity ok, 312 referrals, 1204 audit events; audit: intact` (or `audit: did not verify: ...`)."""
        counts = describe_counts(self.entry.row_counts)
        audit = "" if self.entry.audit is None else f"; {self.entry.describe_audit()}"
        return self.integrity.summary() + (f", {counts}" if counts else "") + audit


# --- files and the manifest -----------------------------------------------------------------------------------


def backup_name(stem: str, taken_at: datetime, reason: str) -> str:
    """The file name of a backup in the backups folder: `triage-20260105T081500123456Z-daily.sqlite3`."""
    return f"{stem}-{taken_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{reason}.sqlite3"


def partial_name(final_name: str) -> str:
    """The temporary name a backup is written under: hidden, and not matched by `list_backups`."""
    return f".{final_name}{PARTIAL_SUFFIX}"


def list_backups(backup_dir: Path, stem: str) -> list[Path]:
    """Files named like backups of the database `stem`, oldest first: verified or not (see `verified_backups`)."""
    if not backup_dir.is_dir():
        return []
    return sorted(p for p in backup_dir.glob(f"{stem}-*.sqlite3") if p.is_file())


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX; Windows has no directory handles to flush)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(backup_dir: Path) -> list[ManifestEntry]:
    """The manifest's entries, in the order they were added; [] when there is none.

    A manifest that cannot be read is moved aside (`manifest.json.unreadable-STAMP`, kept for whoever looks) and
    an empty one begins: the backups it listed are then kept but not counted, which is safe (no rotation
    deletes them, and the next daily backup is taken at once). Entries that are not well formed are skipped.
    """
    path = backup_dir / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise DatabaseError(f"the backup manifest {path} cannot be read: {exc}") from exc
    try:
        data = json.loads(text)
        items = data["backups"]
        if not isinstance(items, list):
            raise TypeError("backups is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        aside = path.with_name(f"{MANIFEST_NAME}.unreadable-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
        log.error("the backup manifest %s is not readable (%s); moved aside to %s", path, exc, aside.name)
        with contextlib.suppress(OSError):
            path.replace(aside)
        return []
    entries = []
    for item in items:
        try:
            entries.append(ManifestEntry.from_json(item))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("a backup manifest entry is not well formed and is ignored: %s", exc)
    return entries


def write_manifest(backup_dir: Path, entries: Sequence[ManifestEntry]) -> None:
    """Replace the manifest atomically: a temporary file, flushed, then renamed over the old one."""
    path = backup_dir / MANIFEST_NAME
    temporary = backup_dir / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
    payload = {"format": MANIFEST_FORMAT, "backups": [e.to_json() for e in entries]}
    try:
        fd = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        fsync_dir(backup_dir)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise DatabaseError(f"the backup manifest {path} cannot be written: {exc.strerror or exc}") from exc


def entry_intact(backup_dir: Path, entry: ManifestEntry, *, full: bool = False) -> str | None:
    """None when the entry's file is there with the recorded content; otherwise what is wrong, in words.

    Lazily (`full=False`) a file with the recorded size and modification time is trusted without reading it;
    when either differs, or with `full=True`, its SHA-256 decides.
    """
    path = backup_dir / entry.file
    try:
        stat = path.stat()
    except FileNotFoundError:
        return f"{entry.file} is missing"
    except OSError as exc:
        return f"{entry.file} cannot be read: {exc.strerror or exc}"
    if stat.st_size != entry.size:
        return f"{entry.file} has changed since it was taken (size {stat.st_size:,} bytes, recorded {entry.size:,})"
    if not full and stat.st_mtime_ns == entry.mtime_ns:
        return None
    try:
        digest = file_sha256(path)
    except OSError as exc:
        return f"{entry.file} cannot be read: {exc.strerror or exc}"
    if digest != entry.sha256:
        return f"{entry.file} has changed since it was taken (its SHA-256 differs from the manifest's)"
    return None


def verified_backups(
    backup_dir: Path, stem: str, *, full: bool = False, audit: bool = True
) -> list[tuple[Path, ManifestEntry]]:
    """The backups of `stem` the manifest lists whose files are intact (see `entry_intact`), oldest first.

    `audit`: only those whose audit trail was not found broken when they were taken (the ones the app offers
    and names as "the newest verified backup"); False: every intact file (the daily-backup clock).
    """
    if not backup_dir.is_dir():
        return []
    found = [
        (backup_dir / e.file, e)
        for e in read_manifest(backup_dir)
        if e.database == stem
        and not (audit and e.audit_problem is not None)
        and entry_intact(backup_dir, e, full=full) is None
    ]
    return sorted(found, key=lambda pair: pair[1].taken_at)


def newest_verified_entry(backup_dir: Path, stem: str, *, audit: bool = True) -> ManifestEntry | None:
    """The manifest entry of the newest verified backup of `stem` (its integrity and, by default, its audit
    trail), or None."""
    found = verified_backups(backup_dir, stem, audit=audit)
    return found[-1][1] if found else None


def newest_verified_backup(backup_dir: Path, stem: str) -> Path | None:
    """The newest verified backup of the database `stem` in `backup_dir` (its integrity and its audit trail: a
    backup marked with an audit problem is never offered), or None."""
    found = verified_backups(backup_dir, stem)
    return found[-1][0] if found else None


def find_entry(backup_dir: Path, path: Path) -> ManifestEntry | None:
    """The manifest entry of the file at `path`, if `path` is in `backup_dir` and the manifest lists it."""
    try:
        if path.resolve().parent != backup_dir.resolve():
            return None
    except OSError:
        return None
    return next((e for e in read_manifest(backup_dir) if e.file == path.name), None)


def restore_hint(backup_dir: Path | None, stem: str) -> str:
    """What to say about restoring: the newest verified backup and the command, or that there is none."""
    entry = newest_verified_entry(backup_dir, stem) if backup_dir is not None else None
    if entry is None:
        where = f" in {backup_dir}" if backup_dir is not None else ""
        return f"There is no verified backup{where} to restore."
    return f"The newest verified backup is {entry.describe()}: restore it with `triage-app restore {entry.file}`."
