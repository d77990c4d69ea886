"""Fault injection at start-up: each fault is done for real, through the app's own command line.

A zero-byte database file, an index page overwritten, another program's SQLite file, a read-only file and a
read-only file system, a full disk (a small tmpfs when running as root, and an ENOSPC injected through the
start-up probe), and SQLite's "database or disk is full" in the middle of a write. Each test asserts that nothing
stored is lost or changed (the file's bytes hashed before and after) and quotes what the user is told.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.factories import referral, referral_json
from tests.storage.test_read_only import overwrite_index_page
from triage_app.__main__ import main
from triage_app.services.users import Actor
from triage_app.storage import preflight

pytestmark = pytest.mark.sqlite_only(
    "faults done to the SQLite file itself (zero bytes, damaged pages, read-only files, full disks); a server's storage is its own"
)

AS_OF = "2026-11-02"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def referral_count(path: Path, *, immutable: bool = False) -> int:
    """Counted through a read-only connection of its own (`immutable` on a full or read-only disk: no -shm)."""
    uri = "file:" + path.resolve().as_posix() + "?mode=ro" + ("&immutable=1" if immutable else "")
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
        return int(connection.execute("SELECT count(*) FROM referral").fetchone()[0])


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A data folder with three imported referrals (the app closed cleanly: no -wal left)."""
    folder = tmp_path / "data"
    source = tmp_path / "in.json"
    source.write_text(json.dumps([referral_json(n) for n in (1, 2, 3)]))
    code, _out, err = run(capsys, "--data-dir", str(folder), "import", str(source), "--as-of", AS_OF)
    assert code == 0, err
    code, _out, err = run(capsys, "--data-dir", str(folder), "queue")  # today's priorities written once
    assert code == 0, err
    return folder


def queue_rows(capsys: pytest.CaptureFixture[str], folder: Path) -> tuple[int, list[dict[str, object]], str]:
    code, out, err = run(capsys, "--data-dir", str(folder), "queue", "--json")
    return code, json.loads(out) if out.strip() else [], err


# --- a zero-byte file ----------------------------------------------------------------------------------------


@pytest.mark.hazard("H03", "H15", "H17")
@pytest.mark.parametrize("command", [["queue"], ["migrate"], ["user", "list"]])
def test_a_zero_byte_database_is_refused_and_left_as_it_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    database = folder / "triage.sqlite3"
    database.touch()
    inode = database.stat().st_ino
    code, out, err = run(capsys, "--data-dir", str(folder), *command)
    assert code == 1 and out == ""
    assert (
        f"{database} is empty (0 bytes): the database it held has been lost from this file (an interrupted copy, a "
        "full disk or a crash can do this). It has been left untouched and no new database was made in its place."
    ) in err
    assert "triage-app restore" in err or "no verified backup" in err.lower()
    # Untouched: still empty, the same file, nothing beside it; so nobody became its administrator.
    assert database.stat().st_size == 0 and database.stat().st_ino == inode
    assert sorted(p.name for p in folder.iterdir() if p.name != "logs") == ["triage.sqlite3"]


