"""`triage-app audit verify` and `queue --json` on a real data folder: exit status, first problem and count, and a
queue export in the audit trail."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.factories import referral_json
from triage_app.__main__ import main


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
    shown = [row["id"] for row in json.loads(out)]
    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        action, entity, changes = connection.execute(
            "SELECT action, entity, changes FROM audit_event ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert (action, entity) == ("export", "queue")
    assert json.loads(changes)["referral_ids"] == [None, shown]
    # the plain listing is the queue on screen, as on the desktop: not an export, not audited
    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        before = connection.execute("SELECT count(*) FROM audit_event").fetchone()
    assert run(capsys, "--data-dir", str(data_dir), "queue")[0] == 0
    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        assert connection.execute("SELECT count(*) FROM audit_event").fetchone() == before


def _meeting_with_agenda(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    """A meeting and its agenda exported (an audited export), as the tester did."""
    d = ["--data-dir", str(data_dir)]
    code, _, err = run(capsys, *d, "meeting", "create", "--date", "2026-12-03", "--time", "13:30", "--place", "Room 2")
    assert code == 0, err
    code, _, err = run(capsys, *d, "agenda", "1", "--format", "csv", "--out", str(tmp_path / "agenda.csv"))
    assert code == 0, err


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
    assert lines[0].endswith(
        f"records event {last} written: events {last} to {last} were deleted and the head moved back"
    )
    assert lines[1] == "and 1 other problem (the app log lists them all)"
    log_text = (data_dir / "logs" / "triage-app.log").read_text()
    assert f"the checkpoint file {checkpoint} is missing though the trail has {last - 1} events" in log_text
    assert "Quillfeather" not in log_text  # the log holds ids and hashes, no patient data


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
