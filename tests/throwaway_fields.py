"""Throwaway referral fields a test adds to the table of fields (domain.fields) and takes away again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import AS_OF, referral_json
from triage_app.domain.fields import FieldSpec, add_field, choices, remove_field
from triage_app.domain.parsing import ReferralInputError, parse_referral

PAIN_DAYS = FieldSpec(
    "severity.neck_pain_days", "whole", "Days with neck pain a week", "Severity", "neck_pain_days", number_range=(0, 7)
)
REPORT = FieldSpec(
    "imaging.report_ref", "text", "Imaging report reference", "Imaging", "imaging_report_ref", max_length=12
)
MODALITY = FieldSpec(
    "imaging.modality",
    "choice",
    "Imaging modality",
    "Imaging",
    "imaging_modality",
    choices=choices("mri", "ct", mri="MRI"),
)
DONE_ON = FieldSpec("imaging.done_on", "date", "Imaging done on", "Imaging", "imaging_done_on")
THROWAWAY = (PAIN_DAYS, REPORT, MODALITY, DONE_ON)
GIVEN = {"severity.neck_pain_days": 3, "imaging.report_ref": "IMG-0042", "imaging.modality": "mri"}


@pytest.fixture
def throwaway_fields() -> Iterator[tuple[FieldSpec, ...]]:
    """The table with four more fields (one in an existing section, three in a new one), as a test's own."""
    for spec in THROWAWAY:
        add_field(spec)
    try:
        yield THROWAWAY
    finally:
        for spec in THROWAWAY:
            remove_field(spec.path)


def with_new_fields(**changes: Any) -> dict[str, Any]:
    data = referral_json(1)
    data["severity"]["neck_pain_days"] = changes.get("neck_pain_days", 3)
    data["imaging"] = {
        "report_ref": changes.get("report_ref", "IMG-0042"),
        "modality": changes.get("modality", "mri"),
        "done_on": changes.get("done_on", "2026-10-01"),
    }
    return data


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(ReferralInputError) as raised:
        parse_referral(data, as_of=AS_OF)
    return {e.field: e.message for e in raised.value.errors}
