"""Where an export may go (issue 10, finding 4): never the database or its -wal/-shm/-journal, never inside the
data folder (backups, logs), never over an existing file unless told to, and letters refused as a batch.

Each refusal is checked on the real files: the database's hash before and after, the existing file's bytes, and
no temporary file left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.exporters.corpus import MEETING_DAY
from tests.exporters.plain_meeting import data_folder, export_events, held_meeting, leftovers, sha256_of
from triage_app.__main__ import main
from triage_app.services.exports import (
    ExportRefused,
    ExportWouldOverwrite,
    check_export_destination,
    export_agenda_file,
    export_letters,
)
from triage_app.services.users import Actor, add_user
from triage_app.storage.engine import Database

__all__ = ["held_meeting"]  # the fixture, used by name below

Meeting = tuple[int, list[int]]


def _agenda(db: Database, actor: Actor, meeting: Meeting, out: Path, **kw: Any) -> Path:
    return export_agenda_file(db, actor=actor, meeting_id=meeting[0], fmt="csv", out=out, **kw)


# --- the database and its files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "told-to-replace"])
@pytest.mark.hazard("H11", "H17")
def test_the_database_and_its_companion_files_are_never_replaced(
    db: Database, db_path: Path, admin: Actor, held_meeting: Meeting, suffix: str, overwrite: bool
) -> None:
    target = db_path.with_name(db_path.name + suffix)
    existed = target.exists()
    # SQLite itself changes the -wal and -shm files: for them the proof is that the same file is still there.
    before = (sha256_of(target) if not suffix else target.stat().st_ino) if existed else None
    database_before = sha256_of(db_path)
    events = export_events(db)
    # No data folder given: the database's own path (db.location.path) is still refused.
    with pytest.raises(ExportRefused, match="an export never replaces it, and nothing was written") as refused:
        _agenda(db, admin, held_meeting, target, overwrite=overwrite)
    assert str(target) in str(refused.value)
    assert ("the app's database" if not suffix else f"the database's {suffix} file") in str(refused.value)
    assert target.exists() == existed
    assert ((sha256_of(target) if not suffix else target.stat().st_ino) if existed else None) == before
    assert sha256_of(db_path) == database_before
    assert export_events(db) == events and leftovers(db_path.parent) == []


@pytest.mark.hazard("H11", "H17")
def test_a_symlink_or_dotdot_to_the_database_is_refused(
    db: Database, db_path: Path, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    before = sha256_of(db_path)
    link = tmp_path / "innocent.csv"
    link.symlink_to(db_path)
    dotted = tmp_path / "elsewhere" / ".." / db_path.parent.name / db_path.name
    for target in (link, dotted):
        with pytest.raises(ExportRefused, match="is the app's database"):
            _agenda(db, admin, held_meeting, target, overwrite=True)
    assert sha256_of(db_path) == before and link.is_symlink()


# --- the data folder ------------------------------------------------------------------------------------------


@pytest.mark.hazard("H11", "H17")
def test_nothing_is_written_inside_the_data_folder(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    data_dir = data_folder(db, tmp_path)
    backups = data_dir / "backups"
    backups.mkdir()
    backup = backups / "triage-20261201T000000Z.sqlite3"
    _a_sqlite_database(db, backup)
    (data_dir / "logs").mkdir()
    linked = tmp_path / "looks-elsewhere"
    linked.symlink_to(data_dir, target_is_directory=True)
    backup_hash = sha256_of(backup)
    for target in (
        backup,  # a backup
        data_dir / "agenda.csv",  # a new file beside the database
        data_dir / "logs" / "agenda.csv",
        linked / "agenda.csv",  # through a symlinked folder
        tmp_path / "x" / ".." / data_dir.name / "window.ini",  # through ..
    ):
        with pytest.raises(ExportRefused, match="is inside the app's data folder") as refused:
            _agenda(db, admin, held_meeting, target, overwrite=True, data_dir=data_dir)
        assert str(target) in str(refused.value) and "Choose a file in another folder" in str(refused.value)
    assert sha256_of(backup) == backup_hash
    assert sorted(p.name for p in data_dir.rglob("*") if "agenda" in p.name or p.name == "window.ini") == []


def _a_sqlite_database(db: Database, path: Path) -> None:
    """A copy of the app's SQLite file (on a server, where there is none, a SQLite file made for the test)."""
    if db.location.path is not None:
        shutil.copyfile(db.location.path, path)
        return
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE audit_event (id INTEGER PRIMARY KEY, changes TEXT)")
        connection.execute("INSERT INTO audit_event (changes) VALUES ('{}')")


