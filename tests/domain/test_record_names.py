"""How import and score name a record to the person who runs them: numbered from 1, by the file's own reference."""

from __future__ import annotations

from datetime import date

import pytest

from triage_app.domain.parsing import ReferralInputError, loads_json, parse_referral
from triage_app.domain.record_names import describe_record, record_number, record_reference


def test_records_are_numbered_from_one() -> None:
    assert record_number(0) == 1
    assert describe_record(249, {"external_id": "REF-0250"}) == "record 250 (external_id REF-0250)"


def test_the_referrers_reference_wins_then_the_nhs_number_as_given() -> None:
    assert (
        record_reference({"external_id": " REF-1 ", "patient": {"nhs_number": "999 000 0018"}}) == "external_id REF-1"
    )
    assert record_reference({"patient": {"nhs_number": "999 000 0018"}}) == "NHS number 999 000 0018"
    assert record_reference({"patient": {"nhs_number": 9990000018}}) == "NHS number 9990000018"
    assert describe_record(3, None, reference="external_id X") == "record 4 (external_id X)"


@pytest.mark.parametrize(
    "record",
    [
        None,
        "text",
        [],
        {},
        {"external_id": ""},
        {"external_id": "x" * 1000},  # over its limit: may be megabytes
        {"external_id": "REF\u202e1"},  # a bidi override would make the terminal show something else
        {"external_id": "REF\x071"},
        {"external_id": 12.5, "patient": "not an object"},
        {"patient": {"nhs_number": True}},
        {"patient": {"nhs_number": 10**25}},  # too many digits to be an NHS number typed with a slip
        {"patient": {"nhs_number": -1}},
    ],
)
def test_a_record_that_names_nothing_readable_is_called_by_its_number_only(record: object) -> None:
    assert record_reference(record) is None
    assert describe_record(0, record) == "record 1"


def test_a_key_given_twice_names_nothing() -> None:
    record = loads_json('{"external_id": "A", "external_id": "B", "patient": {"nhs_number": "9990000018"}}')
    assert record_reference(record) == "NHS number 9990000018"  # not A or B: either could be the wrong one
    twice = loads_json('{"patient": {"nhs_number": "9990000018", "nhs_number": "9990000026"}}')
    assert record_reference(twice) is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [("null", "null"), ('"a referral"', "text"), ("[1]", "a list"), ("1" * 5000, "a number of 5,000 digits")],
)
def test_a_record_that_is_not_an_object_is_named_in_words(text: str, kind: str) -> None:
    with pytest.raises(ReferralInputError) as raised:
        parse_referral(loads_json(text), as_of=date(2026, 11, 21))
    assert raised.value.errors[0].message == f"a referral must be a JSON object, not {kind}"
