"""Synthetic referrals for demo data and benchmarks: test-range NHS numbers and invented names only.

The spread is realistic (most referrals complete, some incomplete or short of a criterion) and covers every
outcome and every caution flag. Most referrals record every safety fact S5 asks for, so the queue has
ready-for-MDT cases; about one in ten leaves one or two out, so some need information only because the safety
screen is incomplete.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from triage_app.domain.fields import (
    AETIOLOGIES,
    BONT_GUIDANCE,
    BONT_RESPONSES,
    DISTRIBUTIONS,
    ORAL_OUTCOMES,
    PHENOTYPE_COMPONENTS,
    PHYSIO_OUTCOMES,
)
from triage_app.domain.nhs_number import make_test_nhs_number

# Invented surnames: a first part and a second part that do not make common real names together.
_FAMILY_START = (
    "Ash",
    "Bram",
    "Cas",
    "Dun",
    "Ell",
    "Fern",
    "Gil",
    "Har",
    "Ivo",
    "Jes",
    "Kell",
    "Lind",
    "Mor",
    "Nor",
    "Oak",
    "Pen",
    "Quill",
    "Rud",
    "Sel",
    "Thorn",
    "Ulm",
    "Vant",
    "Wex",
    "Yar",
    "Zell",
)
_FAMILY_END = (
    "worth",
    "ridge",
    "feather",
    "stone",
    "mere",
    "by",
    "ington",
    "croft",
    "dale",
    "holm",
    "wick",
    "ley",
    "gate",
    "brook",
    "field",
    "ford",
)
_GIVEN = (
    "Alex",
    "Morgan",
    "Sam",
    "Robin",
    "Jules",
    "Kit",
    "Rowan",
    "Toby",
    "Nell",
    "Ira",
    "Priya",
    "Tomasz",
    "Aoife",
    "Kwame",
    "Mei",
    "Yusuf",
    "Ines",
    "Oskar",
    "Leila",
    "Dev",
    "Hana",
    "Ruth",
    "Emeka",
    "Sofia",
    "Arjun",
    "Lotte",
)
_DRUGS = ("trihexyphenidyl", "clonazepam", "baclofen", "tetrabenazine", "gabapentin")
_REFERRERS = ("Dr A Testwell", "Dr B Example", "Dr C Sample", "Dr D Placeholder", "Dr E Fictive")
# Safety facts (criterion S5) a referral with a gap in its safety screen may leave out. The date of birth and the
# received date are never left out: a referral is stored only with them.
SAFETY_GAPS = (
    "diagnosis.aetiology",
    "diagnosis.distribution",
    "phenotype.components",
    "phenotype.head_tremor",
    "history.dysphagia",
    "history.prior_neck_surgery",
    "history.congenital_head_or_spine_abnormality",
    "history.cervical_spine_disease",
    "botulinum_toxin.guidance",
    "botulinum_toxin.immunoresistance_tested",
)
SAFETY_GAP_SHARE = 0.1


_STREETS = ("Example Road", "Sample Street", "Placeholder Lane", "Fictive Avenue", "Testwell Close", "Mock Way")
_TOWNS = (("Exampleton", "XX1"), ("Sampleford", "XX2"), ("Testbury", "XX3"), ("Placeholder Bridge", "XX4"))
_PRACTICES = ("Testwell Medical Practice", "Sample Street Surgery", "Exampleton Health Centre", "Fictive Lane Practice")
_GPS = ("Dr F Notreal", "Dr G Invented", "Dr H Madeup", "Dr J Pretend")


def _invented_address(rng: random.Random, first_line: str | None = None) -> str:
    town, district = rng.choice(_TOWNS)
    lines = [first_line] if first_line else []
    lines += [f"{rng.randint(1, 120)} {rng.choice(_STREETS)}", town, f"{district} {rng.randint(1, 9)}AB"]
    return "\n".join(lines)


def invented_addresses(serial: int) -> dict[str, Any]:
    """The referrer's and the GP's invented addresses for a demo referral (the app's local letter fields).

    Drawn from their own generator, seeded by the serial, so adding them left every other demo value as it was.
    """
    rng = random.Random(serial * 7919 + 13)
    return {
        "referrer_address": _invented_address(rng),
        "gp": {
            "name": rng.choice(_GPS),
            "practice": rng.choice(_PRACTICES),
            "address": _invented_address(rng),
        },
    }


def invented_name(rng: random.Random) -> tuple[str, str]:
    """(family, given) made up from syllables."""
    return rng.choice(_FAMILY_START) + rng.choice(_FAMILY_END), rng.choice(_GIVEN)


def synthetic_referral(serial: int, rng: random.Random, as_of: date) -> dict[str, Any]:
    """One plausible referral in the interchange format, received within the last ~8 months of `as_of`."""
    # Test-range numbers repeat every 100,000 serials; each repeat is received in an earlier 251-day window,
    # so (NHS number, received date) stays unique however many are made.
    # Most referrals are recent; a tail has waited long enough to breach the 18-week standard.
    waited = min(250, int(rng.triangular(0, 250, 15)))
    received = as_of - timedelta(days=waited + (serial // 100_000) * 251)
    age_days = rng.randint(12 * 365, 85 * 365)
    born = received - timedelta(days=age_days)
    onset_after_birth = rng.randint(min(age_days - 1, 10 * 365), age_days - 1)
    onset = born + timedelta(days=onset_after_birth)
    total = rng.randint(10, 80)
    family, given = invented_name(rng)

    def maybe(value: Any, chance: float = 0.93) -> Any:
        return value if rng.random() < chance else None

    addresses = invented_addresses(serial)
    gaps = set(rng.sample(SAFETY_GAPS, rng.choice((1, 1, 2)))) if rng.random() < SAFETY_GAP_SHARE else set()

    def screened(path: str, value: Any) -> Any:
        """A safety fact: recorded, unless this referral leaves it out (an empty list for some components)."""
        if path not in gaps:
            return value
        return rng.choice(([], None)) if path == "phenotype.components" else None

    return {
        "external_id": f"DEMO-{serial:06d}",
        "received_on": received.isoformat(),
        "patient": {
            "nhs_number": make_test_nhs_number(serial),
            "family_name": family,
            "given_name": given,
            "date_of_birth": born.isoformat(),
            "sex": rng.choice(("female", "female", "male", "other", "unknown")),
            "hospital_number": f"K{serial:07d}",
        },
        "referrer": {
            "name": rng.choice(_REFERRERS),
            "role": rng.choice(
                ("neurologist", "neurologist", "movement_disorders_neurologist", "gp", "neurosurgeon", "other")
            ),
            "organisation_ods": rng.choice(("RXX", "RAB", "RCD12")),
            "address": addresses["referrer_address"],
        },
        "gp": addresses["gp"],
        "receiving_unit_ods": rng.choice(("RXX01",) * 14 + ("RQQ07",)),
        "diagnosis": {
            "condition": rng.choice(("cervical_dystonia",) * 24 + ("other",)),
            "aetiology": screened("diagnosis.aetiology", rng.choice(("idiopathic",) * 8 + AETIOLOGIES)),
            "distribution": screened("diagnosis.distribution", rng.choice(("focal",) * 6 + DISTRIBUTIONS)),
            "onset": maybe(onset.strftime("%Y-%m")),
            "specialist_confirmed": maybe(rng.random() < 0.8),
        },
        "phenotype": {
            "components": screened(
                "phenotype.components", rng.sample(PHENOTYPE_COMPONENTS, rng.choice((1, 1, 1, 2, 2, 3, 4, 5)))
            ),
            "head_tremor": screened("phenotype.head_tremor", rng.random() < 0.3),
        },
        "severity": {
            "twstrs_total": maybe(total),
            "twstrs_pain": rng.randint(0, min(20, total)),
            "tsui": rng.randint(0, 25),
        },
        "botulinum_toxin": {
            "cycles": rng.choice((0, 2) + (3, 4, 5, 6, 8, 10, 12) * 3),
            "guidance": screened(
                "botulinum_toxin.guidance", rng.choice(("emg", "ultrasound", "emg", "none", *BONT_GUIDANCE))
            ),
            "response": maybe(
                rng.choice(("secondary_non_response", "partial", "secondary_non_response") * 2 + BONT_RESPONSES)
            ),
            "immunoresistance_tested": screened("botulinum_toxin.immunoresistance_tested", rng.random() < 0.6),
        },
        "oral_medications": maybe(
            [
                {
                    "drug": rng.choice(_DRUGS),
                    "outcome": maybe(rng.choice(("ineffective", "not_tolerated") * 3 + ORAL_OUTCOMES)),
                }
                for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3)))
            ]
        ),
        "physiotherapy": {
            "completed": maybe(rng.random() < 0.92),
            "outcome": maybe(rng.choice(("partial", "no_benefit") * 3 + PHYSIO_OUTCOMES)),
        },
        "history": {
            "dysphagia": screened("history.dysphagia", rng.random() < 0.1),
            "prior_neck_surgery": screened("history.prior_neck_surgery", rng.random() < 0.05),
            "congenital_head_or_spine_abnormality": screened(
                "history.congenital_head_or_spine_abnormality", rng.random() < 0.02
            ),
            "cervical_spine_disease": screened("history.cervical_spine_disease", rng.random() < 0.08),
        },
        "clinical_question": rng.choice(
            (
                "Is SPD suitable?",
                "Consider SPD: lost response to toxin.",
                "Rotational torticollis despite optimised toxin; surgical opinion please.",
                "Please assess for selective peripheral denervation.",
            )
        ),
    }
