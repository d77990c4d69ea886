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

import contextlib
import errno
import logging
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import col

from triage_app.domain.workflow import ROLES
from triage_app.services.auditing import audit
from triage_app.services.changes import EVERYTHING, Changes
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.permissions import BACKUP, CHECK_DATABASE, RESTORE_BACKUP, action, authorize
from triage_app.services.users import Actor
from triage_app.storage.audit import ACCEPTED_MARK
from triage_app.storage.backup import (
    ManifestEntry,
    VerifiedBackup,
    backup_lock,
    entry_intact,
    file_sha256,
    find_entry,
    list_backups,
    read_manifest,
    take_backup,
)
from triage_app.storage.engine import (
    OWNER_ONLY,
    Database,
    DatabaseError,
    DatabaseFull,
    DatabaseLocation,
    create_owner_only_file,
    parse_database_url,
    sqlite_url,
)
from triage_app.storage.integrity import (
    IntegrityError,
    IntegrityResult,
    UnreadableError,
    describe_counts,
    disk_state,
    integrity_check,
    is_io_error,
    open_readonly,
    row_counts,
    schema_revision,
)
from triage_app.storage.models import AppUser, AuditChainHead

log = logging.getLogger(__name__)

#: The files SQLite keeps beside a database, moved aside with it on a restore.
SIDE_FILES = ("-wal", "-shm", "-journal")
IN_USE = (
    "another program (perhaps the desktop app) has the database {path} open; close it and try again. "
    "Nothing was changed."
)


class RestoreRefused(ServiceError):
    """A restore that cannot go ahead; nothing was changed, and the message says why."""


class DatabaseInUse(RestoreRefused):
    """Another program has the database open."""


class RestoreFailed(RestoreRefused):
    """The restore stopped part-way (a full disk, a folder that cannot be written); the message says what was
    put back, and where the files are if they could not be."""


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def _why_stopped(exc: BaseException, folder: Path) -> str:
    """Why a restore stopped, in words: `the disk is full (No space left on device)`, or the error's own words."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            said = seen.strerror or str(seen)
            if seen.errno in _FULL_ERRNOS:
                return f"the disk is full ({said})"
            if seen.errno in _READ_ONLY_ERRNOS:
                return f"the folder {folder} cannot be written ({said})"
            return said
        if isinstance(seen, DatabaseFull) or (getattr(seen, "sqlite_errorcode", 0) or 0) & 0xFF == 13:
            return "the disk is full (database or disk is full)"
        seen = seen.__cause__
    if is_io_error(exc) and (state := disk_state(folder)) is not None:
        return f"{state} ({exc})"
    return str(exc)


def _not_completed(exc: BaseException, db_path: Path) -> RestoreFailed:
    log.error("restore not completed: %s; nothing was changed", type(exc).__name__)
    return RestoreFailed(
        f"the restore could not be completed: {_why_stopped(exc, db_path.parent)}; nothing was changed: the current "
        f"database is where it was ({db_path})"
    )


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


# --- who is asking, read without opening the database for writing -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """A user as a database file records them: found, active, their name and roles."""

    exists: bool
    active: bool
    display_name: str
    roles: frozenset[str]

    def describe_roles(self) -> str:
        """Roles in the fixed order, or `no role`."""
        return ", ".join(r for r in ROLES if r in self.roles) or "no role"


def sqlite_standing(path: Path, login: str) -> Standing | None:
    """How `login` stands in the SQLite file at `path`, read-only; None when its user table cannot be read."""
    try:
        with open_readonly(path) as connection:
            row = connection.execute(
                "SELECT id, is_active, display_name FROM app_user WHERE login = ?", (login,)
            ).fetchone()
            if row is None:
                connection.execute("SELECT count(*) FROM user_role").fetchone()  # the table is readable
                return Standing(False, False, login, frozenset())
            roles = connection.execute("SELECT role FROM user_role WHERE user_id = ?", (row[0],)).fetchall()
    except (sqlite3.Error, IntegrityError):
        return None
    return Standing(True, bool(row[1]), str(row[2]), frozenset(str(r) for (r,) in roles))


def _refusal(login: str, standing: Standing, name: str, where: str) -> PermissionDenied:
    wanted = action(name)
    needs = f"cannot {wanted.label}: it needs the {wanted.allowed()} role ({where})."
    if not standing.exists:
        return PermissionDenied(f"login '{login}' is not a user of {where.split(' (')[0]}, so {needs}")
    if not standing.active or not standing.roles:
        extra = ", deactivated" if not standing.active else ""
        return PermissionDenied(f"{standing.display_name} has no active role (login '{login}'{extra}), so {needs}")
    return PermissionDenied(f"{standing.display_name} (login '{login}', {standing.describe_roles()}) {needs}")


def _permits(standing: Standing, name: str) -> bool:
    return standing.exists and standing.active and bool(action(name).roles & standing.roles)


# --- check ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupCheck:
    """One manifest entry and what the full check of its file found (None: intact)."""

    entry: ManifestEntry
    problem: str | None


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What `check_database` found. `ok` is the database's health; backups are reported beside it."""

    database: str
    integrity: IntegrityResult | None  # None on a database server (its pages are the server's to check)
    problems: tuple[str, ...]  # the integrity check's, and others (missing, empty, not the app's)
    row_counts: dict[str, int] | None
    schema_revision: str | None
    backup_dir: Path | None
    backups: tuple[BackupCheck, ...]  # every manifest entry of this database, oldest first
    unlisted: tuple[str, ...]  # files named like backups that the manifest does not list
    notes: tuple[str, ...]
    # Set (why, in words) when the file could not be read because of the disk (full, read-only, I/O error):
    # then nothing is known about damage, and no restore is advised.
    unreadable: str | None = None
    # True when there is no database file at all (moved, deleted): nothing was checked, nothing is damaged.
    missing: bool = False

    @property
    def ok(self) -> bool:
        """True when the database was read and passed every check."""
        return not self.problems and self.unreadable is None

    @property
    def newest_verified(self) -> ManifestEntry | None:
        """The newest backup whose file the full check found intact and whose audit trail verified when it was
        taken (or was taken before backups checked it)."""
        intact = [b.entry for b in self.backups if b.problem is None and b.entry.audit_problem is None]
        return max(intact, key=lambda e: e.taken_at) if intact else None

    @property
    def backup_problems(self) -> tuple[str, ...]:
        """What is wrong with backups the manifest lists (files changed or missing)."""
        return tuple(b.problem for b in self.backups if b.problem is not None)

    @property
    def backup_audit_problems(self) -> tuple[str, ...]:
        """Backups kept and marked because the audit trail did not verify when they were taken."""
        return tuple(
            f"{b.entry.file}: the audit trail did not verify when it was taken ({b.entry.audit_problem}); it is "
            "not offered for restore"
            for b in self.backups
            if b.entry.audit_problem is not None
        )

    def restore_command(self) -> str | None:
        """`triage-app restore NAME` for the newest verified backup, or None."""
        newest = self.newest_verified
        return None if newest is None else f"triage-app restore {newest.file}"


