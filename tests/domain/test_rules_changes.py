"""A rules file's changes in words, criterion by criterion; unknown keys and out-of-range thresholds refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from triage_app.config import default_rules_path
from triage_app.domain.rules import (
    RULES_KEYS,
    RULES_RANGES,
    ApprovedRules,
    RulesFileError,
    parse_rules_text,
    read_rules_file,
    rules_sha256,
    shipped_rules_path,
)
from triage_app.domain.rules_changes import RULE_WORDS, approval_line, describe_changes, rules_changes, sha_prefix

SHIPPED = read_rules_file(default_rules_path())


def test_the_sha256_is_of_the_files_exact_bytes() -> None:
    import hashlib

    assert SHIPPED.sha256 == hashlib.sha256(default_rules_path().read_bytes()).hexdigest()
    assert rules_sha256(SHIPPED.text + "\n") != SHIPPED.sha256  # a byte more is other content


def test_every_key_is_worded_and_every_threshold_has_a_range() -> None:
    keys = {key for table in RULES_KEYS.values() for key in table}
    assert set(RULE_WORDS) == keys
    assert set(RULES_RANGES) == keys - {
        "require_physiotherapy",
        "require_safety_screen",
        "specialist_units",
        "quorum_roles",
    }


@pytest.mark.hazard("H05")
def test_changes_name_the_criterion_in_words() -> None:
    after = replace(
        SHIPPED.rules,
        version="spd-2027.1",
        bont_min_cycles=4,
        require_physiotherapy=False,
        specialist_units=frozenset({"RXX01", "RQQ07"}),
        paediatric_age=16,
        severity_weight=40,
        waiting_weight=40,
    )
    lines = [change.describe() for change in rules_changes(SHIPPED.rules, after)]
    assert lines == [
        "Version of the rules: spd-2026.2 -> spd-2027.1",
        "R1 toxin cycles needed: 3 -> 4",
        "R3 physiotherapy required: yes -> no",
        "S2 specialist units offering SPD: RXX01 -> RQQ07, RXX01 (adds RQQ07)",
        "paediatric caution raised under the age of: 18 -> 16",
        "Priority severity weight (of 100): 50 -> 40",
        "Priority waiting weight (of 100): 30 -> 40",
    ]


def test_the_same_file_and_a_comment_only_change_are_said_so() -> None:
    assert describe_changes(SHIPPED, SHIPPED) == ["No change: this file is exactly the rules in force."]
    commented = parse_rules_text(SHIPPED.text + "# reviewed by the unit\n", "unit.toml")
    assert describe_changes(SHIPPED, commented) == [
        "No value changes: the file's text differs only in comments or layout."
    ]


@pytest.mark.hazard("H05")
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[flags]", "[flags]\npaediatric_age_years = 16", "unknown key 'flags.paediatric_age_years'"),
        ('version = "spd-2026.2"', 'version = "spd-2026.2"\nmode = "strict"', "unknown key 'mode'"),
        ("[mdt]", "[extra]\nx = 1\n[mdt]", "unknown key 'extra'"),
        (
            "bont_min_cycles = 3 ",
            "bont_min_cycles = 0 ",
            "'refractory.bont_min_cycles' must be at least 1 and at most 20",
        ),
        ("bont_min_cycles_primary = 2", "bont_min_cycles_primary = 21", "at least 1 and at most 20 cycles, not 21"),
        (
            "paediatric_age = 18",
            "paediatric_age = 26",
            "'flags.paediatric_age' must be at least 1 and at most 25 years",
        ),
        (
            "rtt_warning_weeks = 12",
            "rtt_warning_weeks = 0",
            "'flags.rtt_warning_weeks' must be at least 1 and at most 18",
        ),
        ("complex_pattern_min_components = 4", "complex_pattern_min_components = 11", "at most 10 components"),
        ("min_duration_months = 24", "min_duration_months = 121", "at most 120 months"),
        ('specialist_units = ["RXX01"]', 'specialist_units = ["RXX 01"]', "not an ODS code"),
        ('version = "spd-2026.2"', 'version = "spd 2026.2"', "'version' must be letters, digits"),
        ('version = "spd-2026.2"', f'version = "{"v" * 65}"', "'version' must be letters, digits"),
    ],
)
def test_unknown_keys_and_out_of_range_values_are_named(old: str, new: str, message: str) -> None:
    assert old in SHIPPED.text
    with pytest.raises(RulesFileError, match=message.replace("(", r"\(")):
        parse_rules_text(SHIPPED.text.replace(old, new, 1), "unit.toml")


def test_the_edges_of_each_range_are_allowed() -> None:
    text = (
        SHIPPED.text.replace("bont_min_cycles = 3 ", "bont_min_cycles = 20 ")
        .replace("paediatric_age = 18", "paediatric_age = 25")
        .replace("rtt_warning_weeks = 12", "rtt_warning_weeks = 18")
        .replace("waiting_target_weeks = 18", "waiting_target_weeks = 104")
        .replace("oral_min_drugs = 1", "oral_min_drugs = 0")
    )
    rules = parse_rules_text(text, "unit.toml").rules
    assert (rules.bont_min_cycles, rules.paediatric_age, rules.rtt_warning_weeks) == (20, 25, 18)
    assert (rules.waiting_target_weeks, rules.oral_min_drugs) == (104, 0)


def test_the_approval_in_one_line_uses_the_local_day() -> None:
    approved = ApprovedRules(
        approval_id=1,
        version="spd-2026.2",
        sha256=SHIPPED.sha256,
        approved_by="Dr Ada Quill",
        approved_by_login="aquill",
        approved_at=datetime(2026, 11, 21, 23, 30, tzinfo=UTC),
        rules=SHIPPED.rules,
        text=SHIPPED.text,
    )
    assert approval_line(approved, UTC) == "Rules spd-2026.2 approved by Dr Ada Quill on 21-Nov-2026"
    # 23:30 UTC is already the next day an hour east: the day is the reader's own
    east = timezone(timedelta(hours=1))
    assert approval_line(approved, east) == "Rules spd-2026.2 approved by Dr Ada Quill on 22-Nov-2026"
    assert approved.sha_prefix == SHIPPED.sha256[:12]


def test_lists_say_what_they_add_and_remove() -> None:
    roles = SHIPPED.rules.quorum_roles
    after = replace(SHIPPED.rules, quorum_roles=roles[:2], specialist_units=frozenset({"RXX01", "RQQ07", "RAB12"}))
    lines = [change.describe() for change in rules_changes(SHIPPED.rules, after)]
    assert lines == [
        "S2 specialist units offering SPD: RXX01 -> RAB12, RQQ07, RXX01 (adds RAB12, RQQ07)",
        f"MDT roles needed for a quorate meeting: {', '.join(roles)} -> {', '.join(roles[:2])} (removes {roles[2]})",
    ]
    reordered = replace(SHIPPED.rules, quorum_roles=tuple(reversed(roles)))  # same roles: the order alone
    (change,) = rules_changes(SHIPPED.rules, reordered)
    assert change.describe().endswith(", ".join(reversed(roles)))
    emptied = replace(SHIPPED.rules, quorum_roles=())
    (change,) = rules_changes(SHIPPED.rules, emptied)
    assert change.after.startswith("none (removes ")


def test_rules_files_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match="it is a folder, not a file"):
        read_rules_file(tmp_path)
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"#" * 1_000_001)
    with pytest.raises(RulesFileError, match="far too large for a rules file"):
        read_rules_file(huge)


def test_the_shipped_file_and_its_prefix() -> None:
    assert shipped_rules_path() == default_rules_path()
    assert SHIPPED.version == SHIPPED.rules.version == "spd-2026.2"
    assert sha_prefix(SHIPPED.sha256) == SHIPPED.sha256[:12] and len(sha_prefix(SHIPPED.sha256)) == 12
