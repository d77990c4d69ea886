"""Identity and permissions on a server: an ordinary login in the users' role can do the app's work and nothing
more; the server itself (not only schema 0005's triggers) refuses changes to the audit trail and any DDL; only an
administrator migrates."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.factories import referral_json
from tests.server.conftest import Unit, admin_url, app_url
from triage_app.__main__ import main
from triage_app.config import resource_path
from triage_app.services.app import open_session
from triage_app.storage.migrate import head_revision
from triage_app.storage.server_checks import MissingGrants
from triage_app.storage.server_grants import GRANTS, grants_sql


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.hazard("H12", "H15")
def test_an_ordinary_login_registers_a_referral_and_reads_the_queue_as_itself(
    unit: Unit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "user-data")
    code, out, err = run(
        capsys,
        "--data-dir",
        str(tmp_path / "admin-data"),
        "--db",
        unit.admin_url,
        "user",
        "add",
        unit.user_login,
        "--name",
        "Cora Ordinator",
        "--role",
        "coordinator",
    )
    assert code == 0, err
    source = tmp_path / "one.json"
    source.write_text(json.dumps([referral_json(3)]), encoding="utf-8")
    code, out, err = run(capsys, "--data-dir", data, "--db", unit.user_url, "import", str(source))
    assert code == 0, err
    assert "1 added" in out
    code, out, err = run(capsys, "--data-dir", data, "--db", unit.user_url, "queue", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows["referrals"] if isinstance(rows, dict) else rows) == 1
    with psycopg.connect(libpq(unit.admin_url)) as connection:
        who = connection.execute("SELECT user_login FROM audit_event WHERE entity = 'referral'").fetchall()
    assert {login for (login,) in who} == {unit.user_login}  # the server's role, not the desktop's account


@pytest.mark.hazard("H11", "H15")
def test_the_server_refuses_changes_to_the_audit_trail_and_any_ddl_by_an_ordinary_login(
    unit: Unit, tmp_path: Path
) -> None:
    session = open_session(unit.admin_url, backup_dir=None)  # a first event, so there is one to change
    session.close()
    refused = {
        "UPDATE audit_event SET action = 'forged'": "permission denied for table audit_event",
        "DELETE FROM audit_event": "permission denied for table audit_event",
        "TRUNCATE audit_event": "permission denied for table audit_event",
        "DELETE FROM audit_chain_head": "permission denied for table audit_chain_head",
        "DELETE FROM referral": "permission denied for table referral",
        "CREATE TABLE forged (id integer)": "permission denied for schema public",
        "ALTER TABLE referral ADD COLUMN forged integer": "must be owner of table referral",
        "DROP TABLE audit_event": "must be owner of table audit_event",
        "CREATE TEMPORARY TABLE forged (id integer)": "permission denied to create temporary tables",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only": "must be owner of table audit_event",
    }
    with psycopg.connect(libpq(unit.user_url), autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM audit_event").fetchone() != (0,)
        for statement, words in refused.items():
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=words):
                connection.execute(statement)  # SQLSTATE 42501: the server's privileges, before any trigger
    # The chain head moves forward only: the app's UPDATE is allowed, and the triggers of schema 0005 guard it.
    with (
        psycopg.connect(libpq(unit.user_url), autocommit=True) as connection,
        pytest.raises(psycopg.errors.RestrictViolation, match="only moves forward"),
    ):
        connection.execute("UPDATE audit_chain_head SET last_event_id = last_event_id - 1")


@pytest.mark.hazard("H15")
def test_migrate_is_refused_for_an_ordinary_login_and_changes_nothing(
    unit: Unit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(libpq(unit.admin_url)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0004'")  # an upgrade would be due
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "u"), "--db", unit.user_url, "migrate")
    assert code == 1 and out == ""
    assert f"triage-app migrate: refused: the login '{unit.user_login}' may not change the schema" in err
    assert f"owner role '{unit.owner}'" in err and "Nothing was changed" in err
    with psycopg.connect(libpq(unit.admin_url)) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)


def test_the_tables_belong_to_the_owner_role_and_every_table_has_its_grants(unit: Unit, pg_admin: sa.Engine) -> None:
    engine = sa.create_engine(app_url(unit.admin_url), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        owners = dict(
            connection.exec_driver_sql("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'").all()
        )
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    engine.dispose()
    assert version == head_revision()
    assert set(owners.values()) == {unit.owner}  # not the administrator's login that ran migrate
    assert set(owners) == {grant.table for grant in GRANTS}, "a table of the schema has no line in GRANTS"


def test_the_shipped_grants_sql_is_the_one_migrate_runs() -> None:
    shipped = resource_path("postgresql", "grants.sql").read_text(encoding="utf-8")
    assert shipped == grants_sql(), "run: python3 -c 'from triage_app.storage.server_grants import grants_sql; ...'"


@pytest.mark.hazard("H15")
def test_a_login_without_the_apps_grants_is_told_so_and_nothing_is_opened(
    unit: Unit, pg_admin: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = f"{unit.user_login}_x"
    with pg_admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{stranger}" LOGIN')
        connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{unit.database}" TO "{stranger}"')
    try:
        url = app_url(unit.user_url, username=stranger)
        with pytest.raises(MissingGrants, match=f"the login '{stranger}' has not been given .* lacks USAGE on schema"):
            open_session(url, backup_dir=None)
        code, _out, err = run(capsys, "--data-dir", str(tmp_path / "s"), "--db", url, "queue")
        assert code == 1 and f"GRANT triage_user TO {stranger}" in err
        # the schema's USAGE alone (granted in the unit's database): still no rights on the tables
        with psycopg.connect(libpq(app_url(admin_url(), database=unit.database)), autocommit=True) as connection:
            connection.execute(f'GRANT USAGE ON SCHEMA public TO "{stranger}"')
        with pytest.raises(MissingGrants, match="lacks SELECT on alembic_version|lacks SELECT on app_setting"):
            open_session(url, backup_dir=None)
    finally:
        with pg_admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{unit.database}" WITH (FORCE)')
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{stranger}"')
