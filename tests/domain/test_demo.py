"""Demo data: valid, test-range only, and a spread over every outcome and flag."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from triage_app.domain.demo import SAFETY_GAPS, synthetic_referral
from triage_app.domain.nhs_number import is_test_range
from triage_app.domain.parsing import parse_referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import FLAGS, OUTCOMES, assess


def test_demo_referrals_are_valid_and_cover_every_outcome_and_flag(rules: Rules) -> None:
    rng, as_of = random.Random(7), date(2026, 11, 21)
    outcomes: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    safety_gaps: Counter[str] = Counter()
    only_safety = 0
    for serial in range(2000):
        referral = parse_referral(synthetic_referral(serial, rng, as_of), as_of=as_of)
        assert referral.patient.nhs_number is not None and is_test_range(referral.patient.nhs_number)
        result = assess(referral, rules, as_of)
        outcomes[result.outcome] += 1
        flags.update(result.flags)
        s5 = next(c for c in result.criteria if c.id == "S5")
        safety_gaps.update(s5.missing)
        if result.outcome == "ready_for_mdt":
            assert s5.status == "met"
        unknown = [c.id for c in result.criteria if c.status == "unknown"]
        only_safety += result.outcome == "needs_information" and unknown == ["S5"]
    assert set(outcomes) == set(OUTCOMES)
    assert set(flags) == set(FLAGS)
    assert outcomes["ready_for_mdt"] > 100  # a realistic queue has cases for the next meeting
    assert only_safety > 10  # some need information only because the safety screen is incomplete
    assert set(safety_gaps) == set(SAFETY_GAPS)  # every fact a demo referral may leave out is left out somewhere


def test_demo_safety_gaps_include_empty_and_missing_components() -> None:
    rng, as_of = random.Random(11), date(2026, 11, 21)
    components = [synthetic_referral(i, rng, as_of)["phenotype"]["components"] for i in range(2000)]
    assert [] in components and None in components
    assert sum(1 for c in components if c) > 1900


def test_demo_data_is_reproducible_from_its_seed() -> None:
    as_of = date(2026, 11, 21)
    first = [synthetic_referral(i, random.Random(3), as_of) for i in range(5)]
    again = [synthetic_referral(i, random.Random(3), as_of) for i in range(5)]
    assert first == again
