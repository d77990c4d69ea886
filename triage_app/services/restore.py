"""`restore`: a verified backup put in place of the database by an administrator, the current file kept aside,
the restore audited and the audit checkpoint restarted (see services.maintenance for the whole procedure).
Importable from services.maintenance.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from triage_app.services.auditing import audit
from triage_app.services.changes import EVERYTHING, Changes
from triage_app.services.errors import PermissionDenied
from triage_app.services.maintenance_common import (
    SIDE_FILES,
    RestoreRefused,
    Standing,
    not_completed,
    permits,
    sqlite_standing,
)
from triage_app.services.permissions import RESTORE_BACKUP
from triage_app.services.restore_files import put_back, sole_user, stage_copy, swap_in
from triage_app.storage.audit import ACCEPTED_MARK
from triage_app.storage.backup import (
    ManifestEntry,
    backup_lock,
    entry_intact,
    file_sha256,
    find_entry,
)
from triage_app.storage.engine import (
    Database,
    DatabaseError,
    DatabaseLocation,
    parse_database_url,
    sqlite_url,
)
from triage_app.storage.integrity import (
    IntegrityError,
    describe_counts,
    integrity_check,
    row_counts,
    schema_revision,
)
from triage_app.storage.models import AuditChainHead

log = logging.getLogger(__name__)

# --- restore -------------------------------------------------------------------------------------------------


NOT_IN_MANIFEST_AUDIT = "audit: not checked (the backup is not in the manifest)"


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What `restore_backup` did: which backup (when it was taken, its counts), and where the old file went."""

    backup: Path
    taken_at: datetime | None  # from the manifest; None for a backup it does not list
    sha256: str
    row_counts: dict[str, int]
    schema_revision: str
    listed: bool  # the manifest listed it (else it was verified now, by a full check)
    replaced_dir: Path | None  # None when there was no file to keep aside (no folder is made)
    moved: tuple[Path, ...]  # the files moved aside, at their new places
    authorized_in: str  # "the current database" or "the backup"
    checkpoint: str  # what happened to the audit checkpoint outside the database
    # The backup's audit trail as verified when it was taken (`audit: intact`, `audit: did not verify: ...`
    # when accepted with --accept-audit-problem, `audit: not checked ...`).
    audit: str = NOT_IN_MANIFEST_AUDIT

    @property
    def changes(self) -> Changes:
        """A restore may have changed anything: every view reloads."""
        return EVERYTHING

    def describe(self) -> str:
        """`restored triage-...-daily.sqlite3 (taken 2026-01-05 08:15 UTC): 312 referrals, 1204 audit events`."""
        when = f"taken {self.taken_at.strftime('%Y-%m-%d %H:%M UTC')}" if self.taken_at else "not in the manifest"
        return f"restored {self.backup.name} ({when}): {describe_counts(self.row_counts)}"


def restore_question(
    db_path: Path, backup: Path, *, backup_dir: Path, replacing: str = "the database", now: datetime | None = None
) -> str:
    """What the desktop asks before a restore: the backup with its time (local and UTC) and counts, and exactly
    what will be kept aside (or that there is no file). `replacing` names what it replaces (`the damaged
    database`). Reads only; the restore checks it all again."""
    entry = find_entry(backup_dir, backup)
    if entry is not None:
        taken = entry.taken_at.astimezone(UTC)
        local = taken.astimezone()
        when = f"taken {local.strftime('%d %b %Y %H:%M')} local time ({taken.strftime('%Y-%m-%d %H:%M')} UTC)"
        counts = describe_counts(entry.row_counts)
    else:
        when = "not in the backups folder's manifest: it is checked in full before it is restored"
        counts = ""
    present = [db_path.with_name(n) for n in (db_path.name, *(db_path.name + s for s in SIDE_FILES))]
    present = [p for p in present if p.exists()]
    if present:
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M")
        aside = (
            f"Kept aside, not deleted: {', '.join(p.name for p in present)} (from {db_path.parent}) are moved into "
            f"a new folder replaced-{stamp}… in the backups folder {backup_dir}."
        )
    else:
        aside = f"There is no database file at {db_path} now, so nothing is kept aside."
    return (
        f"Put the backup {backup.name} in place of {replacing}?\n\nThe backup was {when}"
        + (f": {counts}" if counts else "")
        + ".\nChanges made after it was taken are not in it.\n\n"
        + aside
        + "\n\nThe restore is recorded in the audit trail."
    )


def resolve_backup(backup_dir: Path, given: str) -> Path:
    """The backup a user named: a path, or a file name in the backups folder; `RestoreRefused` if neither."""
    if not given.strip():
        raise RestoreRefused("name a backup: a file in the backups folder or a path to one")
    path = Path(given).expanduser()
    if path.is_file():
        return path.resolve()
    in_folder = backup_dir / given
    if Path(given).name == given and in_folder.is_file():
        return in_folder.resolve()
    raise RestoreRefused(
        f"there is no backup '{given}' (looked for the file, and in {backup_dir}); nothing was changed"
    )


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory

    from triage_app.storage.migrate import alembic_config

    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown revision
        return False
    return True


