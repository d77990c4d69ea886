"""Faults done for real against backups, check and restore (issue 10, findings 1, 2 and 10).

- a `triage-app backup` process SIGKILLed while it copies: nothing counted, the daily clock not reset;
- 700 bytes of an index page overwritten: backup refuses, rotation deletes nothing, `check` says so;
- a crash-left -wal beside the database: restore keeps it aside and the restored database is sound;
- the database held open by another process: restore refuses, changing nothing;
- a user table too damaged to read: the administrator is found in the backup;
- a full disk (a small tmpfs when root; an injected error otherwise): `check` reads the database and never calls
  it damaged, and says so when it cannot read it; `restore` stops with one message and changes nothing, putting
  back what it had moved aside when the failure comes after the move;
- an OSError escaping any command: one message naming the file, exit 1.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.safety.test_faults_startup import _fill, tmpfs
from triage_app.__main__ import main
from triage_app.storage.backup import (
    MANIFEST_NAME,
    DamagedDatabaseError,
    backup_due,
    daily_backup_if_due,
    list_backups,
    newest_verified_backup,
    read_manifest,
    rotate_backups,
    take_backup,
    verified_backups,
)
from triage_app.storage.integrity import integrity_check, quick_check, row_counts

pytestmark = pytest.mark.sqlite_only(
    "file backups and restores of the SQLite database; on a server they are pg_dump and pg_restore (docs/deploy-postgresql.md)"
)

STEM = "triage"
CHILD_ENV = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_APP_")}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _data(capsys: pytest.CaptureFixture[str], tmp_path: Path, count: int = 20) -> Path:
    data = tmp_path / "data"
    code, _, err = _run(capsys, "--data-dir", str(data), "demo", "--count", str(count))
    assert code == 0, err
    # The command took the day's backup after its work: start each test from no backups at all.
    for made in list_backups(data / "backups", STEM):
        made.unlink()
    (data / "backups" / MANIFEST_NAME).unlink(missing_ok=True)
    return data


def _overwrite_page(path: Path, *, table: str, kind: str, seed: int = 7, size: int = 700) -> int:
    """Overwrite `size` bytes at the start of the root page of `table`'s first index (or the table itself)."""
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = ? AND tbl_name = ? ORDER BY name LIMIT 1", (kind, table)
        ).fetchone()[0]
    connection.close()
    rng = random.Random(seed)
    with path.open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(bytes(rng.randrange(256) for _ in range(size)))
    return int(root)


def _pad(path: Path, megabytes: int) -> None:
    """Grow the database (app_setting rows the app never reads) so that a backup takes long enough to kill."""
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO app_setting (key, value) VALUES (?, ?)",
            ((f"pad-{n:06d}", f"{n:06d}" * 500) for n in range(megabytes * 350)),
        )
    connection.close()


# --- finding 2: a backup killed part-way ---------------------------------------------------------------------------


