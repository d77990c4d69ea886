"""The rule set's policy values, read from a TOML rules file (resources/rules/ or a unit's own).

Every key is required: a file given with `--rules` is complete and carries its own version. A malformed
file raises `RulesFileError` naming the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_RULES_FILENAME = "spd-2026.2.toml"


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


def rules_from_mapping(data: dict[str, Any], source: str = "rules file") -> Rules:
    """Build `Rules` from parsed TOML, checking every key; `source` names the file in messages."""
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise RulesFileError(f"{source}: missing key 'version' (a non-empty string such as \"spd-2026.2\")")
    values: dict[str, Any] = {}
    for section, keys in _INT_KEYS.items():
        table = _table(data, section, source)
        for key in keys:
            values[key] = _whole(table, section, key, source)
    require_physio = _flag(_table(data, "refractory", source), "refractory", "require_physiotherapy", source)
    require_safety = _flag(_table(data, "safety", source), "safety", "require_safety_screen", source)
    units = _strings(_table(data, "specialist", source), "specialist", "specialist_units", source)
    quorum = _strings(_table(data, "mdt", source), "mdt", "quorum_roles", source)
    weights = values["severity_weight"] + values["pain_weight"] + values["waiting_weight"]
    if weights != 100:
        raise RulesFileError(
            f"{source}: 'priority' weights must sum to 100 so the priority stays within 0-100 (they sum to {weights})"
        )
    if values["waiting_target_weeks"] == 0:
        raise RulesFileError(f"{source}: 'priority.waiting_target_weeks' must be at least 1")
    return Rules(
        version=version.strip(),
        require_physiotherapy=require_physio,
        require_safety_screen=require_safety,
        specialist_units=frozenset(u.upper() for u in units),
        quorum_roles=quorum,
        **values,
    )


def load_rules(path: Path) -> Rules:
    """Read and check a rules file; `RulesFileError` names what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulesFileError(f"cannot read rules file {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RulesFileError(f"{path}: not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(f"{path}: not valid TOML ({exc})") from exc
    return rules_from_mapping(data, str(path))
