"""Every action the desktop offers has a command, and a script can read each one's answer (`--json`).

Each test drives `triage_app.__main__.main` on a real database (a SQLite file in tmp_path, or the test's server database) and asserts on the patient or
meeting acted on, as the database now holds it, and on the JSON the command printed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.dates import meeting_day
from tests.factories import referral_json
from tests.stored import server_url, stored_rows
from triage_app.__main__ import main
from triage_app.cli import build_parser
from triage_app.domain.nhs_number import make_test_nhs_number

DAY = meeting_day().isoformat()  # a meeting date that is never in the past, whatever today is

FAMILY = {1: "Testone", 2: "Testtwo", 3: "Testthree"}


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["--data-dir", str(data), *argv])
    except SystemExit as exc:  # argparse refusing an argument: usage and the message on standard error, exit 2
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> Any:
    code, out, err = run(capsys, data, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def rows(data: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of `sql` from the app's database for the data folder (either backend)."""
    return stored_rows(data, sql, *params)


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Three ready referrals of three different (invented) patients, imported by the first user (an admin with
    every role, as the first user of a new database is)."""
    folder = tmp_path / "data"
    source = tmp_path / "in.json"
    source.write_text(
        json.dumps(
            [
                referral_json(
                    i, patient__family_name=FAMILY[i], external_id=f"T-{i}", severity__twstrs_total=20 + 10 * i
                )
                for i in (1, 2, 3)
            ]
        )
    )
    code, _, err = run(capsys, folder, "import", str(source), "--as-of", "2026-11-02")
    assert code == 0, err
    return folder


def confirm_all(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    for referral_id in (1, 2, 3):
        assert run(capsys, data, "triage", "confirm", str(referral_id))[0] == 0


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf parser (a command without actions, or an action) with its path."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(walk(sub, (*path, name)))
            return found
    return [(path, parser)]


def test_every_command_and_action_takes_the_shared_options_and_dispatches_through_run() -> None:
    leaves = walk(build_parser())
    assert len(leaves) >= 40
    for path, parser in leaves:
        options = {o for a in parser._actions for o in a.option_strings}
        assert {"--data-dir", "--db", "--rules"} <= options, path
        assert callable(parser.get_default("run")), path
        assert parser.get_default("only_reads") in (True, False), path


def test_only_commands_that_change_nothing_may_run_on_a_read_only_database() -> None:
    reading = sorted(" ".join(p) for p, parser in walk(build_parser()) if parser.get_default("only_reads"))
    # exports (agenda, outcomes, letters, referral export, queue --json) record themselves in the app log there
    assert reading == [
        "actions list",
        "agenda",
        "audit verify",
        "chase list",
        "letters",
        "meeting list",
        "meeting show",
        "outcomes",
        "queue",
        "referral export",
        "referral find",
        "referral show",
        "rules diff",
        "rules show",
        "user list",
    ]


def test_every_command_a_script_reads_has_json() -> None:
    by_path = dict(walk(build_parser()))
    without = sorted(" ".join(p) for p, parser in by_path.items() if parser.get_default("json") is None)
    # score prints JSON always; export prints the referral's JSON (or writes it to a file).
    assert without == ["referral export", "score"]


@pytest.mark.hazard("H01")
def test_referral_show_find_and_status(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    shown = run_json(capsys, data, "referral", "show", "2")
    assert shown["referral_id"] == 2 and shown["referral"]["patient"]["family_name"] == "Testtwo"
    found = run_json(capsys, data, "referral", "find", make_test_nhs_number(2))
    assert found == [{"referral_id": 2, "received_on": "2026-08-03", "status": "received"}]
    assert run_json(capsys, data, "referral", "find", make_test_nhs_number(7)) == []
    code, out, err = run(capsys, data, "referral", "find", "999 000 000")
    assert code == 2 and "NHS_NUMBER: an NHS number has 10 digits" in err and out == ""

    # Closing a referral the MDT never discussed needs a reason: refused without, nothing changed.
    code, _, err = run(capsys, data, "referral", "status", "2", "--to", "closed")
    assert code == 2 and "needs a written reason" in err
    moved = run_json(capsys, data, "referral", "status", "2", "--to", "closed", "--reason", "moved away")
    assert moved == {"referral_id": 2, "status": "closed", "version": shown["version"] + 1}
    assert rows(data, "SELECT id, status FROM referral ORDER BY id") == [
        (1, "received"),
        (2, "closed"),
        (3, "received"),
    ]


@pytest.mark.hazard("H11", "H01")
def test_referral_export_is_what_edit_reads_and_is_audited(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, data, "referral", "export", "3")
    assert code == 0, err
    exported = json.loads(out)
    assert exported["patient"]["family_name"] == "Testthree" and exported["external_id"] == "T-3"
    target = tmp_path / "out" / "r3.json"
    target.parent.mkdir()
    assert run(capsys, data, "referral", "export", "3", "--out", str(target))[0] == 0
    assert json.loads(target.read_text()) == exported
    code, _, err = run(capsys, data, "referral", "export", "3", "--out", str(target))
    assert code == 2 and "--force" in err  # never over a file unless asked
    code, _, err = run(capsys, data, "referral", "export", "3", "--out", str(data / "r3.json"))
    assert code == 2 and not (data / "r3.json").exists()  # never into the data folder
    events = rows(data, "SELECT entity_id FROM audit_event WHERE action = 'export' AND entity = 'referral'")
    assert events == [("3",), ("3",)]  # one event per export that wrote patient data, none for the refusals

    # The export is what `referral edit` reads: a corrected copy goes back in, on the version read.
    exported["patient"]["given_name"] = "Corrected"
    target.write_text(json.dumps(exported))
    version = run_json(capsys, data, "referral", "show", "3")["version"]
    saved = run_json(capsys, data, "referral", "edit", "3", str(target), "--version", str(version))
    assert saved["referral_id"] == 3 and saved["version"] == version + 1 and saved["outcome"] == "ready_for_mdt"
    assert rows(data, "SELECT given_name FROM referral WHERE id = 3") == [("Corrected",)]
    assert rows(data, "SELECT given_name FROM referral WHERE id != 3") == [("Morwenna",), ("Morwenna",)]
    code, _, err = run(capsys, data, "referral", "edit", "3", str(target), "--version", str(version))
    assert code == 2 and f"version {version + 1}" in err, err  # the version read is stale: refused, saying why


@pytest.mark.hazard("H15")
def test_triage_confirm_and_override(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    confirmed = run_json(capsys, data, "triage", "confirm", "1")
    assert confirmed["referral_id"] == 1 and confirmed["decision"] == "confirmed"
    assert confirmed["status"] == "ready_for_mdt"
    overridden = run_json(
        capsys, data, "triage", "override", "2", "--outcome", "needs_information", "--reason", "no toxin record"
    )
    assert overridden["status"] == "awaiting_information" and overridden["decision"] == "overridden"
    assert rows(data, "SELECT id, status, decided_outcome FROM referral ORDER BY id") == [
        (1, "ready_for_mdt", "ready_for_mdt"),
        (2, "awaiting_information", "needs_information"),
        (3, "received", None),
    ]
    code, _, err = run(capsys, data, "triage", "override", "3", "--outcome", "maybe", "--reason", "x")
    assert code == 2 and "--outcome" in err and "invalid choice" in err


@pytest.mark.hazard("H09", "H11")
def test_meeting_plan_move_outcome_and_cancel(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    confirm_all(capsys, data)
    today = date.today().isoformat()  # a meeting is planned for today or later; outcomes from its date on
    created = run_json(capsys, data, "meeting", "create", "--date", today, "--time", "00:01", "--chair", "Dr A")
    meeting = str(created["meeting_id"])
    assert run_json(capsys, data, "meeting", "add", meeting, "1")["cases"][0]["referral_id"] == 1
    listed = run_json(capsys, data, "meeting", "add", meeting, "3")["cases"]
    assert [c["referral_id"] for c in listed] == [1, 3]
    moved = run_json(capsys, data, "meeting", "move", meeting, "3", "--position", "1")["cases"]
    assert [(c["position"], c["referral_id"]) for c in moved] == [(1, 3), (2, 1)]
    assert rows(data, "SELECT referral_id, position FROM meeting_case ORDER BY position") == [(3, 1), (1, 2)]
    removed = run_json(capsys, data, "meeting", "remove", meeting, "1")["cases"]
    assert [c["referral_id"] for c in removed] == [3]
    assert rows(data, "SELECT status, meeting_id FROM referral WHERE id = 1") == [("ready_for_mdt", None)]
    filled = run_json(capsys, data, "meeting", "fill", meeting)
    assert filled == {"meeting_id": int(meeting), "added": [2, 1]}
    assert run_json(capsys, data, "meeting", "capacity") == {"cases_per_meeting": 8}
    assert run_json(capsys, data, "meeting", "circulate", meeting)["status"] == "circulated"

    code, out, _ = run(capsys, data, "meeting", "show", meeting, "--json")
    shown = json.loads(out)
    assert shown["status"] == "circulated" and shown["chair"] == "Dr A"
    assert [c["referral_id"] for c in shown["cases"]] == [3, 2, 1]
    assert not any(name in out for name in (*FAMILY.values(), "Morwenna", make_test_nhs_number(1)))

    recorded = run_json(
        capsys,
        data,
        "meeting",
        "outcome",
        meeting,
        "2",
        "--outcome",
        "more_information_needed",
        "--rationale",
        "needs video of the tremor",
        "--action",
        f"ask for a video|Dr A|{date.today().isoformat()}",
    )
    assert recorded["referral_id"] == 2 and recorded["outcome"] == "more_information_needed"
    assert recorded["actions"] == [{"description": "ask for a video", "owner": "Dr A", "due": date.today().isoformat()}]
    stored = rows(data, "SELECT referral_id, outcome FROM meeting_case WHERE outcome IS NOT NULL")
    assert stored == [(2, "more_information_needed")]
    code, _, err = run(capsys, data, "meeting", "cancel", meeting)
    assert code == 2 and "recorded outcomes" in err  # held: not cancelled

    other = str(run_json(capsys, data, "meeting", "create", "--date", today, "--time", "09:00")["meeting_id"])
    assert run_json(capsys, data, "meeting", "cancel", other) == {
        "meeting_id": int(other),
        "status": "cancelled",
        "moved": [],
    }
    listing = run_json(capsys, data, "meeting", "list")
    assert {m["meeting_id"]: m["status"] for m in listing} == {int(meeting): "circulated", int(other): "cancelled"}


def test_meeting_arguments_are_refused_by_name(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    confirm_all(capsys, data)
    meeting = str(run_json(capsys, data, "meeting", "create", "--date", DAY, "--time", "13:30")["meeting_id"])
    run_json(capsys, data, "meeting", "add", meeting, "1")
    for argv, said in (
        (("meeting", "move", meeting, "2", "--position", "1"), "REFERRAL: referral 2 is not on meeting"),
        (("meeting", "move", meeting, "1", "--position", "3"), "--position 3 is past the end"),
        (("meeting", "move", meeting, "1", "--position", "0"), "--position"),
        (("meeting", "add", meeting, "two"), "REFERRAL"),
        (("meeting", "add", "99", "2"), "no meeting 99"),
        (("meeting", "create", "--date", "3 Dec", "--time", "13:30"), "--date '3 Dec' is not a date"),
        (("meeting", "outcome", meeting, "1", "--outcome", "more_information_needed"), "--rationale"),
        (("meeting", "create", "--date", DAY, "--time", "25:99"), "meeting create: --time: '25:99' is not"),
        (("meeting", "create", "--date", DAY, "--time", "9:00", "--attendee", "Dr B:surgeon"), "--attendee:"),
    ):
        code, out, err = run(capsys, data, *argv)
        assert code == 2 and said in err and out == "", (argv, err)
    assert rows(data, "SELECT referral_id, position FROM meeting_case") == [(1, 1)]


def test_users_rules_and_maintenance_answer_in_json(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    (first,) = run_json(capsys, data, "user", "list")
    assert set(first) == {"login", "name", "roles", "mdt_role", "active"} and "admin" in first["roles"]
    added = run_json(capsys, data, "user", "add", "ctester", "--name", "C Tester", "--role", "coordinator")
    assert added["login"] == "ctester" and added["roles"] == ["coordinator"]
    assert run_json(capsys, data, "user", "roles", "ctester", "--role", "consultant")["roles"] == ["consultant"]
    assert run_json(capsys, data, "user", "deactivate", "ctester") == {
        "login": "ctester",
        "active": False,
        "changed": True,
    }
    assert rows(data, "SELECT is_active FROM app_user WHERE login = 'ctester'") == [(0,)]

    rules = run_json(capsys, data, "rules", "show")
    assert rules["in_force"]["version"] and len(rules["in_force"]["sha256"]) == 64 and rules["proposal"] is None

    audit = run_json(capsys, data, "audit", "verify")
    assert audit["intact"] is True and audit["problems"] == [] and audit["events_checked"] > 3
    if server_url() is None:  # the app backs up a SQLite file; a server is backed up by its own tools
        backup = run_json(capsys, data, "backup")
        assert Path(backup["path"]).is_file() and backup["row_counts"]["referral"] == 3
        assert backup["audit_problem"] is None
        check = run_json(capsys, data, "check")
        assert check["result"] == "intact" and Path(backup["path"]).name in [b["file"] for b in check["backups"]]
    assert run_json(capsys, data, "migrate")["upgraded"] is False
    assert run_json(capsys, data, "reassess")["reassessed"] == 0
    # Invented patients never mix with real ones: the demo goes into a data folder of its own.
    if server_url() is None:
        assert run_json(capsys, tmp_path / "demo", "demo", "--count", "12", "--seed", "4") == {"added": 12, "seed": 4}
    else:  # the test's one server database already holds these referrals: the demo refuses to mix with them
        code, _, err = run(capsys, tmp_path / "demo", "demo", "--count", "12", "--seed", "4", "--json")
        assert code == 2 and "invented patients must not mix with real ones" in err


def test_exports_and_letters_name_their_files(capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    confirm_all(capsys, data)
    meeting = str(
        run_json(capsys, data, "meeting", "create", "--date", date.today().isoformat(), "--time", "00:01")["meeting_id"]
    )
    run_json(capsys, data, "meeting", "fill", meeting)
    agenda = tmp_path / "agenda.csv"
    written = run_json(capsys, data, "agenda", meeting, "--format", "csv", "--out", str(agenda), "--pseudonymised")
    assert written == {"meeting_id": int(meeting), "file": str(agenda), "format": "csv", "notes": []}
    assert "Testone" not in agenda.read_text() and agenda.read_text().count("\n") >= 4
    run_json(
        capsys,
        data,
        "meeting",
        "outcome",
        meeting,
        "1",
        "--outcome",
        "more_information_needed",
        "--rationale",
        "more data",
    )
    letters = run_json(capsys, data, "letters", meeting, "--format", "docx", "--out-dir", str(tmp_path / "letters"))
    assert len(letters["letters"]) == 1 and Path(letters["letters"][0]).is_file()


def test_queue_filters_as_the_desktop_does(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    code, out, _ = run(capsys, data, "queue", "--search", "testtw")
    assert code == 0 and "TESTTWO" in out and "TESTONE" not in out and "1 referral" in out
    found = run_json(capsys, data, "queue", "--search", make_test_nhs_number(3))
    assert [r["referral_id"] for r in found] == [3] and found[0]["family_name"] == "Testthree"
    flagged = run_json(capsys, data, "queue", "--caution", "head_tremor")
    assert sorted(r["referral_id"] for r in flagged) == [1, 2, 3] and all("head_tremor" in r["flags"] for r in flagged)
    assert run_json(capsys, data, "queue", "--caution", "paediatric") == []
    code, _, err = run(capsys, data, "queue", "--caution", "sneezing")
    assert code == 2 and "--caution" in err


@pytest.mark.hazard("H02", "H03")
def test_import_json_lines_say_what_each_record_became(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    again = referral_json(1, patient__family_name=FAMILY[1], external_id="T-1")  # stored already: a duplicate
    new = referral_json(4, patient__family_name="Testfour", external_id="T-4")
    bad = referral_json(5, external_id="T-5", severity__twstrs_total=999)
    source = tmp_path / "more.json"
    source.write_text(json.dumps([again, new, bad]))
    code, out, err = run(capsys, data, "import", str(source), "--as-of", "2026-11-02", "--json")
    assert code == 2, err  # one record refused
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r.get("record"), r.get("result"), r.get("referral_id")) for r in lines[:3]] == [
        (1, "duplicate", 1),
        (2, "added", 4),
        (3, "refused", None),
    ]
    assert lines[2]["errors"][0]["field"] == "severity.twstrs_total"
    assert lines[3]["summary"]["added"] == 1 and lines[3]["summary"]["refused"] == 1
    assert make_test_nhs_number(4) not in out and "Testfour" not in out  # ids, not the patient, come back
    assert rows(data, "SELECT family_name FROM referral WHERE id = 4") == [("Testfour",)]
    assert rows(data, "SELECT count(*) FROM referral") == [(4,)]


@pytest.mark.sqlite_only("another program holding the SQLite file's write lock")
@pytest.mark.hazard("H11")
def test_a_referral_export_whose_audit_event_cannot_be_written_leaves_no_file(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    from triage_app.services.exports import ExportNotWritten
    from triage_app.services.referral_export import export_referral
    from triage_app.services.users import sign_in
    from triage_app.storage.engine import Database, parse_database_url, sqlite_url

    target = tmp_path / "r1.json"
    database = Database(parse_database_url(sqlite_url(data / "triage.sqlite3")), busy_timeout_ms=150)
    holder = sqlite3.connect(data / "triage.sqlite3", isolation_level=None)  # another program, holding the lock
    try:
        actor = sign_in(database, login=rows(data, "SELECT login FROM app_user ORDER BY id")[0][0])
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(ExportNotWritten, match="referral 1 was not exported: .*locked"):
            export_referral(database, actor=actor, referral_id=1, out=target)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        database.dispose()
    assert not target.exists() and list(tmp_path.glob(".r1.json*")) == []  # nor its temporary file
    assert rows(data, "SELECT count(*) FROM audit_event WHERE action = 'export'") == [(0,)]