@pytest.mark.hazard("H03", "H17")
def test_a_zero_byte_database_names_the_newest_verified_backup(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    code, _out, err = run(capsys, "--data-dir", str(data_dir), "backup")
    assert code == 0, err
    database = data_dir / "triage.sqlite3"
    database.write_bytes(b"")  # emptied, as an interrupted copy leaves it
    code, _out, err = run(capsys, "--data-dir", str(data_dir), "queue")
    assert code == 1
    assert "is empty (0 bytes)" in err
    assert "The newest verified backup is triage-" in err and "restore it with `triage-app restore triage-" in err
    assert database.stat().st_size == 0


# --- a missing file where the backups folder shows a database was kept ----------------------------------------


@pytest.mark.hazard("H17")
@pytest.mark.parametrize("command", [["queue"], ["migrate"], ["user", "list"], ["demo", "--count", "5"]])
def test_a_missing_database_is_refused_never_made_anew(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, command: list[str]
) -> None:
    """The tester's steps: a backup, then the database file moved away (and its -wal/-shm removed)."""
    code, out, err = run(capsys, "--data-dir", str(data_dir), "backup")
    assert code == 0, err
    backup = out.split("backed up to ")[1].split()[0]
    database = data_dir / "triage.sqlite3"
    database.rename(tmp_path / "moved-away.sqlite3")
    for side in data_dir.glob("triage.sqlite3-*"):
        side.unlink()
    before = sorted(p.name for p in data_dir.iterdir())

    code, out, err = run(capsys, "--data-dir", str(data_dir), *command)

    assert code == 1 and out == ""
    assert f"The database file {database} is missing, yet a database was kept there: " in err
    assert "the backups folder's manifest lists 2 backups of it (2 verified)" in err  # the daily one and ours
    assert "the audit checkpoint audit-checkpoint.json recorded its audit trail up to event " in err
    assert "Nothing was created" in err
    name = Path(backup).name
    assert f"The newest verified backup is {name} (taken " in err and f"`triage-app restore {name}`" in err
    assert (
        f"choose another data folder (--data-dir), or first move the backups folder {data_dir / 'backups'} aside" in err
    )
    # Nothing created: no database, no -wal or -shm, nobody made its administrator.
    assert not database.exists() and sorted(p.name for p in data_dir.iterdir()) == before


@pytest.mark.hazard("H17")
def test_the_audit_checkpoint_alone_shows_a_database_was_there(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    """No backups of it (the manifest and its files gone), yet the checkpoint names this database: refused."""
    backups = data_dir / "backups"
    for item in backups.iterdir():
        if item.name != "audit-checkpoint.json":
            item.unlink()
    (data_dir / "triage.sqlite3").unlink()
    code, _out, err = run(capsys, "--data-dir", str(data_dir), "queue")
    assert code == 1
    assert "is missing, yet a database was kept there: the audit checkpoint audit-checkpoint.json recorded" in err
    assert f"There is no verified backup in {backups} to restore. Ask the unit's IT contact" in err
    assert not (data_dir / "triage.sqlite3").exists()


@pytest.mark.hazard("H17")
def test_a_missing_database_is_restored_by_the_backups_administrator_and_a_new_start_is_on_purpose(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--data-dir", str(data_dir), "backup")
    assert code == 0, err
    name = Path(out.split("backed up to ")[1].split()[0]).name
    (data_dir / "triage.sqlite3").unlink()
    code, out, err = run(capsys, "--data-dir", str(data_dir), "restore", name)
    assert code == 0, err
    assert f"restored {name} (taken " in out and "3 referrals" in out
    assert "nothing (there was no database file)" in out and "administrator: checked in the backup" in out
    code, rows, err = queue_rows(capsys, data_dir)
    assert code == 0 and len(rows) == 3, err
    # Starting anew on purpose: the backups folder moved aside, then a new database is made as on a first start.
    (data_dir / "triage.sqlite3").unlink()
    for side in data_dir.glob("triage.sqlite3-*"):
        side.unlink()
    (data_dir / "backups").rename(tmp_path / "old-backups")
    code, out, err = run(capsys, "--data-dir", str(data_dir), "queue")
    assert code == 0 and "0 referrals" in out, err


# --- a damaged page ------------------------------------------------------------------------------------------


@pytest.mark.hazard("H03", "H17")
def test_a_damaged_database_is_read_never_written(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, err = run(capsys, "--data-dir", str(data_dir), "backup")
    assert code == 0, err
    code, rows_before, _ = queue_rows(capsys, data_dir)
    assert code == 0 and len(rows_before) == 3
    database = data_dir / "triage.sqlite3"
    overwrite_index_page(database)
    damaged = sha256(database)

    # Reading commands work, each saying first that the database is damaged and open for reading only.
    code, rows, err = queue_rows(capsys, data_dir)
    assert code == 0 and rows == rows_before
    assert err.startswith("triage-app queue: warning: the database is open for reading only. The database ")
    assert "is damaged (quick_check: " in err and "the app writes nothing to it" in err
    assert "The newest verified backup is triage-" in err and "`triage-app restore triage-" in err
    code, out, err = run(capsys, "--data-dir", str(data_dir), "audit", "verify")
    assert code == 0 and "audit trail intact" in out and "open for reading only" in err
    code, out, err = run(capsys, "--data-dir", str(data_dir), "referral", "show", "1")
    assert code == 0 and out.startswith("referral 1 (version") and "open for reading only" in err

    # Writing commands are refused, with what to do.
    source = data_dir.parent / "more.json"
    source.write_text(json.dumps([referral_json(9)]))
    code, out, err = run(capsys, "--data-dir", str(data_dir), "import", str(source), "--as-of", AS_OF)
    assert code == 1 and out == ""
    assert "is damaged (quick_check: " in err
    assert "This command changes the database, so it was refused; nothing was changed." in err
    assert "`triage-app restore triage-" in err
    code, _out, err = run(capsys, "--data-dir", str(data_dir), "user", "add", "jo", "--name", "Jo", "--role", "admin")
    assert code == 1 and "so it was refused; nothing was changed" in err

    assert sha256(database) == damaged  # not one byte written
    assert referral_count(database) == 3


# --- another program's database ------------------------------------------------------------------------------


@pytest.mark.hazard("H17")
@pytest.mark.parametrize("command", [["queue"], ["migrate"]])
def test_another_programs_sqlite_file_is_refused_in_its_own_journal_mode(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    theirs = folder / "triage.sqlite3"
    with contextlib.closing(sqlite3.connect(theirs)) as connection:
        connection.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
        connection.execute("INSERT INTO contacts VALUES ('A Person', '0100')")
        connection.commit()
    before = sha256(theirs)
    code, _out, err = run(capsys, "--data-dir", str(folder), *command)
    assert code == 1
    assert (
        f"{theirs} is a database of another program (it has tables but no triage schema version); it has been "
        "left untouched. Choose another file with --db."
    ) in err
    with contextlib.closing(sqlite3.connect(theirs)) as connection:  # a connection of its own
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not Path(f"{theirs}-wal").exists()
    assert sha256(theirs) == before


# --- read-only file and file system ------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at `where` (root only); the test is skipped when mounting is not allowed here."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _move_data(data_dir: Path, target: Path) -> Path:
    moved = target / "data"
    shutil.copytree(data_dir, moved)
    return moved


def _reads_work_writes_refused(capsys: pytest.CaptureFixture[str], folder: Path, said: str) -> None:
    database = folder / "triage.sqlite3"
    before, count = sha256(database), referral_count(database, immutable=True)  # no -wal: closed cleanly
    code, rows, err = queue_rows(capsys, folder)
    assert code == 0 and len(rows) == count
    assert "warning: the database is open for reading only." in err and said in err
    code, out, err = run(capsys, "--data-dir", str(folder), "audit", "verify")
    assert code == 0 and "audit trail intact" in out
    source = folder.parent.parent / "more.json"
    source.write_text(json.dumps([referral_json(9)]))
    code, out, err = run(capsys, "--data-dir", str(folder), "import", str(source), "--as-of", AS_OF)
    assert code == 1 and said in err
    assert "This command changes the database, so it was refused; nothing was changed." in err
    assert sha256(database) == before and referral_count(database, immutable=True) == count


@pytest.mark.hazard("H17")
def test_a_read_only_database_file_can_be_read_not_written(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes to a 0400 file regardless; the read-only file system test covers root")
    database = data_dir / "triage.sqlite3"
    database.chmod(0o400)
    try:
        _reads_work_writes_refused(capsys, data_dir, "cannot be written (triage.sqlite3 is read-only")
    finally:
        database.chmod(0o600)


@pytest.mark.hazard("H17")
def test_a_read_only_file_system_can_be_read_not_written(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "mnt", "8m") as mount:
        folder = _move_data(data_dir, mount)
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True, check=False)
        if remounted.returncode != 0:
            pytest.skip("cannot remount the tmpfs read-only here")
        _reads_work_writes_refused(capsys, folder, "cannot be written (")
        assert not [p.name for p in folder.iterdir() if p.name.startswith("triage.sqlite3-")]


# --- a full disk --------------------------------------------------------------------------------------------


def _fill(mount: Path) -> None:
    """Fill the file system to the last block."""
    fd = os.open(mount / "filler", os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    assert shutil.disk_usage(mount).free < 4096


@pytest.mark.hazard("H03", "H17")
def test_a_full_disk_still_shows_the_queue_and_refuses_changes(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "mnt", "2m") as mount:
        folder = _move_data(data_dir, mount)
        _fill(mount)
        _reads_work_writes_refused(capsys, folder, "The disk holding the database")
        code, _out, err = run(capsys, "--data-dir", str(folder), "queue")
        assert code == 0
        assert "is full (No space left on device), so no change can be saved. Free space on that disk" in err
        # Reading on a full disk left nothing behind (no -wal, no -shm it could not fill).
        assert not [p.name for p in folder.iterdir() if p.name.startswith("triage.sqlite3-")]


@pytest.mark.hazard("H03", "H17")
def test_a_full_disk_found_by_the_probe_injected(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(_folder: Path, _size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(preflight, "_write_probe", no_space)
    _reads_work_writes_refused(capsys, data_dir, "The disk holding the database")


@pytest.mark.hazard("H03", "H17")
def test_a_disk_that_fills_during_a_save_says_so_and_keeps_what_was_stored(db_path: Path, admin: Actor) -> None:
    from triage_app.config import default_rules_path
    from triage_app.domain.rules import load_rules
    from triage_app.services.referrals import register_referral
    from triage_app.storage.engine import Database, DatabaseFull, parse_database_url, sqlite_url

    rules = load_rules(default_rules_path())
    database = Database(parse_database_url(sqlite_url(db_path)))
    register_referral(database, actor=admin, referral=referral(1), rules=rules, as_of=date(2026, 11, 2))
    database.dispose()  # the next connections get a page limit: SQLite's own "database or disk is full"

    @event.listens_for(database.engine, "connect")
    def no_room(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(DatabaseFull) as full:
        for serial in range(2, 40):
            register_referral(database, actor=admin, referral=referral(serial), rules=rules, as_of=date(2026, 11, 2))
    assert str(full.value) == (
        f"the disk holding the database {db_path} is full, so the change could not be saved; nothing was changed. "
        "Free space on that disk, then try again."
    )
    with database.read() as session:
        stored = session.connection().exec_driver_sql("SELECT count(*) FROM referral").scalar_one()
    database.dispose()
    assert stored >= 1  # the first one and every one acknowledged before the disk filled
    assert referral_count(db_path) == stored


# --- paths ---------------------------------------------------------------------------------------------------


@pytest.mark.hazard("H17")
@pytest.mark.parametrize(("argv", "environ"), [(["--data-dir", ""], {}), ([], {"TRIAGE_APP_DATA_DIR": ""})])
def test_an_empty_data_folder_is_refused_not_the_default_one(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    environ: dict[str, str],
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # where the default folder would be
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    code, out, err = run(capsys, *argv, "queue")
    assert code == 2 and out == ""
    assert "is empty: give a folder, or leave" in err and "Nothing was opened." in err
    assert not (tmp_path / "xdg").exists()


# --- a start writes nothing that has not changed -------------------------------------------------------------


@pytest.mark.hazard("H17")
def test_a_start_with_nothing_to_change_writes_nothing(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    database = data_dir / "triage.sqlite3"
    before = sha256(database)
    for command in (["queue"], ["audit", "verify"], ["user", "list"], ["migrate"]):
        code, _out, err = run(capsys, "--data-dir", str(data_dir), *command)
        assert code == 0, err
    assert sha256(database) == before
    assert not Path(f"{database}-wal").exists() or Path(f"{database}-wal").stat().st_size == 0


# --- read-only opens leave nothing behind (tester's defect 4) ----------------------------------------------

#: Root without the capabilities that override file modes: it then meets a 0444 file as any account does.
_NO_OVERRIDE = ["--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def _as_an_ordinary_account(*argv: str) -> subprocess.CompletedProcess[str]:
    """The app's command line in a process of its own that file modes bind (root drops its overriding powers)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, and setpriv (to drop root's power over file modes) is not installed")
        prefix = [setpriv, *_NO_OVERRIDE, "--inh-caps", _NO_OVERRIDE[1]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_APP_")}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "triage_app", *argv], capture_output=True, text=True, env=env, check=False
    )


def _beside(database: Path) -> list[str]:
    return sorted(p.name for p in database.parent.iterdir() if p.name.startswith(database.name + "-"))


@pytest.mark.hazard("H17")
def test_a_read_only_file_is_read_leaving_no_file_beside_it_and_is_writable_again_once_made_so(
    data_dir: Path,
) -> None:
    database = data_dir / "triage.sqlite3"
    before = sha256(database)
    database.chmod(0o444)
    try:
        started = _as_an_ordinary_account("--data-dir", str(data_dir), "queue")
        assert started.returncode == 0 and "3 referrals" in started.stdout, started.stderr
        assert "cannot be written (triage.sqlite3 is read-only" in started.stderr
        # Read `immutable`: no -wal or -shm made with the file's (world-readable) permissions and left there.
        assert _beside(database) == []
        assert sha256(database) == before
    finally:
        database.chmod(0o600)
    started = _as_an_ordinary_account("--data-dir", str(data_dir), "queue")
    assert started.returncode == 0 and "open for reading only" not in started.stderr, started.stderr


@pytest.mark.hazard("H17")
def test_an_empty_read_only_wal_and_shm_of_ours_do_not_make_a_writable_database_read_only(data_dir: Path) -> None:
    """What an older read-only start left (SQLite gives them the database file's 0444): removed, not refused."""
    database = data_dir / "triage.sqlite3"
    for name, size in (("-wal", 0), ("-shm", 32768)):
        side = Path(f"{database}{name}")
        side.write_bytes(b"\0" * size)
        side.chmod(0o444)
    started = _as_an_ordinary_account("--data-dir", str(data_dir), "queue")
    assert started.returncode == 0 and "open for reading only" not in started.stderr, started.stderr
    for side in _beside(database):  # SQLite's own, if any: owner-only
        assert (database.parent / side).stat().st_mode & 0o777 == 0o600
    source = data_dir.parent / "more.json"
    source.write_text(json.dumps([referral_json(9)]))
    started = _as_an_ordinary_account("--data-dir", str(data_dir), "import", str(source), "--as-of", AS_OF)
    assert started.returncode == 0, started.stderr
    assert referral_count(database) == 4


@pytest.mark.hazard("H17")
def test_a_damaged_database_read_and_checked_leaves_no_file_beside_it(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    database = data_dir / "triage.sqlite3"
    overwrite_index_page(database)
    damaged = sha256(database)
    assert _beside(database) == []
    code, rows, err = queue_rows(capsys, data_dir)
    assert code == 0 and len(rows) == 3 and "is damaged" in err
    assert _beside(database) == []
    code, out, _err = run(capsys, "--data-dir", str(data_dir), "check")
    assert code == 1 and "DAMAGED" in out
    code, out, _err = run(capsys, "--data-dir", str(data_dir), "referral", "show", "1")
    assert code == 0
    assert _beside(database) == []
    assert sha256(database) == damaged