def _check_backups(backup_dir: Path | None, stem: str) -> tuple[tuple[BackupCheck, ...], tuple[str, ...]]:
    if backup_dir is None or not backup_dir.is_dir():
        return (), ()
    entries = sorted((e for e in read_manifest(backup_dir) if e.database == stem), key=lambda e: e.taken_at)
    checks = tuple(BackupCheck(e, entry_intact(backup_dir, e, full=True)) for e in entries)
    listed = {e.file for e in entries}
    unlisted = tuple(p.name for p in list_backups(backup_dir, stem) if p.name not in listed)
    return checks, unlisted


def check_database(
    location: DatabaseLocation, *, backup_dir: Path | None, login: str, db: Database | None = None
) -> CheckReport:
    """The full integrity check, row counts, schema revision and every backup's SHA-256 (`triage-app check`).

    A SQLite file is read through read-only connections only: nothing is migrated or written, so a damaged
    database can be checked. `login` must hold an active role in it (the role matrix's CHECK_DATABASE) when its
    user table can be read; when it cannot, the check runs and says so. On a database server, `db` (an opened
    `Database`) is used to count rows; its pages are the server's to check.
    """
    if location.path is None:
        return _check_server(location, backup_dir=backup_dir, login=login, db=db)
    path = location.path
    notes: list[str] = []
    problems: list[str] = []
    if not path.is_file():
        # Missing, not damaged: there is no file to check or to keep aside.
        checks, unlisted = _check_backups(backup_dir, path.stem)
        return CheckReport(
            str(path), None, (f"no file at {path}",), None, None, backup_dir, checks, unlisted, (), missing=True
        )
    standing = sqlite_standing(path, login)
    if standing is None:
        notes.append(f"who ran the check (login '{login}') could not be looked up: the user table cannot be read")
    elif not _permits(standing, CHECK_DATABASE):
        raise _refusal(login, standing, CHECK_DATABASE, "this database")
    integrity = integrity_check(path)
    unreadable = integrity.unreadable
    if unreadable is not None and standing is None:  # not the user table's fault: the file could not be read
        notes[-1] = f"who ran the check (login '{login}') could not be looked up: the file could not be read"
    if unreadable is None:
        problems.extend(integrity.problems)
    counts: dict[str, int] | None = None
    revision: str | None = None
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:
        unreadable = unreadable or f"{path} cannot be looked at: {exc.strerror or exc}"
        empty = False
    if empty:
        problems.append("the file is empty (0 bytes): it holds no triage database")
    elif unreadable is None:
        try:
            counts = row_counts(path)
            revision = schema_revision(path)
        except UnreadableError as exc:
            unreadable = str(exc)
            counts = None
        except IntegrityError as exc:
            notes.append(f"row counts not available: {exc}")
        if unreadable is None and counts is not None and revision is None:
            problems.append("the file has no triage schema version: it is not a triage database")
    if unreadable is None and (state := disk_state(path.parent)) is not None:
        # Read all the same (without its -shm index, as the app does): say why the app will only read it.
        notes.append(f"{state}: the app opens the database for reading only until that is put right")
    checks, unlisted = _check_backups(backup_dir, path.stem)
    return CheckReport(
        str(path),
        integrity,
        tuple(problems),
        counts,
        revision,
        backup_dir,
        checks,
        unlisted,
        tuple(notes),
        unreadable=unreadable,
    )


