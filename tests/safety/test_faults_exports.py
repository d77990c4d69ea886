"""Exports under faults (issue 10, finding 5): the file and its audit event stand or fall together.

Each fault is done for real where it can be: a write lock held by another connection, a commit that fails, a
rename that fails, a full disk (an injected ENOSPC), a database open read-only. After each, no file with patient
data is left behind, no temporary file either, the audit trail holds no event for a file that is not there,
and the message says what happened ("was not written"), never "nothing was changed" for a file that was made.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.exporters.corpus import MEETING_DAY
from tests.exporters.plain_meeting import data_folder, export_events, held_meeting, leftovers
from triage_app.logs import configure_logging
from triage_app.services.exports import ExportNotWritten, export_agenda_file, export_letters
from triage_app.services.users import Actor, add_user
from triage_app.storage.engine import Database, parse_database_url, sqlite_url

__all__ = ["held_meeting"]  # the fixture, used by name below

Meeting = tuple[int, list[int]]


@pytest.fixture
def impatient(db_path: Path, db: Database) -> Iterator[Database]:
    """The same database opened as another desktop would, giving up on a lock after 0.2 s."""
    database = Database(parse_database_url(sqlite_url(db_path)), busy_timeout_ms=200)
    yield database
    database.dispose()


@pytest.fixture
def locker(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another program holding the database's write lock (BEGIN IMMEDIATE) until the test ends."""
    connection = sqlite3.connect(db_path, isolation_level=None, timeout=0.1)
    connection.execute("BEGIN IMMEDIATE")
    yield connection
    connection.execute("ROLLBACK")
    connection.close()


@pytest.mark.hazard("H11", "H17")
@pytest.mark.sqlite_only("another program holding the SQLite file's write lock (the app sets no lock wait on a server)")
def test_a_locked_database_leaves_no_agenda_and_says_it_was_not_written(
    db: Database,
    db_path: Path,
    admin: Actor,
    held_meeting: Meeting,
    impatient: Database,
    tmp_path: Path,
) -> None:
    events = export_events(db)
    target = tmp_path / "agenda.pdf"
    connection = sqlite3.connect(db_path, isolation_level=None, timeout=0.1)
    connection.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with pytest.raises(ExportNotWritten) as failed:
            export_agenda_file(impatient, actor=admin, meeting_id=held_meeting[0], fmt="pdf", out=target)
    finally:
        connection.execute("ROLLBACK")
        connection.close()
    message = str(failed.value)
    assert message == (
        f"the file {target} was not written: the audit event could not be recorded because another program held "
        f"the database {db_path} locked for 0.2 seconds. Try again in a moment."
    )
    assert "nothing was changed" not in message
    assert not target.exists() and leftovers(tmp_path) == [] and list(tmp_path.glob("*.pdf")) == []
    assert export_events(db) == events
    # Once the lock is gone the same export is written and audited.
    export_agenda_file(impatient, actor=admin, meeting_id=held_meeting[0], fmt="pdf", out=target)
    assert target.read_bytes().startswith(b"%PDF") and '"agenda.pdf"' in export_events(db)[-1]


@pytest.mark.hazard("H10", "H11", "H17")
@pytest.mark.sqlite_only("another program holding the SQLite file's write lock (the app sets no lock wait on a server)")
def test_a_locked_database_leaves_no_letter_and_no_folder(
    db: Database,
    db_path: Path,
    admin: Actor,
    held_meeting: Meeting,
    impatient: Database,
    locker: sqlite3.Connection,
    tmp_path: Path,
) -> None:
    events = export_events(db)
    folder = tmp_path / "letters"  # does not exist: made for the letters, removed with them
    with pytest.raises(ExportNotWritten) as failed:
        export_letters(
            impatient, actor=admin, meeting_id=held_meeting[0], fmt="docx", out_dir=folder, today=MEETING_DAY
        )
    message = str(failed.value)
    assert message.startswith(
        f"no letters were written to {folder} (the folder made for them was removed again): the audit event could "
        "not be recorded because another program held the database"
    )
    assert "nothing was changed" not in message
    assert not folder.exists() and export_events(db) == events


@pytest.mark.hazard("H10", "H11", "H17")
def test_a_failing_rename_removes_every_letter_already_in_place(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "letters"
    folder.mkdir()
    events = export_events(db)
    real_link = os.link
    placed: list[str] = []

    def second_fails(source: str | os.PathLike[str], target: str | os.PathLike[str], **kw: bool) -> None:
        if placed:  # the first letter is in place; the second cannot be
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(target))
        real_link(source, target, **kw)
        placed.append(str(target))

    monkeypatch.setattr(os, "link", second_fails)
    with pytest.raises(ExportNotWritten) as failed:
        export_letters(db, actor=admin, meeting_id=held_meeting[0], fmt="pdf", out_dir=folder, today=MEETING_DAY)
    assert str(failed.value) == (
        f"no letters were written to {folder}: the file could not be written or put in place (Input/output error)."
    )
    assert len(placed) == 1 and not Path(placed[0]).exists()  # the letter already in place was removed
    assert list(folder.iterdir()) == [] and export_events(db) == events  # no event for either letter


