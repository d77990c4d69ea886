"""Every test gets its own database and settings, never the user's real ones.

A migrated template database is built once per session and copied per test (as Anki's test helpers do).

The suite runs on either backend: `pytest` uses SQLite files; `pytest --backend=postgresql` (with
TRIAGE_TEST_PG_URL naming a server login that may create databases) gives every test a fresh PostgreSQL
database made from a migrated template (CREATE DATABASE ... TEMPLATE, a file copy on the server), and points the
app's TRIAGE_APP_DB at it, so the GUI and the command line use it too. `db_url` names the test's database on
either backend (a second process or a second desktop opens it by that URL). Tests about SQLite files themselves
(`db_path`, or marked `sqlite_only`) are skipped on the server, saying so.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _variable in ("TRIAGE_APP_DATA_DIR", "TRIAGE_APP_DB", "TRIAGE_APP_RULES"):
    os.environ.pop(_variable, None)

import pytest
import sqlalchemy as sa

from triage_app.config import default_rules_path
from triage_app.domain.rules import Rules, load_rules, read_rules_file, shipped_rules_path
from triage_app.services.rules import ensure_rules_approved
from triage_app.services.users import Actor, add_user, sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate

POSTGRESQL = "postgresql"
ENV_BACKEND = "TRIAGE_TEST_BACKEND"
ENV_PG_URL = "TRIAGE_TEST_PG_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", POSTGRESQL),
        default=os.environ.get(ENV_BACKEND, "sqlite"),
        help=f"the database the tests run on (default sqlite, or ${ENV_BACKEND}); postgresql needs ${ENV_PG_URL}",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a test of SQLite files themselves (skipped on a server)")
    config.addinivalue_line("markers", "server_only(reason): a test of a database server (skipped on SQLite)")
    if config.getoption("--backend") == POSTGRESQL and not os.environ.get(ENV_PG_URL):
        raise pytest.UsageError(
            f"--backend=postgresql needs {ENV_PG_URL}, the URL of a server login that may create databases, "
            "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )


def pytest_report_header(config: pytest.Config) -> str:
    if config.getoption("--backend") != POSTGRESQL:
        return "database backend: sqlite"
    url = sa.make_url(os.environ[ENV_PG_URL]).render_as_string(hide_password=True)
    return f"database backend: postgresql at {url}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_server = config.getoption("--backend") == POSTGRESQL
    for item in items:
        if on_server and (marker := item.get_closest_marker("sqlite_only")) is not None:
            why = marker.args[0] if marker.args else "a test of SQLite files"
            item.add_marker(pytest.mark.skip(reason=f"sqlite only: {why}"))
        if not on_server and (marker := item.get_closest_marker("server_only")) is not None:
            why = marker.args[0] if marker.args else "a test of a database server"
            item.add_marker(pytest.mark.skip(reason=f"postgresql only: {why}"))


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    """The database backend this run tests: "sqlite" or "postgresql"."""
    return str(pytestconfig.getoption("--backend"))


def _server_admin() -> sa.Engine:
    return sa.create_engine(os.environ[ENV_PG_URL], isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _server_url(name: str) -> str:
    return sa.make_url(os.environ[ENV_PG_URL]).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_template(backend: str) -> Iterator[str | None]:
    """On PostgreSQL, a migrated database every test's database is copied from; None on SQLite."""
    if backend != POSTGRESQL:
        yield None
        return
    name = f"triage_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _server_admin()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = Database(parse_database_url(_server_url(name)))
    migrate(database, backup_dir=None)
    database.dispose()
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def server_db_url(server_template: str | None) -> Iterator[str | None]:
    """On PostgreSQL, the URL of this test's own fresh database (dropped after it); None on SQLite."""
    if server_template is None:
        yield None
        return
    name = "t_" + uuid.uuid4().hex[:16]
    admin = _server_admin()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{server_template}"')
    try:
        yield _server_url(name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(autouse=True)
def _app_uses_the_test_server(request: pytest.FixtureRequest, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL, the app (GUI and command line, in this process or a child) opens the test's database."""
    if backend != POSTGRESQL or request.node.get_closest_marker("sqlite_only") is not None:
        return
    if "/tests/domain/" in str(request.node.path).replace(os.sep, "/"):
        return  # the rules engine touches no database
    url = request.getfixturevalue("server_db_url")
    monkeypatch.setenv("TRIAGE_APP_DB", url)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    database = Database(parse_database_url(sqlite_url(path)))
    migrate(database, backup_dir=None)
    database.dispose()
    return path


@pytest.fixture
def db_path(tmp_path: Path, template_db: Path, backend: str) -> Path:
    """A migrated SQLite file of the test's own (a test using it is about SQLite files: skipped on a server)."""
    if backend == POSTGRESQL:
        pytest.skip("sqlite only: the test works on the SQLite file itself (db_path)")
    path = tmp_path / "data" / "triage.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(template_db, path)
    path.chmod(0o600)
    return path


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str) -> str:
    """The URL of the test's database on either backend: what a second desktop or process opens."""
    if backend == POSTGRESQL:
        url = request.getfixturevalue("server_db_url")
        assert url is not None
        return str(url)
    return sqlite_url(request.getfixturevalue("db_path"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(parse_database_url(db_url))
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(default_rules_path())


@pytest.fixture
def first_admin(db: Database) -> Actor:
    """The first user of a database from before rules approvals (nothing approved yet)."""
    return sign_in(db, login="admin-test", display_name="Ada Admin")


@pytest.fixture
def admin(db: Database) -> Actor:
    """The first user: admin with every role, approving the shipped rules as a new database's first start does."""
    actor = sign_in(db, login="admin-test", display_name="Ada Admin")
    ensure_rules_approved(db, signed_in=actor, shipped=read_rules_file(shipped_rules_path()), as_of=date(2026, 1, 1))
    return actor


@pytest.fixture
def coordinator(db: Database, admin: Actor) -> Actor:
    return add_user(db, actor=admin, login="coord-test", display_name="Cora Ordinator", roles=["coordinator"])


@pytest.fixture
def consultant(db: Database, admin: Actor) -> Actor:
    return add_user(db, actor=admin, login="cons-test", display_name="Dr Con Sultant", roles=["consultant"])