@pytest.mark.hazard("H17")
def test_a_backup_killed_while_it_copies_counts_for_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = _data(capsys, tmp_path)
    database, backups = data / "triage.sqlite3", data / "backups"
    _pad(database, 48)
    earlier = take_backup(database, backups, reason="daily", now=datetime.now(UTC) - timedelta(hours=25))
    assert backup_due(backups, STEM)
    killed_mid_copy = False
    for _attempt in range(3):
        child = subprocess.Popen(
            [sys.executable, "-m", "triage_app", "--data-dir", str(data), "backup"],
            env=CHILD_ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            partial = [p for p in backups.glob(f".{STEM}-*.sqlite3.partial") if p.stat().st_size > 4 << 20]
            if partial:  # the online copy has written 4 MB of pages: kill it now
                child.send_signal(signal.SIGKILL)
                killed_mid_copy = True
                break
            time.sleep(0.001)
        child.wait(30)
        if killed_mid_copy:
            break
        # the copy finished before it was seen: start again from the backups as they were
        for made in list_backups(backups, STEM):
            if made != earlier.path:
                made.unlink()
        rotate_backups(backups, STEM)  # drops the manifest entry of the file just removed
    assert killed_mid_copy, "the backup finished three times before it could be killed"
    assert child.returncode == -signal.SIGKILL
    leftovers = sorted(p.name for p in backups.glob(f".{STEM}-*.partial*"))
    assert leftovers and leftovers[0].endswith(".sqlite3.partial")  # the half-written copy, under its hidden name
    # Nothing it wrote is named like a backup, listed, verified, or counted by the daily clock.
    assert list_backups(backups, STEM) == [earlier.path]
    assert [e.file for e in read_manifest(backups)] == [earlier.path.name]
    assert newest_verified_backup(backups, STEM) == earlier.path
    assert backup_due(backups, STEM)
    assert quick_check(database).ok  # the database itself is untouched by the kill
    # The next backup removes the leftovers and is verified.
    after = daily_backup_if_due(database, backups)
    assert after is not None and newest_verified_backup(backups, STEM) == after
    assert not list(backups.glob(f".{STEM}-*.partial*"))
    assert integrity_check(after).ok and row_counts(after)["referral"] == 20


# --- finding 1: a damaged database is never backed up; rotation keeps the good backups -------------------------------


@pytest.mark.hazard("H17")
def test_a_flipped_index_page_stops_every_backup_and_rotation_deletes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _data(capsys, tmp_path)
    database, backups = data / "triage.sqlite3", data / "backups"
    now = datetime.now(UTC)
    good = [take_backup(database, backups, reason="daily", now=now - timedelta(days=d)).path for d in (90, 30, 1)]
    newest = good[-1]
    _overwrite_page(database, table="referral", kind="index")
    assert not quick_check(database).ok
    files_before = sorted(p.name for p in backups.iterdir())
    hint = f"The newest verified backup is {newest.name} (taken "
    command = f"restore it with `triage-app restore {newest.name}`"
    for _ in range(21):  # the finding: 21 runs of backup on a damaged database
        code, out, err = _run(capsys, "--data-dir", str(data), "backup")
        assert code == 1 and out == ""
        assert f"{database} is damaged" in err and hint in err and command in err
    with pytest.raises(DamagedDatabaseError) as refused:
        take_backup(database, backups, reason="manual")
    assert str(refused.value).startswith(f"the database {database} is damaged (")
    assert "no backup was taken and none was deleted. " + hint in str(refused.value) and command in str(refused.value)
    with pytest.raises(DamagedDatabaseError, match="no backup was taken and none was deleted"):
        daily_backup_if_due(database, backups, now=now + timedelta(days=3))
    assert sorted(p.name for p in backups.iterdir()) == files_before
    assert [p for p, _ in verified_backups(backups, STEM, full=True)] == good
    # `check` says it, with the problems, the counts and the restore command; it exits 1.
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 1 and "integrity: DAMAGED" in out and "rows: 20 referrals, " in out
    assert f"triage-app restore {newest.name} (the damaged file is kept aside)" in out
    assert err == f"triage-app check: the database {database} is damaged; see above\n"


# --- finding 10: restore beside a crash-left -wal -----------------------------------------------------------------


def _crash_left_wal(database: Path) -> None:
    """A process that commits in WAL mode and is killed before it closes: its -wal stays beside the database."""
    code = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode=WAL')\n"
        "c.execute('BEGIN')\n"
        "c.executemany('INSERT INTO app_setting (key, value) VALUES (?, ?)', "
        "((f'crash-{n}', 'x' * 900) for n in range(300)))\n"
        "c.execute('COMMIT')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    finished = subprocess.run([sys.executable, "-c", code, str(database)], env=CHILD_ENV, check=False)
    assert finished.returncode == -signal.SIGKILL
    assert database.with_name(database.name + "-wal").stat().st_size > 0


@pytest.mark.hazard("H17", "H03")
def test_restore_beside_a_crash_left_wal_gives_a_sound_database_with_the_backups_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _data(capsys, tmp_path)
    database, backups = data / "triage.sqlite3", data / "backups"
    code, out, err = _run(capsys, "--data-dir", str(data), "backup")
    assert code == 0, err
    [backup] = list_backups(backups, STEM)
    [entry] = read_manifest(backups)
    code, _, err = _run(capsys, "--data-dir", str(data), "demo", "--count", "15")
    assert code == 0, err
    _crash_left_wal(database)
    crashed = {s: database.with_name(database.name + s).read_bytes() for s in ("", "-wal", "-shm")}

    # What the finding did: copy the backup over the database with the -wal still beside it.
    naive = tmp_path / "naive"
    naive.mkdir()
    for suffix, content in crashed.items():
        (naive / f"triage.sqlite3{suffix}").write_bytes(content)
    shutil.copyfile(backup, naive / "triage.sqlite3")
    assert not integrity_check(naive / "triage.sqlite3").ok

    code, out, err = _run(capsys, "--data-dir", str(data), "restore", backup.name)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"restored {backup.name} (taken ")
    assert "): 20 referrals, " in out.splitlines()[0]
    [replaced] = list(backups.glob("replaced-*"))
    assert f"kept aside in {replaced}: triage.sqlite3, triage.sqlite3-wal, triage.sqlite3-shm" in out
    for suffix in ("", "-wal"):  # kept, byte for byte: the -wal neither checkpointed into the file nor deleted
        assert (replaced / f"triage.sqlite3{suffix}").read_bytes() == crashed[suffix]
    assert (replaced / "triage.sqlite3-shm").is_file()  # SQLite's index of the -wal (rebuilt from it on reading)
    assert integrity_check(database).ok
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    connection.close()
    counts = row_counts(database)
    expected = dict(entry.row_counts)
    expected["audit_event"] += 1  # the restore's own event
    assert counts == expected
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 0 and "result: the database is intact" in out, out + err
    code, out, err = _run(capsys, "--data-dir", str(data), "queue")
    assert code == 0, err


