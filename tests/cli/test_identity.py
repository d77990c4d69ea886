"""Who is signed in comes from the operating system, never from USER, LOGNAME or USERNAME (safety.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from triage_app.__main__ import main
from triage_app.services import app
from triage_app.services.users import UnknownUser

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the effective user id is POSIX")


def real_account() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def spoofed_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_APP_")}
    env.update(LOGNAME="someone", USER="someone", LNAME="someone", USERNAME="someone", **extra)
    # the child runs in tmp_path: it finds the app beside the tests whether or not the package is installed
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (repo, env.get("PYTHONPATH"))))
    return env


@posix_only
@pytest.mark.hazard("H12")
def test_environment_variables_do_not_choose_the_user(tmp_path: Path) -> None:
    assert real_account() != "someone"
    # The first user of a new database becomes its admin: whoever signs in here is who the app thinks we are.
    done = subprocess.run(
        [sys.executable, "-m", "triage_app", "--data-dir", str(tmp_path / "data"), "user", "list"],
        env=spoofed_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    logins = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert logins == [real_account()], done.stdout
    assert "someone" not in done.stdout


@pytest.fixture
def nameless_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The OS has no name for this process's user id (a container with no passwd entry for it)."""
    import pwd

    def no_entry(uid: int) -> Any:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "someone")
    yield


@posix_only
@pytest.mark.hazard("H12")
def test_an_account_without_a_name_is_refused_not_guessed(nameless_account: None) -> None:
    with pytest.raises(UnknownUser, match=r"user id \d+\) has no name"):
        app.current_login()


@pytest.mark.sqlite_only("on a server the signed-in user is the role the server authenticated, not the OS account")
@posix_only
@pytest.mark.hazard("H12")
def test_the_command_line_says_so_and_fails(
    nameless_account: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--data-dir", str(tmp_path / "data"), "user", "list"])
    captured = capsys.readouterr()
    assert code != 0
    assert "has no name in the operating system's user list" in captured.err
    assert "someone" not in captured.out + captured.err


class FakeDatabase:
    """Enough of a PostgreSQL `Database` for `current_login`: it answers `SELECT current_user`."""

    class Session:
        def __init__(self, role: str) -> None:
            self.role = role
            self.statements: list[str] = []

        def execute(self, statement: Any) -> Any:
            self.statements.append(str(statement))
            role = self.role

            class Result:
                def scalar_one(self) -> str:
                    return role

            return Result()

    def __init__(self, url: str, role: str) -> None:
        from triage_app.storage.engine import parse_database_url

        self.location = parse_database_url(url)
        self.session = self.Session(role)

    def read(self) -> Any:
        import contextlib

        return contextlib.nullcontext(self.session)


@pytest.mark.hazard("H12")
def test_on_a_database_server_the_identity_is_the_role_it_authenticated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "someone")
    database = FakeDatabase("postgresql://triage-host/triage", role="dr_server_role")
    assert app.current_login(database) == "dr_server_role"  # type: ignore[arg-type]
    assert database.session.statements == ["SELECT current_user"]
    # A SQLite file has no server: the operating-system account signs in.
    local = FakeDatabase("sqlite:////tmp/x.sqlite3", role="dr_server_role")
    assert app.current_login(local) == app.os_login()  # type: ignore[arg-type]
    assert local.session.statements == []
