"""Migrations: upgrade from every committed fixture, backup first, refuse newer, atomic, owner-only backups."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from triage_app.storage.engine import Database, DatabaseError, parse_database_url, sqlite_url
from triage_app.storage.migrate import NewerSchemaError, current_revision, head_revision, migrate
from triage_app.storage.models import SQLModel

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "db" / "fixtures").glob("schema-*.sqlite3"))


def _open(path: Path) -> Database:
    return Database(parse_database_url(sqlite_url(path)))


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_there_is_a_fixture_of_the_first_released_schema() -> None:
    assert [f.name for f in FIXTURES][:1] == ["schema-0001.sqlite3"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
@pytest.mark.hazard("H03")
def test_upgrade_from_each_released_schema_keeps_the_data(fixture: Path, tmp_path: Path) -> None:
    path = tmp_path / "triage.sqlite3"
    shutil.copyfile(fixture, path)
    with sqlite3.connect(path) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != "alembic_version" and not name.startswith("sqlite_")
        ]
    before = {table: _count(path, table) for table in tables}
    assert all(before[t] > 0 for t in ("referral", "oral_medication", "assessment", "triage_decision"))

    database = _open(path)
    report = migrate(database, backup_dir=tmp_path / "backups")
    assert report.after == head_revision() == current_revision(database)
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    database.dispose()
    assert diff == [], "the migrated schema differs from the models"
    assert {table: _count(path, table) for table in tables} == before  # nothing lost, children included
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def test_new_database_migrates_to_head_and_matches_the_models(tmp_path: Path) -> None:
    database = _open(tmp_path / "new.sqlite3")
    report = migrate(database, backup_dir=tmp_path / "backups")
    assert report.before is None and report.after == head_revision()
    assert report.backup is None  # nothing to back up yet
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    database.dispose()


def _scripts_with_extra_revision(tmp_path: Path, body: str) -> Path:
    """A copy of db/ with one more revision after head, as the next release would ship."""
    scripts = tmp_path / "scripts"
    shutil.copytree(REPO / "db", scripts, ignore=shutil.ignore_patterns("fixtures", "__pycache__"))
    (scripts / "versions" / "9999_next.py").write_text(
        f'''"""next release"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head_revision()}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
