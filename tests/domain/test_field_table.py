"""The table of referral fields (domain.fields) and the parser: a field added to the table alone is read and
validated, with its limits; without its entry it is refused."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import AS_OF
from tests.throwaway_fields import errors_of, throwaway_fields, with_new_fields  # noqa: F401 (a fixture)
from triage_app.domain import fields as table
from triage_app.domain.fields import add_field, field_spec
from triage_app.domain.identity import IDENTITY_MINIMUM
from triage_app.domain.parsing import parse_referral
from triage_app.domain.referral import LIMITS, NUMBER_RANGES, field_label, referral_to_json
from triage_app.domain.scoring import FLAGS

# --- the table itself ------------------------------------------------------------------------------------------


def test_the_table_agrees_with_the_scoring_and_the_form() -> None:
    for spec in table.referral_fields():
        assert set(spec.cautions) <= set(FLAGS), spec.path
        assert spec.section in table.SECTIONS, spec.path
        assert spec.label and field_label(spec.path) == spec.label
    assert table.identity_minimum() == IDENTITY_MINIMUM
    assert IDENTITY_MINIMUM[0] == "patient.nhs_number"  # asked for first, as the coordinator types it first


def test_limits_are_read_from_the_table() -> None:
    assert NUMBER_RANGES["severity.twstrs_pain"] == field_spec("severity.twstrs_pain").number_range == (0, 20)  # type: ignore[union-attr]
    assert LIMITS["oral_medications.drug"] == 100 and "meeting.place" in LIMITS and len(LIMITS) == len(list(LIMITS))
    assert field_spec("oral_medications[3].outcome") == field_spec("oral_medications").item("outcome")  # type: ignore[union-attr]
    assert field_spec("patient.shoe_size") is None and field_spec("clinical_question.x") is None
    assert field_label("phenotype.components[0]") == "phenotype.components[0]"
    with pytest.raises(ValueError, match="already a referral field"):
        add_field(field_spec("patient.sex"))  # type: ignore[arg-type]


# --- parser ----------------------------------------------------------------------------------------------------


def test_without_its_table_entry_the_field_is_refused() -> None:
    found = errors_of(with_new_fields())
    assert "is not a field of severity" in found["severity.neck_pain_days"]
    assert "is not a field of a referral" in found["imaging"]


@pytest.mark.usefixtures("throwaway_fields")
def test_a_throwaway_field_reaches_the_parser_through_the_table() -> None:
    parsed = parse_referral(with_new_fields(), as_of=AS_OF)
    assert parsed.value("severity.neck_pain_days") == 3
    assert parsed.value("imaging.report_ref") == "IMG-0042"
    assert parsed.value("imaging.done_on") == date(2026, 10, 1)
    assert parsed.severity.twstrs_total is not None  # the typed fields are where they were
    data = referral_to_json(parsed)
    assert data["imaging"] == {"report_ref": "IMG-0042", "modality": "mri", "done_on": "2026-10-01"}
    assert parse_referral(data, as_of=AS_OF) == parsed
    # An empty record: the new fields are unknown, like any other.
    assert parse_referral({}, as_of=AS_OF).value("imaging.modality") is None


@pytest.mark.hazard("H05")
@pytest.mark.usefixtures("throwaway_fields")
def test_a_throwaway_fields_limits_are_enforced() -> None:
    found = errors_of(with_new_fields(neck_pain_days=8, report_ref="R" * 13, modality="xray", done_on="01/10/2026"))
    assert found["severity.neck_pain_days"] == "8 is out of range: it must be from 0 to 7"
    assert found["imaging.report_ref"] == "12 characters at most (this one has 13)"
    assert found["imaging.modality"] == "'xray' is not one of the allowed values: mri, ct"
    assert "is not a date" in found["imaging.done_on"]
    assert "is not a field of imaging" in errors_of({"imaging": {"colour": "x"}})["imaging.colour"]
    assert "must be an object with the imaging fields" in errors_of({"imaging": 3})["imaging"]


@pytest.mark.usefixtures("throwaway_fields")
def test_a_throwaway_field_has_its_place_in_the_form_and_the_interchange_format() -> None:
    sections = dict(table.form_sections())
    assert list(sections)[: len(table.SECTIONS)] == list(table.SECTIONS) and list(sections)[-1] == "Imaging"
    assert sections["Severity"][-1].path == "severity.neck_pain_days"
    empty = referral_to_json(parse_referral({}, as_of=AS_OF))
    assert empty["imaging"] == {"report_ref": None, "modality": None, "done_on": None}
    assert empty["severity"]["neck_pain_days"] is None and empty["oral_medications"] is None
