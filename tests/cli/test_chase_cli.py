"""`triage-app chase` and `triage-app actions`: the chase list and the MDT's actions from a script, on either backend
(today from the app's clock seam, services.app.local_today)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tests.dates import meeting_day
from tests.factories import referral_json
from tests.stored import app_database, stored_rows, stored_value
from triage_app.__main__ import main
from triage_app.domain.formats import format_date
from triage_app.domain.mdt import CaseAction
from triage_app.services import app as app_services
from triage_app.services import meetings
from triage_app.services.app import current_login, local_today
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Referral 1 lacks its TWSTRS total and toxin cycles; referral 2 is complete."""
    folder = tmp_path / "data"
    source = tmp_path / "in.json"
    records = [referral_json(1, severity__twstrs_total=None, botulinum_toxin__cycles=None), referral_json(2)]
    source.write_text(json.dumps(records))
    assert run(capsys, "--data-dir", str(folder), "import", str(source), "--as-of", "2026-11-02")[0] == 0
    return folder


@pytest.mark.hazard("H03", "H10")
def test_chase_a_referral_from_the_command_line(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = ["--data-dir", str(data)]
    today = local_today()
    code, out, err = run(capsys, *d, "chase", "await", "1")
    assert code == 0, err
    chase_on = today + timedelta(days=14)
    assert f"awaiting information, chase on {format_date(chase_on)}" in out
    code, out, _ = run(capsys, *d, "chase", "list", "--json")
    listed = json.loads(out)
    assert [(r["referral_id"], r["chase_on"], r["overdue"]) for r in listed] == [(1, chase_on.isoformat(), False)]
    assert listed[0]["awaited"] == "the number of botulinum toxin cycles; the TWSTRS total score"
    nowhere = tmp_path / "no such folder" / "out"
    code, out, err = run(capsys, *d, "chase", "request", "1", "--format", "pdf", "--out-dir", str(nowhere))
    assert code != 0 and "no such folder" in err and not nowhere.parent.exists()  # refused, named, nothing made
    # As for outcome letters, a missing folder whose own folder exists is made, owner-only.
    code, out, err = run(capsys, *d, "chase", "request", "1", "--format", "pdf", "--out-dir", str(tmp_path / "out"))
    assert code == 0, err
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700
    written = Path(out.split("wrote ", 1)[1].strip())
    assert written.name == f"information-request-QUILLFEATHER-Morwenna-{format_date(today)}.pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", str(written), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "QUILLFEATHER, Morwenna" in text and "TWSTRS total score" in text
    assert "number of botulinum toxin cycles" in " ".join(text.split())
    # Fifteen days on, it is overdue; chased today, it is not.
    later = today + timedelta(days=15)
    monkeypatch.setattr(app_services, "local_today", lambda: later)
    code, out, _ = run(capsys, *d, "chase", "list", "--overdue")
    assert out.startswith(f"1\tOVERDUE chase {format_date(chase_on)}\tQUILLFEATHER, Morwenna")
    assert run(capsys, *d, "chase", "chased", "1")[0] == 0
    assert run(capsys, *d, "chase", "list", "--overdue")[1].strip() == "0 referrals awaiting information"
    assert stored_value(data, "SELECT chased_on FROM referral WHERE id = 1") in (later, later.isoformat())
    code, out, err = run(capsys, *d, "chase", "date", "1", format_date(later - timedelta(days=1)))
    assert code != 0 and "has passed" in err
    assert run(capsys, *d, "chase", "back", "1")[0] == 0
    assert stored_rows(data, "SELECT status, chase_on FROM referral WHERE id = 1") == [("received", None)]
    assert run(capsys, *d, "chase", "list")[1].strip() == "0 referrals awaiting information"


@pytest.mark.hazard("H09")
def test_actions_listed_by_owner_and_ticked_off_from_the_command_line(
    capsys: pytest.CaptureFixture[str], data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = app_database(data)
    login = current_login(database)
    actor = sign_in(database, login=login)
    decide_triage(database, actor=actor, referral_id=2, expected_version=1)
    day = meeting_day()
    meeting_id = meetings.create_meeting(
        database, actor=actor, meeting_date=day, meeting_time="13:30", today=local_today()
    ).meeting_id
    meetings.add_case(database, actor=actor, meeting_id=meeting_id, referral_id=2)
    meetings.record_outcome(
        database,
        actor=actor,
        meeting_id=meeting_id,
        referral_id=2,
        outcome="decline",
        rationale="Invented rationale",
        today=day,
        actions=[
            CaseAction("Write to the GP", "Cora Ordinator", day + timedelta(days=7)),
            CaseAction("Book a clinic", "Dr Mo", day + timedelta(days=3)),
        ],
    )
    database.dispose()
    d = ["--data-dir", str(data)]
    code, out, _ = run(capsys, *d, "actions", "list", "--json")
    assert [(a["description"], a["referral_id"]) for a in json.loads(out)] == [
        ("Book a clinic", 2),
        ("Write to the GP", 2),
    ]
    code, out, _ = run(capsys, *d, "actions", "list", "--owner", "Cora Ordinator", "--json")
    mine = json.loads(out)
    assert [a["description"] for a in mine] == ["Write to the GP"]
    monkeypatch.setattr(app_services, "local_today", lambda: day + timedelta(days=5))
    code, out, _ = run(capsys, *d, "actions", "list", "--overdue")
    assert "OVERDUE due" in out and "Book a clinic" in out and "Write to the GP" not in out
    code, out, err = run(capsys, *d, "actions", "done", str(mine[0]["action_id"]))
    assert code == 0, err
    done_by = stored_value(
        data,
        "SELECT u.login FROM case_action a JOIN app_user u ON u.id = a.done_by WHERE a.id = ?",
        mine[0]["action_id"],
    )
    assert done_by == login
    code, out, err = run(capsys, *d, "actions", "done", str(mine[0]["action_id"]))
    assert code != 0 and "already ticked off" in err
    assert "Write to the GP" not in run(capsys, *d, "actions", "list")[1]
    assert "Write to the GP" in run(capsys, *d, "actions", "list", "--all")[1]
