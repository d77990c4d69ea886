"""Connections, file modes and bad database files."""

from __future__ import annotations

import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from triage_app.storage.engine import (
    Database,
    DatabaseError,
    DatabaseLockedError,
    parse_database_url,
    sqlite_url,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.mark.sqlite_only("SQLite's PRAGMAs on every connection")
@pytest.mark.hazard("H03")
def test_every_connection_has_the_pragmas(db: Database) -> None:
    with db.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


@posix_only
@pytest.mark.hazard("H11")
def test_new_database_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    database = Database(parse_database_url(sqlite_url(path)))
    database.check_connection()
    database.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.hazard("H03")
def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "triage.sqlite3"
    content = b"Referral list, do not delete\n" * 100
    path.write_bytes(content)
    with pytest.raises(DatabaseError, match="not a SQLite database.*left untouched"):
        Database(parse_database_url(sqlite_url(path)))
    assert path.read_bytes() == content


@pytest.mark.hazard("H03")
def test_a_damaged_sqlite_file_is_refused_and_left_untouched(db_path: Path) -> None:
    data = bytearray(db_path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page, keep the header
    db_path.write_bytes(bytes(data))
    database = Database(parse_database_url(sqlite_url(db_path)))
    with pytest.raises(DatabaseError, match="damaged"), database.read() as session:
        session.connection().exec_driver_sql("SELECT count(*) FROM referral").all()
    database.dispose()
    assert db_path.read_bytes() == bytes(data)


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="folder for the database does not exist"):
        Database(parse_database_url(sqlite_url(tmp_path / "nowhere" / "x.sqlite3")))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url at all", "is not a database URL"),
        ("nosuchdb://host/name", "unknown database type"),
        ("sqlite://", "must name a file"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message):
        parse_database_url(url)


def test_server_url_without_driver_says_so() -> None:
    location = parse_database_url("postgresql://triage@127.0.0.1:1/triage")
    try:  # whichever driver SQLAlchemy picks for postgresql:// (psycopg2 before 2.1, psycopg 3 since)
        location.url.get_dialect().import_dbapi()
    except ImportError:
        with pytest.raises(DatabaseError, match="driver .* is not installed"):
            Database(parse_database_url("postgresql://triage@127.0.0.1:1/triage"))
    else:  # pragma: no cover - depends on the machine
        database = Database(parse_database_url("postgresql://triage@127.0.0.1:1/triage"))
        with pytest.raises(DatabaseError, match="cannot be reached"):
            database.check_connection()


@pytest.mark.hazard("H03")
def test_locked_database_waits_then_says_so(db_path: Path) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    database = Database(parse_database_url(sqlite_url(db_path)), busy_timeout_ms=300)
    try:
        with (
            pytest.raises(DatabaseLockedError, match="in use by another program.*0.3 seconds"),
            database.write() as session,
        ):
            session.connection().exec_driver_sql("UPDATE app_setting SET value = value")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        database.dispose()
