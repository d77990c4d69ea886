"""The day's backup is taken after a command's work, not on the way to it, and once a day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import referral_json
from triage_app.__main__ import main
from triage_app.storage.backup import read_manifest

pytestmark = pytest.mark.sqlite_only("the app's daily file backups (a server is backed up by its own tools)")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.hazard("H03", "H17")
def test_a_command_takes_the_days_verified_backup_after_its_work_and_only_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    records = tmp_path / "one.json"
    records.write_text(json.dumps([referral_json(7)]), encoding="utf-8")
    code, _, err = run(capsys, "--data-dir", str(data), "import", str(records))
    assert code == 0, err
    entries = read_manifest(data / "backups")
    assert len(entries) == 1 and entries[0].reason == "daily"
    # The backup was taken after the import: it holds the record the command stored.
    assert entries[0].row_counts["referral"] == 1
    code, _, err = run(capsys, "--data-dir", str(data), "queue")
    assert code == 0, err
    assert len(read_manifest(data / "backups")) == 1  # not due again the same day


@pytest.mark.hazard("H17")
def test_a_trail_found_broken_by_the_daily_backup_is_said_to_the_user_not_only_logged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The daily backup verifies the audit trail: newest events deleted behind the app's back are said on the next
    command's standard error (the backup is kept and marked), not left in the log for no one to read."""
    import sqlite3

    data = tmp_path / "data"
    records = tmp_path / "two.json"
    records.write_text(json.dumps([referral_json(8), referral_json(9)]), encoding="utf-8")
    code, _, err = run(capsys, "--data-dir", str(data), "import", str(records))
    assert code == 0, err
    with sqlite3.connect(data / "triage.sqlite3") as connection:  # as someone with the sqlite3 shell would
        triggers = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for name, _sql in triggers:
            connection.execute(f"DROP TRIGGER {name}")
        last, previous_hash = connection.execute(
            "SELECT id, prev_hash FROM audit_event ORDER BY id DESC LIMIT 1"
        ).fetchone()
        connection.execute("DELETE FROM audit_event WHERE id = ?", (last,))
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", (last - 1, previous_hash))
        for _name, sql in triggers:
            connection.execute(sql)
    manifest = data / "backups" / "manifest.json"  # yesterday's backup: today's is due
    document = json.loads(manifest.read_text(encoding="utf-8"))
    for entry in document["backups"]:
        entry["taken_at"] = "2000-01-01T00:00:00+00:00"
    manifest.write_text(json.dumps(document), encoding="utf-8")

    code, _, err = run(capsys, "--data-dir", str(data), "queue")
    assert code == 0  # the command's own work is done
    assert "WARNING: the audit trail did not verify when today's backup was taken: " in err
    assert "was kept and marked. Run `triage-app audit verify`" in err
    taken = read_manifest(data / "backups")
    assert len(taken) == 2 and taken[-1].audit_problem is not None
