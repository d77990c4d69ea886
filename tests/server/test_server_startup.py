"""Bad input on a server, each refused with a message naming which, nothing written: the server is down, the login
is refused, the database does not exist, the server is older than 15 (the check's function, with a version
number: no old server can be installed here), the schema is older than the app (an administrator migrates) or
newer (install the newer app); and the same on the desktop's start-up error dialog."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from tests.server.conftest import Unit, admin_url, app_url, drop_unit, new_unit, set_up
from triage_app import __version__
from triage_app.__main__ import main
from triage_app.services.app import open_session
from triage_app.storage.migrate import NewerSchemaError, SchemaNeedsUpgrade
from triage_app.storage.server_checks import (
    LoginRefused,
    NoSuchDatabase,
    ServerTooOld,
    ServerUnreachable,
    check_server_version,
)


def libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def snapshot(unit: Unit) -> tuple[Any, ...]:
    """What a start could have written: the schema revision, the users, the audit trail and its head, the rules."""
    with psycopg.connect(libpq(app_url(admin_url(), database=unit.database))) as connection:
        return tuple(
            connection.execute(query).fetchall()
            for query in (
                "SELECT version_num FROM alembic_version",
                "SELECT id, login, is_active FROM app_user ORDER BY id",
                "SELECT id, hash FROM audit_event ORDER BY id",
                "SELECT last_event_id, last_hash FROM audit_chain_head",
                "SELECT id FROM approved_rules ORDER BY id",
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            )
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.hazard("H03")
def test_a_server_that_is_down_is_named_by_host_and_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    url = f"postgresql+psycopg://triage_user@127.0.0.1:{port}/triage"
    with pytest.raises(ServerUnreachable, match=f"the database server at 127.0.0.1:{port} is not answering"):
        open_session(url, backup_dir=None)
    assert main(["--data-dir", str(tmp_path / "d"), "--db", url, "queue"]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is not answering (connection refused)" in err and "Traceback" not in err


@pytest.mark.hazard("H12")
def test_a_refused_login_says_so_naming_the_role(pg_admin: sa.Engine) -> None:
    url = app_url(admin_url(), username="c_nobody_at_all")
    where = f"{sa.make_url(url).host}:{sa.make_url(url).port}"
    with pytest.raises(LoginRefused, match=f"the database server at {where} refused the login 'c_nobody_at_all'"):
        open_session(url, backup_dir=None)


def test_a_database_that_does_not_exist_is_named(pg_admin: sa.Engine) -> None:
    url = app_url(admin_url(), database="c_no_such_database")
    with pytest.raises(NoSuchDatabase, match="has no database named 'c_no_such_database'"):
        open_session(url, backup_dir=None)


def test_a_server_older_than_15_is_refused_by_its_version_number() -> None:
    # No PostgreSQL 14 can be installed here: the check's function is given the number the server would report.
    with pytest.raises(ServerTooOld, match=r"runs PostgreSQL 14\.9; the triage app needs PostgreSQL 15 or newer"):
        check_server_version(140009, "db.example:5432")
    with pytest.raises(ServerTooOld, match=r"PostgreSQL 9\.6\.24"):
        check_server_version(90624, "db.example:5432")
    check_server_version(150000, "db.example:5432")
    check_server_version(170002, "db.example:5432")


@pytest.mark.hazard("H03", "H04")
def test_a_schema_older_than_the_app_needs_an_administrator_and_nothing_is_written(
    unit: Unit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(libpq(unit.admin_url)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0004'")
    before = snapshot(unit)
    for url in (unit.user_url, unit.admin_url):  # not even the administrator's ordinary start migrates
        with pytest.raises(
            SchemaNeedsUpgrade, match="the database needs upgrading by an administrator: triage-app migrate"
        ):
            open_session(url, backup_dir=tmp_path / "backups")
        assert main(["--data-dir", str(tmp_path / "d"), "--db", url, "queue"]) == 1
        assert "needs upgrading by an administrator: triage-app migrate" in capsys.readouterr().err
    assert snapshot(unit) == before


@pytest.mark.hazard("H03", "H05")
def test_a_schema_newer_than_the_app_says_install_the_newer_app_and_nothing_is_written(
    unit: Unit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(libpq(unit.admin_url)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dcafe'")
    before = snapshot(unit)
    expected = rf"this desktop's app \(version {__version__}\) is older than the database's schema \(revision f00dcafe"
    with pytest.raises(NewerSchemaError, match=expected):
        open_session(unit.user_url, backup_dir=None)
    # migrate by the administrator is refused too: an older app must not touch a newer schema
    assert main(["--data-dir", str(tmp_path / "a"), "--db", unit.admin_url, "migrate", "--grant-to", unit.users]) == 1
    assert "install the newer app" in capsys.readouterr().err.lower()
    assert snapshot(unit) == before


def test_a_new_database_without_the_schema_sends_users_to_the_administrator(
    pg_admin: sa.Engine, tmp_path: Path
) -> None:
    unit = new_unit()
    try:
        set_up(pg_admin, unit, tmp_path, migrate=False)
        with pytest.raises(SchemaNeedsUpgrade, match="has no triage schema yet"):
            open_session(unit.user_url, backup_dir=None)
        with psycopg.connect(libpq(unit.admin_url)) as connection:
            tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
    finally:
        drop_unit(pg_admin, unit)


@pytest.mark.hazard("H11")
def test_a_password_on_the_command_line_is_refused_and_never_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d"
    url = "postgresql+psycopg://triage_user:Secret-Pa55@127.0.0.1:1/triage"
    assert main(["--data-dir", str(data), "--db", url, "queue"]) == 2
    captured = capsys.readouterr()
    assert "--db: the database URL holds a password" in captured.err
    assert "Secret-Pa55" not in captured.err + captured.out
    # From TRIAGE_APP_DB (an unattended script's own environment) it is accepted, and still never shown or logged.
    monkeypatch.setenv("TRIAGE_APP_DB", url)
    assert main(["--data-dir", str(data), "queue"]) == 1
    captured = capsys.readouterr()
    assert "not answering" in captured.err and "Secret-Pa55" not in captured.err + captured.out
    logged = "".join(path.read_text(encoding="utf-8") for path in (data / "logs").glob("*") if path.is_file())
    assert "Secret-Pa55" not in logged


@pytest.mark.hazard("H11")
def test_a_server_without_tls_is_refused_when_the_url_asks_for_it(pg_admin: sa.Engine) -> None:
    # The test server has no TLS (trust on 127.0.0.1): a desktop's URL asking for verify-full must not fall back.
    url = app_url(admin_url()) + ("&" if "?" in admin_url() else "?") + "sslmode=verify-full"
    with pytest.raises(LoginRefused, match="the secure connection to the database server at .* failed"):
        open_session(url, backup_dir=None)


@pytest.mark.hazard("H03", "H05")
def test_a_sqlite_file_from_a_newer_app_is_refused_in_the_same_words_before_anything_writes(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    with sqlite3.connect(db_path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dcafe'")
    connection.close()
    for side in (db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
        assert not side.exists()
    before = db_path.read_bytes()
    url = "sqlite:///" + db_path.as_posix()
    with pytest.raises(NewerSchemaError, match=rf"this desktop's app \(version {__version__}\) is older than"):
        open_session(url, backup_dir=tmp_path / "backups")
    assert main(["--data-dir", str(db_path.parent), "queue"]) == 1
    assert "install the newer app" in capsys.readouterr().err.lower()
    assert db_path.read_bytes() == before
    assert not (tmp_path / "backups").exists()  # not even a backup before an upgrade that will not happen
