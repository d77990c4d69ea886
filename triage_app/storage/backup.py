"""Backups of the SQLite database with SQLite's online backup API (never a file copy, which can tear a
database that another process is writing), owner-only, pruned to the newest few."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from triage_app.storage.engine import BUSY_TIMEOUT_MS, DatabaseError, create_owner_only_file

log = logging.getLogger(__name__)

KEEP_BACKUPS = 20


def backup_sqlite(source: Path, backup_dir: Path, *, reason: str, keep: int = KEEP_BACKUPS) -> Path:
    """Copy the database at `source` into `backup_dir` online; return the new file's path."""
    try:
        backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise DatabaseError(f"cannot create the backup folder {backup_dir}: {exc.strerror or exc}") from exc
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"{source.stem}-{stamp}-{reason}.sqlite3"
    create_owner_only_file(target)
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)) as src,
            contextlib.closing(sqlite3.connect(target)) as dst,
        ):
            src.backup(dst)
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise DatabaseError(f"the backup of {source} to {target} failed: {exc}") from exc
    log.info("database backed up (%s) to %s", reason, target.name)
    prune_backups(backup_dir, source.stem, keep)
    return target


def list_backups(backup_dir: Path, stem: str) -> list[Path]:
    """Backups of the database named `stem`, oldest first."""
    if not backup_dir.is_dir():
        return []
    return sorted(backup_dir.glob(f"{stem}-*.sqlite3"))


def prune_backups(backup_dir: Path, stem: str, keep: int) -> None:
    """Delete all but the newest `keep` backups of `stem`."""
    for old in list_backups(backup_dir, stem)[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()
