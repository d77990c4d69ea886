"""The day's backup is taken after a command's work, not on the way to it, and once a day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import referral_json
from triage_app.__main__ import main
from triage_app.storage.backup import read_manifest


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
