"""`triage-app user mdt-role LOGIN ROLE|none`: an administrator sets (or clears) a user's MDT role after adding
them; the quorum counts it and letters are signed in it, so an unknown role is refused and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_every_action_cli import rows, run, run_json
from triage_app.domain.mdt import MDT_ROLES


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "data"
    code, _, err = run(capsys, folder, "user", "add", "cons2", "--name", "Dr C Two", "--role", "consultant")
    assert code == 0, err
    return folder


@pytest.mark.hazard("H15")
def test_mdt_role_is_set_cleared_refused_and_audited(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    code, out, err = run(capsys, data, "user", "mdt-role", "cons2", "movement_disorders_neurologist")
    assert code == 0, err
    assert out.strip() == "cons2 is now Movement disorders neurologist"
    assert rows(data, "SELECT mdt_role FROM app_user WHERE login = 'cons2'") == [("movement_disorders_neurologist",)]
    code, out, _ = run(capsys, data, "user", "list")
    assert "[Movement disorders neurologist]" in next(line for line in out.splitlines() if line.startswith("cons2"))
    events = rows(data, "SELECT count(*) FROM audit_event WHERE changes LIKE ?", "%mdt_role%")
    assert events == [(1,)]
    # The same again changes nothing and records nothing.
    code, out, _ = run(capsys, data, "user", "mdt-role", "cons2", "movement_disorders_neurologist")
    assert code == 0 and "nothing changed" in out
    assert rows(data, "SELECT count(*) FROM audit_event WHERE changes LIKE ?", "%mdt_role%") == events
    # An unknown role is refused naming the known ones; the stored role stays.
    code, out, err = run(capsys, data, "user", "mdt-role", "cons2", "astronaut")
    assert code == 2 and out == "" and "MDT_ROLE: unknown MDT role 'astronaut'" in err
    assert all(role in err for role in MDT_ROLES)
    assert rows(data, "SELECT mdt_role FROM app_user WHERE login = 'cons2'") == [("movement_disorders_neurologist",)]
    cleared = run_json(capsys, data, "user", "mdt-role", "cons2", "none")
    assert cleared == {"login": "cons2", "mdt_role": None, "changed": True}
    assert rows(data, "SELECT mdt_role FROM app_user WHERE login = 'cons2'") == [(None,)]
    code, _, err = run(capsys, data, "user", "mdt-role", "nobody", "physiotherapist")
    assert code != 0 and "nobody" in err


def test_adding_a_user_with_an_mdt_role_echoes_the_role(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    code, out, err = run(
        capsys, data, "user", "add", "phys1", "--name", "P One", "--role", "consultant", "--mdt-role", "physiotherapist"
    )
    assert code == 0, err
    assert out.strip() == "added phys1 (consultant; MDT role: Physiotherapist)"
    assert rows(data, "SELECT mdt_role FROM app_user WHERE login = 'phys1'") == [("physiotherapist",)]