def _verify_backup(backup_dir: Path, backup: Path) -> tuple[ManifestEntry | None, str, dict[str, int], str]:
    """Check a backup fit to restore: (its manifest entry or None, SHA-256, row counts, schema revision)."""
    checked = integrity_check(backup)
    if not checked.ok:
        raise RestoreRefused(f"the backup {backup} is damaged ({checked.summary()}); nothing was changed")
    entry = find_entry(backup_dir, backup)
    if entry is not None:
        problem = entry_intact(backup_dir, entry, full=True)
        if problem is not None:
            raise RestoreRefused(f"{problem}: it is not restored; nothing was changed. Choose another backup")
        digest = entry.sha256
    else:
        digest = file_sha256(backup)
    try:
        revision = schema_revision(backup)
        counts = row_counts(backup)
    except IntegrityError as exc:
        raise RestoreRefused(f"the backup {backup} cannot be read: {exc}; nothing was changed") from exc
    if revision is None:
        raise RestoreRefused(
            f"{backup} is not a backup of a triage database (it has no schema version); nothing was changed"
        )
    if not _known_revision(revision):
        raise RestoreRefused(
            f"the backup {backup} was written by a newer version of the triage app (schema {revision}); install "
            "that version to restore it. Nothing was changed"
        )
    return entry, digest, counts, revision


def _authorize_restore(db_path: Path, backup: Path, login: str) -> str:
    """Check `login` may restore; return where they were looked up."""
    current = sqlite_standing(db_path, login) if db_path.is_file() else None
    if current is not None:
        if not permits(current, RESTORE_BACKUP):
            raise _restore_refusal(login, current, "the current database")
        return "the current database"
    # The current file's users cannot be read (damaged, empty, missing): the backup's are the ones that will count.
    in_backup = sqlite_standing(backup, login)
    if in_backup is None:
        raise RestoreRefused(
            f"the users of the backup {backup.name} cannot be read, so it cannot be restored; nothing "
            "was changed. Choose another backup"
        )
    if not permits(in_backup, RESTORE_BACKUP):
        why = "the current file's users cannot be read" if db_path.is_file() else "there is no current database file"
        raise _restore_refusal(login, in_backup, f"the backup {backup.name} ({why})")
    return "the backup"


def _restore_refusal(login: str, standing: Standing, where: str) -> PermissionDenied:
    """`only an administrator can restore a backup; Cara Coord (login 'coord1', coordinator) is not an
    administrator in the backup X (...). Nothing was changed.`"""
    if not standing.exists:
        who = f"login '{login}' is not a user of {where}"
    elif not standing.active:
        who = f"{standing.display_name} (login '{login}') is deactivated in {where}"
    elif not standing.roles:
        who = f"{standing.display_name} (login '{login}') has no role in {where}"
    else:
        who = (
            f"{standing.display_name} (login '{login}', {standing.describe_roles()}) is not an administrator in {where}"
        )
    return PermissionDenied(f"only an administrator can restore a backup; {who}. Nothing was changed.")


def _record_restore(db_path: Path, *, login: str, changes: dict[str, object]) -> tuple[int, str, str | None]:
    """Open the restored database (upgrading an older schema), audit the restore; return the chain head and the
    database's id (the backup's; made with this event if the backup had none)."""
    from triage_app.storage.migrate import migrate

    database = Database(parse_database_url(sqlite_url(db_path)))
    try:
        migrate(database, backup_dir=None)  # the backup itself is the copy from before any upgrade
        with database.write() as session:
            audit(session, login, "restore", "database", None, changes)
        from triage_app.storage.audit import read_database_id

        with database.read() as session:
            head = session.get(AuditChainHead, 1)
            assert head is not None  # the event just recorded made one
            return head.last_event_id, head.last_hash, read_database_id(session.connection())
    finally:
        database.dispose()


def _restart_checkpoint(
    backup_dir: Path, *, head_id: int, head_hash: str, reason: str, database: str, database_id: str | None = None
) -> str:
    try:
        from triage_app.storage.audit import log_chain_restart
        from triage_app.storage.audit_checkpoint import checkpoint_path, restart_checkpoint
    except ImportError:  # the checkpoint outside the database is another part of the app
        return "no audit checkpoint outside the database in this version"
    # The log's marker first (it stands even if the checkpoint cannot be written): `audit verify` ignores the
    # heads logged before it, which belong to the replaced file.
    log_chain_restart(head_id, head_hash, reason=reason, database=database_id or database)
    path = checkpoint_path(backup_dir)
    try:
        # Named by the restored database's id from now on (the replaced file's name stays in its history).
        restart_checkpoint(path, head_id=head_id, head_hash=head_hash, reason=reason, database=database_id)
    except OSError as exc:
        log.error("the audit checkpoint could not be restarted after a restore: %s", exc)
        return f"the audit checkpoint {path} could not be restarted ({exc.strerror or exc}): `audit verify` will say so"
    return f"the audit checkpoint {path.name} restarted at event {head_id}"


