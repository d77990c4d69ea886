"""Every shared example referral gives the result in shared/examples/expected.json at its as_of date."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.factories import COPIED_EXAMPLES, EXAMPLES, SHARED_EXAMPLES, load_example
from triage_app.domain.parsing import ReferralInputError, parse_referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import assess

EXPECTED = json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))
AS_OF = date.fromisoformat(EXPECTED["as_of"])


@pytest.mark.parametrize("name", sorted(EXPECTED["results"]))
@pytest.mark.hazard("H05")
def test_example(name: str, rules: Rules) -> None:
    expected = EXPECTED["results"][name]
    data = load_example(name)
    if "errors" in expected:
        with pytest.raises(ReferralInputError) as raised:
            parse_referral(data, as_of=AS_OF)
        assert sorted({e.field for e in raised.value.errors}) == expected["errors"]
        return
    result = assess(parse_referral(data, as_of=AS_OF), rules, AS_OF).to_json()
    assert result["outcome"] == expected["outcome"]
    assert result["priority"] == expected["priority"]
    assert {c["id"]: c["status"] for c in result["criteria"]} == expected["criteria"]
    assert result["flags"] == expected["flags"]
    assert result["missing"] == expected["missing"]
    assert result["priority_terms"] == expected["priority_terms"]
    assert result["rules_version"] == "spd-2026.2"
    assert all(c["reason"] and c["nice"].startswith("NICE HTG51") for c in result["criteria"])
    assert result["summary"]


@pytest.mark.hazard("H05")
def test_every_example_file_has_an_expected_result() -> None:
    files = {p.stem for p in (EXAMPLES / "referrals").glob("*.json")}
    assert files == set(EXPECTED["results"])


@pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="../shared is not beside this clone")
@pytest.mark.hazard("H05")
def test_the_copy_in_tests_data_matches_the_shared_examples() -> None:
    shared = {p.relative_to(SHARED_EXAMPLES): p.read_bytes() for p in SHARED_EXAMPLES.rglob("*.json")}
    copied = {p.relative_to(COPIED_EXAMPLES): p.read_bytes() for p in COPIED_EXAMPLES.rglob("*.json")}
    assert copied == shared, "refresh tests/data/shared-examples from ../shared/examples"
