"""What a rules file changes, criterion by criterion, in words; and the one line that says which rules are in force.

An administrator approves rules by reading these lines ("R1 toxin cycles needed: 3 -> 4"), so each names the
criterion id of the triage rules (R1-R4, S2, S5), the caution (flag) or the part of the priority it moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo

from triage_app.domain.formats import format_date
from triage_app.domain.rules import SHA_PREFIX, ApprovedRules, Rules, RulesText

#: key -> (where it acts: a criterion id, a caution or the priority, what it sets), in the order shown.
RULE_WORDS: dict[str, tuple[str, str]] = {
    "bont_min_cycles": ("R1", "toxin cycles needed"),
    "bont_min_cycles_primary": ("R1", "toxin cycles needed after primary non-response"),
    "oral_min_drugs": ("R2", "oral drugs that must have failed"),
    "require_physiotherapy": ("R3", "physiotherapy required"),
    "min_duration_months": ("R4", "months of disease needed"),
    "specialist_units": ("S2", "specialist units offering SPD"),
    "require_safety_screen": ("S5", "safety screen required"),
    "paediatric_age": ("paediatric caution", "raised under the age of"),
    "complex_pattern_min_components": ("complex_pattern caution", "raised from this many Col-Cap components"),
    "rtt_warning_weeks": ("rtt_breach_risk caution", "raised from this many weeks waiting"),
    "severity_weight": ("Priority", "severity weight (of 100)"),
    "pain_weight": ("Priority", "pain weight (of 100)"),
    "waiting_weight": ("Priority", "waiting weight (of 100)"),
    "waiting_target_weeks": ("Priority", "weeks of waiting that earn the whole waiting weight"),
    "quorum_roles": ("MDT", "roles needed for a quorate meeting"),
}


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One value a rules file changes: where it acts, what it sets, and the value before and after."""

    key: str
    where: str  # "R1", "S2", "paediatric caution", "Priority", "MDT", "Version"
    what: str
    before: str
    after: str

    def describe(self) -> str:
        """`R1 toxin cycles needed: 3 -> 4`."""
        return f"{self.where} {self.what}: {self.before} -> {self.after}"


def _words(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(str(v) for v in value)) or "none"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _set_change(before: Iterable[str], after: Iterable[str]) -> str:
    old, new = set(before), set(after)
    parts = []
    if new - old:
        parts.append("adds " + ", ".join(sorted(new - old)))
    if old - new:
        parts.append("removes " + ", ".join(sorted(old - new)))
    return f" ({'; '.join(parts)})" if parts else ""


def rules_changes(before: Rules, after: Rules) -> list[RuleChange]:
    """Every value `after` changes from `before`, the version first, then in the order of the triage rules."""
    changes = []
    if before.version != after.version:
        changes.append(RuleChange("version", "Version", "of the rules", before.version, after.version))
    for key, (where, what) in RULE_WORDS.items():
        old, new = getattr(before, key), getattr(after, key)
        if old == new:
            continue
        shown_after = _words(new)
        if key in ("specialist_units", "quorum_roles"):
            shown_after += _set_change(old, new)
        changes.append(RuleChange(key, where, what, _words(old), shown_after))
    return changes


def describe_changes(before: RulesText | ApprovedRules, after: RulesText) -> list[str]:
    """The changes in words, one line each; says so when the files are the same or differ only in comments."""
    if before.sha256 == after.sha256:
        return ["No change: this file is exactly the rules in force."]
    lines = [change.describe() for change in rules_changes(before.rules, after.rules)]
    return lines or ["No value changes: the file's text differs only in comments or layout."]


def approval_line(approved: ApprovedRules, tz: tzinfo | None = None) -> str:
    """`Rules spd-2026.2 approved by Dr Ada Quill on 21-Nov-2026`, the day in local time (or in `tz`)."""
    day = approved.approved_at.astimezone(tz).date()
    return f"Rules {approved.version} approved by {approved.approved_by} on {format_date(day)}"


def sha_prefix(sha256: str) -> str:
    """The first 12 hex digits of a SHA-256, as shown on screen and in messages."""
    return sha256[:SHA_PREFIX]