def restore_backup(
    location: DatabaseLocation,
    backup: Path,
    *,
    login: str,
    backup_dir: Path,
    now: datetime | None = None,
    accept_audit_problem: bool = False,
) -> RestoreReport:
    """Put a verified backup in place of the database (administrators); keep the current file aside.

    Refuses, changing nothing, when the backup is damaged, changed since the manifest recorded it, not a triage
    database or from a newer version; when `login` is not an active administrator (of the current database if
    its users can be read, else of the backup); and when another program has the database open. Works on a
    damaged database: nothing here opens it except read-only and through the lock check.

    A backup the manifest marks because its audit trail did not verify when it was taken is refused unless
    `accept_audit_problem` (the CLI's --accept-audit-problem; the desktop never offers one): then the restore's
    audit event, its log marker and the checkpoint's history record that it was accepted.
    """
    if location.path is None:
        raise RestoreRefused(
            "a database server is restored with its own tools (pg_restore or psql from a pg_dump file), not by the "
            "app: see the README, Backups, checks and restore"
        )
    db_path = location.path.resolve()
    source = backup.resolve()
    if not source.is_file():
        raise RestoreRefused(f"there is no backup at {backup}; nothing was changed")
    if source == db_path:
        raise RestoreRefused(f"{backup} is the database itself, not a backup of it; nothing was changed")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    with backup_lock(backup_dir):
        entry, digest, counts, revision = _verify_backup(backup_dir, source)
        authorized_in = _authorize_restore(db_path, source, login)
        audit_problem = entry.audit_problem if entry is not None else None
        if audit_problem is not None and not accept_audit_problem:
            raise RestoreRefused(_marked_backup(source.name, audit_problem))
        try:
            staged = stage_copy(source, db_path, digest)  # removes its partial copy itself when it fails
        except (OSError, sqlite3.Error, DatabaseError) as exc:  # a full disk: nothing was moved yet
            raise not_completed(exc, db_path) from exc
        try:
            replaced_dir = backup_dir / f"replaced-{moment.strftime('%Y%m%dT%H%M%S%fZ')}"
            if sys.platform == "win32":  # pragma: no cover - a file open elsewhere cannot be renamed there
                with sole_user(db_path):
                    pass
                moved = swap_in(db_path, staged, replaced_dir)
            else:
                with sole_user(db_path):  # held while moving: nobody opens the old file meanwhile
                    moved = swap_in(db_path, staged, replaced_dir)
        except (OSError, sqlite3.Error) as exc:  # the lock check itself failed: nothing was moved
            raise not_completed(exc, db_path) from exc
        finally:
            with contextlib.suppress(OSError):
                staged.unlink()
        changes: dict[str, object] = {
            "restored_from": [None, source.name],
            "backup_taken_at": [None, entry.taken_at.isoformat() if entry is not None else None],
            "backup_sha256": [None, digest],
            "backup_row_counts": [None, counts],
            "replaced_file_kept_in": [None, str(replaced_dir) if moved else None],
            "listed_in_manifest": [None, entry is not None],
            "authorized_in": [None, authorized_in],
        }
        if audit_problem is not None:
            changes["audit_problem_accepted"] = [None, audit_problem]
        try:
            head_id, head_hash, database_id = _record_restore(db_path, login=login, changes=changes)
        except Exception as exc:  # not audited, so not done: the current database goes back where it was
            put_back(db_path, moved, replaced_dir, exc, restored=True)
            raise
        log.warning(
            "database restored from backup %s; the replaced file was kept in %s",
            source.name,
            replaced_dir if moved else "(none: there was no file)",
        )
        checkpoint = _restart_checkpoint(
            backup_dir,
            head_id=head_id,
            head_hash=head_hash,
            reason=f"restore of {source.name} by {login}" + (f", {ACCEPTED_MARK}" if audit_problem else ""),
            database=sqlite_url(db_path),
            database_id=database_id,
        )
    return RestoreReport(
        backup=source,
        taken_at=entry.taken_at if entry is not None else None,
        sha256=digest,
        row_counts=counts,
        schema_revision=revision,
        listed=entry is not None,
        replaced_dir=replaced_dir if moved else None,
        moved=moved,
        authorized_in=authorized_in,
        checkpoint=checkpoint,
        audit=(
            entry.describe_audit() + ("; accepted by the administrator" if audit_problem is not None else "")
            if entry is not None
            else NOT_IN_MANIFEST_AUDIT
        ),
    )


def _marked_backup(name: str, problem: str) -> str:
    """The refusal of a backup marked because its audit trail did not verify when it was taken."""
    return (
        f"the backup {name} is marked: its audit trail did not verify when it was taken ({problem}). Restoring it "
        "would put that trail back as if it were sound, so it is not restored; nothing was changed. Restore an "
        "earlier backup (`triage-app check` shows each backup's audit state), or, if an administrator has looked "
        f"into the problem and this is the backup to use, run `triage-app restore {name} --accept-audit-problem`: "
        "the restore then records in the audit trail, the app log and the audit checkpoint that it was accepted"
    )
