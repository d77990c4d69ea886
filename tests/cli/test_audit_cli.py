"""`triage-app audit verify` and `queue --json` on a real data folder: exit status, first problem and count, and a
queue export in the audit trail."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.dates import meeting_day
from tests.factories import referral_json
from tests.stored import stored_rows, stored_value
from triage_app.__main__ import main

DAY = meeting_day().isoformat()  # a meeting date that is never in the past, whatever today is


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A data folder with three imported referrals (test NHS numbers, invented names)."""
    folder = tmp_path / "data"
    source = tmp_path / "referrals.json"
    source.write_text(json.dumps([referral_json(serial) for serial in (1, 2, 3)]))
    code, _, err = run(capsys, "--data-dir", str(folder), "import", str(source), "--as-of", "2026-11-02")
    assert code == 0, err
    return folder


@pytest.mark.hazard("H17")
def test_verify_exits_0_when_intact_and_names_the_checkpoint(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    code, out, err = run(capsys, "--data-dir", str(data_dir), "audit", "verify")
    assert code == 0, err
    checkpoint = data_dir / "backups" / "audit-checkpoint.json"
    head = json.loads(checkpoint.read_text())["head_id"]
    assert out.startswith(f"audit trail intact: {head} events checked; checkpoint at event {head} matches; ")


@pytest.mark.sqlite_only("tampers with the SQLite file's triggers and trail as someone with the sqlite3 shell")
@pytest.mark.hazard("H17")
def test_verify_exits_1_with_the_first_problem_and_a_count_of_the_others(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            connection.execute(f"DROP TRIGGER {name}")
        connection.execute("DELETE FROM audit_event")
        connection.execute("DELETE FROM audit_chain_head")
    code, _, err = run(capsys, "--data-dir", str(data_dir), "audit", "verify")
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("audit trail BROKEN: the database holds no audit events, but the checkpoint (")
    assert lines[0].endswith("all events (and the head) were deleted")
    assert lines[1].startswith("and ") and lines[1].endswith("(the app log lists them all)")


@pytest.mark.hazard("H11")
def test_queue_json_is_audited_as_an_export(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, err = run(capsys, "--data-dir", str(data_dir), "queue", "--json")
    assert code == 0, err
    shown = [row["referral_id"] for row in json.loads(out)]
    action, entity, changes = stored_rows(
        data_dir, "SELECT action, entity, changes FROM audit_event ORDER BY id DESC LIMIT 1"
    )[0]
    assert (action, entity) == ("export", "queue")
    assert json.loads(changes)["referral_ids"] == [None, shown]
    # the plain listing is the queue on screen, as on the desktop: not an export, not audited
    before = stored_value(data_dir, "SELECT count(*) FROM audit_event")
    assert run(capsys, "--data-dir", str(data_dir), "queue")[0] == 0
    assert stored_value(data_dir, "SELECT count(*) FROM audit_event") == before


def _meeting_with_agenda(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    """A meeting and its agenda exported (an audited export), as the tester did."""
    d = ["--data-dir", str(data_dir)]
    code, _, err = run(capsys, *d, "meeting", "create", "--date", DAY, "--time", "13:30", "--place", "Room 2")
    assert code == 0, err
    code, _, err = run(capsys, *d, "agenda", "1", "--format", "csv", "--out", str(tmp_path / "agenda.csv"))
    assert code == 0, err


@pytest.mark.sqlite_only("tampers with the SQLite file's triggers and trail as someone with the sqlite3 shell")
@pytest.mark.hazard("H17")
def test_the_newest_event_deleted_under_recreated_triggers_and_the_checkpoint_removed_is_caught_by_the_log(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    """The tester's attack (finding 8), step by step: passed as "intact" before the log was compared."""
    _meeting_with_agenda(capsys, data_dir, tmp_path)
    protected = ("audit_event_no_delete", "audit_chain_head_forward_only")
    with sqlite3.connect(data_dir / "triage.sqlite3", isolation_level=None) as connection:
        schema = dict(
            connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)", protected
            ).fetchall()
        )
        assert set(schema) == set(protected)
        for name in protected:
            connection.execute(f"DROP TRIGGER {name}")
        last, action = connection.execute("SELECT id, action FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        assert action == "export"  # the agenda
        connection.execute("DELETE FROM audit_event WHERE id = ?", (last,))
        kept = connection.execute("SELECT id, hash FROM audit_event WHERE id = ?", (last - 1,)).fetchone()
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", kept)
        for name in protected:
            connection.execute(schema[name])
    checkpoint = data_dir / "backups" / "audit-checkpoint.json"
    checkpoint.unlink()
    code, out, err = run(capsys, "--data-dir", str(data_dir), "audit", "verify")
    assert code == 1, out
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"audit trail BROKEN: the database's chain ends at event {last - 1}, but the app log (")
    assert lines[0].endswith(f"records event {last} written: event {last} was deleted and the head moved back")
    assert lines[1] == "and 1 other problem (the app log lists them all)"
    log_text = (data_dir / "logs" / "triage-app.log").read_text()
    assert f"the checkpoint file {checkpoint} is missing though the trail has {last - 1} events" in log_text
    assert "Quillfeather" not in log_text  # the log holds ids and hashes, no patient data


@pytest.mark.sqlite_only("the app's file backups and restore (a server is backed up by its own tools)")
@pytest.mark.hazard("H17")
def test_a_restore_restarts_the_chain_in_the_log_and_verify_stays_intact(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    d = ["--data-dir", str(data_dir)]
    code, out, err = run(capsys, *d, "backup")
    assert code == 0, err
    backup = max((data_dir / "backups").glob("triage-*.sqlite3"), key=lambda path: path.stat().st_mtime_ns)
    _meeting_with_agenda(capsys, data_dir, tmp_path)  # events the restore takes away
    code, _, err = run(capsys, *d, "restore", backup.name)
    assert code == 0, err
    log_text = (data_dir / "logs" / "triage-app.log").read_text()
    assert "audit chain restarted at " in log_text and f"(restore of {backup.name} by " in log_text
    code, out, err = run(capsys, *d, "audit", "verify")
    assert code == 0, err
    assert out.startswith("audit trail intact: ")
    assert "; app log: " in out and " logged heads match since the restore at event " in out


def _delete_newest_event(database: Path) -> int:
    """Delete the newest event and move the head back, the triggers dropped and re-created; its id."""
    protected = ("audit_event_no_delete", "audit_chain_head_forward_only")
    with sqlite3.connect(database, isolation_level=None) as connection:
        schema = dict(
            connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)", protected
            ).fetchall()
        )
        for name in protected:
            connection.execute(f"DROP TRIGGER {name}")
        (last,) = connection.execute("SELECT max(id) FROM audit_event").fetchone()
        connection.execute("DELETE FROM audit_event WHERE id = ?", (last,))
        kept = connection.execute("SELECT id, hash FROM audit_event WHERE id = ?", (last - 1,)).fetchone()
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", kept)
        for name in protected:
            connection.execute(schema[name])
    connection.close()
    return int(last)


def _database_id(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        (value,) = connection.execute("SELECT value FROM app_setting WHERE key = 'database_id'").fetchone()
    connection.close()
    return str(value)


def _moved(data_dir: Path) -> Path:
    """`mv data moved-data`, as IT may do: a real move of the whole data folder."""
    moved = data_dir.with_name("moved-data")
    subprocess.run(["mv", str(data_dir), str(moved)], check=True)
    assert not data_dir.exists()
    return moved


@pytest.mark.sqlite_only("tampers with the SQLite file's triggers and trail as someone with the sqlite3 shell")
@pytest.mark.hazard("H17")
def test_events_deleted_after_the_data_folder_was_moved_are_caught(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    """Tester's finding 2: after `mv data moved-data` the checkpoint "recorded another database" (the old path)
    and the log lines keyed by the path were ignored, so deleted events passed as intact, exit 0."""
    _meeting_with_agenda(capsys, data_dir, tmp_path)
    moved = _moved(data_dir)
    last = _delete_newest_event(moved / "triage.sqlite3")
    code, out, err = run(capsys, "--data-dir", str(moved), "audit", "verify")
    assert code == 1, out  # was 0: "audit trail intact"
    first = err.strip().splitlines()[0]
    assert first.startswith(f"audit trail BROKEN: the database's chain ends at event {last - 1}, but the checkpoint (")
    assert first.endswith(f"event {last} was deleted and the head moved back")
    assert "no head of this database logged" not in out  # the log's heads count after the move too
    checkpoint = moved / "backups" / "audit-checkpoint.json"  # named by the database's id, which moved with it
    assert json.loads(checkpoint.read_text())["database"] == _database_id(moved / "triage.sqlite3")


@pytest.mark.sqlite_only("the app's file backups and restore (a server is backed up by its own tools)")
@pytest.mark.hazard("H17")
def test_a_moved_data_folder_keeps_its_checkpoint_moving_and_a_restore_names_the_database(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--data-dir", str(data_dir), "backup")
    assert code == 0, err
    backup = max((data_dir / "backups").glob("triage-*.sqlite3"), key=lambda path: path.stat().st_mtime_ns)
    moved = _moved(data_dir)
    checkpoint = moved / "backups" / "audit-checkpoint.json"
    before = json.loads(checkpoint.read_text())["head_id"]
    _meeting_with_agenda(capsys, moved, tmp_path)  # new events in the moved folder move its checkpoint on
    with sqlite3.connect(moved / "triage.sqlite3") as connection:
        (head,) = connection.execute("SELECT last_event_id FROM audit_chain_head").fetchone()
    connection.close()
    assert json.loads(checkpoint.read_text())["head_id"] == head > before
    code, out, err = run(capsys, "--data-dir", str(moved), "audit", "verify")
    assert code == 0, err
    code, _, err = run(capsys, "--data-dir", str(moved), "restore", backup.name)
    assert code == 0, err
    data = json.loads(checkpoint.read_text())
    assert data["database"] == _database_id(moved / "triage.sqlite3")  # the restored database's id, not a path
    assert data["history"][-1]["head_id"] == head  # how far the chain had gone before the restore
    code, out, err = run(capsys, "--data-dir", str(moved), "audit", "verify")
    assert code == 0, err
    assert " logged heads match since the restore at event " in out


@pytest.mark.sqlite_only("the app's file backups and restore (a server is backed up by its own tools)")
@pytest.mark.hazard("H17")
def test_a_tampered_trail_is_backed_up_marked_and_its_restore_needs_accepting(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    """Tester's finding 3: a tampered trail was backed up with "verified: integrity ok, ..." and restoring that
    backup made `audit verify` say "intact ... since the restore"."""
    d = ["--data-dir", str(data_dir)]
    code, out, err = run(capsys, *d, "backup")
    assert code == 0 and "; audit: intact" in out, err
    good = max((data_dir / "backups").glob("triage-*.sqlite3"), key=lambda path: path.stat().st_mtime_ns)
    _meeting_with_agenda(capsys, data_dir, tmp_path)
    last = _delete_newest_event(data_dir / "triage.sqlite3")
    code, out, err = run(capsys, *d, "backup")
    assert code == 1
    assert err.startswith(
        f"triage-app backup: the audit trail did not verify: the database's chain ends at event {last - 1}, but "
    )
    assert "; the backup was kept and marked (it is not offered for restore)" in err
    marked = max((data_dir / "backups").glob("triage-*.sqlite3"), key=lambda path: path.stat().st_mtime_ns)
    assert marked != good and f"backed up to {marked}" in out
    entry = next(
        e
        for e in json.loads((data_dir / "backups" / "manifest.json").read_text())["backups"]
        if e["file"] == marked.name
    )
    assert entry["audit"].startswith(f"the database's chain ends at event {last - 1}")
    # The backup wrote no event on top of the broken chain: verify still names the deletion, not a "rewrite".
    code, _, err = run(capsys, *d, "audit", "verify")
    assert code == 1 and "event" in err and "deleted and the head moved back" in err.splitlines()[0], err

    code, out, err = run(capsys, *d, "check")
    assert f"  - backup marked: {marked.name}: the audit trail did not verify when it was taken (" in out
    assert ", 1 marked (their audit trail did not verify) in " in out  # not counted as verified
    assert f"; newest: {good.name} (taken " in out and ", audit: intact" in out  # the newest fit to restore

    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        events_before = connection.execute("SELECT count(*) FROM audit_event").fetchone()
    connection.close()
    code, out, err = run(capsys, *d, "restore", marked.name)
    assert code != 0
    assert f"the backup {marked.name} is marked: its audit trail did not verify when it was taken (" in err
    assert f"`triage-app restore {marked.name} --accept-audit-problem`" in err and "nothing was changed" in err
    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        assert connection.execute("SELECT count(*) FROM audit_event").fetchone() == events_before
    connection.close()

    code, out, err = run(capsys, *d, "restore", marked.name, "--accept-audit-problem")
    assert code == 0, err
    assert "; audit: did not verify: the database's chain ends at event " in out
    assert out.rstrip().count("accepted by the administrator") == 1
    log_text = (data_dir / "logs" / "triage-app.log").read_text()
    assert f"(restore of {marked.name} by " in log_text and ", accepting an audit problem) db=" in log_text
    history = json.loads((data_dir / "backups" / "audit-checkpoint.json").read_text())["history"]
    assert history[-1]["reason"].endswith(", accepting an audit problem")
    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        (changes,) = connection.execute("SELECT changes FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    connection.close()
    assert json.loads(changes)["audit_problem_accepted"][1].startswith("the database's chain ends at event ")
    code, out, err = run(capsys, *d, "audit", "verify")
    assert code == 0, err
    assert " since the restore at event " in out
    assert "(a restore that accepted a backup whose audit trail did not verify)" in out
