"""`triage-app rules show|diff|approve`, and no stateful command (nor the desktop app) takes a rules file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import referral_json
from tests.stored import app_database, app_login, stored_rows, stored_value
from triage_app.__main__ import main
from triage_app.config import default_rules_path
from triage_app.services.users import add_user, sign_in
from triage_app.storage.migrate import migrate

AS_OF = "2026-11-02"
SHIPPED = default_rules_path().read_text(encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rules_file(tmp_path: Path, version: str, *changes: tuple[str, str], name: str = "") -> Path:
    text = SHIPPED.replace('version = "spd-2026.2"', f'version = "{version}"')
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / (name or f"{version}.toml")
    path.write_text(text, encoding="utf-8")
    return path


def state(data_dir: Path) -> dict[str, Any]:
    """Everything a rules file could change: assessments, current outcomes, approvals."""
    return {
        "assessments": stored_rows(data_dir, "SELECT id, rules_version, outcome FROM assessment ORDER BY id"),
        "referrals": stored_rows(
            data_dir, "SELECT id, current_assessment_id, outcome, status, decided_outcome FROM referral ORDER BY id"
        ),
        "approvals": stored_rows(data_dir, "SELECT id, version, sha256 FROM approved_rules ORDER BY id"),
    }


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A data folder whose database holds two referrals, opened first by this OS account (its admin)."""
    folder = tmp_path / "data"
    records = tmp_path / "records.json"
    child = referral_json(2, patient__date_of_birth="2012-03-04")
    records.write_text(json.dumps([referral_json(1), child]), encoding="utf-8")
    code, _, err = run(capsys, "--data-dir", str(folder), "import", str(records), "--as-of", AS_OF)
    assert code == 0, err
    return folder


# --- no rules file but score's ----------------------------------------------------------------------------------

STATEFUL = [
    ["queue"],
    ["queue", "--json"],
    ["reassess", "--all"],
    ["referral", "show", "1"],
    ["user", "list"],
    ["meeting", "list"],
    ["rules", "show"],
    ["audit", "verify"],
    ["migrate"],
    ["backup"],
    ["demo", "--count", "1"],
]


@pytest.mark.hazard("H05")
@pytest.mark.parametrize("argv", STATEFUL, ids=lambda argv: " ".join(argv))
@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_a_stateful_command_given_a_rules_file_is_refused_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, argv: list[str], where: str
) -> None:
    """`triage-app queue --rules evil.toml` used to rescore every ready referral."""
    evil = rules_file(tmp_path, "evil-1", ('specialist_units = ["RXX01"]', 'specialist_units = ["RQQ07"]'))
    before = state(data_dir)
    option = ["--rules", str(evil)]
    full = [*option, *argv] if where == "before the command" else [*argv, *option]
    code, out, err = run(capsys, "--data-dir", str(data_dir), *full)
    assert code == 2 and out == ""
    assert "rules are approved in the database" in err and "triage-app rules approve FILE" in err
    assert state(data_dir) == before


