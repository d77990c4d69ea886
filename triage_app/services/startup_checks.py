"""What a start does with a database it cannot simply open: a missing or emptied file (refused, with the backup
to restore offered), a damaged one or one that cannot be written (opened read-only, saying why). Importable
from services.app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from triage_app.services import permissions
from triage_app.services.logins import os_login
from triage_app.storage.backup import newest_verified_backup
from triage_app.storage.backup import restore_hint as backup_restore_hint
from triage_app.storage.engine import (
    EmptyDatabaseFile,
    MissingDatabaseFile,
    parse_database_url,
)
from triage_app.storage.preflight import (
    ReadOnlyKind,
    SqliteFileCheck,
    file_write_problem,
    probe_writable,
    signs_of_a_database,
)

log = logging.getLogger(__name__)

#: The actions of the role matrix (services.permissions) that write nothing to the database, and so stay allowed
#: while it is open read-only: looking, checking, exporting to a chosen folder, and restoring a backup (which
#: replaces the damaged file rather than writing into it).
READ_ONLY_ACTIONS = frozenset(
    {
        permissions.SCORE,
        permissions.VIEW_QUEUE,
        permissions.VIEW_REFERRAL,
        permissions.VIEW_MEETINGS,
        permissions.VIEW_USERS,
        permissions.VIEW_RULES,
        permissions.EXPORT_AGENDA,
        permissions.EXPORT_OUTCOMES,
        permissions.EXPORT_LETTERS,
        permissions.AUDIT_VERIFY,
        permissions.CHECK_DATABASE,
        permissions.RESTORE_BACKUP,
    }
)


def allowed_read_only(action: str) -> bool:
    """Whether the action (a name from services.permissions) may be offered on a database open read-only."""
    return action in READ_ONLY_ACTIONS


@dataclass(frozen=True, slots=True)
class ReadOnlyStart:
    """Why a database can only be read: the kind, the sentence that says what is wrong and what to do, and the
    newest verified backup for a damaged one."""

    kind: ReadOnlyKind
    reason: str
    newest_backup: Path | None = None


def restore_hint(path: Path, backup_dir: Path | None) -> str:
    """What to do about a lost or damaged database: the newest verified backup and the command that restores it
    (storage.backup's words), or, when there is none, not to destroy what is left."""
    newest = newest_verified_backup(backup_dir, path.stem) if backup_dir is not None else None
    hint = backup_restore_hint(backup_dir, path.stem)
    if newest is None:
        hint += f" Do not delete or replace {path.name}: ask the unit's IT contact."
    return hint


def refuse_a_missing_database(path: Path, backup_dir: Path | None) -> None:
    """Refuse (`MissingDatabaseFile`) to make a new database where the backups folder shows one was kept.

    A database file that has gone (moved, deleted, lost with a disk) must not be replaced, silently, by a new
    empty one: the queue would read "0 referrals" and whoever started the app would become its administrator.
    The message names the newest verified backup and `triage-app restore`, and how to start a new database on
    purpose. Nothing is created. A folder with no backups of this database and no audit checkpoint naming it
    is a first start: a new database is made there as before.
    """
    if path.exists() or path.is_symlink() or not path.parent.is_dir():
        return  # a file (checked later), or a missing folder (refused later in its own words)
    signs = signs_of_a_database(path, backup_dir)
    if not signs:
        return
    newest = newest_verified_backup(backup_dir, path.stem) if backup_dir is not None else None
    todo = backup_restore_hint(backup_dir, path.stem)
    if newest is None:
        todo += " Ask the unit's IT contact where the database file went."
    raise MissingDatabaseFile(
        f"The database file {path} is missing, yet a database was kept there: {'; '.join(signs)}. Nothing was "
        "created: a new, empty database in its place would hide the loss (and make whoever started the app its "
        f"administrator). {todo} If the file was moved, put it back. To start a new, empty database on purpose, "
        f"choose another data folder (--data-dir), or first move the backups folder {backup_dir} aside."
    )


def is_lost_database(error: BaseException) -> bool:
    """Whether a start failed because the database file is missing or empty (a backup answers it)."""
    return isinstance(error, (EmptyDatabaseFile, MissingDatabaseFile))


@dataclass(frozen=True, slots=True)
class RestoreOffer:
    """What the desktop offers when the database file is lost (missing or empty) and no session can open.

    `backup` is the newest verified backup (None: none); `may_restore` whether `login` is an active
    administrator in that backup (whose users are the ones that will count, as `restore_backup` decides);
    `why_not` says why not, in words.
    """

    backup: Path | None
    login: str
    may_restore: bool
    why_not: str = ""


def restore_offer(db_url: str, *, backup_dir: Path | None, login: str | None = None) -> RestoreOffer:
    """The newest verified backup of a lost SQLite database, and whether `login` (default: the OS account) may
    restore it. Reads only; `restore_backup` checks it all again when asked."""
    from triage_app.services.maintenance import sqlite_standing

    who = login or os_login()
    location = parse_database_url(db_url)
    if location.path is None or backup_dir is None:
        return RestoreOffer(None, who, False, "a database server is restored with its own tools")
    backup = newest_verified_backup(backup_dir, location.path.stem)
    if backup is None:
        return RestoreOffer(None, who, False, f"there is no verified backup in {backup_dir}")
    standing = sqlite_standing(backup, who)
    allowed = permissions.action(permissions.RESTORE_BACKUP).roles
    if standing is None or not (standing.exists and standing.active and standing.roles & allowed):
        return RestoreOffer(backup, who, False, f"'{who}' is not an administrator in the backup {backup.name}")
    return RestoreOffer(backup, who, True)


def damage_summary(problems: tuple[str, ...]) -> str:
    """SQLite's first complaint in one line, and how many more: `quick_check: On tree page 11 cell 4: ... (and 4
    more)`. SQLite returns several complaints in one multi-line row, headed `*** in database main ***`."""
    lines = [line.strip() for problem in problems for line in problem.splitlines()]
    lines = [line for line in lines if line and not line.startswith("***")]
    if not lines:
        return "quick_check: unknown problem"
    more = len(lines) - 1
    return f"quick_check: {lines[0]}" + (f" (and {more} more)" if more else "")


def read_only_start(check: SqliteFileCheck, backup_dir: Path | None) -> ReadOnlyStart | None:
    """Why an existing (or new) SQLite database can only be read now, or None when it can be written."""
    path = check.path
    if check.damaged:
        assert check.integrity is not None
        backup = newest_verified_backup(backup_dir, path.stem) if backup_dir is not None else None
        return ReadOnlyStart(
            ReadOnlyKind.DAMAGED,
            f"The database {path} is damaged ({damage_summary(check.integrity.problems)}); the app writes "
            "nothing to it. " + restore_hint(path, backup_dir),
            backup,
        )
    problem = (file_write_problem(path) if check.exists else None) or probe_writable(path.parent)
    if problem is None:
        return None
    if problem.kind is ReadOnlyKind.DISK_FULL:
        return ReadOnlyStart(
            problem.kind,
            f"The disk holding the database {path} is full ({problem.detail}), so no change can be saved. "
            "Free space on that disk, then start the app (or run the command) again.",
        )
    return ReadOnlyStart(
        problem.kind,
        f"The database {path} cannot be written ({problem.detail}: the file or its folder is read-only), so no "
        "change can be saved. Ask the unit's IT contact to make it writable, then start the app again.",
    )
