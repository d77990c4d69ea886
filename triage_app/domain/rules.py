"""The rule set's policy values, read from a TOML rules file (resources/rules/ or a unit's own).

Every key is required and no other key is allowed: a rules file is complete and carries its own version. A
malformed file, a missing or unknown key, or a threshold out of its range raises `RulesFileError` naming it.

Which rules are in force is not decided here: the database holds the approved rules (services.rules). A
`RulesText` is a file's exact text with its SHA-256, so an approval can be compared with a file byte for byte.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_RULES_FILENAME = "spd-2026.2.toml"
VERSION_MAX_LENGTH = 64  # assessments store the version in 64 characters
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ODS_CODE = re.compile(r"[A-Za-z0-9]{3,9}")
SHA_PREFIX = 12  # hex digits of a SHA-256 shown on screen and in messages


class RulesFileError(ValueError):
    """The rules file cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Rules:
    """Thresholds, weights and lists the triage rules read (see the rules spec for each)."""

    version: str
    bont_min_cycles: int
    bont_min_cycles_primary: int
    oral_min_drugs: int
    require_physiotherapy: bool
    min_duration_months: int
    specialist_units: frozenset[str]
    paediatric_age: int
    complex_pattern_min_components: int
    rtt_warning_weeks: int
    severity_weight: int
    pain_weight: int
    waiting_weight: int
    waiting_target_weeks: int
    quorum_roles: tuple[str, ...]
    require_safety_screen: bool


_INT_KEYS = {
    "refractory": ("bont_min_cycles", "bont_min_cycles_primary", "oral_min_drugs", "min_duration_months"),
    "flags": ("paediatric_age", "complex_pattern_min_components", "rtt_warning_weeks"),
    "priority": ("severity_weight", "pain_weight", "waiting_weight", "waiting_target_weeks"),
}

#: Every key a rules file has, table by table; any other key is refused (a misspelt key would be ignored).
RULES_KEYS: dict[str, tuple[str, ...]] = {
    "refractory": (*_INT_KEYS["refractory"], "require_physiotherapy"),
    "specialist": ("specialist_units",),
    "safety": ("require_safety_screen",),
    "flags": _INT_KEYS["flags"],
    "priority": _INT_KEYS["priority"],
    "mdt": ("quorum_roles",),
}

#: The sensible range of each threshold (inclusive) and its unit. A value outside it is a typing slip or a
#: rule no unit would approve (a child's caution at 99 years, one toxin cycle out of 200), so it is refused.
RULES_RANGES: dict[str, tuple[int, int, str]] = {
    "bont_min_cycles": (1, 20, "cycles"),
    "bont_min_cycles_primary": (1, 20, "cycles"),
    "oral_min_drugs": (0, 10, "drugs"),
    "min_duration_months": (0, 120, "months"),
    "paediatric_age": (1, 25, "years"),
    "complex_pattern_min_components": (1, 10, "components"),  # there are ten Col-Cap components
    "rtt_warning_weeks": (1, 18, "weeks"),  # a warning ahead of the 18-week standard, not after it
    "severity_weight": (0, 100, "points"),
    "pain_weight": (0, 100, "points"),
    "waiting_weight": (0, 100, "points"),
    "waiting_target_weeks": (1, 104, "weeks"),
}


