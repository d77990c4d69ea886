"""Property tests: arbitrary JSON never crashes the scorer, and scoring is deterministic."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import AS_OF, referral_json
from triage_app.config import default_rules_path
from triage_app.domain.parsing import ReferralInputError, parse_referral
from triage_app.domain.rules import load_rules
from triage_app.domain.scoring import OUTCOMES, assess

RULES = load_rules(default_rules_path())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)

TEMPLATE = referral_json(1)
PATHS = [
    (section, key)
    for section, value in TEMPLATE.items()
    for key in (value.keys() if isinstance(value, dict) else [None])
]


@st.composite
def mutated_referrals(draw: st.DrawFn) -> dict[str, Any]:
    """A valid referral with some fields replaced by arbitrary JSON values or removed."""
    data = referral_json(draw(st.integers(0, 99_999)))
    for section, key in draw(st.lists(st.sampled_from(PATHS), max_size=6)):
        value = draw(json_values | st.just("__delete__"))
        target = data if key is None else data.get(section)
        name = section if key is None else key
        if not isinstance(target, dict):
            continue
        if value == "__delete__":
            target.pop(name, None)
        else:
            target[name] = value
    return data


def score_or_errors(data: object, as_of: date) -> dict[str, Any]:
    try:
        referral = parse_referral(data, as_of=as_of)
    except ReferralInputError as exc:
        assert exc.errors, "an input error always names at least one field"
        assert all(e.field and e.message for e in exc.errors)
        return {"errors": [e.to_json() for e in exc.errors]}
    return assess(referral, RULES, as_of).to_json()


# Correctness, not speed: no per-example deadline, so a loaded machine does not fail them.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
@pytest.mark.hazard("H05")
def test_arbitrary_json_gives_a_result_or_field_errors(data: object) -> None:
    result = score_or_errors(data, AS_OF)
    assert "errors" in result or result["outcome"] in OUTCOMES


# Correctness, not speed: no per-example deadline, so a loaded machine does not fail them.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_referrals(), st.dates(min_value=date(2026, 8, 3), max_value=date(2030, 1, 1)))
@pytest.mark.hazard("H05")
def test_mutated_referrals_never_crash_and_score_deterministically(data: dict[str, Any], as_of: date) -> None:
    first = score_or_errors(data, as_of)
    second = score_or_errors(data, as_of)
    assert first == second
    if "errors" not in first:
        assert 0 <= first["priority"] <= 100
        assert first["flags"] == sorted(first["flags"])
        assert first["missing"] == sorted(set(first["missing"]))
