"""The whole MDT flow scripted headless: create, fill, list, circulate, export, letters, cancel."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.dates import meeting_day
from tests.factories import referral_json
from tests.stored import app_database, stored_value
from triage_app.__main__ import main
from triage_app.domain.formats import format_date
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in

DAY = meeting_day().isoformat()  # a meeting date that is never in the past, whatever today is


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Three referrals imported and confirmed ready for MDT by the (first-run admin) user."""
    data = tmp_path / "data"
    source = tmp_path / "in.json"
    source.write_text(json.dumps([referral_json(i, severity__twstrs_total=20 + 10 * i) for i in (1, 2, 3)]))
    assert run(capsys, "--data-dir", str(data), "import", str(source), "--as-of", "2026-11-02")[0] == 0
    database = app_database(data)
    from triage_app.services.app import current_login

    actor = sign_in(database, login=current_login(database))
    for referral_id in (1, 2, 3):
        decide_triage(database, actor=actor, referral_id=referral_id, expected_version=1)
    database.dispose()
    return data


def test_meeting_flow(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    d = ["--data-dir", str(data_dir)]
    code, out, _ = run(
        capsys,
        *d,
        "meeting",
        "create",
        "--date",
        DAY,
        "--time",
        "13:30",
        "--place",
        "Room 2",
        "--attendee",
        "Dr A:functional_neurosurgeon",
        "--attendee",
        "Dr B:movement_disorders_neurologist",
        "--attendee",
        "C:physiotherapist",
    )
    assert code == 0 and out.strip() == "1"
    code, out, _ = run(capsys, *d, "meeting", "capacity")
    assert code == 0 and out.strip() == "8 cases per meeting"
    code, out, _ = run(capsys, *d, "meeting", "fill", "1")
    assert code == 0 and "added 3 referrals: 3, 2, 1" in out
    code, out, _ = run(capsys, *d, "meeting", "list", "--json")
    (listed,) = json.loads(out)
    assert listed == {
        "meeting_id": 1,
        "date": DAY,
        "time": "13:30",
        "place": "Room 2",
        "status": "planned",
        "cases": 3,
        "quorate": True,
    }
    assert run(capsys, *d, "meeting", "circulate", "1")[0] == 0
    code, out, _ = run(capsys, *d, "meeting", "show", "1")
    assert "Quorate; 3 of 8 cases" in out and "1. referral 3" in out
    target = tmp_path / "agenda.csv"
    code, out, _ = run(capsys, *d, "agenda", "1", "--format", "csv", "--out", str(target))
    assert code == 0 and target.exists()
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Case" and sum(1 for r in rows if r[:1] in (["1"], ["2"], ["3"])) == 3
    pseudo = tmp_path / "agenda-p.pdf"
    assert run(capsys, *d, "agenda", "1", "--format", "pdf", "--out", str(pseudo), "--pseudonymised")[0] == 0
    assert pseudo.read_bytes().startswith(b"%PDF")
    code, _, err = run(capsys, *d, "letters", "1", "--format", "docx", "--out-dir", str(tmp_path))
    assert (
        code == 2 and f"the meeting is on {format_date(meeting_day())}" in err
    )  # letters only on or after the meeting date
    code, out, _ = run(capsys, *d, "meeting", "cancel", "1")
    assert code == 0 and "referral 3: back on the ready list" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["meeting", "create", "--date", "31-Feb-2027", "--time", "13:30"], "--date '31-Feb-2027' is not a date"),
        (["meeting", "create", "--date", DAY, "--time", "1pm"], "'1pm' is not a time"),
        (["meeting", "create", "--date", DAY, "--time", "13:00", "--attendee", "X:wizard"], "not an MDT role"),
        (["meeting", "fill", "99"], "there is no meeting 99"),
        (["agenda", "99", "--format", "pdf", "--out", "x.pdf"], "there is no meeting 99"),
    ],
)
def test_bad_meeting_input_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "d"), *argv)
    assert code == 2 and message in err


def test_agenda_into_a_missing_folder(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    d = ["--data-dir", str(data_dir)]
    run(capsys, *d, "meeting", "create", "--date", DAY, "--time", "13:30")
    code, _, err = run(capsys, *d, "agenda", "1", "--format", "html", "--out", str(tmp_path / "no" / "a.html"))
    assert code == 2 and "does not exist" in err


def test_a_meeting_date_as_the_app_writes_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The command line takes the DD-MMM-YYYY dates the app prints, as well as YYYY-MM-DD."""
    day = date.today() + timedelta(days=9)
    d = ["--data-dir", str(tmp_path / "d")]
    code, _, err = run(capsys, *d, "meeting", "create", "--date", format_date(day), "--time", "13:30")
    assert code == 0, err
    assert stored_value(tmp_path / "d", "SELECT meeting_date FROM meeting") in (day, day.isoformat())
