"""Demo data: valid, test-range only, and a spread over every outcome and flag."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from triage_app.domain.demo import synthetic_referral
from triage_app.domain.nhs_number import is_test_range
from triage_app.domain.parsing import parse_referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import FLAGS, OUTCOMES, assess


def test_demo_referrals_are_valid_and_cover_every_outcome_and_flag(rules: Rules) -> None:
    rng, as_of = random.Random(7), date(2026, 11, 21)
    outcomes: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    for serial in range(2000):
        referral = parse_referral(synthetic_referral(serial, rng, as_of), as_of=as_of)
        assert referral.patient.nhs_number is not None and is_test_range(referral.patient.nhs_number)
        result = assess(referral, rules, as_of)
        outcomes[result.outcome] += 1
        flags.update(result.flags)
    assert set(outcomes) == set(OUTCOMES)
    assert set(flags) == set(FLAGS)
    assert outcomes["ready_for_mdt"] > 100  # a realistic queue has cases for the next meeting


def test_demo_data_is_reproducible_from_its_seed() -> None:
    as_of = date(2026, 11, 21)
    first = [synthetic_referral(i, random.Random(3), as_of) for i in range(5)]
    again = [synthetic_referral(i, random.Random(3), as_of) for i in range(5)]
    assert first == again
