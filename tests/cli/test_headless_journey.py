"""A whole headless journey from the command line, as a unit scripting its workflow would run it.

enter (import) -> read -> triage confirm / override -> edit so the triage changes -> list -> record outcomes
-> letters; each refusal exits 2 with a message naming what is wrong and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import referral_json
from triage_app.__main__ import main
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.services.app import local_today


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def show(capsys: pytest.CaptureFixture[str], d: list[str], referral_id: int) -> dict:  # type: ignore[type-arg]
    code, out, err = run(capsys, *d, "referral", "show", str(referral_id), "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.mark.hazard("H01", "H02", "H03", "H09", "H16")
def test_enter_triage_edit_list_decide_and_write_letters(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    today = local_today().isoformat()
    source = tmp_path / "in.json"
    source.write_text(
        json.dumps([referral_json(i, received_on=today, severity__twstrs_total=20 + 10 * i) for i in (1, 2)] + [{}])
    )
    code, out, err = run(capsys, *d, "import", str(source))
    assert code == 2 and "2 added" in out and "record 3: refused" in out  # `{}` is not a referral (nor named)
    assert "record 3: patient.nhs_number: NHS number is needed to store a referral" in err

    # the same patients again on another day: possible duplicates, not added
    again = tmp_path / "again.json"
    again.write_text(json.dumps([referral_json(1, received_on="2026-01-05")]))
    code, out, _ = run(capsys, *d, "import", str(again))
    assert code == 2 and "record 1 (external_id T-001): possible duplicate of referral 1" in out and "0 added" in out

    first = show(capsys, d, 1)
    assert first["referral"]["patient"]["nhs_number"] == make_test_nhs_number(1)
    assert (first["version"], first["status"], first["standing_decision"]) == (1, "received", None)

    assert run(capsys, *d, "triage", "confirm", "1")[0] == 0
    code, out, _ = run(
        capsys, *d, "triage", "override", "2", "--outcome", "not_yet_refractory", "--reason", "Dose never optimised"
    )
    assert code == 0 and "status not yet refractory" in out
    second = show(capsys, d, 2)
    decision = second["standing_decision"]
    assert decision.pop("decided_at")  # when, as the panel says it; the rest exactly
    assert decision == {
        "outcome": "not_yet_refractory",
        "kind": "overridden",
        "made_on": "ready_for_mdt",
        "decided_by": decision["decided_by"],
        "reason": "Dose never optimised",
    }
    assert decision["decided_by"]
    code, out, _ = run(capsys, *d, "queue", "--outcome", "ready_for_mdt", "--json")
    assert [r["nhs_number"] for r in json.loads(out)] == [make_test_nhs_number(1)]  # the override is what shows
    code, out, _ = run(capsys, *d, "queue")
    assert "Not yet refractory (overridden: was ready for MDT)" in out and "Ready for MDT (confirmed)" in out

    # an edit with a stale version is refused and changes nothing
    edited = tmp_path / "edit.json"
    edited.write_text(
        json.dumps(
            referral_json(
                1,
                received_on=today,
                botulinum_toxin__response="good",
                history__dysphagia=True,
                severity__twstrs_total=30,
            )
        )
    )
    code, _, err = run(capsys, *d, "referral", "edit", "1", str(edited), "--version", "1")
    assert code == 2 and "you had version 1" in err
    assert show(capsys, d, 1)["standing_decision"]["outcome"] == "ready_for_mdt"

    # the same edit on the current version lapses the consultant's decision
    version = show(capsys, d, 1)["version"]
    code, out, _ = run(capsys, *d, "referral", "edit", "1", str(edited), "--version", str(version))
    assert code == 0 and "not_yet_refractory" in out
    lapsed = show(capsys, d, 1)
    assert (lapsed["status"], lapsed["standing_decision"], lapsed["computed_outcome"]) == (
        "received",
        None,
        "not_yet_refractory",
    )

    # a meeting today: nothing is ready (the lapsed one may not be listed), so override patient 2 to ready
    code, out, _ = run(capsys, *d, "meeting", "create", "--date", today, "--time", "13:30")
    meeting = out.strip()
    code, out, _ = run(capsys, *d, "meeting", "fill", meeting)
    assert code == 0 and "none ready" in out
    code, out, err = run(capsys, *d, "referral", "status", "2", "received")
    assert code == 0, err
    assert run(capsys, *d, "triage", "confirm", "2")[0] == 0
    code, out, _ = run(capsys, *d, "meeting", "fill", meeting)
    assert code == 0 and "added 1 referral: 2" in out

    code, _, err = run(capsys, *d, "meeting", "outcome", meeting, "2", "--outcome", "decline", "--rationale", " ")
    assert code == 2 and "needs a rationale" in err
    code, _, err = run(capsys, *d, "meeting", "outcome", meeting, "1", "--outcome", "decline", "--rationale", "x")
    assert code == 2 and "is not on meeting" in err
    code, out, err = run(
        capsys, *d, "meeting", "outcome", meeting, "2", "--outcome", "refer_for_dbs_assessment", "--rationale", "DBS"
    )
    assert code == 0, err
    code, _, err = run(capsys, *d, "meeting", "outcome", meeting, "2", "--outcome", "decline", "--rationale", "No")
    assert code == 2 and "already recorded for this case" in err and "current version (2)" in err  # no overwrite
    code, out, _ = run(capsys, *d, "meeting", "show", meeting)
    assert "Refer for DBS assessment by" in out and "(case version 2)" in out and "NHS 999 000" in out
    code, _, err = run(
        capsys,
        *d,
        "meeting",
        "outcome",
        meeting,
        "2",
        "--outcome",
        "continue_best_medical_treatment",
        "--rationale",
        "Agreed on review",
        "--version",
        "2",
        "--amend-reason",
        "Minutes corrected",
    )
    assert code == 0, err
    assert show(capsys, d, 2)["status"] == "discussed"

    letters = tmp_path / "letters"
    letters.mkdir()
    code, out, err = run(capsys, *d, "letters", meeting, "--format", "docx", "--out-dir", str(letters))
    assert code == 0 and "1 letter" in out, err


@pytest.mark.hazard("H09")
def test_outcomes_before_the_meeting_date_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    source = tmp_path / "in.json"
    source.write_text(json.dumps([referral_json(1, received_on=local_today().isoformat())]))
    assert run(capsys, *d, "import", str(source))[0] == 0
    assert run(capsys, *d, "triage", "confirm", "1")[0] == 0
    code, out, _ = run(capsys, *d, "meeting", "create", "--date", "2099-12-03", "--time", "13:30")
    assert run(capsys, *d, "meeting", "fill", out.strip())[0] == 0
    code, _, err = run(capsys, *d, "meeting", "outcome", "1", "1", "--outcome", "decline", "--rationale", "x")
    assert code == 2 and "the meeting is on 03-Dec-2099" in err


def test_the_first_user_sets_the_name_that_signs_letters(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = run(capsys, *d, "user", "list")
    login = out.split()[0]
    code, out, err = run(capsys, *d, "user", "name", login, "--name", "Dr R Example")
    assert code == 0, err
    code, out, _ = run(capsys, *d, "user", "list")
    assert "Dr R Example" in out
    code, _, err = run(capsys, *d, "user", "name", login, "--name", "  ")
    assert code == 2 and "cannot be empty" in err
