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