def _table(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    table = data.get(name)
    if not isinstance(table, dict):
        raise RulesFileError(f"{source}: missing table [{name}]")
    return table


def _require(table: dict[str, Any], section: str, key: str, source: str) -> Any:
    if key not in table:
        raise RulesFileError(f"{source}: missing key '{section}.{key}'")
    return table[key]


def _whole(table: dict[str, Any], section: str, key: str, source: str) -> int:
    value = _require(table, section, key, source)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesFileError(f"{source}: '{section}.{key}' must be a whole number of 0 or more, not {value!r}")
    low, high, unit = RULES_RANGES[key]
    if not low <= value <= high:
        raise RulesFileError(
            f"{source}: '{section}.{key}' must be at least {low} and at most {high} {unit}, not {value}"
        )
    return value


def _flag(table: dict[str, Any], section: str, key: str, source: str) -> bool:
    value = _require(table, section, key, source)
    if not isinstance(value, bool):
        raise RulesFileError(f"{source}: '{section}.{key}' must be true or false, not {value!r}")
    return value


def _strings(table: dict[str, Any], section: str, key: str, source: str) -> tuple[str, ...]:
    value = _require(table, section, key, source)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesFileError(f"{source}: '{section}.{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _refuse_unknown_keys(data: dict[str, Any], source: str) -> None:
    """Name the first key the rules file should not have: a misspelt key must not be silently ignored."""
    for key in data:
        if key != "version" and key not in RULES_KEYS:
            raise RulesFileError(
                f"{source}: unknown key '{key}' (a rules file has 'version' and the tables "
                f"{', '.join(f'[{t}]' for t in RULES_KEYS)})"
            )
    for section, keys in RULES_KEYS.items():
        table = data.get(section)
        if not isinstance(table, dict):
            continue  # named as a missing table later
        for key in table:
            if key not in keys:
                raise RulesFileError(
                    f"{source}: unknown key '{section}.{key}' (the [{section}] table has {', '.join(keys)})"
                )


def _version(data: dict[str, Any], source: str) -> str:
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise RulesFileError(f"{source}: missing key 'version' (a non-empty string such as \"spd-2026.2\")")
    version = version.strip()
    if len(version) > VERSION_MAX_LENGTH or not _VERSION.fullmatch(version):
        raise RulesFileError(
            f"{source}: 'version' must be letters, digits, '.', '-' or '_' (at most {VERSION_MAX_LENGTH}), "
            f'starting with a letter or digit, such as "spd-2026.2"; not {version[:80]!r}'
        )
    return version


def rules_from_mapping(data: dict[str, Any], source: str = "rules file") -> Rules:
    """Build `Rules` from parsed TOML, checking every key; `source` names the file in messages."""
    version = _version(data, source)
    _refuse_unknown_keys(data, source)
    values: dict[str, Any] = {}
    for section, keys in _INT_KEYS.items():
        table = _table(data, section, source)
        for key in keys:
            values[key] = _whole(table, section, key, source)
    require_physio = _flag(_table(data, "refractory", source), "refractory", "require_physiotherapy", source)
    require_safety = _flag(_table(data, "safety", source), "safety", "require_safety_screen", source)
    units = _strings(_table(data, "specialist", source), "specialist", "specialist_units", source)
    for unit in units:
        if not _ODS_CODE.fullmatch(unit):
            raise RulesFileError(
                f"{source}: 'specialist.specialist_units' holds {unit!r}, not an ODS code (3 to 9 letters and digits)"
            )
    quorum = _strings(_table(data, "mdt", source), "mdt", "quorum_roles", source)
    weights = values["severity_weight"] + values["pain_weight"] + values["waiting_weight"]
    if weights != 100:
        raise RulesFileError(
            f"{source}: 'priority' weights must sum to 100 so the priority stays within 0-100 (they sum to {weights})"
        )
    return Rules(
        version=version,
        require_physiotherapy=require_physio,
        require_safety_screen=require_safety,
        specialist_units=frozenset(u.upper() for u in units),
        quorum_roles=quorum,
        **values,
    )


def shipped_rules_path() -> Path:
    """The rules file shipped with this version of the app: a proposal until an administrator approves it."""
    return Path(str(resources.files("triage_app.resources") / "rules" / DEFAULT_RULES_FILENAME))


def rules_sha256(text: str) -> str:
    """SHA-256 (hex) of a rules file's exact text, encoded as UTF-8: the file's own bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RulesText:
    """A rules file as written: its exact text, the text's SHA-256, the rules it holds and where it came from."""

    text: str
    sha256: str
    rules: Rules
    source: str

    @property
    def version(self) -> str:
        """The version the file declares."""
        return self.rules.version


def parse_rules_text(text: str, source: str = "rules file") -> RulesText:
    """Check a rules file's text; `RulesFileError` names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(f"{source}: not valid TOML ({exc})") from exc
    return RulesText(text=text, sha256=rules_sha256(text), rules=rules_from_mapping(data, source), source=source)


def read_rules_file(path: Path) -> RulesText:
    """Read and check a rules file; `RulesFileError` names the file and what is wrong."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError as exc:
        raise RulesFileError(f"cannot read rules file {path}: it is a folder, not a file") from exc
    except OSError as exc:
        raise RulesFileError(f"cannot read rules file {path}: {exc.strerror or exc}") from exc
    if len(raw) > 1_000_000:  # a rules file is a few kilobytes; anything else is the wrong file
        raise RulesFileError(f"{path}: {len(raw):,} bytes is far too large for a rules file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulesFileError(f"{path}: not UTF-8 text") from exc
    return parse_rules_text(text, str(path))


def load_rules(path: Path) -> Rules:
    """Read and check a rules file; `RulesFileError` names what is wrong."""
    return read_rules_file(path).rules


@dataclass(frozen=True, slots=True)
class ApprovedRules:
    """Rules approved in the database: the newest approval is in force on every desktop."""

    approval_id: int
    version: str
    sha256: str
    approved_by: str  # the approver's display name
    approved_by_login: str
    approved_at: datetime  # aware, UTC
    rules: Rules
    text: str

    @property
    def sha_prefix(self) -> str:
        """The first 12 hex digits of the SHA-256: enough to tell two files apart on screen."""
        return self.sha256[:SHA_PREFIX]
