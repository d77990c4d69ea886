"""Test data: referrals with test-range NHS numbers and invented names only."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.parsing import parse_referral
from triage_app.domain.referral import Referral

SHARED = Path(__file__).resolve().parents[2] / "shared"
# The shared examples live beside the repository (../shared); a clone on its own uses the copy in tests/data,
# which tests/domain/test_examples.py keeps identical to the shared one whenever both are present.
SHARED_EXAMPLES = SHARED / "examples"
COPIED_EXAMPLES = Path(__file__).resolve().parent / "data" / "shared-examples"
EXAMPLES = SHARED_EXAMPLES if (SHARED_EXAMPLES / "expected.json").is_file() else COPIED_EXAMPLES
AS_OF = date(2026, 11, 2)

READY: dict[str, Any] = {
    "external_id": "T-001",
    "received_on": "2026-08-03",
    "patient": {
        "nhs_number": "999 000 0301",
        "family_name": "Quillfeather",
        "given_name": "Morwenna",
        "date_of_birth": "1979-11-12",
        "sex": "female",
        "hospital_number": "K0043921",
    },
    "referrer": {"name": "Dr Ada Testwell", "role": "neurologist", "organisation_ods": "RXX"},
    "receiving_unit_ods": "RXX01",
    "diagnosis": {
        "condition": "cervical_dystonia",
        "aetiology": "idiopathic",
        "distribution": "focal",
        "onset": "2015-04",
        "specialist_confirmed": True,
    },
    "phenotype": {"components": ["torticollis"], "head_tremor": True},
    "severity": {"twstrs_total": 38, "twstrs_pain": 9, "tsui": 8},
    "botulinum_toxin": {
        "cycles": 9,
        "guidance": "ultrasound",
        "response": "secondary_non_response",
        "immunoresistance_tested": True,
    },
    "oral_medications": [{"drug": "clonazepam", "outcome": "ineffective"}],
    "physiotherapy": {"completed": True, "outcome": "partial"},
    "history": {
        "dysphagia": False,
        "prior_neck_surgery": False,
        "congenital_head_or_spine_abnormality": False,
        "cervical_spine_disease": False,
    },
    "clinical_question": "Consider SPD: rotational torticollis, lost response to toxin.",
}


def referral_json(serial: int = 1, **changes: Any) -> dict[str, Any]:
    """A ready-for-MDT referral with its own test NHS number; `changes` set dotted paths (`patient.sex`)."""
    data = copy.deepcopy(READY)
    data["patient"]["nhs_number"] = make_test_nhs_number(serial)
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return data


def referral(serial: int = 1, *, as_of: date = AS_OF, **changes: Any) -> Referral:
    """A parsed `referral_json`."""
    return parse_referral(referral_json(serial, **changes), as_of=as_of)


def load_example(name: str) -> Any:
    """One of the shared example referrals."""
    return json.loads((EXAMPLES / "referrals" / f"{name}.json").read_text(encoding="utf-8"))