@pytest.mark.hazard("H05")
def test_the_rules_environment_variable_is_refused_not_ignored(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = rules_file(tmp_path, "evil-1", ('specialist_units = ["RXX01"]', 'specialist_units = ["RQQ07"]'))
    before = state(data_dir)
    monkeypatch.setenv("TRIAGE_APP_RULES", str(evil))
    code, _, err = run(capsys, "--data-dir", str(data_dir), "queue")
    assert code == 2 and "TRIAGE_APP_RULES is set, but the rules are approved in the database" in err
    code, _, err = run(capsys, "score", "-", "--as-of", AS_OF)
    assert code == 2 and "give score its rules file with --rules FILE" in err
    assert state(data_dir) == before


@pytest.mark.hazard("H05")
def test_the_desktop_app_started_with_a_rules_file_opens_nothing(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = rules_file(tmp_path, "evil-1", ("paediatric_age = 18", "paediatric_age = 1"))
    before = state(data_dir)
    code, _, err = run(capsys, "--data-dir", str(data_dir), "--rules", str(evil), "--smoke")
    assert code == 2 and "rules are approved in the database" in err
    shown: list[str] = []  # started from a shortcut, there is no console: the message is shown in a box
    import triage_app.ui.app as gui

    monkeypatch.setattr(gui, "show_startup_error", shown.append)
    code, _, _ = run(capsys, "--data-dir", str(data_dir), "--rules", str(evil))
    assert code == 2 and len(shown) == 1 and "triage-app rules approve FILE" in shown[0]
    assert state(data_dir) == before


def test_score_still_takes_any_rules_file_and_defaults_to_the_shipped_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record = tmp_path / "one.json"
    record.write_text(json.dumps(referral_json(1)), encoding="utf-8")
    code, out, _ = run(capsys, "score", str(record), "--as-of", AS_OF)
    assert code == 0 and json.loads(out)["rules_version"] == "spd-2026.2"
    unit = rules_file(tmp_path, "unit-3", ('specialist_units = ["RXX01"]', 'specialist_units = ["RQQ07"]'))
    code, out, _ = run(capsys, "score", str(record), "--as-of", AS_OF, "--rules", str(unit))
    assert code == 0 and json.loads(out)["outcome"] == "redirect_to_specialist_unit"
    code, out, _ = run(capsys, "--rules", str(unit), "score", str(record), "--as-of", AS_OF)
    assert code == 0 and json.loads(out)["rules_version"] == "unit-3"


# --- rules show, diff, approve ---------------------------------------------------------------------------------


def test_rules_show(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "show")
    assert code == 0
    assert "rules in force: spd-2026.2" in out
    me = app_login(data_dir)
    assert f"approved by: {me} ({me}) on " in out and " UTC" in out
    sha = stored_value(data_dir, "SELECT sha256 FROM approved_rules")
    assert f"SHA-256: {sha}" in out and "shipped proposal: none" in out


@pytest.mark.hazard("H05")
def test_rules_diff_words_each_change_and_stores_nothing(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    proposed = rules_file(
        tmp_path,
        "spd-2027.1",
        ("bont_min_cycles = 3 ", "bont_min_cycles = 4 "),
        ("paediatric_age = 18", "paediatric_age = 16"),
    )
    before = state(data_dir)
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "diff", str(proposed))
    assert code == 0
    assert "  Version of the rules: spd-2026.2 -> spd-2027.1" in out
    assert "  R1 toxin cycles needed: 3 -> 4" in out
    assert "  paediatric caution raised under the age of: 18 -> 16" in out
    assert "approving it would reassess 2 open referrals not yet at an MDT" in out
    assert state(data_dir) == before


@pytest.mark.hazard("H05")
def test_rules_approve_prints_the_changes_and_the_referrals_reassessed(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    proposed = rules_file(tmp_path, "spd-2027.1", ('specialist_units = ["RXX01"]', 'specialist_units = ["RQQ07"]'))
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "approve", str(proposed))
    assert code == 0
    assert "S2 specialist units offering SPD: RXX01 -> RQQ07 (adds RQQ07; removes RXX01)" in out
    assert f"Rules spd-2027.1 approved by {app_login(data_dir)}; 2 open referrals not yet at an MDT reassessed." in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue", "--json")
    assert {r["outcome"] for r in json.loads(out)} == {"redirect_to_specialist_unit"}
    # the same file again: a clear no-op
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "approve", str(proposed))
    assert code == 0 and "already the rules in force; nothing changed" in out
    assert len(state(data_dir)["approvals"]) == 2


@pytest.mark.hazard("H05")
def test_rules_approve_refuses_a_reused_version_and_bad_files_by_name(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    before = state(data_dir)
    same_version = rules_file(tmp_path, "spd-2026.2", ("paediatric_age = 18", "paediatric_age = 2"), name="kept.toml")
    code, out, err = run(capsys, "--data-dir", str(data_dir), "rules", "approve", str(same_version))
    (approved_sha,) = {sha for _, _, sha in before["approvals"]}
    assert code == 2 and out == ""
    assert "rules version spd-2026.2 is already approved with other content" in err
    assert approved_sha[:12] in err
    unknown = rules_file(tmp_path, "unit-5", ("[flags]", "[flags]\npaediatric_years = 16"))
    code, _, err = run(capsys, "--data-dir", str(data_dir), "rules", "approve", str(unknown))
    assert code == 2 and "unknown key 'flags.paediatric_years'" in err and "rules in force are unchanged" in err
    out_of_range = rules_file(tmp_path, "unit-6", ("rtt_warning_weeks = 12", "rtt_warning_weeks = 40"))
    code, _, err = run(capsys, "--data-dir", str(data_dir), "rules", "approve", str(out_of_range))
    assert code == 2 and "'flags.rtt_warning_weeks' must be at least 1 and at most 18" in err
    missing = tmp_path / "absent.toml"
    code, _, err = run(capsys, "--data-dir", str(data_dir), "rules", "diff", str(missing))
    assert code == 2 and "cannot read rules file" in err
    assert state(data_dir) == before


@pytest.mark.hazard("H05", "H15")
def test_only_an_administrator_approves_on_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    database = app_database(folder)
    migrate(database, backup_dir=None)
    admin = sign_in(database, login="admin-test", display_name="Ada Admin")
    add_user(database, actor=admin, login=app_login(folder), display_name="Cora Ordinator", roles=["coordinator"])
    database.dispose()
    proposed = rules_file(tmp_path, "spd-2027.1", ("bont_min_cycles = 3 ", "bont_min_cycles = 4 "))
    code, out, _ = run(capsys, "--data-dir", str(folder), "rules", "show")  # anyone with a role may look
    assert code == 0 and "approved by: Ada Admin (admin-test)" in out  # the first administrator's name
    code, out, _ = run(capsys, "--data-dir", str(folder), "rules", "diff", str(proposed))
    assert code == 0 and "R1 toxin cycles needed: 3 -> 4" in out
    before = state(folder)
    code, _, err = run(capsys, "--data-dir", str(folder), "rules", "approve", str(proposed))
    assert code == 2 and "cannot approve rules: it needs the admin role" in err
    assert state(folder) == before


@pytest.mark.hazard("H05")
def test_rules_shipped_with_a_newer_app_are_offered_never_applied(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = rules_file(tmp_path, "spd-2027.1", ("bont_min_cycles = 3 ", "bont_min_cycles = 4 "))
    import triage_app.services.app as app_service

    monkeypatch.setattr(app_service, "shipped_rules_path", lambda: newer)  # this app now ships newer rules
    before = state(data_dir)
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue")
    assert code == 0 and state(data_dir) == before  # starting the newer app changes nothing
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "show")
    assert code == 0 and "rules in force: spd-2026.2" in out
    assert "shipped proposal: This version of the app ships rules spd-2027.1" in out
    assert "only a proposal until an administrator reviews and approves them" in out
    assert "  R1 toxin cycles needed: 3 -> 4" in out and f"to approve it: triage-app rules approve {newer}" in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "approve", str(newer))
    assert code == 0
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "show")
    assert "rules in force: spd-2027.1" in out and "shipped proposal: none" in out