@pytest.mark.hazard("H11", "H17")
def test_a_failing_commit_puts_back_the_file_it_was_told_to_replace(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    target = tmp_path / "agenda.csv"
    target.write_text("the agenda circulated last week")
    events = export_events(db)

    def commit_fails(connection: sa.Connection) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    sa.event.listen(db.engine, "commit", commit_fails)
    try:
        with pytest.raises(ExportNotWritten, match=f"^the file {target} was not written: the audit event could not"):
            export_agenda_file(db, actor=admin, meeting_id=held_meeting[0], fmt="csv", out=target, overwrite=True)
    finally:
        sa.event.remove(db.engine, "commit", commit_fails)
    assert target.read_text() == "the agenda circulated last week"  # replaced, then put back
    assert leftovers(tmp_path) == [] and export_events(db) == events


@pytest.mark.hazard("H11", "H17")
def test_a_full_disk_while_writing_leaves_nothing(
    db: Database, admin: Actor, held_meeting: Meeting, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    target = tmp_path / "agenda.docx"
    events = export_events(db)
    with pytest.raises(ExportNotWritten) as failed:
        export_agenda_file(db, actor=admin, meeting_id=held_meeting[0], fmt="docx", out=target)
    assert str(failed.value) == (
        f"the file {target} was not written: the file could not be written or put in place (No space left on device)."
    )
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [] and export_events(db) == events


@pytest.fixture
def app_log(tmp_path: Path) -> Iterator[Path]:
    """The app's rotating log file, as a command or the desktop configures it."""
    path = configure_logging(tmp_path / "logs")
    assert path is not None
    yield path
    _drop_log_files()


def _drop_log_files() -> None:
    root = logging.getLogger("triage_app")
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)
            handler.close()


def _read_only(db_url: str, reason: str) -> Database:
    """The database opened read-only, as the app opens it on a full disk (on a server: READ ONLY transactions)."""
    return Database(parse_database_url(db_url), read_only=reason)


@pytest.mark.hazard("H11", "H17")
def test_a_read_only_database_exports_and_records_it_in_the_log_only(
    db: Database, db_url: str, admin: Actor, held_meeting: Meeting, tmp_path: Path, app_log: Path
) -> None:
    events = export_events(db)
    db.dispose()
    read_only = _read_only(db_url, "the disk is full")
    target = tmp_path / "agenda.csv"
    notes: list[str] = []
    try:
        export_agenda_file(read_only, actor=admin, meeting_id=held_meeting[0], fmt="csv", out=target, notes=notes)
    finally:
        read_only.dispose()
    assert target.read_text(encoding="utf-8-sig").startswith("Case,")  # the CSV's header in row 1
    assert notes == [
        "recorded in the app log only, not in the audit trail, because the database is read-only (the disk is full)"
    ]
    assert export_events(db) == events
    logged = app_log.read_text(encoding="utf-8")
    assert (
        f"export recorded in the log only (database read-only): user=admin-test meeting={held_meeting[0]} "
        "what=agenda (csv) file=agenda.csv pseudonymised=False"
    ) in logged
    assert "Plainfield" not in logged and "Ordinaryson" not in logged  # ids and file names, no patient data


@pytest.mark.hazard("H11", "H17")
def test_a_read_only_database_with_no_log_says_the_export_was_not_recorded(
    db: Database, db_url: str, admin: Actor, held_meeting: Meeting, tmp_path: Path
) -> None:
    _drop_log_files()  # no log file: a full disk took the log too
    db.dispose()
    read_only = _read_only(db_url, "the disk is full")
    folder = tmp_path / "letters"
    notes: list[str] = []
    try:
        written = export_letters(
            read_only,
            actor=admin,
            meeting_id=held_meeting[0],
            fmt="docx",
            out_dir=folder,
            today=MEETING_DAY,
            notes=notes,
        )
    finally:
        read_only.dispose()
    names = ", ".join(path.name for path in written)
    assert len(written) == 2 and notes[0] == (
        "NOT recorded: the database is read-only (the disk is full) and the app log cannot be written either; "
        f"keep your own record that {names} left the app"
    )
    assert notes[1:] == [] or notes[1].startswith("2 of the letters lack an address")  # none on these referrals


@pytest.mark.hazard("H11", "H17")
def test_cli_agenda_on_a_full_disk_goes_to_a_chosen_folder_and_says_where_it_was_recorded(
    capsys: pytest.CaptureFixture[str],
    db: Database,
    admin: Actor,
    held_meeting: Meeting,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from triage_app.__main__ import main
    from triage_app.services.app import current_login
    from triage_app.storage import preflight

    login = current_login(db)  # on a server, the role it authenticated
    if login != admin.login:
        add_user(db, actor=admin, login=login, display_name="Cli Invented", roles=["coordinator"])
    events = export_events(db)
    data_dir = data_folder(db, tmp_path)
    db.dispose()

    def no_space(_folder: Path, _size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(preflight, "_write_probe", no_space)  # the disk holding the data folder is full
    target = tmp_path / "agenda.csv"
    try:
        code = main(
            ["--data-dir", str(data_dir), "agenda", str(held_meeting[0]), "--format", "csv", "--out", str(target)]
        )
    finally:
        _drop_log_files()
    out = capsys.readouterr().out
    if db.location.path is None:
        # On a server the database is not on the full disk: the export is written and audited there as ever.
        assert code == 0 and out.strip() == f"wrote {target}"
        assert target.exists() and len(export_events(db)) == len(events) + 1 and '"agenda.csv"' in export_events(db)[-1]
        return
    assert code == 0 and out.startswith(
        f"wrote {target}; recorded in the app log only, not in the audit trail, because the database is read-only ("
    )
    assert target.exists() and export_events(db) == events
    assert "file=agenda.csv" in (data_dir / "logs" / "triage-app.log").read_text(encoding="utf-8")
