"""Looking at a PostgreSQL server before a desktop or command uses it: can it be reached, does it take the login,
is it new enough, does its schema match this app, does the login hold the app's privileges.

Every refusal is a `DatabaseError` whose message names which of these it is (and the server as host:port), and
nothing is written by any check: they read catalogue views and the schema revision only. The counterpart of
storage.preflight for SQLite files.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlalchemy as sa

from triage_app.storage.database_errors import DatabaseError
from triage_app.storage.engine import Database, DatabaseLocation

log = logging.getLogger(__name__)

#: The oldest server the app runs on: PostgreSQL 15 (`server_version_num` 150000).
MIN_SERVER_VERSION_NUM = 150000


class ServerUnreachable(DatabaseError):
    """No server answered at the URL's host and port (down, wrong port, unknown host, a firewall)."""


class LoginRefused(DatabaseError):
    """The server refused the login: wrong or missing password, an unknown role, no pg_hba.conf line for it."""


class NoSuchDatabase(DatabaseError):
    """The server has no database of the URL's name."""


class ServerTooOld(DatabaseError):
    """The server is older than PostgreSQL 15."""


class MissingGrants(DatabaseError):
    """The login lacks privileges the app needs on its tables (not a member of the app's users' role)."""


def server_address(location: DatabaseLocation) -> str:
    """`host:port` of a server URL (libpq's defaults when the URL names none), for messages."""
    url = location.url
    host = url.host or str(url.query.get("host") or "localhost")
    port = url.port or 5432
    return f"{host}:{port}"


def _role(location: DatabaseLocation) -> str:
    return location.url.username or "(the operating-system account's name)"


_REFUSED_LOGIN = (
    "password authentication failed",
    "no password supplied",
    "does not exist",  # role "x" does not exist (a database is matched first)
    "no pg_hba.conf entry",
    "gssapi",
    "sspi",
    "peer authentication failed",
    "ident authentication failed",
    "authentication failed",
    "pg_hba.conf rejects",
)


#: Words of libpq's TLS failures (a pg_hba refusal of an encrypted connection says "SSL encryption": not one).
_TLS_PROBLEMS = (
    "certificate",
    "sslmode",
    "ssl error",
    "ssl syscall",
    "tlsv1",
    "ssl connection has been closed",
    "does not support ssl",
)


def connection_problem(exc: BaseException, location: DatabaseLocation) -> DatabaseError | None:
    """What a failed connection to a server means, in words naming which problem it is; None when it is not one of
    these (the caller lets it through)."""
    detail = str(getattr(exc, "orig", None) or exc).strip()
    text = detail.lower()
    where = server_address(location)
    database = location.url.database or "(the login's own)"
    first_line = detail.splitlines()[0] if detail else type(exc).__name__
    if "connection refused" in text:
        return ServerUnreachable(
            f"the database server at {where} is not answering (connection refused): it is down, or not listening "
            "on that address and port. Nothing was opened or written. Check the URL, or ask IT whether the server "
            "is running."
        )
    if "failed to resolve host" in text or "could not translate host name" in text:
        return ServerUnreachable(
            f"the database server's name in {where} is not known to this computer's network ({first_line}). "
            "Nothing was opened or written. Check the URL."
        )
    if (
        "timeout expired" in text
        or "timed out" in text
        or "no route to host" in text
        or "network is unreachable" in text
    ):
        return ServerUnreachable(
            f"the database server at {where} could not be reached ({first_line}). Nothing was opened or written. "
            "Check the network, or ask IT whether the server is running."
        )
    if any(words in text for words in _TLS_PROBLEMS):
        reason = detail.split("failed:", 1)[-1].strip().splitlines()[0] if "failed:" in detail else first_line
        return LoginRefused(
            f"the secure connection to the database server at {where} failed ({reason}): check sslmode and the "
            "certificate authority's file (sslrootcert in the URL, or root.crt in the account's postgresql "
            "folder). Nothing was opened or written."
        )
    match = re.search(r'database "([^"]*)" does not exist', detail)
    if match:
        return NoSuchDatabase(
            f"the database server at {where} has no database named '{match.group(1)}'. Nothing was opened or "
            "written. Check the database name in the URL (the unit's IT set it up: docs/deploy-postgresql.md)."
        )
    if any(words in text for words in _REFUSED_LOGIN):
        reason = detail.split("FATAL:", 1)[-1].strip().splitlines()[0] if "FATAL:" in detail else first_line
        how = (
            "no password was found for it: put it in this account's pgpass file or the keyring "
            "(docs/deploy-postgresql.md)"
            if "no password supplied" in text
            else "check the login's name, its password (pgpass file or keyring), and that IT has given it access"
        )
        return LoginRefused(
            f"the database server at {where} refused the login '{_role(location)}' to database '{database}' "
            f"({reason}): {how}. Nothing was opened or written."
        )
    return None


