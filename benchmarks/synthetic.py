"""Synthetic referrals for benchmarks and demo data: test-range NHS numbers and invented names only."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.referral import (
    AETIOLOGIES,
    BONT_GUIDANCE,
    BONT_RESPONSES,
    DISTRIBUTIONS,
    ORAL_OUTCOMES,
    PHENOTYPE_COMPONENTS,
    PHYSIO_OUTCOMES,
    REFERRER_ROLES,
)

FAMILY = ["Ashworth", "Brennan", "Castellane", "Dunmore", "Ellery", "Fairweather", "Gillespie", "Harrowgate"]
GIVEN = ["Alex", "Morgan", "Sam", "Robin", "Jules", "Kit", "Rowan", "Toby", "Nell", "Ira"]


def synthetic_referral(serial: int, rng: random.Random, as_of: date) -> dict[str, Any]:
    """One plausible referral; a realistic share are incomplete or fall short of a criterion."""
    received = as_of - timedelta(days=rng.randint(0, 250))
    born = received - timedelta(days=rng.randint(12 * 365, 85 * 365))
    onset = born + timedelta(days=rng.randint(365 * 10, max(365 * 10 + 1, (received - born).days)))
    onset = min(onset, received)
    total = rng.randint(10, 80)

    def maybe(value: Any, chance: float = 0.92) -> Any:
        return value if rng.random() < chance else None

    return {
        "external_id": f"SYN-{serial}",
        "received_on": received.isoformat(),
        "patient": {
            "nhs_number": make_test_nhs_number(serial),
            "family_name": rng.choice(FAMILY),
            "given_name": rng.choice(GIVEN),
            "date_of_birth": born.isoformat(),
            "sex": rng.choice(["female", "male", "other", "unknown"]),
            "hospital_number": f"K{serial:07d}",
        },
        "referrer": {"name": "Dr Example", "role": rng.choice(REFERRER_ROLES), "organisation_ods": "RXX"},
        "receiving_unit_ods": rng.choice(["RXX01"] * 9 + ["RQQ07"]),
        "diagnosis": {
            "condition": rng.choice(["cervical_dystonia"] * 19 + ["other"]),
            "aetiology": maybe(rng.choice(AETIOLOGIES)),
            "distribution": maybe(rng.choice(DISTRIBUTIONS)),
            "onset": maybe(onset.strftime("%Y-%m")),
            "specialist_confirmed": maybe(rng.random() < 0.8),
        },
        "phenotype": {
            "components": rng.sample(PHENOTYPE_COMPONENTS, rng.randint(1, 5)),
            "head_tremor": rng.random() < 0.3,
        },
        "severity": {
            "twstrs_total": maybe(total),
            "twstrs_pain": rng.randint(0, min(20, total)),
            "tsui": rng.randint(0, 25),
        },
        "botulinum_toxin": {
            "cycles": rng.randint(0, 12),
            "guidance": maybe(rng.choice(BONT_GUIDANCE)),
            "response": maybe(rng.choice(BONT_RESPONSES)),
            "immunoresistance_tested": rng.random() < 0.5,
        },
        "oral_medications": [
            {
                "drug": rng.choice(["trihexyphenidyl", "clonazepam", "baclofen"]),
                "outcome": maybe(rng.choice(ORAL_OUTCOMES)),
            }
            for _ in range(rng.randint(0, 3))
        ],
        "physiotherapy": {"completed": maybe(rng.random() < 0.85), "outcome": maybe(rng.choice(PHYSIO_OUTCOMES))},
        "history": {
            "dysphagia": rng.random() < 0.1,
            "prior_neck_surgery": rng.random() < 0.05,
            "congenital_head_or_spine_abnormality": rng.random() < 0.02,
            "cervical_spine_disease": rng.random() < 0.08,
        },
        "clinical_question": "Is SPD suitable?",
    }