''',
        encoding="utf-8",
    )
    return scripts


@pytest.mark.hazard("H03")
def test_backup_is_taken_before_an_upgrade(db_path: Path, tmp_path: Path) -> None:
    scripts = _scripts_with_extra_revision(
        tmp_path,
        '    with op.batch_alter_table("referral") as batch:\n'
        '        batch.add_column(sa.Column("triage_note", sa.Text(), nullable=True))',
    )
    sqlite3.connect(db_path).execute(
        "INSERT INTO app_setting (key, value) VALUES ('marker', 'before')"
    ).connection.commit()
    database = _open(db_path)
    report = migrate(database, backup_dir=tmp_path / "backups", script_location=scripts)
    database.dispose()
    assert report.before == head_revision() and report.after == "9999"
    assert report.backup is not None and report.backup.name.endswith("-before-upgrade.sqlite3")
    with sqlite3.connect(report.backup) as backup:
        assert backup.execute("SELECT value FROM app_setting WHERE key = 'marker'").fetchone() == ("before",)
        assert backup.execute("SELECT version_num FROM alembic_version").fetchone() == (head_revision(),)
        columns = [row[1] for row in backup.execute("PRAGMA table_info(referral)")]
        assert "triage_note" not in columns
    with sqlite3.connect(db_path) as upgraded:
        assert "triage_note" in [row[1] for row in upgraded.execute("PRAGMA table_info(referral)")]
    if sys.platform != "win32":
        assert stat.S_IMODE(report.backup.stat().st_mode) == 0o600


@pytest.mark.hazard("H03")
def test_a_failing_upgrade_leaves_the_database_as_it_was(db_path: Path, tmp_path: Path) -> None:
    scripts = _scripts_with_extra_revision(
        tmp_path,
        '    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))\n'
        '    op.execute("INSERT INTO no_such_table VALUES (1)")',
    )
    database = _open(db_path)
    with pytest.raises(Exception, match="no_such_table"):
        migrate(database, backup_dir=tmp_path / "backups", script_location=scripts)
    assert current_revision(database) == head_revision()
    with database.engine.connect() as connection:  # the pooled connection has its foreign keys back on
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()
    with sqlite3.connect(db_path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables


def _server_tables(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


@pytest.mark.hazard("H03")
@pytest.mark.server_only("an upgrade of a server database (transactional DDL, no file to back up)")
def test_an_upgrade_on_a_server_keeps_the_data_and_a_failing_one_leaves_it_as_it_was(
    db: Database, tmp_path: Path
) -> None:
    with db.write() as session:
        session.execute(sa.text("INSERT INTO app_setting (key, value) VALUES ('marker', 'before')"))
    failing = _scripts_with_extra_revision(
        tmp_path / "failing",
        '    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))\n'
        '    op.execute("INSERT INTO no_such_table VALUES (1)")',
    )
    with pytest.raises(Exception, match="no_such_table"):
        migrate(db, backup_dir=tmp_path / "backups", script_location=failing)
    assert current_revision(db) == head_revision() and "half_done" not in _server_tables(db)

    adding = _scripts_with_extra_revision(
        tmp_path / "adding",
        '    with op.batch_alter_table("referral") as batch:\n'
        '        batch.add_column(sa.Column("triage_note", sa.Text(), nullable=True))',
    )
    report = migrate(db, backup_dir=tmp_path / "backups", script_location=adding)
    assert report.before == head_revision() and report.after == "9999" == current_revision(db)
    assert report.backup is None  # a server is backed up by its own tools (pg_dump), not by the app
    with db.engine.connect() as connection:
        assert "triage_note" in [c["name"] for c in sa.inspect(connection).get_columns("referral")]
        marker = connection.exec_driver_sql("SELECT value FROM app_setting WHERE key = 'marker'").scalar_one()
    assert marker == "before"


@pytest.mark.hazard("H03")
def test_a_database_from_a_newer_version_is_refused_untouched(db_path: Path, tmp_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dcafe'")
    before = db_path.read_bytes()
    database = _open(db_path)
    with pytest.raises(NewerSchemaError, match="newer version of the triage app.*f00dcafe.*left untouched"):
        migrate(database, backup_dir=tmp_path / "backups")
    database.dispose()
    assert db_path.read_bytes() == before


def test_a_database_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
    database = _open(path)
    with pytest.raises(DatabaseError, match="database of another program"):
        migrate(database, backup_dir=tmp_path / "backups")
    database.dispose()


def test_no_daily_backup_on_the_way_to_the_window(db_path: Path, tmp_path: Path) -> None:
    # The daily backup moved off the start-up path (storage.backup.daily_backup_if_due, tests/storage/test_backups.py)
    backups = tmp_path / "backups"
    database = _open(db_path)
    report = migrate(database, backup_dir=backups)
    database.dispose()
    assert report.backup is None and not list(backups.glob("*.sqlite3"))


def test_upgrade_to_0003_lets_standing_decisions_stand(tmp_path: Path) -> None:
    """A decision made on the referral's current computed outcome stands after the upgrade; the queue shows it."""
    path = tmp_path / "triage.sqlite3"
    shutil.copyfile(REPO / "db" / "fixtures" / "schema-0002.sqlite3", path)
    with sqlite3.connect(path) as connection:
        decided = dict(
            connection.execute(
                "SELECT d.referral_id, d.outcome FROM triage_decision d JOIN assessment a ON a.id = d.assessment_id "
                "JOIN referral r ON r.id = d.referral_id WHERE a.outcome = r.outcome "
                "AND d.id = (SELECT max(id) FROM triage_decision WHERE referral_id = d.referral_id)"
            ).fetchall()
        )
    assert decided  # the fixture holds a consultant's confirmation
    database = _open(path)
    migrate(database, backup_dir=tmp_path / "backups")
    database.dispose()
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT id, outcome, decided_outcome, decision_basis, queue_outcome FROM referral ORDER BY id"
        ).fetchall()
        versions = {v for (v,) in connection.execute("SELECT version FROM meeting_case")}
    for referral_id, outcome, decided_outcome, basis, shown in rows:
        assert decided_outcome == decided.get(referral_id)
        assert basis == (outcome if decided_outcome else None)
        assert shown == (decided_outcome or outcome)
    assert versions <= {1}
