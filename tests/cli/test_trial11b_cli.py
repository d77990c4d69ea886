"""Issue-11 re-trial findings on the command line: a meeting at the same date and time can be confirmed
(`--allow-same-time`); refusals of `--date` and `--video-link` name their argument under `--json`; a reader that
closes standard output (`| head`) gets no error message.

Each test drives `triage_app.__main__.main` on a real SQLite file in tmp_path (the broken pipe: a real process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cli.test_every_action_cli import rows, run, run_json
from tests.factories import referral_json
from triage_app.services.app import local_today


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "data"
    source = tmp_path / "in.json"
    source.write_text(json.dumps([referral_json(1, patient__family_name="Testone")]))
    code, _, err = run(capsys, folder, "import", str(source), "--as-of", "2026-11-02")
    assert code == 0, err
    return folder


def test_a_second_meeting_at_the_same_time_is_refused_until_confirmed(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    day = (local_today() + timedelta(days=12)).isoformat()
    first = run_json(capsys, data, "meeting", "create", "--date", day, "--time", "13:30")["meeting_id"]
    code, out, err = run(capsys, data, "meeting", "create", "--date", day, "--time", "13:30", "--json")
    assert code == 2 and "give --allow-same-time to create it anyway" in err
    assert json.loads(out)["argument"] == "--date"
    assert rows(data, "SELECT count(*) FROM meeting") == [(1,)]
    second = run_json(capsys, data, "meeting", "create", "--date", day, "--time", "13:30", "--allow-same-time")
    assert second["meeting_id"] != first and rows(data, "SELECT count(*) FROM meeting") == [(2,)]


@pytest.mark.parametrize(
    ("extra", "argument", "said"),
    [
        (("--date", "2025-01-10"), "--date", "is in the past"),
        (("--video-link", "http://meet.example.org/x"), "--video-link", "only https:// links are accepted"),
    ],
)
def test_meeting_refusals_name_their_argument(
    capsys: pytest.CaptureFixture[str], data: Path, extra: tuple[str, str], argument: str, said: str
) -> None:
    day = (local_today() + timedelta(days=12)).isoformat()
    arguments = {"--date": day, "--time": "13:30"}
    arguments.update([extra])
    flat = [item for pair in arguments.items() for item in pair]
    code, out, err = run(capsys, data, "meeting", "create", *flat, "--json")
    assert code == 2 and said in err
    assert json.loads(out) == {"error": json.loads(out)["error"], "argument": argument}
    assert rows(data, "SELECT count(*) FROM meeting") == [(0,)]


def test_a_reader_closing_standard_output_gets_no_error(data: Path) -> None:
    command = subprocess.list2cmdline(
        [sys.executable, "-m", "triage_app", "--data-dir", str(data), "referral", "show", "1"]
    )
    # `head -1` goes while the app may still be writing: before the fix, most runs ended with "Broken pipe".
    for _ in range(5):
        reader = subprocess.run(f"{command} | head -1", shell=True, capture_output=True, text=True, timeout=120)
        assert reader.stdout.startswith("referral 1 ") and reader.stderr == "", reader.stderr
