"""The command line refuses what the signed-in user's roles do not allow: exit status 2, one message naming the
user, their roles, the action and the roles that may, and nothing changed.

The command line signs in as the operating-system account running the tests; each test makes that account a
user with the roles it needs, after an administrator ("admin-test") set the database up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dates import meeting_day
from tests.factories import AS_OF, referral, referral_json
from tests.stored import app_database, app_login, stored_rows, stored_value
from triage_app.__main__ import main
from triage_app.cli import build_parser
from triage_app.cli.common import command_label
from triage_app.services import meetings
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import add_user, set_active, sign_in
from triage_app.storage.migrate import migrate

Run = Callable[..., tuple[int, str, str]]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signs in as the POSIX account running the tests")


@pytest.fixture
def data_dir(tmp_path: Path, rules: object) -> Path:
    """A database an administrator set up: referral 1 received, 2 ready for MDT and on meeting 1, 3 ready."""
    from triage_app.config import default_rules_path
    from triage_app.domain.rules import load_rules

    data = tmp_path / "data"
    data.mkdir()
    database = app_database(data)
    try:
        migrate(database, backup_dir=None)
        admin = sign_in(database, login="admin-test", display_name="Ada Admin")
        shipped = load_rules(default_rules_path())
        for serial in (1, 2, 3):
            register_referral(database, actor=admin, referral=referral(serial), rules=shipped, as_of=AS_OF)
        for referral_id in (2, 3):
            decide_triage(database, actor=admin, referral_id=referral_id, expected_version=1)
        meeting_id = meetings.create_meeting(
            database, actor=admin, meeting_date=AS_OF, meeting_time="13:30", today=AS_OF
        ).meeting_id
        meetings.add_case(database, actor=admin, meeting_id=meeting_id, referral_id=2)
    finally:
        database.dispose()
    return data


def as_user(data: Path, roles: list[str], *, active: bool = True) -> None:
    """Make the account running the tests a user of `data`'s database with `roles`."""
    database = app_database(data)
    try:
        admin = sign_in(database, login="admin-test")
        add_user(database, actor=admin, login=app_login(data), display_name="Tess Terminal", roles=roles)
        if not active:
            set_active(database, actor=admin, login=app_login(data), active=False)
    finally:
        database.dispose()


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], data_dir: Path) -> Run:
    def runner(*argv: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data_dir), *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return runner


def state(data: Path) -> tuple[int, list[tuple[int, str]]]:
    """Audit events, and each referral's status: what a refusal must leave as it was."""
    events = int(stored_value(data, "SELECT count(*) FROM audit_event"))
    statuses = [(int(i), str(s)) for i, s in stored_rows(data, "SELECT id, status FROM referral ORDER BY id")]
    return events, statuses


def refused(run: Run, data: Path, argv: list[str], *expected: str) -> None:
    before = state(data)
    code, out, err = run(*argv)
    assert code == 2, (argv, out, err)
    # led by the command and its action, as argparse's own messages are: `triage-app triage confirm: `
    assert err.startswith(f"{command_label(build_parser().parse_args(argv))}: "), err
    assert err.startswith(f"triage-app {argv[0]}"), err
    for text in expected:
        assert text in err, (text, err)
    assert state(data) == before, argv


@pytest.mark.hazard("H15")
def test_a_coordinator_is_refused_consultant_and_administrator_commands(
    run: Run, data_dir: Path, tmp_path: Path
) -> None:
    as_user(data_dir, ["coordinator"])
    assert run("queue")[0] == 0  # the first command on the database settles it (approves the shipped rules)
    who = f"Tess Terminal (login '{app_login(data_dir)}', coordinator) cannot"
    refused(run, data_dir, ["triage", "confirm", "1"], who, "confirm a triage decision", "needs the consultant role")
    refused(
        run,
        data_dir,
        ["triage", "override", "1", "--outcome", "needs_information", "--reason", "Invented"],
        "override a triage decision",
    )
    refused(run, data_dir, ["referral", "status", "1", "closed", "--note", "Invented"], who, "close a referral")
    refused(run, data_dir, ["referral", "status", "3", "received"], "needs the consultant role")
    refused(
        run,
        data_dir,
        ["meeting", "outcome", "1", "2", "--outcome", "decline", "--rationale", "Invented"],
        "record an MDT outcome",
    )
    refused(run, data_dir, ["demo", "--count", "1"], who, "load demo data", "needs the admin role")
    refused(run, data_dir, ["user", "add", "newbie", "--name", "N New", "--role", "admin"], "manage users")
    refused(run, data_dir, ["meeting", "capacity", "5"], "change the cases per meeting", "needs the admin role")
    # what a coordinator does, the command line does
    code, out, err = run("referral", "status", "1", "awaiting_information")
    assert code == 0 and "awaiting information" in out, err
    code, out, err = run("agenda", "1", "--format", "csv", "--out", str(tmp_path / "agenda.csv"))
    assert code == 0 and (tmp_path / "agenda.csv").exists(), err