def check_server_version(version_num: int, where: str) -> None:
    """Refuse (`ServerTooOld`) a server whose `server_version_num` is below 150000 (PostgreSQL 15)."""
    if version_num >= MIN_SERVER_VERSION_NUM:
        return
    major, minor = divmod(version_num, 10000)
    shown = f"{major}.{minor}" if major >= 10 else f"{major}.{minor // 100}.{minor % 100}"
    raise ServerTooOld(
        f"the database server at {where} runs PostgreSQL {shown}; the triage app needs PostgreSQL 15 or newer. "
        "Nothing was opened or written. Ask IT to upgrade the server (docs/deploy-postgresql.md)."
    )


@dataclass(frozen=True, slots=True)
class ServerState:
    """What the first look at a server found: its version, the signed-in role, the schema revision (None: no
    triage schema), and whether the database holds tables at all."""

    version_num: int
    role: str
    revision: str | None
    has_tables: bool
    #: The role owning the database (the app's tables are made as this role by `triage-app migrate`).
    owner: str


def look_at_server(database: Database) -> ServerState:
    """Connect, check the server's version and read the schema revision; writes nothing.

    Raises `ServerUnreachable`, `LoginRefused`, `NoSuchDatabase`, `ServerTooOld`, or `MissingGrants` when the
    schema is there but its revision cannot be read by this login.
    """
    location = database.location
    where = server_address(location)
    try:
        with database.engine.connect() as connection:
            version_num = int(connection.exec_driver_sql("SHOW server_version_num").scalar_one())
            check_server_version(version_num, where)
            role, owner = connection.execute(
                sa.text(
                    "SELECT current_user, pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
                )
            ).one()
            has_tables = bool(
                connection.execute(
                    sa.text("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public')")
                ).scalar_one()
            )
            # Without USAGE on the schema its tables cannot even be named: say so, not "no schema".
            usable = connection.execute(sa.text("SELECT has_schema_privilege(current_user, 'public', 'USAGE')"))
            if has_tables and not usable.scalar_one():
                raise missing_grants(location, str(role), ["USAGE on schema public"])
            revision = _revision(connection, location, str(role))
            connection.rollback()
    except sa.exc.DBAPIError as exc:
        problem = connection_problem(exc, location)
        if problem is None:
            raise DatabaseError(f"the database server at {where} could not be used: {exc.orig or exc}") from exc
        log.warning("database server check failed: %s", type(problem).__name__)
        raise problem from exc
    return ServerState(version_num, str(role), revision, has_tables, str(owner))


def _revision(connection: sa.Connection, location: DatabaseLocation, role: str) -> str | None:
    """The schema revision in alembic_version, None when there is no such table; `MissingGrants` when this login
    may not read it."""
    exists = connection.execute(sa.text("SELECT to_regclass('public.alembic_version') IS NOT NULL")).scalar_one()
    if not exists:
        return None
    readable = connection.execute(
        sa.text("SELECT has_table_privilege(current_user, 'public.alembic_version', 'SELECT')")
    ).scalar_one()
    if not readable:
        raise missing_grants(location, role, ["SELECT on alembic_version"])
    value = connection.execute(sa.text("SELECT version_num FROM public.alembic_version")).scalar()
    return None if value is None else str(value)


def missing_grants(location: DatabaseLocation, role: str, missing: list[str]) -> MissingGrants:
    """The refusal of a login without the app's privileges, naming the first few it lacks and the fix."""
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return MissingGrants(
        f"the login '{role}' has not been given the triage app's rights on database '{location.url.database}' at "
        f"{server_address(location)} (it lacks {shown}). Nothing was opened or written. Ask the database "
        f"administrator to make it a member of the app's users' role (GRANT triage_user TO {role};), or to run "
        "`triage-app migrate --grant-to triage_user` after an upgrade."
    )
