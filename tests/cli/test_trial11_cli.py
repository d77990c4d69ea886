"""Issue-11 trial findings on the command line: `referral show` is the triage panel; one key name per thing in
every `--json` answer; refusals under `--json` are JSON too; strict input (`--action`, `--count`, `--mdt-role`,
`--caution` by its label, a second deactivation, the flag that confirms a change of demographics).

Each test drives `triage_app.__main__.main` on a real SQLite file in tmp_path.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_every_action_cli import rows, run, run_json, walk
from tests.dates import meeting_day
from tests.factories import referral_json
from triage_app.cli import build_parser
from triage_app.config import default_rules_path
from triage_app.domain.mdt import MDT_ROLES
from triage_app.domain.nhs_number import make_test_nhs_number


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Referral 1 ready for MDT; referral 2 without its baseline severity (a criterion unknown, a field missing)."""
    folder = tmp_path / "data"
    source = tmp_path / "in.json"
    source.write_text(
        json.dumps(
            [
                referral_json(1, patient__family_name="Testone", external_id="T-1"),
                referral_json(2, patient__family_name="Testtwo", external_id="T-2", severity__twstrs_total=None),
            ]
        )
    )
    code, _, err = run(capsys, folder, "import", str(source), "--as-of", "2026-11-02")
    assert code == 0, err
    return folder


# --- finding 9: referral show is the triage panel ---------------------------------------------------------------


