"""The rules file: every key is required and a malformed file names the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from triage_app.config import default_rules_path
from triage_app.domain.rules import RulesFileError, load_rules, rules_from_mapping


def shipped() -> dict[str, Any]:
    return tomllib.loads(default_rules_path().read_text(encoding="utf-8"))


@pytest.mark.hazard("H05")
def test_shipped_rules_are_the_spec_defaults() -> None:
    rules = load_rules(default_rules_path())
    assert rules.version == "spd-2026.2"
    assert (rules.bont_min_cycles, rules.bont_min_cycles_primary, rules.oral_min_drugs) == (3, 2, 1)
    assert rules.require_physiotherapy is True and rules.min_duration_months == 24
    assert rules.specialist_units == {"RXX01"}
    assert (rules.paediatric_age, rules.complex_pattern_min_components, rules.rtt_warning_weeks) == (18, 4, 12)
    assert (rules.severity_weight, rules.pain_weight, rules.waiting_weight, rules.waiting_target_weeks) == (
        50,
        20,
        30,
        18,
    )
    assert "functional_neurosurgeon" in rules.quorum_roles
    assert rules.require_safety_screen is True
    assert shipped()["safety"] == {"require_safety_screen": True}


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        (None, "version", "missing key 'version'"),
        ("refractory", None, "missing table [refractory]"),
        ("refractory", "bont_min_cycles", "missing key 'refractory.bont_min_cycles'"),
        ("refractory", "require_physiotherapy", "missing key 'refractory.require_physiotherapy'"),
        ("specialist", "specialist_units", "missing key 'specialist.specialist_units'"),
        ("flags", "rtt_warning_weeks", "missing key 'flags.rtt_warning_weeks'"),
        ("priority", "waiting_weight", "missing key 'priority.waiting_weight'"),
        ("mdt", None, "missing table [mdt]"),
        ("safety", None, "missing table [safety]"),
        ("safety", "require_safety_screen", "missing key 'safety.require_safety_screen'"),
    ],
)
@pytest.mark.hazard("H05")
def test_missing_keys_are_named(section: str | None, key: str | None, message: str) -> None:
    data = shipped()
    if section is None:
        del data[key]  # type: ignore[arg-type]
    elif key is None:
        del data[section]
    else:
        del data[section][key]
    with pytest.raises(RulesFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rules_from_mapping(data, "unit.toml")


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("refractory", "bont_min_cycles", -1, "'refractory.bont_min_cycles' must be a whole number"),
        ("refractory", "bont_min_cycles", "3", "'refractory.bont_min_cycles' must be a whole number"),
        ("refractory", "bont_min_cycles", True, "'refractory.bont_min_cycles' must be a whole number"),
        ("refractory", "require_physiotherapy", "yes", "'refractory.require_physiotherapy' must be true or false"),
        ("safety", "require_safety_screen", "true", "'safety.require_safety_screen' must be true or false"),
        ("safety", "require_safety_screen", 1, "'safety.require_safety_screen' must be true or false, not 1"),
        ("safety", "require_safety_screen", 0, "'safety.require_safety_screen' must be true or false"),
        (None, "safety", True, r"missing table \[safety\]"),
        ("specialist", "specialist_units", "RXX01", "'specialist.specialist_units' must be a list"),
        ("specialist", "specialist_units", ["RXX01", ""], "must be a list of non-empty strings"),
        ("priority", "severity_weight", 60, "weights must sum to 100"),
        ("priority", "waiting_target_weeks", 0, "'priority.waiting_target_weeks' must be at least 1"),
        (None, "version", "  ", "missing key 'version'"),
        (None, "refractory", "x", r"missing table \[refractory\]"),
    ],
)
@pytest.mark.hazard("H05")
def test_bad_values_are_named(section: str | None, key: str, value: object, message: str) -> None:
    data = shipped()
    (data if section is None else data[section])[key] = value
    with pytest.raises(RulesFileError, match=message):
        rules_from_mapping(data, "unit.toml")


@pytest.mark.hazard("H05")
def test_file_problems_are_named(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match="cannot read rules file"):
        load_rules(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n")
    with pytest.raises(RulesFileError, match="not valid TOML"):
        load_rules(broken)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RulesFileError, match="not UTF-8"):
        load_rules(binary)


def test_a_unit_file_with_its_own_values(tmp_path: Path) -> None:
    text = default_rules_path().read_text(encoding="utf-8")
    text = text.replace('version = "spd-2026.2"', 'version = "unit-2027.1"').replace('["RXX01"]', '["rab12", "RXX01"]')
    custom = tmp_path / "unit.toml"
    custom.write_text(text, encoding="utf-8")
    rules = load_rules(custom)
    assert rules.version == "unit-2027.1" and rules.specialist_units == {"RAB12", "RXX01"}


def test_a_unit_file_may_switch_the_safety_screen_off(tmp_path: Path) -> None:
    text = default_rules_path().read_text(encoding="utf-8")
    assert "require_safety_screen = true" in text
    custom = tmp_path / "unit.toml"
    custom.write_text(
        text.replace('version = "spd-2026.2"', 'version = "unit-2027.2"').replace(
            "require_safety_screen = true", "require_safety_screen = false"
        ),
        encoding="utf-8",
    )
    assert load_rules(custom).require_safety_screen is False
