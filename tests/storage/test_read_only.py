"""Read-only mode and the look before opening: a database that can only be read is never written, and says why.

Real SQLite files throughout; a full disk is a real "database or disk is full" from SQLite (a page limit on the
connection) or an injected ENOSPC through the start-up probe; tests/safety/test_faults_startup.py does the
same end to end on a small tmpfs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from triage_app.config import ConfigError, resolve_paths
from triage_app.logs import OwnerOnlyRotatingFileHandler
from triage_app.storage import preflight
from triage_app.storage.engine import (
    Database,
    DatabaseFull,
    DatabaseReadOnly,
    EmptyDatabaseFile,
    check_sqlite_file,
    parse_database_url,
    sqlite_url,
)
from triage_app.storage.preflight import ForeignDatabase, ReadOnlyKind, check_sqlite_before_opening, probe_writable

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.hazard("H17")
def test_read_only_database_refuses_every_write_and_says_why(db_path: Path) -> None:
    before = sha256(db_path)
    database = Database(parse_database_url(sqlite_url(db_path)), read_only="The disk is full: free space.")
    try:
        assert database.read_only == "The disk is full: free space."
        with database.read() as session:  # reading works
            assert session.connection().exec_driver_sql("SELECT count(*) FROM app_user").scalar_one() >= 0
        with pytest.raises(DatabaseReadOnly) as refused, database.write():
            pass
        assert str(refused.value) == (
            "this change was refused and nothing was changed: the database is open for reading only. "
            "The disk is full: free space."
        )
        # Underneath, the connection itself cannot write either (read-only URI, query_only).
        with pytest.raises(Exception, match="readonly|read-only|query_only"), database.engine.connect() as raw:
            raw.exec_driver_sql("UPDATE app_setting SET value = value")
    finally:
        database.dispose()
    assert sha256(db_path) == before


@pytest.mark.hazard("H17")
@pytest.mark.server_only("a server database opened for reading only (READ ONLY transactions)")
def test_read_only_server_database_refuses_every_write_and_says_why(db_url: str) -> None:
    def stored() -> list[tuple[object, ...]]:
        other = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        try:
            with other.connect() as connection:
                rows = connection.exec_driver_sql("SELECT key, value FROM app_setting ORDER BY key")
                return [tuple(row) for row in rows]
        finally:
            other.dispose()

    before = stored()
    database = Database(parse_database_url(db_url), read_only="The server is in maintenance.")
    try:
        with database.read() as session:  # reading works
            assert session.connection().exec_driver_sql("SELECT count(*) FROM app_user").scalar_one() >= 0
        with pytest.raises(DatabaseReadOnly) as refused, database.write():
            pass
        assert str(refused.value) == (
            "this change was refused and nothing was changed: the database is open for reading only. "
            "The server is in maintenance."
        )
        # Underneath, the connection itself cannot write either (its transactions are READ ONLY on the server).
        with pytest.raises(Exception, match="read-only transaction"), database.engine.connect() as raw:
            raw.exec_driver_sql("UPDATE app_setting SET value = value")
    finally:
        database.dispose()
    assert stored() == before


@pytest.mark.hazard("H17")
def test_a_read_only_open_never_switches_the_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "theirs.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    database = Database(parse_database_url(sqlite_url(path)), read_only="just looking")
    with database.read() as session:
        session.connection().exec_driver_sql("SELECT count(*) FROM t").scalar_one()
    database.dispose()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not Path(f"{path}-wal").exists()


@pytest.mark.hazard("H03", "H17")
def test_a_zero_byte_file_is_refused_never_made_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "triage.sqlite3"
    path.touch()
    inode = path.stat().st_ino
    with pytest.raises(EmptyDatabaseFile, match=r"is empty \(0 bytes\).*no new database was made in its place"):
        Database(parse_database_url(sqlite_url(path)))
    with pytest.raises(EmptyDatabaseFile):
        check_sqlite_file(path)
    assert path.stat().st_size == 0 and path.stat().st_ino == inode


def test_a_new_database_file_gets_its_header_at_once(tmp_path: Path) -> None:
    """No other process ever finds a zero-byte file that a new database is about to fill (and refuses it)."""
    path = tmp_path / "new.sqlite3"
    database = Database(parse_database_url(sqlite_url(path)))
    try:
        assert path.stat().st_size > 0
        assert path.read_bytes()[:16] == b"SQLite format 3\x00"
        Database(parse_database_url(sqlite_url(path))).dispose()  # a second opener is not refused
    finally:
        database.dispose()


@pytest.mark.hazard("H17")
def test_another_programs_database_is_refused_by_the_read_only_look(tmp_path: Path) -> None:
    path = tmp_path / "triage.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE contacts (name TEXT)")
    before = sha256(path)
    with pytest.raises(ForeignDatabase, match="database of another program.*left untouched"):
        check_sqlite_before_opening(path)
    assert sha256(path) == before and not Path(f"{path}-wal").exists()


@pytest.mark.hazard("H17")
def test_quick_check_finds_a_damaged_page(db_path: Path) -> None:
    assert check_sqlite_before_opening(db_path).damaged is False
    overwrite_index_page(db_path)
    damaged = db_path.read_bytes()
    found = check_sqlite_before_opening(db_path)
    assert found.damaged and found.integrity is not None and found.revision is not None
    assert db_path.read_bytes() == damaged


def overwrite_index_page(path: Path, index: str = "ix_referral_hospital_number") -> None:
    """Overwrite 700 bytes at the start of one index's root page (as the issue's finding 1 did)."""
    with sqlite3.connect(path) as connection:
        (page,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)).fetchone()
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    start = (page - 1) * page_size
    data = bytearray(path.read_bytes())
    data[start : start + 700] = bytes((i * 37 + 11) % 256 for i in range(700))
    path.write_bytes(bytes(data))


@pytest.mark.hazard("H17")
def test_disk_full_from_sqlite_says_so_and_nothing_was_changed(db_path: Path) -> None:
    database = Database(parse_database_url(sqlite_url(db_path)))

    @event.listens_for(database.engine, "connect")
    def no_room(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")  # SQLite answers "database or disk is full"

    try:
        with pytest.raises(DatabaseFull) as full, database.write() as session:
            session.connection().exec_driver_sql(
                "INSERT INTO app_setting (key, value) VALUES ('filler', ?)", ("x" * 200_000,)
            )
        assert "is full, so the change could not be saved; nothing was changed" in str(full.value)
        with database.read() as session:
            count = session.connection().exec_driver_sql("SELECT count(*) FROM app_setting WHERE key = 'filler'")
            assert count.scalar_one() == 0
    finally:
        database.dispose()


@pytest.mark.hazard("H17")
def test_the_probe_names_a_full_disk_and_a_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert probe_writable(tmp_path) is None
    assert not list(tmp_path.iterdir())  # the probe file is removed again

    def full(_folder: Path, _size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(preflight, "_write_probe", full)
    problem = probe_writable(tmp_path)
    assert problem is not None and problem.kind is ReadOnlyKind.DISK_FULL

    def read_only(_folder: Path, _size: int) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(preflight, "_write_probe", read_only)
    problem = probe_writable(tmp_path)
    assert problem is not None and problem.kind is ReadOnlyKind.READ_ONLY


@pytest.mark.parametrize(
    ("kwargs", "environ", "named"),
    [
        ({"data_dir": ""}, {}, "--data-dir is empty"),
        ({"data_dir": "   "}, {}, "--data-dir is empty"),
        ({}, {"TRIAGE_APP_DATA_DIR": ""}, "TRIAGE_APP_DATA_DIR is empty"),
        ({"db": ""}, {}, "--db is empty"),
        ({}, {"TRIAGE_APP_DB": ""}, "TRIAGE_APP_DB is empty"),
    ],
)
def test_an_empty_data_folder_or_database_is_refused_not_the_default(
    kwargs: dict[str, str], environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=f"{named}: give .* Nothing was opened"):
        resolve_paths(**kwargs, environ=environ)


@posix_only
@pytest.mark.hazard("H11")
def test_rotated_log_files_are_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        handler = OwnerOnlyRotatingFileHandler(tmp_path / "triage-app.log", maxBytes=300, backupCount=3)
        logger = logging.getLogger("test-rotation")
        logger.addHandler(handler)
        logger.propagate = False
        for n in range(40):
            logger.warning("line %d of the log, long enough to rotate soon", n)
        handler.close()
        logger.removeHandler(handler)
    finally:
        os.umask(old_umask)
    files = sorted(tmp_path.glob("triage-app.log*"))
    assert len(files) == 4  # the log and three rotated ones
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


@posix_only
def test_a_log_that_cannot_be_written_does_not_stop_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from triage_app.logs import configure_logging

    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log folder should be")
    assert configure_logging(blocker) is None
    logging.getLogger("triage_app.test").warning("goes nowhere, raises nothing")
    assert capsys.readouterr().err == ""  # not even logging's last-resort handler


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(_folder: Path, _size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(preflight, "_write_probe", no_space)


@pytest.mark.hazard("H12", "H15", "H17")
def test_an_unknown_user_on_a_read_only_database_never_becomes_its_administrator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage_app.services.app import open_session
    from triage_app.services.users import UnknownUser
    from triage_app.storage.migrate import migrate

    path = tmp_path / "triage.sqlite3"
    database = Database(parse_database_url(sqlite_url(path)))
    migrate(database, backup_dir=None)  # a migrated database with no user yet: its first user would be admin
    database.dispose()
    before = sha256(path)
    _disk_full(monkeypatch)
    with pytest.raises(UnknownUser, match="not a user of this triage database.*open for reading only"):
        open_session(sqlite_url(path), backup_dir=None, login="walk-in", allow_read_only=True)
    assert sha256(path) == before
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM app_user").fetchone() == (0,)


@pytest.mark.hazard("H17")
def test_a_read_only_start_writes_nothing_and_the_session_says_why(
    db_path: Path, admin: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage_app.services.app import open_session

    before = sha256(db_path)
    _disk_full(monkeypatch)
    with pytest.raises(DatabaseReadOnly, match="This command changes the database, so it was refused"):
        open_session(sqlite_url(db_path), backup_dir=None, login="admin-test")
    session = open_session(sqlite_url(db_path), backup_dir=None, login="admin-test", allow_read_only=True)
    try:
        assert session.read_only_kind is ReadOnlyKind.DISK_FULL
        assert session.read_only is not None and "is full (No space left on device)" in session.read_only
        assert session.warnings == (f"warning: the database is open for reading only. {session.read_only}",)
        assert session.actor.login == "admin-test"
    finally:
        session.close()
    assert sha256(db_path) == before


@pytest.mark.hazard("H17")
def test_a_read_only_database_that_needs_an_upgrade_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from importlib import resources

    from triage_app.services.app import open_session

    fixture = Path(str(resources.files("triage_app.db") / "fixtures" / "schema-0003.sqlite3"))
    path = tmp_path / "triage.sqlite3"
    shutil.copyfile(fixture, path)
    before = sha256(path)
    _disk_full(monkeypatch)
    with pytest.raises(DatabaseReadOnly, match=r"needs its schema brought up to date \(0003 -> .*nothing was changed"):
        open_session(sqlite_url(path), backup_dir=None, login="fixture-admin", allow_read_only=True)
    assert sha256(path) == before


@posix_only
@pytest.mark.hazard("H17")
def test_a_read_only_open_makes_its_wal_and_shm_owner_only_and_removes_them_when_closed(db_path: Path) -> None:
    """A file others may write (0644) is read `mode=ro`, not immutable: SQLite makes a -shm (and -wal) with the
    file's permissions; they are owner-only at once and gone when the last read-only connection closes."""
    db_path.chmod(0o644)
    sides = [Path(f"{db_path}-wal"), Path(f"{db_path}-shm")]
    assert not any(side.exists() for side in sides)
    database = Database(parse_database_url(sqlite_url(db_path)), read_only="just looking")
    try:
        with database.read() as first, database.read() as second:  # two pooled connections
            first.connection().exec_driver_sql("SELECT count(*) FROM app_user").scalar_one()
            second.connection().exec_driver_sql("SELECT count(*) FROM referral").scalar_one()
            made = [side for side in sides if side.exists()]
            assert made and all(stat.S_IMODE(side.stat().st_mode) == 0o600 for side in made), [
                oct(s.stat().st_mode) for s in made
            ]
    finally:
        database.dispose()
    assert not any(side.exists() for side in sides)
    with check_sqlite_file_kept_open(db_path):  # another program's connection: its files are left alone
        reader = Database(parse_database_url(sqlite_url(db_path)), read_only="just looking")
        with reader.read() as session:
            session.connection().exec_driver_sql("SELECT 1").scalar_one()
        reader.dispose()
        assert Path(f"{db_path}-shm").exists()


@contextlib.contextmanager
def check_sqlite_file_kept_open(path: Path) -> Iterator[None]:
    """The database held open by a writing SQLite connection (as the desktop app holds it)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = WAL").fetchone()
        connection.execute("SELECT count(*) FROM app_user").fetchone()
        yield
    finally:
        connection.close()


@pytest.mark.hazard("H17")
def test_a_start_that_could_not_read_the_file_does_not_call_it_damaged(tmp_path: Path) -> None:
    """The disk or the system stopping the quick check (an I/O error, a full disk) is not damage: start-up must not
    say "damaged" and send the unit to restore a backup, as `check` already does not."""
    from triage_app.storage.integrity import IntegrityResult
    from triage_app.storage.preflight import SqliteFileCheck

    path = tmp_path / "triage.sqlite3"
    unreadable = IntegrityResult(False, ("disk I/O error",), unreadable="disk I/O error")
    assert not SqliteFileCheck(path, exists=True, revision="0005", integrity=unreadable).damaged
    damaged = IntegrityResult(False, ("Page 55: btreeInitPage() returns error code 11",))
    assert SqliteFileCheck(path, exists=True, revision="0005", integrity=damaged).damaged
