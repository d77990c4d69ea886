"""Bringing a database to the schema this version of the app expects.

Order on every start: check the file is a SQLite database, back it up when a migration is due, refuse a database
from a newer schema, then upgrade atomically in one transaction. The daily backup is not taken here: it would
delay the first window by a full copy and check of the database; `storage.backup.daily_backup_if_due` is called
once the window is shown (and by each command after its work).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from triage_app.storage.backup import backup_sqlite
from triage_app.storage.engine import Database, DatabaseError

log = logging.getLogger(__name__)


class NewerSchemaError(DatabaseError):
    """The database was written by a newer version of the app."""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What `migrate` did: the revisions before and after, and the backup it took, if any."""

    before: str | None
    after: str
    backup: Path | None

    @property
    def upgraded(self) -> bool:
        """True when the schema changed."""
        return self.before != self.after


def alembic_config(script_location: Path | None = None) -> Config:
    """Alembic configuration pointing at the shipped db/ folder (or, in tests, another copy of it)."""
    config = Config()
    location = script_location if script_location is not None else resources.files("triage_app.db")
    config.set_main_option("script_location", str(location))
    return config


def head_revision() -> str:
    """The newest schema revision this version of the app knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "db/versions holds no revision"
    return head


def current_revision(database: Database) -> str | None:
    """The database's schema revision; None for a new, empty database."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _has_tables(database: Database) -> bool:
    return bool(sa.inspect(database.engine).get_table_names())


def migrate(database: Database, *, backup_dir: Path | None, script_location: Path | None = None) -> MigrationReport:
    """Back up, refuse a newer schema, upgrade to head. Raises `DatabaseError` with a clear message."""
    config = alembic_config(script_location)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    assert head is not None
    before = current_revision(database)
    if before is None and _has_tables(database):
        raise DatabaseError(
            f"{database.location.describe()} is a database of another program (it has tables but no triage "
            "schema version); it has been left untouched. Choose another file with --db."
        )

    backup = None
    if database.location.path is not None and backup_dir is not None and before is not None and before != head:
        # A verified backup (quick check first: a damaged database is refused, not upgraded).
        backup = backup_sqlite(database.location.path, backup_dir, reason="before-upgrade")

    if before is not None and before != head:
        try:
            script.get_revision(before)
        except Exception as exc:  # alembic raises several kinds for an unknown revision
            raise NewerSchemaError(
                f"{database.location.describe()} was written by a newer version of the triage app (schema "
                f"{before}; this version knows up to {head}). It has been left untouched: install the newer "
                "version, or open a backup."
            ) from exc

    if before != head:
        log.info("migrating database schema %s -> %s", before or "(new)", head)
        _upgrade(database, config)
    return MigrationReport(before=before, after=head, backup=backup)


def _upgrade(database: Database, config: Config) -> None:
    """Run the migrations in one transaction.

    On SQLite, batch migrations rebuild a table by copying it and dropping the old one; with foreign keys on,
    that DROP would cascade and delete every child row (assessments, medications, history). So foreign keys
    are switched off for the migration (SQLite only allows that outside a transaction), every key is checked
    before the commit, and they are switched back on before the connection is reused.
    """
    sqlite = database.location.is_sqlite
    with database.engine.connect() as raw:
        driver = raw.connection.dbapi_connection  # outside SQLAlchemy's transaction, as the pragma requires
        if sqlite and driver is not None:
            driver.execute("PRAGMA foreign_keys = OFF")
        try:
            connection = raw.execution_options(write=True)
            config.attributes["connection"] = connection
            with connection.begin():
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise DatabaseError(
                            f"the schema upgrade would leave {len(broken)} broken links between records; it was "
                            "rolled back and the database is unchanged"
                        )
        finally:
            if sqlite and driver is not None:
                driver.execute("PRAGMA foreign_keys = ON")
