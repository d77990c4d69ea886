"""Every test gets its own database and settings, never the user's real ones.

A migrated template database is built once per session and copied per test (as Anki's test helpers do).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _variable in ("TRIAGE_APP_DATA_DIR", "TRIAGE_APP_DB", "TRIAGE_APP_RULES"):
    os.environ.pop(_variable, None)

import pytest

from triage_app.config import default_rules_path
from triage_app.domain.rules import Rules, load_rules, read_rules_file, shipped_rules_path
from triage_app.services.rules import ensure_rules_approved
from triage_app.services.users import Actor, add_user, sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    database = Database(parse_database_url(sqlite_url(path)))
    migrate(database, backup_dir=None)
    database.dispose()
    return path


@pytest.fixture
def db_path(tmp_path: Path, template_db: Path) -> Path:
    path = tmp_path / "data" / "triage.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(template_db, path)
    path.chmod(0o600)
    return path


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = Database(parse_database_url(sqlite_url(db_path)))
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