@pytest.mark.hazard("H11", "H17")
def test_a_database_copied_out_of_the_data_folder_is_never_replaced(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    copy = tmp_path / "copy-of-triage.sqlite3"
    _a_sqlite_database(db, copy)
    before = sha256_of(copy)
    with pytest.raises(ExportRefused, match="is a SQLite database .* never replaces a database, even when told to"):
        _agenda(db, admin, held_meeting, copy, overwrite=True)
    assert sha256_of(copy) == before


# --- existing files, folders, devices ---------------------------------------------------------------------------


@pytest.mark.hazard("H11")
def test_an_existing_file_is_replaced_only_when_told_and_then_atomically(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    target = tmp_path / "agenda.csv"
    target.write_text("last week's agenda")
    events = len(export_events(db))
    with pytest.raises(ExportWouldOverwrite, match="already exists and was left as it is") as refused:
        _agenda(db, admin, held_meeting, target)
    assert refused.value.existing == (target,)
    assert target.read_text() == "last week's agenda" and len(export_events(db)) == events

    _agenda(db, admin, held_meeting, target, overwrite=True)
    assert target.read_text(encoding="utf-8-sig").startswith("Case,")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # patient data: owner only
    assert leftovers(tmp_path) == []  # no temporary, no copy of the old file kept
    assert len(export_events(db)) == events + 1 and '"agenda.csv"' in export_events(db)[-1]


@pytest.mark.hazard("H11")
def test_a_folder_a_missing_folder_and_a_device_are_refused(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    (tmp_path / "a-folder").mkdir()
    cases = [
        (tmp_path / "a-folder", "is a folder: give the name of the file"),
        (tmp_path / "missing" / "agenda.csv", "the folder .*missing does not exist, so agenda.csv was not written"),
        (Path(os.devnull), "is not an ordinary file"),
    ]
    for target, message in cases:
        with pytest.raises(ExportRefused, match=message):
            _agenda(db, admin, held_meeting, target, overwrite=True)
    assert not (tmp_path / "missing").exists()


def test_the_check_alone_passes_an_ordinary_new_file(tmp_path: Path) -> None:
    target = tmp_path / "agenda.pdf"
    assert check_export_destination(target, data_dir=tmp_path / "data", db_path=None, overwrite=False) == target


# --- letters ----------------------------------------------------------------------------------------------------


def _letters(db: Database, actor: Actor, meeting: Meeting, folder: Path, **kw: Any) -> list[Path]:
    return export_letters(db, actor=actor, meeting_id=meeting[0], fmt="docx", out_dir=folder, today=MEETING_DAY, **kw)


@pytest.mark.hazard("H11")
def test_letters_into_a_missing_folder_create_it_owner_only(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    folder = tmp_path / "letters-december"
    written = _letters(db, admin, held_meeting, folder)
    assert len(written) == 2 and all(path.parent == folder and path.exists() for path in written)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in written)
    with pytest.raises(ExportRefused, match="neither the folder .* nor the folder it would go in .* exists"):
        _letters(db, admin, held_meeting, tmp_path / "no" / "such" / "folder")
    assert not (tmp_path / "no").exists()


@pytest.mark.hazard("H10", "H11")
def test_letters_already_there_refuse_the_whole_batch_unless_told(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    folder = tmp_path / "letters"
    folder.mkdir()
    names = [path.name for path in _letters(db, admin, held_meeting, tmp_path / "earlier")]  # by patient and date
    first = folder / names[0]
    first.write_bytes(b"a letter sent last time")
    events = len(export_events(db))
    with pytest.raises(ExportWouldOverwrite, match=f"1 of the 2 letters already exist in .*{first.name}") as refused:
        _letters(db, admin, held_meeting, folder)
    assert "no letters were written" in str(refused.value) and refused.value.existing == (first,)
    assert sorted(p.name for p in folder.iterdir()) == [first.name]  # the other letter was not written either
    assert first.read_bytes() == b"a letter sent last time" and len(export_events(db)) == events

    written = _letters(db, admin, held_meeting, folder, overwrite=True)
    assert len(written) == 2 and first.read_bytes().startswith(b"PK")  # a Word file now
    assert len(export_events(db)) == events + 2 and leftovers(folder) == []


@pytest.mark.hazard("H11", "H17")
def test_letters_are_never_written_in_the_data_folder(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    data_dir = data_folder(db, tmp_path)
    for folder in (data_dir, data_dir / "backups", data_dir / "new-folder"):
        with pytest.raises(ExportRefused, match="is inside the app's data folder .* none was written"):
            _letters(db, admin, held_meeting, folder, data_dir=data_dir)
    assert sorted(p.name for p in data_dir.iterdir() if "letter" in p.name or p.name in ("backups", "new-folder")) == []


# --- the command line: finding 4 as reported ----------------------------------------------------------------------


@pytest.fixture
def cli_user(db: Database, admin: Actor) -> str:
    """The operating-system account, as a coordinator and consultant: the user the command line signs in."""
    from triage_app.services.app import current_login

    login = current_login(db)  # on a server, the role it authenticated
    if login != admin.login:
        add_user(db, actor=admin, login=login, display_name="Cli Invented", roles=["coordinator", "consultant"])
    return login


def sound(path: Path) -> bool:
    """The file is still a SQLite database that passes its integrity check."""
    with sqlite3.connect(path) as connection:
        return bool(connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.hazard("H11", "H17")
def test_cli_agenda_over_the_live_database_backup_or_file_is_refused(
    capsys: pytest.CaptureFixture[str],
    db: Database,
    db_path: Path,
    cli_user: str,
    held_meeting: Meeting,
    tmp_path: Path,
) -> None:
    data_dir = db_path.parent
    backups = data_dir / "backups"
    backups.mkdir(exist_ok=True)
    backup = backups / "triage-20261201T000000Z.sqlite3"
    shutil.copyfile(db_path, backup)
    existing = tmp_path / "agenda.csv"
    existing.write_text("keep me")
    db.dispose()
    d = ["--data-dir", str(data_dir)]
    meeting = str(held_meeting[0])
    refusals = [
        (db_path, "is the app's database: an export never replaces it"),
        (db_path.with_name(db_path.name + "-wal"), "is the database's -wal file"),
        (backup, "is inside the app's data folder"),
        (existing, "already exists and was left as it is: choose another name, or add --force to replace it"),
    ]
    inode, events = db_path.stat().st_ino, export_events(db)
    for target, message in refusals:
        # Starting a command writes to the database (sign-in) and closing it checkpoints the -wal: the proof for
        # those is the same file, still a sound database, with no export recorded; for the others, the same bytes.
        before = sha256_of(target) if target in (backup, existing) else None
        code, out, err = run(capsys, *d, "agenda", meeting, "--format", "csv", "--out", str(target))
        assert code == 2 and message in err and str(target) in err and out == ""
        assert (sha256_of(target) if target in (backup, existing) else None) == before
        assert db_path.stat().st_ino == inode and sound(db_path) and export_events(db) == events
    code, out, _ = run(capsys, *d, "agenda", meeting, "--format", "csv", "--out", str(existing), "--force")
    assert code == 0 and out.strip() == f"wrote {existing}"
    assert existing.read_text(encoding="utf-8-sig").startswith("Case,") and leftovers(tmp_path) == []


@pytest.mark.hazard("H10", "H11")
def test_cli_letters_into_a_missing_folder_and_again_without_force(
    capsys: pytest.CaptureFixture[str],
    db: Database,
    cli_user: str,
    held_meeting: Meeting,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from triage_app.cli.commands import letters

    monkeypatch.setattr(letters, "today", lambda: MEETING_DAY)  # letters are written on or after the meeting day
    data_dir = data_folder(db, tmp_path)
    db.dispose()
    d = ["--data-dir", str(data_dir)]
    folder = tmp_path / "new-letters"
    argv = [*d, "letters", str(held_meeting[0]), "--format", "pdf", "--out-dir", str(folder)]
    code, out, err = run(capsys, *argv)
    assert code == 0 and "\n2 letters" in out, err  # then which lack an address
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    code, out, err = run(capsys, *argv)
    assert code == 2 and "2 of the 2 letters already exist" in err and "add --force to replace them" in err
    code, out, err = run(capsys, *argv, "--force")
    assert code == 0 and "\n2 letters" in out
