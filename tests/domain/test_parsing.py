"""Input errors: every kind the spec lists, each naming the field path in a coordinator's words."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.factories import AS_OF, referral_json
from triage_app.domain.nhs_number import (
    check_digit,
    is_test_range,
    make_test_nhs_number,
    nhs_number_problem,
    normalise_nhs_number,
)
from triage_app.domain.parsing import FieldError, ReferralInputError, parse_as_of, parse_referral
from triage_app.domain.referral import field_label, flatten_fields, format_nhs_number, referral_to_json


def errors_of(data: Any, as_of: date = AS_OF) -> dict[str, str]:
    with pytest.raises(ReferralInputError) as raised:
        parse_referral(data, as_of=as_of)
    return {e.field: e.message for e in raised.value.errors}


def test_valid_referral_round_trips() -> None:
    data = referral_json(3)
    parsed = parse_referral(data, as_of=AS_OF)
    again = referral_to_json(parsed)
    assert parse_referral(again, as_of=AS_OF) == parsed
    assert again["patient"]["nhs_number"] == data["patient"]["nhs_number"]


def test_everything_may_be_missing() -> None:
    parsed = parse_referral({}, as_of=AS_OF)
    assert parsed.oral_medications is None and parsed.phenotype.components is None
    nulls = parse_referral({key: None for key in referral_json(1)}, as_of=AS_OF)
    assert nulls == parsed


def test_blank_strings_count_as_missing() -> None:
    parsed = parse_referral(referral_json(1, patient__family_name="   ", diagnosis__condition=""), as_of=AS_OF)
    assert parsed.patient.family_name is None and parsed.diagnosis.condition is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("999 000 0302", "check digit does not match"),
        ("999000030", "has 10 digits; this one has 9"),
        ("99900003011", "this one has 11"),
        ("999-000-03O1", "only digits"),
        ("９９９００００３０１", "only digits"),
        ("9990000140", "not a valid NHS number"),
    ],
)
@pytest.mark.hazard("H01")
def test_bad_nhs_numbers(value: str, fragment: str) -> None:
    assert check_digit("999000014") is None  # the remainder-10 case used above
    assert fragment in errors_of(referral_json(1, patient__nhs_number=value))["patient.nhs_number"]


@pytest.mark.parametrize("value", ["9990000301", "999 000 0301", "999-000-0301", " 999 000-0301 "])
@pytest.mark.hazard("H01")
def test_nhs_number_spacing_is_normalised(value: str) -> None:
    assert parse_referral(referral_json(1, patient__nhs_number=value), as_of=AS_OF).patient.nhs_number == "9990000301"


def test_nhs_number_helpers() -> None:
    assert normalise_nhs_number("943 476-5919") == "9434765919"
    assert nhs_number_problem("943 476 5919") is None
    assert check_digit("943476591") == 9
    assert check_digit("999000001") == 8
    assert is_test_range("9990000018") and not is_test_range("9434765919")
    assert format_nhs_number("9990000018") == "999 000 0018"
    assert format_nhs_number(None) == "" and format_nhs_number("12") == "12"


def test_check_digit_eleven_means_zero() -> None:
    # 9*10 + 9*9 + 9*8 + 5*2 = 253 = 11 * 23: remainder 0, so 11 - 0 = 11, which means 0
    assert check_digit("999000005") == 0
    assert nhs_number_problem("999 000 0050") is None


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"received_on": "2026-8-3"}, "received_on", "not a date"),
        ({"received_on": "2026-02-30"}, "received_on", "not a date"),
        ({"received_on": "03/08/2026"}, "received_on", "YYYY-MM-DD"),
        ({"received_on": "2026-11-03"}, "received_on", "after the assessment date"),
        ({"patient__date_of_birth": "2026-08-04"}, "patient.date_of_birth", "after the date the referral was received"),
        ({"diagnosis__onset": "2015"}, "diagnosis.onset", "YYYY-MM"),
        ({"diagnosis__onset": "2015-13"}, "diagnosis.onset", "not a date"),
        ({"diagnosis__onset": "1979-10"}, "diagnosis.onset", "before the date of birth"),
        ({"diagnosis__onset": "1979-11-11"}, "diagnosis.onset", "before the date of birth"),
        ({"diagnosis__onset": "2026-09"}, "diagnosis.onset", "after the date the referral was received"),
        ({"diagnosis__onset": "2026-08-04"}, "diagnosis.onset", "after the date the referral was received"),
        ({"severity__twstrs_total": 86}, "severity.twstrs_total", "from 0 to 85"),
        ({"severity__twstrs_total": -1}, "severity.twstrs_total", "out of range"),
        ({"severity__twstrs_pain": 21}, "severity.twstrs_pain", "from 0 to 20"),
        (
            {"severity__twstrs_total": 10, "severity__twstrs_pain": 11},
            "severity.twstrs_pain",
            "more than the TWSTRS total",
        ),
        ({"severity__tsui": 26}, "severity.tsui", "from 0 to 25"),
        ({"botulinum_toxin__cycles": -1}, "botulinum_toxin.cycles", "from 0 to 300"),
        ({"botulinum_toxin__cycles": 2.5}, "botulinum_toxin.cycles", "whole number"),
        ({"botulinum_toxin__cycles": 3.0}, "botulinum_toxin.cycles", "whole number"),
        ({"botulinum_toxin__cycles": True}, "botulinum_toxin.cycles", "whole number, not true/false"),
        ({"botulinum_toxin__cycles": "3"}, "botulinum_toxin.cycles", "not text"),
        ({"referrer__organisation_ods": "R1"}, "referrer.organisation_ods", "3 to 9 letters and digits"),
        ({"receiving_unit_ods": "RXX01234567"}, "receiving_unit_ods", "3 to 9"),
        ({"receiving_unit_ods": "RX-01"}, "receiving_unit_ods", "letters and digits"),
        ({"patient__sex": "F"}, "patient.sex", "not one of the allowed values"),
        ({"referrer__role": "Neurologist"}, "referrer.role", "allowed values"),
        ({"botulinum_toxin__response": "none"}, "botulinum_toxin.response", "allowed values"),
        ({"physiotherapy__completed": "yes"}, "physiotherapy.completed", "true or false"),
        ({"history__dysphagia": 1}, "history.dysphagia", "true or false, not the number 1"),
        ({"patient__family_name": 7}, "patient.family_name", "must be text"),
        ({"patient__shoe_size": 9}, "patient.shoe_size", "is not a field of patient"),
        ({"nickname": "x"}, "nickname", "is not a field of a referral"),
        ({"patient": "Alex"}, "patient", "must be an object"),
        ({"phenotype__components": "torticollis"}, "phenotype.components", "must be a list"),
        ({"phenotype__components": ["torticolis"]}, "phenotype.components[0]", "not a Col-Cap form"),
        ({"phenotype__components": [3]}, "phenotype.components[0]", "must be text"),
        ({"oral_medications": {"drug": "x"}}, "oral_medications", "must be a list"),
        ({"oral_medications": ["baclofen"]}, "oral_medications[0]", "must be an object"),
        ({"oral_medications": [{"drug": "x", "outcome": "worked"}]}, "oral_medications[0].outcome", "allowed values"),
        ({"oral_medications": [{"drug": "x", "dose": 5}]}, "oral_medications[0].dose", "not a field of an oral"),
        ({"external_id": ["a"]}, "external_id", "must be text, not a list"),
        ({"clinical_question": {"q": 1}}, "clinical_question", "must be text, not an object"),
    ],
)
def test_input_errors(changes: dict[str, Any], path: str, fragment: str) -> None:
    found = errors_of(referral_json(1, **changes))
    assert path in found, found
    assert fragment in found[path]


def test_every_error_is_reported_at_once_and_sorted() -> None:
    data = referral_json(1, patient__nhs_number="123", severity__tsui=99, receiving_unit_ods="!")
    with pytest.raises(ReferralInputError) as raised:
        parse_referral(data, as_of=AS_OF)
    fields = [e.field for e in raised.value.errors]
    assert fields == ["patient.nhs_number", "receiving_unit_ods", "severity.tsui"]
    assert "patient.nhs_number:" in str(raised.value)
    assert raised.value.errors[0].to_json()["field"] == "patient.nhs_number"


@pytest.mark.parametrize("document", [[], "referral", 42, None, True])
def test_a_record_must_be_an_object(document: Any) -> None:
    assert errors_of(document) == {"(record)": errors_of(document)["(record)"]}


def test_unusual_values_are_described() -> None:
    assert "not the number 1.5" in errors_of(referral_json(1, history__dysphagia=1.5))["history.dysphagia"]
    long_value = "x" * 100
    message = errors_of(referral_json(1, patient__sex=long_value))["patient.sex"]
    assert "…" in message and len(message) < 200


def test_kind_of_unexpected_python_objects() -> None:
    # Only reachable from Python callers, not JSON: still a clear message rather than a crash.
    assert "not object" in errors_of(referral_json(1, patient__family_name=object()))["patient.family_name"]


@pytest.mark.hazard("H13")
def test_equal_dates_are_allowed() -> None:
    data = referral_json(1, received_on="2026-11-02", patient__date_of_birth="2026-11-02", diagnosis__onset="2026-11")
    parsed = parse_referral(data, as_of=date(2026, 11, 2))
    assert parsed.diagnosis.onset is not None and parsed.diagnosis.onset.month_only


def test_components_are_distinct_in_order() -> None:
    data = referral_json(1, phenotype__components=["laterocollis", "torticollis", "laterocollis"])
    assert parse_referral(data, as_of=AS_OF).phenotype.components == ("laterocollis", "torticollis")


def test_ods_codes_are_upper_cased() -> None:
    parsed = parse_referral(referral_json(1, receiving_unit_ods="rxx01"), as_of=AS_OF)
    assert parsed.receiving_unit_ods == "RXX01"


def test_as_of_parsing() -> None:
    assert parse_as_of("2026-11-02") == date(2026, 11, 2)
    with pytest.raises(ValueError, match="--as-of 'tomorrow' is not a date"):
        parse_as_of("tomorrow")


def test_field_error_json() -> None:
    assert FieldError("a.b", "bad").to_json() == {"field": "a.b", "message": "bad"}


def test_flatten_and_labels() -> None:
    flat = flatten_fields(parse_referral(referral_json(1), as_of=AS_OF))
    assert flat["patient.nhs_number"] == make_test_nhs_number(1)
    assert flat["oral_medications.count"] == 1 and flat["oral_medications[0].drug"] == "clonazepam"
    assert flat["phenotype.components"] == ["torticollis"]
    assert field_label("severity.twstrs_total") == "TWSTRS total"
    assert field_label("oral_medications[1].outcome") == "Oral medication 2 outcome"
    assert field_label("oral_medications[x].outcome") == "oral_medications[x].outcome"
    assert field_label("unknown.path") == "unknown.path"


def test_blank_unknown_keys_still_have_a_path() -> None:
    found = errors_of({"": 1, "patient": {" ": 2}, "oral_medications": [{"": 3}]})
    assert set(found) == {'""', 'patient." "', 'oral_medications[0].""'}
