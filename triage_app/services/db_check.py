"""`check`: the database's integrity, schema and counts, and every backup verified against the manifest, on a file
that may be damaged (read-only connections only). Part of services.maintenance (importable from there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import col

from triage_app.services.maintenance_common import Standing, permits, refusal, sqlite_standing
from triage_app.services.permissions import CHECK_DATABASE, authorize
from triage_app.services.users import Actor
from triage_app.storage.backup import (
    ManifestEntry,
    entry_intact,
    list_backups,
    read_manifest,
)
from triage_app.storage.engine import (
    Database,
    DatabaseLocation,
)
from triage_app.storage.integrity import (
    IntegrityError,
    IntegrityResult,
    UnreadableError,
    disk_state,
    integrity_check,
    row_counts,
    schema_revision,
)
from triage_app.storage.models import AppUser

log = logging.getLogger(__name__)

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
    elif not permits(standing, CHECK_DATABASE):
        raise refusal(login, standing, CHECK_DATABASE, "this database")
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
                raise refusal(login, Standing(False, False, login, frozenset()), CHECK_DATABASE, "this database")
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
