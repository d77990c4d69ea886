"""Limits on every field (safety.md: names 100 characters, free text 4,000; codes shorter), numbers in range,
and text that can be stored: each refused with the field named, never stored, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.factories import AS_OF, referral_json
from triage_app.domain.parsing import (
    JsonObject,
    OversizedNumber,
    ReferralInputError,
    duplicate_keys,
    loads_json,
    parse_referral,
)
from triage_app.domain.referral import (
    FREE_TEXT_LENGTH,
    LIMITS,
    LIST_LIMITS,
    NAME_LENGTH,
    NUMBER_RANGES,
    describe_number,
    limit_of,
    text_problem,
)


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(ReferralInputError) as raised:
        parse_referral(data, as_of=AS_OF)
    return {e.field: e.message for e in raised.value.errors}


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
    return data


# Text fields of a referral, each with a value just at and just over its limit.
REFERRAL_TEXT = {
    "external_id": "x",
    "patient.family_name": "Quillfeather",
    "patient.given_name": "Morwenna",
    "patient.hospital_number": "K",
    "referrer.name": "Dr Testwell",
    "clinical_question": "Consider SPD.",
}


def test_the_limits_are_written_once_and_follow_the_safety_rules() -> None:
    assert NAME_LENGTH == 100 and FREE_TEXT_LENGTH == 4_000
    for key in ("patient.family_name", "patient.given_name", "referrer.name", "meeting.chair", "user.display_name"):
        assert LIMITS[key] == 100
    for key in ("clinical_question", "outcome.rationale", "triage.reason", "status.note", "action.description"):
        assert LIMITS[key] == 4_000
    assert limit_of("oral_medications[7].drug") == 100
    # codes and identifiers shorter than names
    assert max(LIMITS[k] for k in ("external_id", "patient.hospital_number", "referrer.organisation_ods")) < 100


@pytest.mark.hazard("H17")
@pytest.mark.parametrize("path", sorted(REFERRAL_TEXT))
def test_each_text_field_takes_its_limit_and_refuses_one_more_naming_the_field(path: str) -> None:
    limit = LIMITS[path]
    at_limit = parse_referral(_set(referral_json(1), path, "a" * limit), as_of=AS_OF)
    assert at_limit is not None
    message = errors_of(_set(referral_json(1), path, "a" * (limit + 1)))[path]
    assert message == f"{limit:,} characters at most (this one has {limit + 1:,})"


@pytest.mark.hazard("H17")
def test_ten_megabyte_clinical_question_and_name_are_refused_in_words() -> None:
    huge = "Q" * 10_000_000
    found = errors_of(referral_json(1, clinical_question=huge, patient__family_name=huge))
    assert found["clinical_question"] == "4,000 characters at most (this one has 10,000,000)"
    assert found["patient.family_name"] == "100 characters at most (this one has 10,000,000)"


@pytest.mark.hazard("H17")
def test_a_medication_name_over_the_limit_is_named_by_its_place() -> None:
    found = errors_of(referral_json(1, oral_medications=[{"drug": "b" * 101, "outcome": "partial"}]))
    assert found == {"oral_medications[0].drug": "100 characters at most (this one has 101)"}


@pytest.mark.hazard("H17")
def test_lone_surrogates_and_control_characters_are_not_text() -> None:
    found = errors_of(referral_json(1, patient__family_name="Quill\ud800feather", referrer__name="Dr\x00Who"))
    assert found["patient.family_name"].startswith("is not valid text: character 6 is half of a UTF-16 pair")
    assert (
        found["referrer.name"] == "holds a control character (U+0000) at character 3 (it must be one line): remove it"
    )
    # free text may run over lines and hold tabs; a name may not
    assert parse_referral(referral_json(1, clinical_question="Line one.\n\tLine two."), as_of=AS_OF)
    assert "U+000A" in errors_of(referral_json(1, patient__given_name="Mor\nwenna"))["patient.given_name"]
    assert "U+001B" in errors_of(referral_json(1, clinical_question="\x1b[31mred"))["clinical_question"]


@pytest.mark.hazard("H17")
def test_a_surrogate_in_a_key_or_a_choice_is_reported_printably() -> None:
    found = errors_of(
        {**referral_json(1), "bad\ud800key": 1, "patient": {**referral_json(1)["patient"], "sex": "\ud83d"}}
    )
    assert "bad\\ud800key" in found
    assert found["patient.sex"].startswith("is not valid text")
    for field, message in found.items():  # every message can be printed and written as UTF-8
        (field + message).encode("utf-8")


@pytest.mark.hazard("H17")
@pytest.mark.parametrize("path", sorted(NUMBER_RANGES))
def test_every_whole_number_has_a_range_and_huge_ones_are_described_by_size(path: str) -> None:
    low, high = NUMBER_RANGES[path]
    assert parse_referral(_set(referral_json(1), path, high), as_of=AS_OF)
    assert errors_of(_set(referral_json(1), path, high + 1))[path] == (
        f"{high + 1} is out of range: it must be from {low} to {high}"
    )
    assert errors_of(_set(referral_json(1), path, 2**63))[path] == (
        f"a number of 19 digits is out of range: it must be from {low} to {high}"
    )
    assert errors_of(_set(referral_json(1), path, -(2**70)))[path].startswith("a number of 22 digits")


@pytest.mark.hazard("H17")
def test_five_thousand_digit_integers_are_read_by_size_not_refused_by_python() -> None:
    text = json.dumps(referral_json(1)).replace('"twstrs_total": 38', '"twstrs_total": ' + "9" * 5_000)
    data = loads_json(text)
    assert data["severity"]["twstrs_total"] == OversizedNumber(5_000)
    assert (
        errors_of(data)["severity.twstrs_total"] == "a number of 5,000 digits is out of range: it must be from 0 to 85"
    )
    assert describe_number(10**4_000) == "a number of 4,001 digits"


@pytest.mark.hazard("H17")
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e308, 38.0, 38.5])
def test_floats_are_never_whole_numbers(value: float) -> None:
    message = errors_of(referral_json(1, severity__twstrs_total=value))["severity.twstrs_total"]
    assert message.startswith("must be a whole number, not the number ")


@pytest.mark.hazard("H17")
def test_lists_have_a_limit() -> None:
    many = [{"drug": "x", "outcome": "partial"}] * (LIST_LIMITS["oral_medications"] + 1)
    assert (
        errors_of(referral_json(1, oral_medications=many))["oral_medications"] == "50 items at most (this one has 51)"
    )
    components = ["torticollis"] * 1_000_000
    found = errors_of(referral_json(1, phenotype__components=components))
    assert found["phenotype.components"] == "20 items at most (this one has 1,000,000)"


@pytest.mark.hazard("H01", "H17")
def test_duplicate_keys_refuse_the_record_naming_the_key() -> None:
    text = json.dumps(referral_json(1))
    text = text.replace('"family_name": "Quillfeather"', '"family_name": "Quillfeather", "family_name": "Other"')
    text = text.replace('"clinical_question"', '"external_id": "T-2", "clinical_question"')
    data = loads_json(text)
    assert isinstance(data, JsonObject) and duplicate_keys(data) == ("external_id",)
    found = errors_of(data)
    assert found["patient.family_name"] == (
        "is given more than once in this record (a duplicate key): give each field once"
    )
    assert "external_id" in found
    medication = loads_json('[{"drug": "a", "drug": "b", "outcome": "partial"}]')
    assert "oral_medications[0].drug" in errors_of(referral_json(1, oral_medications=medication))


def test_text_problem_never_echoes_the_text() -> None:
    secret = "Quillfeather" * 1_000
    problem = text_problem(secret, "patient.family_name")
    assert problem is not None and "Quill" not in problem
    assert text_problem("Quillfeather", "patient.family_name") is None
    assert text_problem("a" * 65, "patient.sex") == "64 characters at most (this one has 65)"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"\xff\xfe{}", "f.json: not UTF-8 text (byte 0)"),
        (b"  \n ", "f.json: the file is empty"),
        (b'{"a": ', "f.json: not valid JSON at line 1, column 7"),
        (b"[" * 100_000 + b"]" * 100_000, "f.json: the JSON is nested too deeply"),
    ],
    ids=["not-utf8", "empty", "not-json", "too-deep"],
)
def test_a_file_that_is_not_a_json_document_is_named_with_why(raw: bytes, says: str) -> None:
    from triage_app.domain.json_input import JsonTextError, json_document

    with pytest.raises(JsonTextError) as refused:
        json_document(raw, "f.json")
    assert str(refused.value).startswith(says), str(refused.value)


def test_a_json_document_keeps_a_byte_order_mark_out_and_duplicate_keys_in() -> None:
    from triage_app.domain.json_input import duplicate_keys, json_document

    document = json_document('\ufeff{"a": 1, "a": 2}'.encode(), "f.json")
    assert duplicate_keys(document) == ("a",)
