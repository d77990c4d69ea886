"""Bringing a database to the schema this version of the app expects.

SQLite (one desktop owns its file), on every start: check the file is a SQLite database, back it up when a
migration is due, refuse a database from a newer schema, then upgrade atomically in one transaction. The daily
backup is not taken here: it would delay the first window by a full copy and check of the database;
`storage.backup.daily_backup_if_due` is called once the window is shown (and by each command after its work).

PostgreSQL (many desktops share the server): only an administrator migrates, with `triage-app migrate`; an
ordinary start never does (`check_schema` refuses an older or newer schema, writing nothing). The migration runs
as the database's owner role (SET LOCAL ROLE, so the tables belong to it, not to whoever ran it), is refused for a
login that is not a member of that role, and with `grant_to` gives the users' role its privileges in the same
transaction (storage.server_grants).
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

from triage_app import __version__
from triage_app.storage.backup import backup_sqlite
from triage_app.storage.engine import Database, DatabaseError
from triage_app.storage.server_checks import look_at_server, server_address
from triage_app.storage.server_grants import BadRoleName, apply_grants, quote_role

log = logging.getLogger(__name__)

#: The command that brings a server's schema up to date (said by every refusal that needs it).
MIGRATE_COMMAND = "triage-app migrate"


class NewerSchemaError(DatabaseError):
    """The database was written by a newer version of the app."""


class SchemaNeedsUpgrade(DatabaseError):
    """A server's schema is older than this app (or not there yet): an administrator runs `triage-app migrate`."""


class MigrationRefused(DatabaseError):
    """This login may not change the server's schema (it is not a member of the database's owner role)."""


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


def is_known_revision(revision: str, script_location: Path | None = None) -> bool:
    """Whether this version of the app knows the schema revision (an unknown one is from a newer app)."""
    script = ScriptDirectory.from_config(alembic_config(script_location))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown revision
        return False


def newer_schema_error(where: str, revision: str) -> NewerSchemaError:
    """The refusal of a database whose schema revision this app does not know, in words."""
    return NewerSchemaError(
        f"{where} was written by a newer version of the triage app: this desktop's app (version {__version__}) is "
        f"older than the database's schema (revision {revision}; this version knows up to {head_revision()}). "
        "Install the newer app. The database has been left untouched: nothing was written."
    )


def check_schema(where: str, revision: str | None, *, has_tables: bool) -> None:
    """Refuse, writing nothing, a server database this start cannot use: a newer schema (`NewerSchemaError`), or
    an older or missing one (`SchemaNeedsUpgrade`: an administrator runs `triage-app migrate`)."""
    head = head_revision()
    if revision == head:
        return
    if revision is not None and not is_known_revision(revision):
        raise newer_schema_error(where, revision)
    if revision is None and has_tables:
        raise DatabaseError(
            f"{where} is a database of another program (it has tables but no triage schema version); it has been "
            "left untouched. Check the database name in the URL."
        )
    what = "has no triage schema yet" if revision is None else f"has schema {revision}; this app needs {head}"
    raise SchemaNeedsUpgrade(
        f"the database needs upgrading by an administrator: {MIGRATE_COMMAND}. The database {where} {what}, and a "
        "desktop never changes the schema of a shared database; nothing was opened for writing. Ask the unit's "
        "database administrator to run it (docs/deploy-postgresql.md)."
    )


def migrate(
    database: Database,
    *,
    backup_dir: Path | None,
    script_location: Path | None = None,
    grant_to: str | None = None,
) -> MigrationReport:
    """Back up, refuse a newer schema, upgrade to head. Raises `DatabaseError` with a clear message.

    On a server, `grant_to` names the users' group role given the app's privileges afterwards (in the same
    transaction as the upgrade); a login that is not a member of the database's owner role is refused
    (`MigrationRefused`) before anything is written.
    """
    owner = _server_owner(database, grant_to) if not database.location.is_sqlite else None
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

    if before is not None and before != head and not is_known_revision(before, script_location):
        raise newer_schema_error(database.location.describe(), before)

    if before != head or grant_to is not None:
        if before != head:
            log.info("migrating database schema %s -> %s", before or "(new)", head)
        _upgrade(database, config, owner=owner, grant_to=grant_to, upgrade=before != head)
    return MigrationReport(before=before, after=head, backup=backup)


def _server_owner(database: Database, grant_to: str | None) -> str:
    """The role a server's migration runs as (the database's owner); refuses a login that may not act as it.

    The server's version and the login are checked first (storage.server_checks), naming what is wrong.
    """
    state = look_at_server(database)
    if grant_to is not None:
        try:
            quote_role(grant_to)  # a name no role can have is refused before anything runs
        except BadRoleName as exc:
            raise MigrationRefused(f"--grant-to: {exc}. Nothing was changed.") from None
    with database.engine.connect() as connection:
        member = connection.execute(
            sa.text("SELECT pg_has_role(current_user, :owner, 'MEMBER')"), {"owner": state.owner}
        )
        may = bool(member.scalar_one())
        exists = (
            grant_to is None
            or connection.execute(
                sa.text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r)"), {"r": grant_to}
            ).scalar_one()
        )
    where = f"database '{database.location.url.database}' at {server_address(database.location)}"
    if not may:
        raise MigrationRefused(
            f"refused: the login '{state.role}' may not change the schema of {where}. The "
            f"app's tables belong to the database's owner role '{state.owner}', and only an administrator who is a "
            f"member of it migrates (GRANT {state.owner} TO <administrator's login>;). Nothing was changed."
        )
    if not exists:
        raise MigrationRefused(
            f"refused: there is no role '{grant_to}' on the server to give the app's rights "
            "to. Create the roles first (resources/postgresql/roles.sql, see docs/deploy-postgresql.md), or name "
            "the users' role with --grant-to ROLE. Nothing was changed."
        )
    return state.owner


def _upgrade(
    database: Database, config: Config, *, owner: str | None = None, grant_to: str | None = None, upgrade: bool = True
) -> None:
    """Run the migrations in one transaction (on a server as the database's `owner`, then the grants).

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
                if owner is not None:  # for this transaction only: what it makes belongs to the owner role
                    connection.exec_driver_sql(f"SET LOCAL ROLE {quote_role(owner)}")
                if upgrade:
                    command.upgrade(config, "head")
                if owner is not None and grant_to is not None:
                    apply_grants(connection, grant_to, owner)
                    log.info("privileges granted to the users' role")
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
