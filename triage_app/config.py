"""Where things live: the data folder (platformdirs) and the database URL.

Command-line options win over environment variables, which win over the defaults, so tests, portable
installs and a later database server all run the same code. There is no rules-file setting: the rules in
force are the ones approved in the database (`triage-app rules approve FILE`); only `score`, which stores
nothing, takes a rules file of its own (`--rules FILE`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "triage-app"
APP_AUTHOR = "SPD-MDT"
ENV_DATA_DIR = "TRIAGE_APP_DATA_DIR"
ENV_DB = "TRIAGE_APP_DB"
#: No longer read: named so that a leftover setting is refused with a message instead of silently ignored.
ENV_RULES = "TRIAGE_APP_RULES"
DATABASE_FILENAME = "triage.sqlite3"


class ConfigError(RuntimeError):
    """A path or setting cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class AppPaths:
    """Resolved locations for one run of the app."""

    data_dir: Path
    db_url: str

    @property
    def log_dir(self) -> Path:
        """Rotating log files."""
        return self.data_dir / "logs"

    @property
    def backup_dir(self) -> Path:
        """Database backups taken on start and by `triage-app backup`."""
        return self.data_dir / "backups"


def default_rules_path() -> Path:
    """The rules file shipped with the app: approved on a new database, otherwise only a proposal."""
    return Path(str(resources.files("triage_app.resources") / "rules" / "spd-2026.2.toml"))


def resource_path(*parts: str) -> Path:
    """A file shipped in resources/ (icons, templates, stylesheet)."""
    return Path(str(resources.files("triage_app.resources").joinpath(*parts)))


def resolve_paths(
    *,
    data_dir: str | None = None,
    db: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> AppPaths:
    """Options, then environment, then defaults.

    An option or variable given but empty (`--data-dir ""`, `TRIAGE_APP_DATA_DIR=`) is refused with
    `ConfigError`: silently opening the default folder instead would show (and change) another database.
    """
    env = os.environ if environ is None else environ
    chosen_dir = _given("--data-dir", data_dir) or _given(ENV_DATA_DIR, env.get(ENV_DATA_DIR))
    directory = Path(chosen_dir or user_data_dir(APP_NAME, APP_AUTHOR)).expanduser()
    chosen_db = _given("--db", db) or _given(ENV_DB, env.get(ENV_DB))
    if not chosen_db:
        chosen_db = "sqlite:///" + (directory.resolve() / DATABASE_FILENAME).as_posix()
    return AppPaths(data_dir=directory, db_url=chosen_db)


def _given(name: str, value: str | None) -> str | None:
    """`value` when it was given (None when not); an empty or blank one is refused, naming `name`."""
    if value is None:
        return None
    if not value.strip():
        what = "a database URL" if name in ("--db", ENV_DB) else "a folder"
        raise ConfigError(
            f"{name} is empty: give {what}, or leave {name} out (unset it) to use the default data folder "
            f"({user_data_dir(APP_NAME, APP_AUTHOR)}). Nothing was opened."
        )
    return value


def ensure_data_dir(directory: Path) -> bool:
    """Create the data folder (owner-only) if it is missing; raise `ConfigError` if that cannot be done.

    Returns whether the folder can be written now. An existing folder that cannot be written (a read-only
    disk or share, a full disk) is not an error here: the database in it can still be read, and the start-up
    checks (services.app) open it read-only and say why. A folder that cannot be created is an error.
    """
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"the data folder {directory} is a file, not a folder; choose another with --data-dir")
    existed = directory.is_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"the data folder {directory} cannot be written ({exc.strerror or exc}); "
            "choose another with --data-dir or ask IT for write access"
        ) from exc
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=directory)
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        if not existed:
            raise ConfigError(
                f"the data folder {directory} cannot be written ({exc.strerror or exc}); "
                "choose another with --data-dir or ask IT for write access"
            ) from exc
        return False
    with contextlib.suppress(OSError):
        directory.chmod(0o700)  # no-op on Windows, where the profile folder is already private
    return True