@pytest.mark.hazard("H15")
def test_a_consultant_is_refused_coordinator_commands(run: Run, data_dir: Path, tmp_path: Path) -> None:
    as_user(data_dir, ["consultant"])
    assert run("queue")[0] == 0
    records = tmp_path / "in.json"
    records.write_text(json.dumps([referral_json(9)]), encoding="utf-8")
    refused(run, data_dir, ["import", str(records)], "cannot import referrals", "needs the coordinator role")
    refused(run, data_dir, ["agenda", "1", "--format", "csv", "--out", str(tmp_path / "a.csv")], "export or print")
    refused(
        run,
        data_dir,
        ["meeting", "create", "--date", meeting_day().isoformat(), "--time", "13:30"],
        "plan MDT meetings",
    )
    refused(run, data_dir, ["referral", "status", "1", "awaiting_information"], "needs the coordinator role")
    assert not (tmp_path / "a.csv").exists()
    code, out, err = run("referral", "status", "1", "closed", "--note", "Invented: moved away")
    assert code == 0 and "closed" in out, err


@pytest.mark.hazard("H15", "H11")
@pytest.mark.parametrize(
    ("roles", "active", "why"), [([], True, "has no role"), (["coordinator"], False, "deactivated")]
)
def test_a_user_with_no_active_role_gets_nothing_from_the_command_line(
    run: Run, data_dir: Path, tmp_path: Path, roles: list[str], active: bool, why: str
) -> None:
    as_user(data_dir, roles, active=active)
    for argv in (
        ["queue", "--json"],
        ["referral", "show", "1"],
        ["agenda", "1", "--format", "csv", "--out", str(tmp_path / "a.csv")],
        ["letters", "1", "--format", "docx", "--out-dir", str(tmp_path)],
    ):
        before = state(data_dir)
        code, out, err = run(*argv)
        # no patient data: under --json only the refusal itself, as a JSON object
        said = json.loads(out) if "--json" in argv else {}
        assert code == 2 and why in err and out == ("" if not said else out), (argv, out, err)
        assert set(said) <= {"error", "argument"} and why in said.get("error", why)
        assert "QUILLFEATHER" not in (out + err).upper() and state(data_dir) == before
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


@pytest.mark.hazard("H15")
def test_every_plain_status_move_has_a_working_command(run: Run, data_dir: Path) -> None:
    # referral 1 received, 2 listed on meeting 1, 3 ready for MDT; the MDT then discusses referral 2
    database = app_database(data_dir)
    try:
        admin = sign_in(database, login="admin-test")
        meetings.record_outcome(
            database, actor=admin, meeting_id=1, referral_id=2, outcome="decline", rationale="Invented", today=AS_OF
        )
    finally:
        database.dispose()
    as_user(data_dir, ["coordinator", "consultant"])
    moves = [
        ("1", "awaiting_information", []),  # awaiting_information (coordinator)
        ("1", "received", []),  # and back
        ("3", "awaiting_information", []),  # reverse_triage_status (consultant)
        ("1", "closed", ["--note", "Invented: moved out of the area"]),  # close_undiscussed, with its reason
        ("1", "received", []),  # reopen
        ("2", "closed", []),  # close_discussed
    ]
    for referral_id, status, extra in moves:
        code, out, err = run("referral", "status", referral_id, status, *extra)
        assert code == 0 and f"referral {referral_id} is now" in out, (referral_id, status, err)
    code, _, err = run("referral", "status", "3", "closed")
    assert code == 2 and "closing a referral the MDT has not discussed needs a written reason" in err
    # the same moves spelt --to STATUS --reason TEXT
    code, out, err = run("referral", "status", "3", "--to", "closed", "--reason", "Invented: treated elsewhere")
    assert code == 0 and "referral 3 is now closed" in out, err
    code, out, err = run("referral", "status", "3", "--to", "received")
    assert code == 0 and "referral 3 is now received" in out, err
    code, _, err = run("referral", "status", "3")
    assert code == 2 and "say which status to move referral 3 to: --to STATUS" in err
    code, _, err = run("referral", "status", "3", "closed", "--to", "received")
    assert code == 2 and "two statuses given (closed and --to received): give one" in err