@pytest.mark.hazard("H06", "H14")
def test_referral_show_prints_what_the_triage_panel_shows(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    code, _, err = run(
        capsys, data, "triage", "override", "1", "--outcome", "needs_information", "--reason", "no toxin record"
    )
    assert code == 0, err
    code, out, err = run(capsys, data, "referral", "show", "1")
    assert code == 0, err
    # the consultant's decision: what, by whom, when, and why; and what the rules had found
    (decision,) = [line for line in out.splitlines() if line.startswith("consultant decision: ")]
    assert "overridden as Needs information by " in decision and "reason: no toxin record" in decision
    assert "(the rules found ready for MDT)" in decision and re.search(r"\d{2}:\d{2}", decision)
    # the priority's terms, each criterion with its state and reason, cautions in words, missing fields
    assert re.search(r"^priority: \d+ = \d+ severity \+ \d+ pain \+ \d+ waiting, assessed ", out, re.M)
    assert re.search(r"^  R1 met: Botulinum toxin adequately tried: .+", out, re.M)
    assert "  tremor: " in out  # the caution's label and its words, not its code
    assert "missing: none" in out
    # the history: the import, the decision and the move it made, with who
    history = out.split("\nhistory:\n", 1)[1].splitlines()
    assert any("new → Received  by " in line for line in history)
    assert any("triage overridden: Needs information by " in line and "no toxin record" in line for line in history)
    assert any("Received → Awaiting information" in line for line in history)

    code, out, _ = run(capsys, data, "referral", "show", "2")
    assert re.search(r"^  S4 unknown: Baseline severity for audit: .+", out, re.M)
    assert re.search(r"^missing: .*TWSTRS", out, re.M | re.I)
    assert "consultant decision: awaiting a consultant: no decision stands" in out


@pytest.mark.hazard("H06", "H14")
def test_referral_show_json_carries_the_panel_with_stable_keys(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    run(capsys, data, "triage", "override", "1", "--outcome", "needs_information", "--reason", "no toxin record")
    shown = run_json(capsys, data, "referral", "show", "1")
    assert shown["referral_id"] == 1 and shown["status"] == "awaiting_information"
    decision = shown["standing_decision"]
    assert decision["kind"] == "overridden" and decision["outcome"] == "needs_information"
    assert decision["made_on"] == "ready_for_mdt" and decision["reason"] == "no toxin record"
    assert decision["decided_by"] and date.fromisoformat(decision["decided_at"][:10])
    terms = shown["priority"]
    assert terms["assessed"] == terms["severity"] + terms["pain"] + terms["waiting"]
    assert {c["criterion_id"]: c["status"] for c in shown["criteria"]}["R1"] == "met"
    assert all(c["reason"] and c["title"] for c in shown["criteria"])
    assert {"code": "head_tremor", "label": "tremor"}.items() <= next(
        c for c in shown["cautions"] if c["code"] == "head_tremor"
    ).items()
    assert [e["event"] for e in shown["history"]].count("decision") == 1
    assert shown["referral"]["patient"]["family_name"] == "Testone"

    second = run_json(capsys, data, "referral", "show", "2")
    assert {c["criterion_id"]: c["status"] for c in second["criteria"]}["S4"] == "unknown"
    assert [m["field"] for m in second["missing"]] == ["severity.twstrs_total"]
    assert second["standing_decision"] is None


# --- finding 11: one name for each thing across every --json command --------------------------------------------


def _keys(value: Any, where: str = "") -> list[tuple[str, str, Any]]:
    """Every (path, key, value) in a JSON document, but inside the interchange referral and table counts."""
    found: list[tuple[str, str, Any]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append((where, key, inner))
            if key not in ("referral", "row_counts"):
                found.extend(_keys(inner, f"{where}.{key}"))
    elif isinstance(value, list):
        for inner in value:
            found.extend(_keys(inner, where))
    return found


@pytest.mark.sqlite_only("every JSON answer includes the app's file backup and restore (a server uses its own tools)")
def test_every_json_command_names_referrals_meetings_and_audit_alike(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        default_rules_path()
        .read_text(encoding="utf-8")
        .replace('version = "spd-2026.2"', 'version = "spd-2027.1"')
        .replace("paediatric_age = 18", "paediatric_age = 16"),
        encoding="utf-8",
    )
    edited = tmp_path / "r1.json"
    assert run(capsys, data, "referral", "export", "1", "--out", str(edited))[0] == 0
    more = tmp_path / "more.json"
    more.write_text(json.dumps([referral_json(3, patient__family_name="Testthree", external_id="T-3")]))
    day = date.today().isoformat()
    later = (date.today() + timedelta(days=7)).isoformat()
    answers: dict[str, Any] = {}

    def answer(name: str, *argv: str) -> Any:
        code, out, err = run(capsys, data, *argv, "--json")
        assert code == 0, (name, err)
        answers[name] = [json.loads(line) for line in out.splitlines()] if name == "import" else json.loads(out)
        return answers[name]

    answer("import", "import", str(more), "--as-of", "2026-11-02")
    version = answer("referral show", "referral", "show", "1")["version"]
    answer("referral find", "referral", "find", make_test_nhs_number(1))
    answer("referral edit", "referral", "edit", "1", str(edited), "--version", str(version))
    answer("triage confirm", "triage", "confirm", "1")
    answer("triage override", "triage", "override", "3", "--outcome", "needs_information", "--reason", "x-ray")
    answer("referral status", "referral", "status", "2", "--to", "closed", "--reason", "moved away")
    answer("queue", "queue")
    answer("reassess", "reassess")
    answer("rules show", "rules", "show")
    answer("rules diff", "rules", "diff", str(rules))
    answer("audit verify", "audit", "verify")
    answer("user list", "user", "list")
    answer("user add", "user", "add", "ctester", "--name", "C Tester", "--role", "coordinator")
    answer("user roles", "user", "roles", "ctester", "--role", "consultant")
    answer("user name", "user", "name", "ctester", "--name", "Dr C Tester")
    answer("user mdt-role", "user", "mdt-role", "ctester", "physiotherapist")
    answer("user deactivate", "user", "deactivate", "ctester")
    answer("user activate", "user", "activate", "ctester")
    meeting = str(answer("meeting create", "meeting", "create", "--date", day, "--time", "00:01")["meeting_id"])
    other = str(answer("meeting list", "meeting", "create", "--date", later, "--time", "09:00")["meeting_id"])
    answer("meeting add", "meeting", "add", meeting, "1")
    answer("meeting move", "meeting", "move", meeting, "1", "--position", "1")
    answer("meeting remove", "meeting", "remove", meeting, "1")
    answer("meeting fill", "meeting", "fill", meeting)
    answer("meeting capacity", "meeting", "capacity")
    answer("meeting circulate", "meeting", "circulate", meeting)
    answer("meeting list", "meeting", "list")
    answer("meeting show", "meeting", "show", meeting)
    answer("meeting edit", "meeting", "edit", meeting, "--place", "Room 2")  # issue 13 (B)
    answer("meeting attendance", "meeting", "attendance", meeting, "--present", "Dr A:functional_neurosurgeon")
    answer("agenda", "agenda", meeting, "--format", "csv", "--out", str(tmp_path / "agenda.csv"))
    answer(
        "meeting outcome",
        "meeting",
        "outcome",
        meeting,
        "1",
        "--outcome",
        "more_information_needed",
        "--rationale",
        "more data",
        "--action",
        f"ask for a video|Dr A|{later}",
    )
    answer("meeting close", "meeting", "close", meeting, "--not-quorate-reason", "a test meeting")  # issue 13 (B)
    # issue 13 (E): the chase list (referral 3 awaits information since its override) and the MDT's actions
    answer("chase list", "chase", "list")
    answer("chase date", "chase", "date", "3", later)
    answer("chase chased", "chase", "chased", "3", "--next", later)
    answer("chase back", "chase", "back", "3")
    answer("chase await", "chase", "await", "3", "--chase-on", later, "--awaited", "the clinic letter")
    answer("chase request", "chase", "request", "3", "--format", "docx", "--out-dir", str(tmp_path / "requests"))
    action = answer("actions list", "actions", "list")[0]["action_id"]
    answer("actions done", "actions", "done", str(action))
    answer("outcomes", "outcomes", meeting, "--format", "csv", "--out", str(tmp_path / "outcomes.csv"))
    answer("letters", "letters", meeting, "--format", "docx", "--out-dir", str(tmp_path / "letters"))
    answer("meeting cancel", "meeting", "cancel", other)
    answer("rules approve", "rules", "approve", str(rules))
    backup = answer("backup", "backup")
    answer("check", "check")
    answer("migrate", "migrate")
    answer("restore", "restore", Path(backup["path"]).name)
    code, out, err = run(capsys, tmp_path / "demo", "demo", "--count", "2", "--json")
    assert code == 0, err
    answers["demo"] = json.loads(out)
    answer("connect", "connect", "sqlite:///" + (data / "triage.sqlite3").resolve().as_posix())  # last: settings.ini

    # the walk covers every command that answers in JSON
    with_json = {" ".join(p) for p, parser in walk(build_parser()) if parser.get_default("json") is not None}
    assert with_json == set(answers)

    keys = [(name, *found) for name, document in answers.items() for found in _keys(document)]
    assert [k for k in keys if k[2] == "id"] == []  # referral_id, meeting_id: never a bare id
    assert [k for k in keys if k[2] in ("meeting", "referralId", "meetingId", "case_id")] == []
    assert [k for k in keys if not re.fullmatch(r"[a-z][a-z0-9_]*", k[2])] == []
    audits = {name: value for name, _, key, value in keys if key == "audit"}
    assert audits["backup"] == audits["restore"] == "intact", audits  # the same shape: never "audit: intact"
    assert all(value is None or not str(value).startswith("audit:") for value in audits.values())
    assert answers["restore"]["audit_problem"] is None and answers["restore"]["audit_accepted"] is False


@pytest.mark.parametrize(
    ("argv", "argument", "said"),
    [
        (("queue", "--caution", "sneezing"), "--caution", "'sneezing' is not a caution"),
        (("referral", "show", "99"), None, "referral 99 does not exist"),
        (("referral", "find", "999 000 000"), "NHS_NUMBER", "an NHS number has 10 digits"),
        (("meeting", "create", "--date", meeting_day().isoformat(), "--time", "25:99"), "--time", "'25:99' is not"),
        (("referral", "edit", "1", "nowhere.json", "--version", "1"), "FILE", "no such file"),
        (("meeting", "show", "two"), "MEETING", "'two' is not a whole number"),
    ],
)
def test_a_refusal_under_json_is_a_json_object_on_standard_output(
    capsys: pytest.CaptureFixture[str], data: Path, argv: tuple[str, ...], argument: str | None, said: str
) -> None:
    code, out, err = run(capsys, data, *argv, "--json")
    assert code == 2 and said in err  # the message on standard error and the exit status stay
    refused = json.loads(out)
    assert refused == {"error": refused["error"], "argument": argument} and said in refused["error"]
    code, out, err = run(capsys, data, *argv)  # without --json, standard output stays empty
    assert code == 2 and out == "" and said in err


def test_queue_caution_takes_the_label_the_table_prints(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    by_code = run_json(capsys, data, "queue", "--caution", "head_tremor")
    assert by_code and run_json(capsys, data, "queue", "--caution", "tremor") == by_code
    assert run_json(capsys, data, "queue", "--caution", "Neck Surgery") == run_json(
        capsys, data, "queue", "--caution", "prior_neck_surgery"
    )
    code, out, _ = run(capsys, data, "queue", "--caution", "tremor")
    assert code == 0 and "tremor" in out.splitlines()[1]


@pytest.mark.hazard("H01")
def test_referral_edit_of_the_patient_names_the_flag_that_confirms_it(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "r1.json"
    assert run(capsys, data, "referral", "export", "1", "--out", str(edited))[0] == 0
    document = json.loads(edited.read_text())
    document["patient"]["date_of_birth"] = "1970-01-02"
    edited.write_text(json.dumps(document))
    before = rows(data, "SELECT version, date_of_birth FROM referral WHERE id = 1")
    code, out, err = run(capsys, data, "referral", "edit", "1", str(edited), "--version", "1")
    assert code == 2 and out == "" and "confirm it with --demographics-changed" in err, err
    assert rows(data, "SELECT version, date_of_birth FROM referral WHERE id = 1") == before
    code, _, err = run(capsys, data, "referral", "edit", "1", str(edited), "--version", "1", "--demographics-changed")
    assert code == 0, err


@pytest.mark.hazard("H15")
def test_deactivating_a_deactivated_user_says_so_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    assert run(capsys, data, "user", "add", "nurse1", "--name", "N One", "--role", "coordinator")[0] == 0
    code, out, _ = run(capsys, data, "user", "deactivate", "nurse1")
    assert code == 0 and out.strip() == "nurse1 deactivated"
    events = rows(data, "SELECT count(*) FROM audit_event")
    code, out, _ = run(capsys, data, "user", "deactivate", "nurse1")
    assert code == 0 and out.strip() == "nurse1 was already deactivated: nothing changed"
    assert run_json(capsys, data, "user", "deactivate", "nurse1") == {
        "login": "nurse1",
        "active": False,
        "changed": False,
    }
    assert rows(data, "SELECT count(*) FROM audit_event") == events  # nothing recorded: nothing happened
    assert run_json(capsys, data, "user", "activate", "nurse1")["changed"] is True


def test_demo_refuses_a_count_below_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for count in ("0", "-3"):
        code, out, err = run(capsys, tmp_path / "demo", "demo", "--count", count)
        assert code == 2 and "argument --count: " in err and "choose 1 to 5,000,000" in err and out == ""


@pytest.mark.hazard("H09")
@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("only text", "the owner and the due date are missing"),
        ("call the GP|Dr A", "the due date is missing"),
        ("call the GP||2026-12-24", "the owner is missing"),
        ("|Dr A|2026-12-24", "the text is missing"),
        ("a|b|2026-12-24|d", "4 parts, not 3"),
    ],
)
def test_meeting_outcome_refuses_an_action_without_owner_or_due_date(
    capsys: pytest.CaptureFixture[str], data: Path, action: str, said: str
) -> None:
    assert run(capsys, data, "triage", "confirm", "1")[0] == 0
    meeting = str(
        run_json(capsys, data, "meeting", "create", "--date", date.today().isoformat(), "--time", "00:01")["meeting_id"]
    )
    assert run(capsys, data, "meeting", "add", meeting, "1")[0] == 0
    argv = ("meeting", "outcome", meeting, "1", "--outcome", "more_information_needed", "--rationale", "more data")
    code, out, err = run(capsys, data, *argv, "--action", action)
    assert code == 2 and out == ""
    assert f"--action '{action}': {said}; write it as TEXT|OWNER|YYYY-MM-DD" in err, err
    assert rows(data, "SELECT outcome FROM meeting_case") == [(None,)]
    code, out, _ = run(capsys, data, *argv, "--action", action, "--json")
    assert code == 2 and json.loads(out)["argument"] == "--action"


@pytest.mark.hazard("H15")
def test_user_add_refuses_an_unknown_mdt_role_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out, err = run(
        capsys, data, "user", "add", "x3", "--name", "X Three", "--role", "consultant", "--mdt-role", "astronaut"
    )
    assert code == 2 and out == "" and "--mdt-role: unknown MDT role 'astronaut'" in err
    assert all(role in err for role in MDT_ROLES)
    assert rows(data, "SELECT count(*) FROM app_user WHERE login = 'x3'") == [(0,)]
    added = run_json(
        capsys, data, "user", "add", "x3", "--name", "X Three", "--role", "consultant", "--mdt-role", "physiotherapist"
    )
    assert added["mdt_role"] == "physiotherapist"
    assert rows(data, "SELECT mdt_role FROM app_user WHERE login = 'x3'") == [("physiotherapist",)]
