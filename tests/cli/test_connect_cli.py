"""`triage-app connect URL`: the database URL written to the data folder's settings.ini (owner-only), which the
next start opens when neither --db nor TRIAGE_APP_DB chooses the database.

On PostgreSQL (--backend=postgresql) the URL written is the test's server database; on SQLite a file in tmp_path,
outside the data folder. Either way the next command stores into that database, read back directly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import referral_json
from tests.stored import server_url
from triage_app.__main__ import main
from triage_app.storage.engine import Database, parse_database_url, sqlite_url


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["--data-dir", str(data), *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def referral_ids(url: str) -> list[str]:
    """The external ids of the referrals stored in the database at `url`, opened as another program would."""
    database = Database(parse_database_url(url))
    try:
        with database.read() as session:
            return [row[0] for row in session.execute(sa.text("SELECT external_id FROM referral ORDER BY id"))]
    finally:
        database.dispose()


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database `connect` points at: the test's server database, or a SQLite file outside the data folder.
    TRIAGE_APP_DB is unset so that the settings file is what chooses it."""
    url = server_url() or sqlite_url(tmp_path / "elsewhere" / "unit.sqlite3")
    monkeypatch.delenv("TRIAGE_APP_DB", raising=False)
    if url.startswith("sqlite"):
        (tmp_path / "elsewhere").mkdir()
    return url


@pytest.mark.hazard("H03")
def test_connect_writes_an_owner_only_settings_file_that_the_next_start_opens(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    data = tmp_path / "data"
    code, out, err = run(capsys, data, "connect", target)
    assert code == 0, err
    settings = data / "settings.ini"
    assert out.splitlines() == [
        f"wrote {settings} (owner-only): [database] url = {target}",
        f"the next start opens {parse_database_url(target).describe()}",
    ]
    if sys.platform != "win32":
        assert settings.stat().st_mode & 0o777 == 0o600
        assert data.stat().st_mode & 0o777 == 0o700
    assert f"url = {target}" in settings.read_text()

    source = tmp_path / "in.json"
    source.write_text(json.dumps([referral_json(1, external_id="CONNECT-1")]))
    code, _, err = run(capsys, data, "import", str(source), "--as-of", "2026-11-02")
    assert code == 0, err
    assert "CONNECT-1" in referral_ids(target)
    assert not (data / "triage.sqlite3").exists()  # the default file was never made


def test_connect_answers_in_json_and_warns_when_the_environment_wins(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("TRIAGE_APP_DB", sqlite_url(tmp_path / "env.sqlite3"))
    code, out, err = run(capsys, data, "connect", target, "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "settings_file": str(data / "settings.ini"),
        "section": "database",
        "key": "url",
        "url": target,
        "database": parse_database_url(target).describe(),
        "overridden_by": "TRIAGE_APP_DB",
    }
    assert "warning: TRIAGE_APP_DB is set and wins over settings.ini" in err


@pytest.mark.hazard("H11")
@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://jbloggs:secret@127.0.0.1/triage", "postgresql+psycopg://jbloggs@h/triage?password=secret"],
)
def test_connect_refuses_a_password_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str, url: str
) -> None:
    data = tmp_path / "data"
    code, out, err = run(capsys, data, "connect", url, "--json")
    assert code == 2
    assert "the database URL holds a password" in err and "nothing was written" in err
    assert json.loads(out)["argument"] == "URL"
    assert not (data / "settings.ini").exists()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("not a url", "is not a database URL"),
        ("nosuchdb://h/d", "unknown database type"),
        ("sqlite:///relative.sqlite3", "is a relative path"),
        ("", "URL is empty"),
    ],
)
def test_connect_refuses_a_url_that_does_not_parse_and_keeps_the_old_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str, url: str, said: str
) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "connect", target)[0] == 0
    before = (data / "settings.ini").read_text()
    code, _, err = run(capsys, data, "connect", url)
    assert code == 2
    assert said in err
    assert (data / "settings.ini").read_text() == before


def test_a_broken_settings_file_stops_a_command_and_connect_replaces_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "settings.ini").write_text("[database]\nurl = postgresql+psycopg://jbloggs:secret@h/triage\n")
    code, _, err = run(capsys, data, "user", "list")
    assert code == 2
    assert f"the settings file {data / 'settings.ini'}, line 2: the database URL holds a password" in err
    assert not (data / "triage.sqlite3").exists()  # nothing opened, not even the default

    assert run(capsys, data, "connect", target)[0] == 0
    code, _, err = run(capsys, data, "user", "list", "--json")
    assert code == 0, err
    assert "secret" not in (data / "settings.ini").read_text()


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_connect_makes_an_existing_group_readable_file_owner_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "settings.ini").write_text("[display]\nzoom = 1.5\n")
    (data / "settings.ini").chmod(0o644)
    assert run(capsys, data, "connect", target)[0] == 0
    assert (data / "settings.ini").stat().st_mode & 0o777 == 0o600
    assert "zoom = 1.5" in (data / "settings.ini").read_text()
