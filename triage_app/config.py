"""Where things live: the data folder (platformdirs) and the database URL.

Command-line options win over environment variables, which win over the defaults, so tests, portable
installs and a later database server all run the same code. The database URL has one more place between the
environment and the default: `settings.ini` in the data folder (`[database]` `url = ...`, written owner-only by
`triage-app connect URL`), where a hospital's IT sets it once per desktop. There is no rules-file setting: the rules in
force are the ones approved in the database (`triage-app rules approve FILE`); only `score`, which stores
nothing, takes a rules file of its own (`--rules FILE`).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
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
#: The desktop's settings file in the data folder: `[database]` `url = ...` (no password, ever).
SETTINGS_FILENAME = "settings.ini"
SETTINGS_SECTION = "database"
SETTINGS_KEY = "url"

#: A database URL carrying a password: `scheme://user:PASSWORD@host...` or `...?password=...`.
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@?#]*:[^/@?#]*@|[?&]password=", re.IGNORECASE)

WHERE_PASSWORDS_GO = "Put the password in the pgpass file or the keyring (docs/deploy-postgresql.md)"


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
    read_settings: bool = True,
) -> AppPaths:
    """Options, then environment, then the data folder's settings file (the database URL only), then defaults.

    The settings file is read only when neither `--db` nor TRIAGE_APP_DB chose the database, and not at all
    when `read_settings` is False (`triage-app connect`, which replaces it, must work on a broken one). A
    settings file that cannot be used is refused (`ConfigError`, see `settings_db_url`). An option or variable given but empty (`--data-dir ""`, `TRIAGE_APP_DATA_DIR=`) is refused with
    `ConfigError`: silently opening the default folder instead would show (and change) another database.
    """
    env = os.environ if environ is None else environ
    chosen_dir = _given("--data-dir", data_dir) or _given(ENV_DATA_DIR, env.get(ENV_DATA_DIR))
    directory = Path(chosen_dir or user_data_dir(APP_NAME, APP_AUTHOR)).expanduser()
    chosen_db = _given("--db", db) or _given(ENV_DB, env.get(ENV_DB))
    if not chosen_db and read_settings:
        chosen_db = settings_db_url(settings_path(directory))
    if not chosen_db:
        chosen_db = "sqlite:///" + (directory.resolve() / DATABASE_FILENAME).as_posix()
    return AppPaths(data_dir=directory, db_url=chosen_db)


def url_has_password(url: str) -> bool:
    """Whether a database URL carries a password (in its user part or as a `password=` parameter)."""
    return bool(_URL_PASSWORD.search(url.strip()))


def settings_path(data_dir: Path) -> Path:
    """The settings file of the data folder `data_dir`."""
    return data_dir / SETTINGS_FILENAME


def settings_db_url(path: Path) -> str | None:
    """The database URL set in the settings file at `path`; None when there is no file, or it has no
    `[database]` section (a file kept for other settings).

    Refused (`ConfigError` naming the file, nothing opened): a file that cannot be read or parsed, a
    `[database]` section without `url` or with an empty one, and a URL holding a password (naming the line):
    the file is not a place for secrets, however private the folder.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # no file, or the data folder is not one (named later)
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"the settings file {path} cannot be read ({reason}); nothing was opened") from exc
    parser = configparser.ConfigParser(interpolation=None)  # a URL's %-escapes are kept as written
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ConfigError(
            f"the settings file {path} is not a settings file ({_first_line(exc)}); nothing was opened. "
            f"Write it with `triage-app connect URL`, or remove it to use the default"
        ) from exc
    if not parser.has_section(SETTINGS_SECTION):
        return None
    url = parser.get(SETTINGS_SECTION, SETTINGS_KEY, fallback=None)
    if url is None or not url.strip():
        raise ConfigError(
            f"the settings file {path}: [{SETTINGS_SECTION}] has "
            f"{'no' if url is None else 'an empty'} {SETTINGS_KEY}; give the database URL "
            f"(`triage-app connect URL`) or remove the section to use the default. Nothing was opened."
        )
    if url_has_password(url):
        raise ConfigError(
            f"the settings file {path}, line {_key_line(text)}: the database URL holds a password, which is "
            f"never kept in a settings file; nothing was opened. {WHERE_PASSWORDS_GO} and write the URL without it."
        )
    return url.strip()


def _first_line(exc: configparser.Error) -> str:
    """configparser's message on one line (it quotes the offending lines on the next ones), with the line number
    where it gives one."""
    text = str(exc).splitlines()[0].rstrip(":.") if str(exc) else type(exc).__name__
    line = getattr(exc, "lineno", None)
    if line is None and isinstance(exc, configparser.ParsingError) and exc.errors:
        line = exc.errors[0][0]
    return text if line is None else f"line {line}: {text}"


def _key_line(text: str) -> int:
    """The line number (from 1) of `url` in the `[database]` section of a settings file's text."""
    section = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section == SETTINGS_SECTION and re.match(rf"{SETTINGS_KEY}\s*[=:]", stripped, re.IGNORECASE):
            return number
    return 0


def write_settings_db_url(path: Path, url: str) -> None:
    """Set `[database] url` in the settings file at `path`, owner-only (0600), replacing it atomically.

    Other sections of a readable file are kept; a file that cannot be parsed is replaced. The caller has
    checked the URL (it parses and holds no password).
    """
    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(OSError, UnicodeDecodeError, configparser.Error):
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    if not parser.has_section(SETTINGS_SECTION):
        parser.add_section(SETTINGS_SECTION)
    parser.set(SETTINGS_SECTION, SETTINGS_KEY, url.strip())
    fd, temporary = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# triage-app settings: written by `triage-app connect`. No passwords here.\n")
            parser.write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            Path(temporary).chmod(0o600)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


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


#: The letter template setting: `[letters]` `template = PATH` in settings.ini (a unit's own Word template).
LETTERS_SECTION = "letters"
LETTERS_TEMPLATE_KEY = "template"


def settings_letter_template(data_dir: Path) -> Path | None:
    """The letter template chosen in the data folder's settings file (`[letters] template = PATH`), or None
    (the shipped example) when there is no file, section or value. A file that cannot be read or parsed is
    refused (`ConfigError` naming it): letters are never made from a template the user did not choose."""
    path = settings_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the settings file {path} cannot be read ({exc}); no letters were written") from exc
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ConfigError(f"the settings file {path} is not a settings file ({_first_line(exc)})") from exc
    value = parser.get(LETTERS_SECTION, LETTERS_TEMPLATE_KEY, fallback="").strip()
    return Path(value).expanduser() if value else None


def write_settings_letter_template(data_dir: Path, template: Path | None) -> None:
    """Set (or, with None, clear) the letter template in the data folder's settings file, keeping its other
    settings; written owner-only and atomically, like the database URL."""
    path = settings_path(data_dir)
    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(OSError, UnicodeDecodeError, configparser.Error):
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    if template is None:
        parser.remove_section(LETTERS_SECTION)
    else:
        if not parser.has_section(LETTERS_SECTION):
            parser.add_section(LETTERS_SECTION)
        parser.set(LETTERS_SECTION, LETTERS_TEMPLATE_KEY, str(template))
    fd, temporary = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# triage-app settings. No passwords here.\n")
            parser.write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
