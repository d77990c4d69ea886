"""Paths: options over environment over defaults; unusable data folders are named."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from triage_app.config import ConfigError, ensure_data_dir, resolve_paths


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
