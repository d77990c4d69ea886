"""A unit's server as its IT would set it up (docs/deploy-postgresql.md): fresh roles and a fresh database made by
the shipped roles.sql (run with psql, as the guide says), the schema made by `triage-app migrate --grant-to` as an
administrator's login, and an ordinary user's login in the users' role.

The server is the one TRIAGE_TEST_PG_URL names (a login that may create roles and databases; default the local
test server). These tests skip only when nothing listens there (connection refused): any other failure fails.
Role names are cluster-wide, so each test's are unique and dropped after it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from triage_app.__main__ import main
from triage_app.config import resource_path

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"


def admin_url() -> str:
    """The server login the tests make roles and databases with."""
    return os.environ.get("TRIAGE_TEST_PG_URL") or DEFAULT_ADMIN_URL


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the test server as its administrator; skips only when nothing listens there."""
    engine = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        if "connection refused" not in str(exc.orig).lower():
            raise
        where = sa.make_url(admin_url()).render_as_string(hide_password=True)
        pytest.skip(f"no PostgreSQL server is listening at {where} (set TRIAGE_TEST_PG_URL)")
    yield engine
    engine.dispose()


def psql_program() -> str:
    """psql: on PATH, or in Debian's server folders."""
    found = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), reverse=True)), None)
    if found is None:
        pytest.fail("psql is needed to run resources/postgresql/roles.sql as the guide says, and was not found")
    return found


def libpq_url(url: str, **changes: str) -> str:
    """The SQLAlchemy URL as a libpq URI (for psql), with `changes` (database=..., username=...)."""
    return sa.make_url(url).set(drivername="postgresql", **changes).render_as_string(hide_password=False)


def app_url(url: str, **changes: str) -> str:
    """The SQLAlchemy URL with `changes` (database=..., username=...), password kept."""
    return sa.make_url(url).set(**changes).render_as_string(hide_password=False)


def psql(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run psql on `url` (a libpq URI) with `args`; the completed process (the caller checks its status)."""
    return subprocess.run(
        [psql_program(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Unit:
    """A unit's database and roles on the test server."""

    database: str
    owner: str
    users: str
    admin_login: str
    user_login: str
    admin_url: str  # the administrator's login (member of the owner role)
    user_url: str  # an ordinary user's login (member of the users' role)


def drop_unit(engine: sa.Engine, unit: Unit, *logins: str) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{unit.database}" WITH (FORCE)')
        for role in (*logins, unit.user_login, unit.admin_login, unit.users, unit.owner):
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')


def new_unit() -> Unit:
    """Unique names for a unit's database and roles (nothing made yet)."""
    tag = uuid.uuid4().hex[:8]
    return Unit(
        database=f"c_unit_{tag}",
        owner=f"c_owner_{tag}",
        users=f"c_users_{tag}",
        admin_login=f"c_admin_{tag}",
        user_login=f"c_user_{tag}",
        admin_url=app_url(admin_url(), username=f"c_admin_{tag}", database=f"c_unit_{tag}"),
        user_url=app_url(admin_url(), username=f"c_user_{tag}", database=f"c_unit_{tag}"),
    )


def set_up(pg_admin: sa.Engine, unit: Unit, tmp_path: Path, *, migrate: bool = True) -> None:
    """Roles and database by roles.sql, then (with `migrate`) the schema by the administrator's migrate."""
    with pg_admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{unit.admin_login}" LOGIN')
    done = psql(
        libpq_url(admin_url()),
        "-v",
        f"db_name={unit.database}",
        "-v",
        f"owner_role={unit.owner}",
        "-v",
        f"user_role={unit.users}",
        "-v",
        f"admin_login={unit.admin_login}",
        "-f",
        str(resource_path("postgresql", "roles.sql")),
    )
    assert done.returncode == 0, done.stderr
    with pg_admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{unit.user_login}" LOGIN IN ROLE "{unit.users}"')
    if migrate:
        code = main(
            ["--data-dir", str(tmp_path / "admin-data"), "--db", unit.admin_url, "migrate", "--grant-to", unit.users]
        )
        assert code == 0


@pytest.fixture
def unit(pg_admin: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Unit]:
    """A migrated unit database: the administrator is the app's first administrator (migrate signed them in)."""
    made = new_unit()
    try:
        set_up(pg_admin, made, tmp_path)
        capsys.readouterr()
        yield made
    finally:
        drop_unit(pg_admin, made)
