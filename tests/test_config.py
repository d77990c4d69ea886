"""Paths: options over environment over the data folder's settings.ini over defaults; unusable data folders and
settings files are named."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from triage_app.config import (
    ConfigError,
    ensure_data_dir,
    resolve_paths,
    settings_db_url,
    url_has_password,
    write_settings_db_url,
)

SERVER = "postgresql+psycopg://jbloggs@db.unit.example/triage?sslmode=verify-full"


def settings(folder: Path, text: str) -> Path:
    """A data folder whose settings.ini holds `text`."""
    folder.mkdir(exist_ok=True)
    (folder / "settings.ini").write_text(text)
    return folder


def test_options_win_over_environment(tmp_path: Path) -> None:
    env = {"TRIAGE_APP_DATA_DIR": str(tmp_path / "env"), "TRIAGE_APP_DB": "sqlite:///env.sqlite3"}
    paths = resolve_paths(data_dir=str(tmp_path / "opt"), db="sqlite:///opt.sqlite3", environ=env)
    assert paths.data_dir == tmp_path / "opt"
    assert paths.db_url == "sqlite:///opt.sqlite3"


def test_environment_wins_over_defaults(tmp_path: Path) -> None:
    env = {"TRIAGE_APP_DATA_DIR": str(tmp_path / "env")}
    paths = resolve_paths(environ=env)
    assert paths.data_dir == tmp_path / "env"
    assert paths.db_url == "sqlite:///" + (tmp_path / "env" / "triage.sqlite3").resolve().as_posix()
    assert paths.backup_dir == tmp_path / "env" / "backups"


def test_default_is_the_user_data_folder() -> None:
    paths = resolve_paths(environ={})
    assert "triage-app" in paths.data_dir.as_posix()
    assert paths.db_url.endswith("/triage.sqlite3")
    assert not hasattr(paths, "rules_path")  # the rules in force come from the database, never from a path


def test_data_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        ensure_data_dir(blocker)


def test_data_folder_below_a_file_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot be written"):
        ensure_data_dir(blocker / "inner")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may write to read-only folders")
def test_read_only_data_folder_is_reported_not_refused(tmp_path: Path) -> None:
    """An existing folder that cannot be written still lets its database be read (opened read-only at start)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert ensure_data_dir(folder) is False
    finally:
        folder.chmod(0o700)


def test_the_settings_file_comes_after_db_and_the_environment_and_before_the_default(tmp_path: Path) -> None:
    data = settings(tmp_path / "data", f"[database]\nurl = {SERVER}\n")
    assert resolve_paths(data_dir=str(data), environ={}).db_url == SERVER
    env = {"TRIAGE_APP_DB": "sqlite:///env.sqlite3"}
    assert resolve_paths(data_dir=str(data), environ=env).db_url == "sqlite:///env.sqlite3"
    both = resolve_paths(data_dir=str(data), db="sqlite:///opt.sqlite3", environ=env)
    assert both.db_url == "sqlite:///opt.sqlite3"
    (data / "settings.ini").unlink()
    assert resolve_paths(data_dir=str(data), environ={}).db_url.endswith("/data/triage.sqlite3")


def test_the_settings_file_is_the_data_folders_own(tmp_path: Path) -> None:
    """The folder chosen by TRIAGE_APP_DATA_DIR is where settings.ini is read, as for --data-dir."""
    data = settings(tmp_path / "env-data", f"[database]\nurl = {SERVER}\n")
    assert resolve_paths(environ={"TRIAGE_APP_DATA_DIR": str(data)}).db_url == SERVER


def test_a_settings_file_without_a_database_section_leaves_the_default(tmp_path: Path) -> None:
    data = settings(tmp_path / "data", "[display]\nzoom = 1.5\n")
    assert resolve_paths(data_dir=str(data), environ={}).db_url.endswith("/data/triage.sqlite3")


def test_percent_escapes_in_the_settings_url_are_kept_as_written(tmp_path: Path) -> None:
    url = "postgresql+psycopg://j%40bloggs@db.unit.example/triage"
    data = settings(tmp_path / "data", f"[database]\nurl = {url}\n")
    assert resolve_paths(data_dir=str(data), environ={}).db_url == url


@pytest.mark.hazard("H11")
@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://jbloggs:secret@db.unit.example/triage",
        "postgresql+psycopg://jbloggs@db.unit.example/triage?sslmode=require&password=secret",
    ],
)
def test_a_password_in_the_settings_file_is_refused_naming_the_file_and_line(tmp_path: Path, url: str) -> None:
    data = settings(tmp_path / "data", f"# the unit's server\n[database]\n\nurl = {url}\n")
    with pytest.raises(ConfigError) as refused:
        resolve_paths(data_dir=str(data), environ={})
    message = str(refused.value)
    assert f"{data / 'settings.ini'}, line 4: the database URL holds a password" in message
    assert "nothing was opened" in message
    assert "secret" not in message  # the refusal does not repeat the password


def test_the_password_check_is_the_one_db_uses() -> None:
    from triage_app.cli import common

    assert common.url_has_password is url_has_password
    assert url_has_password("postgresql://a:b@h/d") and not url_has_password(SERVER)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("url = sqlite:///x.sqlite3\n", "is not a settings file (line 1: File contains no section headers)"),
        ("[database]\nurl = a\nurl = b\n", "is not a settings file (line 3:"),
        ("[database]\nurl =   \n", "[database] has an empty url"),
        ("[database]\nuser = jbloggs\n", "[database] has no url"),
    ],
)
def test_a_malformed_settings_file_or_an_empty_url_is_refused_naming_the_file(
    tmp_path: Path, text: str, said: str
) -> None:
    data = settings(tmp_path / "data", text)
    with pytest.raises(ConfigError) as refused:
        resolve_paths(data_dir=str(data), environ={})
    assert str(refused.value).startswith(f"the settings file {data / 'settings.ini'}")
    assert said in str(refused.value)
    assert "othing was opened" in str(refused.value)


def test_a_settings_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.ini").write_bytes(b"[database]\nurl = \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        resolve_paths(data_dir=str(data), environ={})


def test_a_broken_settings_file_does_not_stop_db_or_the_environment(tmp_path: Path) -> None:
    """It is read only when it would choose the database: --db and TRIAGE_APP_DB work beside a broken one."""
    data = settings(tmp_path / "data", "garbage\n")
    assert resolve_paths(data_dir=str(data), db="sqlite:///opt.sqlite3", environ={}).db_url == "sqlite:///opt.sqlite3"
    env = {"TRIAGE_APP_DB": "sqlite:///env.sqlite3"}
    assert resolve_paths(data_dir=str(data), environ=env).db_url == "sqlite:///env.sqlite3"
    assert resolve_paths(data_dir=str(data), environ={}, read_settings=False).db_url.endswith("/triage.sqlite3")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_writing_the_url_keeps_other_sections_and_is_owner_only(tmp_path: Path) -> None:
    data = settings(tmp_path / "data", "[display]\nzoom = 1.5\n")
    (data / "settings.ini").chmod(0o644)
    write_settings_db_url(data / "settings.ini", SERVER)
    assert (data / "settings.ini").stat().st_mode & 0o777 == 0o600
    assert settings_db_url(data / "settings.ini") == SERVER
    assert "zoom = 1.5" in (data / "settings.ini").read_text()
    assert [p.name for p in data.iterdir()] == ["settings.ini"]  # no temporary file left