def _check_server(
    location: DatabaseLocation, *, backup_dir: Path | None, login: str, db: Database | None
) -> CheckReport:
    owned = db is None
    database = db if db is not None else Database(location)
    try:
        with database.read() as session:
            user = session.execute(select(AppUser).where(col(AppUser.login) == login)).scalars().first()
            if user is None or user.id is None:
                raise _refusal(login, Standing(False, False, login, frozenset()), CHECK_DATABASE, "this database")
            actor = Actor(user.id, user.login, user.display_name, frozenset())
            authorize(actor, CHECK_DATABASE, session=session)
            names = sa.inspect(session.connection()).get_table_names()
            counts = {
                name: int(session.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one())
                for name in sorted(names)
            }
            revision = session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        if owned:
            database.dispose()
    note = (
        "the database server checks its own pages: run pg_amcheck for a full check, and back up with pg_dump "
        "(README, Backups, checks and restore)"
    )
    return CheckReport(
        location.describe(), None, (), counts, None if revision is None else str(revision), backup_dir, (), (), (note,)
    )


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
        if not _permits(current, RESTORE_BACKUP):
            raise _restore_refusal(login, current, "the current database")
        return "the current database"
    # The current file's users cannot be read (damaged, empty, missing): the backup's are the ones that will count.
    in_backup = sqlite_standing(backup, login)
    if in_backup is None:
        raise RestoreRefused(
            f"the users of the backup {backup.name} cannot be read, so it cannot be restored; nothing "
            "was changed. Choose another backup"
        )
    if not _permits(in_backup, RESTORE_BACKUP):
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


def _wal_has_content(db_path: Path) -> bool:
    wal = db_path.with_name(db_path.name + "-wal")
    return wal.is_file() and wal.stat().st_size > 0


@contextlib.contextmanager
def _sole_user(db_path: Path) -> Iterator[None]:
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
        if _wal_has_content(db_path):
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


def _move(source: Path, target: Path) -> None:
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


def _fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage_copy(backup: Path, db_path: Path, digest: str) -> Path:
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


def _swap_in(db_path: Path, staged: Path, replaced_dir: Path) -> tuple[Path, ...]:
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
            _move(source, replaced_dir / source.name)
            moved.append(replaced_dir / source.name)
        staged.replace(db_path)
        _fsync_dir(db_path.parent)
        if present:
            _fsync_dir(replaced_dir)
    except OSError as exc:
        _put_back(db_path, tuple(moved), replaced_dir, exc, restored=False)
        raise AssertionError("unreachable") from exc  # pragma: no cover - _put_back always raises
    return tuple(moved)


def _put_back(
    db_path: Path, moved: tuple[Path, ...], replaced_dir: Path, exc: BaseException, *, restored: bool
) -> None:
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
            _move(aside, db_path.with_name(aside.name))
        except OSError:
            stuck.append(aside)
    if not stuck:
        with contextlib.suppress(OSError):
            replaced_dir.rmdir()  # empty again: nothing to keep
        with contextlib.suppress(OSError):
            _fsync_dir(db_path.parent)
        raise _not_completed(exc, db_path) from exc
    log.error("restore not completed: %s; %d file(s) could not be moved back", type(exc).__name__, len(stuck))
    raise RestoreFailed(
        f"the restore could not be completed: {_why_stopped(exc, db_path.parent)}, and the current database could "
        f"not be moved back: {', '.join(p.name for p in stuck)} are in {replaced_dir}. Move them back beside "
        f"{db_path.name} in {db_path.parent} (nothing was deleted) before starting the app"
    ) from exc


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
            staged = _stage_copy(source, db_path, digest)  # removes its partial copy itself when it fails
        except (OSError, sqlite3.Error, DatabaseError) as exc:  # a full disk: nothing was moved yet
            raise _not_completed(exc, db_path) from exc
        try:
            replaced_dir = backup_dir / f"replaced-{moment.strftime('%Y%m%dT%H%M%S%fZ')}"
            if sys.platform == "win32":  # pragma: no cover - a file open elsewhere cannot be renamed there
                with _sole_user(db_path):
                    pass
                moved = _swap_in(db_path, staged, replaced_dir)
            else:
                with _sole_user(db_path):  # held while moving: nobody opens the old file meanwhile
                    moved = _swap_in(db_path, staged, replaced_dir)
        except (OSError, sqlite3.Error) as exc:  # the lock check itself failed: nothing was moved
            raise _not_completed(exc, db_path) from exc
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
            _put_back(db_path, moved, replaced_dir, exc, restored=True)
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