# --- restore while the database is open elsewhere -----------------------------------------------------------------


@pytest.mark.hazard("H17")
def test_restore_refuses_while_another_process_has_the_database_open(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _data(capsys, tmp_path)
    database, backups = data / "triage.sqlite3", data / "backups"
    code, _, err = _run(capsys, "--data-dir", str(data), "backup")
    assert code == 0, err
    [backup] = list_backups(backups, STEM)
    holder_code = (
        "import sys, time\n"
        "from triage_app.storage.engine import Database, parse_database_url, sqlite_url\n"
        "from pathlib import Path\n"
        "db = Database(parse_database_url(sqlite_url(Path(sys.argv[1]))))\n"
        "with db.read() as s:\n"
        "    s.connection().exec_driver_sql('SELECT count(*) FROM referral').fetchall()\n"
        "print('open', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code, str(database)], env=CHILD_ENV, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        files = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
        code, out, err = _run(capsys, "--data-dir", str(data), "restore", backup.name)
        assert code == 1 and out == ""
        assert err == (
            f"triage-app restore: another program (perhaps the desktop app) has the database {database} open; "
            "close it and try again. Nothing was changed.\n"
        )
        assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == files
        assert not list(backups.glob("replaced-*"))
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    code, _, err = _run(capsys, "--data-dir", str(data), "restore", backup.name)
    assert code == 0, err


# --- a user table too damaged to read -----------------------------------------------------------------------------


@pytest.mark.hazard("H17", "H15")
def test_restore_on_a_database_whose_users_cannot_be_read_asks_the_backup_who_is_administrator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _data(capsys, tmp_path)
    database, backups = data / "triage.sqlite3", data / "backups"
    code, _, err = _run(capsys, "--data-dir", str(data), "backup")
    assert code == 0, err
    [backup] = list_backups(backups, STEM)
    _overwrite_page(database, table="app_user", kind="table", size=4096)
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 1
    assert "note: who ran the check (login '" in out and "could not be looked up: the user table cannot be read" in out
    code, out, err = _run(capsys, "--data-dir", str(data), "restore", backup.name)
    assert code == 0, err
    assert "administrator: checked in the backup" in out
    assert integrity_check(database).ok and row_counts(database)["referral"] == 20


# --- a full disk: check and restore (fix 10-G) --------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> dict[str, bytes]:
    """Every file in `folder`, by content; a -shm by name only (SQLite's index of the -wal, rebuilt on reading)."""
    return {p.name: b"" if p.name.endswith("-shm") else p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _on_tmpfs(capsys: pytest.CaptureFixture[str], data: Path, mount: Path) -> Path:
    """The data folder copied onto the small file system, with one manual backup taken there."""
    folder = mount / "data"
    shutil.copytree(data, folder)
    code, _, err = _run(capsys, "--data-dir", str(folder), "backup")
    assert code == 0, err
    return folder


@pytest.mark.hazard("H17")
def test_check_on_a_full_disk_reads_the_database_and_never_calls_it_damaged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _data(capsys, tmp_path, count=50)
    with tmpfs(tmp_path / "mnt", "6m") as mount:
        folder = _on_tmpfs(capsys, data, mount)
        database = folder / "triage.sqlite3"
        (folder / "triage.sqlite3-shm").write_bytes(b"\0\0\0")  # what the tester's `queue` left beside it
        _fill(mount)
        code, _, err = _run(capsys, "--data-dir", str(folder), "queue")
        assert code == 0, err
        before, beside = _sha(database), sorted(p.name for p in folder.iterdir())
        code, out, err = _run(capsys, "--data-dir", str(folder), "check")
        assert code == 0, out + err
        assert "integrity: ok (PRAGMA integrity_check and foreign_key_check)" in out
        assert "rows: 50 referrals, " in out and "DAMAGED" not in out and "triage-app restore" not in out
        assert f"note: the disk holding {folder} is full (No space left on device; " in out
        assert "result: the database is intact" in out and "`triage-app audit verify`" in out
        assert err == ""
        assert _sha(database) == before and sorted(p.name for p in folder.iterdir()) == beside


@pytest.mark.hazard("H17")
def test_check_on_a_full_disk_that_cannot_read_the_wal_says_so_and_advises_no_restore(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _data(capsys, tmp_path, count=20)
    with tmpfs(tmp_path / "mnt", "6m") as mount:
        folder = _on_tmpfs(capsys, data, mount)
        database = folder / "triage.sqlite3"
        _crash_left_wal(database)
        (folder / "triage.sqlite3-shm").unlink()  # reading the -wal now needs a new -shm: no room for one
        wal = (folder / "triage.sqlite3-wal").read_bytes()
        before = _sha(database)
        _fill(mount)
        code, out, err = _run(capsys, "--data-dir", str(folder), "check")
        assert code == 1
        assert "integrity: not checked: the database could not be read: " in out
        assert "triage.sqlite3-wal holds changes that cannot be read while the disk is full or read-only" in out
        assert "This is not a sign of damage: do not restore a backup." in out
        assert "DAMAGED" not in out and "triage-app restore" not in out and "damaged" not in err
        assert err.startswith(f"triage-app check: the database {database} could not be read: ")
        assert _sha(database) == before and (folder / "triage.sqlite3-wal").read_bytes() == wal
        (mount / "filler").unlink()  # space freed: the same file is read, -wal and all, and is intact
        code, out, err = _run(capsys, "--data-dir", str(folder), "check")
        assert code == 0 and "result: the database is intact" in out, out + err


@pytest.mark.hazard("H17")
def test_check_says_an_io_error_is_not_damage_injected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage_app.storage import integrity

    data = _data(capsys, tmp_path)
    database = data / "triage.sqlite3"
    code, _, err = _run(capsys, "--data-dir", str(data), "backup")
    assert code == 0, err
    before = _sha(database)

    def failing(path: Path, **_: object) -> sqlite3.Connection:
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorcode = 10  # type: ignore[attr-defined]  # SQLITE_IOERR, as SQLite sets it
        raise error

    monkeypatch.setattr(integrity, "connect_read_only", failing)
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 1
    assert f"integrity: not checked: the database could not be read: {database} cannot be read: disk I/O error" in out
    assert "could not be looked up: the file could not be read" in out
    assert "DAMAGED" not in out and "triage-app restore" not in out and "row counts not available" not in out
    assert err == (
        f"triage-app check: the database {database} could not be read: {database} cannot be read: disk I/O error; "
        "it was not checked and nothing was changed\n"
    )
    assert _sha(database) == before


@pytest.mark.hazard("H17")
def test_restore_on_a_full_disk_says_so_in_one_message_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _data(capsys, tmp_path, count=50)
    with tmpfs(tmp_path / "mnt", "6m") as mount:
        folder = _on_tmpfs(capsys, data, mount)
        database, backups = folder / "triage.sqlite3", folder / "backups"
        [backup] = list_backups(backups, STEM)
        code, _, err = _run(capsys, "--data-dir", str(folder), "demo", "--count", "5")
        assert code == 0, err
        _fill(mount)
        before = _files(folder)
        code, out, err = _run(capsys, "--data-dir", str(folder), "restore", backup.name)
        assert code == 1 and out == ""
        assert err == (
            "triage-app restore: the restore could not be completed: the disk is full (No space left on device); "
            f"nothing was changed: the current database is where it was ({database})\n"
        )
        assert _files(folder) == before  # the database unchanged, no staging file left, nothing beside it
        assert not list(backups.glob("replaced-*")) and not list(folder.glob(".*restoring*"))
        log = "".join(p.read_text() for p in (folder / "logs").iterdir())
        assert "restore not completed: OSError; nothing was changed" in log
        (mount / "filler").unlink()
        code, out, err = _run(capsys, "--data-dir", str(folder), "restore", backup.name)
        assert code == 0, err
        assert row_counts(database)["referral"] == 50


@pytest.mark.hazard("H17")
@pytest.mark.parametrize("where", ["while moving", "while recording"])
def test_a_restore_that_fails_after_the_move_puts_the_database_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from triage_app.services import restore, restore_files

    data = _data(capsys, tmp_path)
    database, backups = data / "triage.sqlite3", data / "backups"
    code, _, err = _run(capsys, "--data-dir", str(data), "backup")
    assert code == 0, err
    [backup] = list_backups(backups, STEM)
    code, _, err = _run(capsys, "--data-dir", str(data), "demo", "--count", "15")
    assert code == 0, err
    _crash_left_wal(database)  # its -wal and -shm must come back with it, never pair with the restored file
    before = _files(data)

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # After the database was moved aside: the directory's fsync, or the restore's audit event in the new file.
    if where == "while moving":
        monkeypatch.setattr(restore_files, "fsync_dir", full)
    else:
        monkeypatch.setattr(restore, "audit", full)
    code, out, err = _run(capsys, "--data-dir", str(data), "restore", backup.name)
    assert code == 1 and out == ""
    assert err == (
        "triage-app restore: the restore could not be completed: the disk is full (No space left on device); "
        f"nothing was changed: the current database is where it was ({database})\n"
    )
    assert _files(data) == before
    assert not list(backups.glob("replaced-*")) and not list(data.glob(".*restoring*"))
    monkeypatch.undo()
    assert integrity_check(database).ok and row_counts(database)["referral"] == 35
    code, out, err = _run(capsys, "--data-dir", str(data), "audit", "verify")
    assert code == 0 and "audit trail intact" in out, out + err


@pytest.mark.hazard("H17")
def test_an_os_error_escaping_a_command_is_one_message_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage_app.services import maintenance

    data = _data(capsys, tmp_path)
    where = tmp_path / "elsewhere" / "scratch.tmp"

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))

    monkeypatch.setattr(maintenance, "check_database", failing)
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 1 and out == ""
    assert err == (
        f"triage-app check: the command could not be completed: the file {where} could not be read or written: "
        "the disk is full (No space left on device)\n"
    )
    log = "".join(p.read_text() for p in (data / "logs").iterdir())
    assert "check failed: OSError (errno 28)" in log and str(where) not in log
