"""Looking after the database file: verified backups on demand, `check`, and `restore`.

`check_database` and `restore_backup` work on a database that may be damaged, so neither opens it the way the
app does (which migrates and writes): they read it through read-only connections (storage.integrity) and look
the user up there. Who may do what is the role matrix's (services/permissions.py): checking needs an active
role; restoring needs the admin role. On a file so damaged that its user table cannot be read, `check` runs
anyway (it shows no patient data, and finding the damage is what it is for) and says it could not check who
ran it; `restore` then looks the administrator up in the backup being restored, the database that will be used
from then on (an administrator there, and the OS account they are signed in as, is who restores).

Restoring: the backup is verified (a full integrity check, and its SHA-256 against the manifest when the
manifest lists it), copied beside the database under a temporary name, and the database is checked to be open
in no other program (SQLite: an exclusive lock, with no wait, through a hard link of the file, so that the
check neither checkpoints nor deletes a crash-left -wal). The current file and its -wal, -shm and -journal are
then moved into `backups/replaced-<UTC stamp>/` (never deleted), the copy is renamed into place (owner-only),
opened (and upgraded if the backup is of an older schema), the restore is recorded in the audit trail, and the
audit checkpoint outside the database is restarted at the restored chain's head.

SQLite only, the restore and the integrity check: a PostgreSQL database is backed up with pg_dump and restored
with pg_restore (README, "Backups, checks and restore"); `check` on a server counts rows and leaves the pages to
the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from triage_app.services.auditing import audit

# Split by concern, every name importable from here as before: what the use cases share
# (services.maintenance_common), `check` (services.db_check) and `restore` (services.restore, its file moves in
# services.restore_files).
from triage_app.services.db_check import BackupCheck as BackupCheck
from triage_app.services.db_check import CheckReport as CheckReport
from triage_app.services.db_check import check_database as check_database
from triage_app.services.errors import ServiceError
from triage_app.services.maintenance_common import IN_USE as IN_USE
from triage_app.services.maintenance_common import SIDE_FILES as SIDE_FILES
from triage_app.services.maintenance_common import DatabaseInUse as DatabaseInUse
from triage_app.services.maintenance_common import RestoreFailed as RestoreFailed
from triage_app.services.maintenance_common import RestoreRefused as RestoreRefused
from triage_app.services.maintenance_common import Standing as Standing
from triage_app.services.maintenance_common import sqlite_standing as sqlite_standing
from triage_app.services.permissions import BACKUP, authorize
from triage_app.services.restore import NOT_IN_MANIFEST_AUDIT as NOT_IN_MANIFEST_AUDIT
from triage_app.services.restore import RestoreReport as RestoreReport
from triage_app.services.restore import resolve_backup as resolve_backup
from triage_app.services.restore import restore_backup as restore_backup
from triage_app.services.restore import restore_question as restore_question
from triage_app.services.users import Actor
from triage_app.storage.backup import (
    VerifiedBackup,
    take_backup,
)
from triage_app.storage.engine import (
    Database,
    DatabaseError,
)

log = logging.getLogger(__name__)

# --- backups on demand -----------------------------------------------------------------------------------------


def take_verified_backup(
    db: Database,
    *,
    actor: Actor,
    backup_dir: Path,
    out: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    log_dir: Path | None = None,
) -> VerifiedBackup:
    """A verified backup now (storage.backup.take_backup), audited; into `backup_dir` or exactly to `out`.

    A damaged database is refused (`DamagedDatabaseError`, naming the newest verified backup). The audit trail
    is verified too, as `audit verify` does (the app log in `log_dir`, by default the data folder's logs/): the
    result is in the manifest entry (`entry.audit`); a trail that did not verify is backed up all the same, and
    the entry marks it (the caller says so), and no audit event is written on top of the broken trail (the log
    records the backup), so the evidence stays as it was found. Otherwise the audit event is written after the backup: if it cannot be (a
    database that can only be read), the error says the backup was taken and verified all the same.
    """
    authorize(actor, BACKUP, db=db)
    source = db.location.path
    if source is None:
        raise ServiceError(
            "backups of a database server are made by its own tools (pg_dump), not by the app: see the README, "
            "Backups, checks and restore"
        )
    if out is not None and out.exists():
        raise ServiceError(f"{out} already exists; choose a new file name")
    if out is not None and out.resolve() == source.resolve():
        raise ServiceError(f"{out} is the database itself; choose a new file name")
    from triage_app.services.audit import backup_audit_check, logs_beside

    check = backup_audit_check(db, log_dir=log_dir if log_dir is not None else logs_beside(backup_dir))
    made = take_backup(source, backup_dir, reason="manual", out=out, progress=progress, audit_check=check)
    if made.entry.audit_problem is not None:
        # An event written now would sit on top of the broken chain and change what `audit verify` sees (a deletion
        # would then read as a rewrite): the trail is left exactly as found, and the backup is recorded in the log.
        log.warning("backup %s taken and marked; no audit event written on a trail that did not verify", made.path.name)
        return made
    try:
        with db.write() as session:
            audit(
                session,
                actor,
                "backup",
                "database",
                None,
                {
                    "file": [None, made.path.name],
                    "sha256": [None, made.entry.sha256],
                    "row_counts": [None, made.entry.row_counts],
                    "audit": [None, made.entry.audit],
                },
            )
    except DatabaseError as exc:
        raise DatabaseError(
            f"the backup {made.path} was taken and verified ({made.describe_verification()}), but its audit event "
            f"could not be written: {exc}"
        ) from exc
    return made


def backup_now(db: Database, *, actor: Actor, backup_dir: Path, out: Path | None = None) -> Path:
    """A verified, audited backup now (see `take_verified_backup`); its path."""
    return take_verified_backup(db, actor=actor, backup_dir=backup_dir, out=out).path
