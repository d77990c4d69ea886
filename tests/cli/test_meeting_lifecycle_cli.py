"""`triage-app meeting edit / attendance / close`, and the over-capacity warning of `meeting add`, headless on
the app's own database (SQLite, or the test's server with --backend=postgresql)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_meeting_cli import data_dir as data_dir
from tests.cli.test_meeting_cli import run
from tests.dates import meeting_day
from tests.stored import stored_rows, stored_value
from triage_app.domain.formats import format_date

TODAY = meeting_day(0).isoformat()  # attendance and closing happen on the day
LATER = meeting_day(14).isoformat()
TEAM = ["Dr A:functional_neurosurgeon", "Dr B:movement_disorders_neurologist", "C:physiotherapist"]


def _create(capsys: pytest.CaptureFixture[str], d: list[str], day: str) -> None:
    attendees = [arg for person in TEAM for arg in ("--attendee", person)]
    assert run(capsys, *d, "meeting", "create", "--date", day, "--time", "13:30", *attendees)[0] == 0


@pytest.mark.hazard("H04")
def test_edit_a_meeting_and_a_stale_version_is_refused(
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
) -> None:
    d = ["--data-dir", str(data_dir)]
    _create(capsys, d, LATER)
    code, out, err = run(
        capsys, *d, "meeting", "edit", "1", "--version", "1", "--place", "Room 5", "--time", "09:15", "--chair", "Dr A"
    )
    assert code == 0, err
    assert "details changed" in out and "version 2; chair Dr A" in out
    assert stored_rows(data_dir, "SELECT place, meeting_time, version FROM meeting WHERE id = 1") == [
        ("Room 5", "09:15", 2)
    ]
    code, _, err = run(capsys, *d, "meeting", "edit", "1", "--version", "1", "--place", "Room 6")
    assert code == 2 and "changed on another desktop" in err and "version 2" in err
    assert stored_value(data_dir, "SELECT place FROM meeting WHERE id = 1") == "Room 5"
    # after circulation an edit is allowed and marks the circulated agenda out of date
    assert run(capsys, *d, "meeting", "circulate", "1")[0] == 0
    code, out, _ = run(
        capsys, *d, "meeting", "edit", "1", "--version", "3", "--attendee", "Dr A:functional_neurosurgeon", "--json"
    )
    shown = json.loads(out)
    assert code == 0 and shown["changed_since_circulated"] and [a["name"] for a in shown["attendees"]] == ["Dr A"]
    assert not shown["quorate"]


@pytest.mark.hazard("H09")
def test_attendance_and_closing_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
) -> None:
    d = ["--data-dir", str(data_dir)]
    assert run(capsys, *d, "meeting", "capacity", "2")[0] == 0
    _create(capsys, d, TODAY)
    assert run(capsys, *d, "meeting", "add", "1", "1")[0] == 0
    assert run(capsys, *d, "meeting", "add", "1", "2")[0] == 0
    code, out, err = run(capsys, *d, "meeting", "add", "1", "3")
    assert code == 0 and "WARNING: meeting 1: 3 cases on a list of 2: over capacity by 1" in err
    code, out, _ = run(capsys, *d, "meeting", "show", "1")
    assert "WARNING: 3 cases on a list of 2: over capacity by 1" in out
    code, out, err = run(
        capsys,
        *d,
        "meeting",
        "attendance",
        "1",
        "--version",
        "1",
        "--present",
        "Dr A:functional_neurosurgeon",
        "--present",
        "Dr B:movement_disorders_neurologist",
    )
    assert code == 0, err
    assert "C (Physiotherapist): absent" in out and "Not quorate: no physiotherapist (of those present)" in out
    assert stored_rows(data_dir, "SELECT name, attended FROM meeting_attendee WHERE meeting_id = 1 ORDER BY id") == [
        ("Dr A", True),
        ("Dr B", True),
        ("C", False),
    ]
    code, _, err = run(capsys, *d, "meeting", "close", "1", "--version", "2")
    assert code == 2 and "3 of 3 cases have no outcome" in err and "1. " in err and "NHS 999" in err
    for referral in ("1", "2", "3"):
        code, _, err = run(
            capsys, *d, "meeting", "outcome", "1", referral, "--outcome", "decline", "--rationale", "Mild symptoms"
        )
        assert code == 0, err
    # Those present were not quorate: closing needs a written reason why the outcomes stand.
    code, _, err = run(capsys, *d, "meeting", "close", "1", "--version", "2")
    assert code == 2 and "not quorate (Not quorate: no physiotherapist" in err and "--not-quorate-reason" in err
    assert stored_rows(data_dir, "SELECT closed_at FROM meeting WHERE id = 1") == [(None,)]
    reason = "Physiotherapy view given in writing before the meeting"
    code, out, err = run(capsys, *d, "meeting", "close", "1", "--version", "2", "--not-quorate-reason", reason)
    assert code == 0, err
    assert "closed by" in out and format_date(meeting_day(0)) in out
    assert stored_rows(data_dir, "SELECT status, closed_quorum FROM meeting WHERE id = 1") == [
        ("held", f"Not quorate: no physiotherapist; closed with the reason: {reason}")
    ]
    code, _, err = run(capsys, *d, "meeting", "edit", "1", "--place", "Room 9")
    assert code == 2 and "can no longer be edited" in err
