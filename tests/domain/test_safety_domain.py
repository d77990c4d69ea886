"""Pure safety rules: the identity minimum, demographics that disagree, who makes which move, triage text."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import referral
from triage_app.domain.identity import (
    IDENTITY_MINIMUM,
    StoredPatient,
    demographic_differences,
    describe_differences,
    missing_identity,
)
from triage_app.domain.meetings import triage_text
from triage_app.domain.parsing import parse_referral
from triage_app.domain.workflow import (
    MOVE_BY_CONSULTANT,
    MOVE_BY_COORDINATOR,
    MOVE_BY_DECISION,
    MOVE_BY_MEETING,
    move_needs_reason,
    move_rule,
)

AS_OF = date(2026, 11, 2)


@pytest.mark.hazard("H01")
def test_an_empty_referral_misses_every_identity_field() -> None:
    errors = missing_identity(parse_referral({}, as_of=AS_OF))
    assert [e.field for e in errors] == list(IDENTITY_MINIMUM)
    assert (
        errors[0].message
        == "NHS number is needed to store a referral (part of the identity minimum that makes sure it is the right patient)"
    )


def test_a_complete_referral_misses_nothing() -> None:
    assert missing_identity(referral(1)) == []


@pytest.mark.parametrize("path", IDENTITY_MINIMUM)
@pytest.mark.hazard("H01")
def test_each_identity_field_is_named_alone(path: str) -> None:
    section, _, key = path.rpartition(".")
    changes = {f"{section}__{key}" if section else key: None}
    assert [e.field for e in missing_identity(referral(1, **changes))] == [path]


@pytest.mark.hazard("H01")
def test_demographics_compare_family_name_ignoring_case_and_date_of_birth() -> None:
    stored = StoredPatient(7, "Quillfeather", "Morwenna", date(1979, 11, 12))
    assert demographic_differences(stored, referral(1, patient__family_name=" QUILLFEATHER ")) == []
    assert demographic_differences(stored, referral(1, patient__given_name="Wenna")) == []  # given names vary
    changed = demographic_differences(
        stored, referral(1, patient__family_name="Abara", patient__date_of_birth="1979-11-13")
    )
    assert describe_differences(changed) == (
        "Family name: stored Quillfeather, this referral Abara; "
        "Date of birth: stored 12-Nov-1979, this referral 13-Nov-1979"
    )


@pytest.mark.hazard("H01")
def test_unknown_stored_demographics_read_as_not_recorded() -> None:
    stored = StoredPatient(7, None, None, None)
    changed = demographic_differences(stored, referral(1))
    assert [(d.stored, d.given) for d in changed] == [("not recorded", "Quillfeather"), ("not recorded", "12-Nov-1979")]
    blank = parse_referral({"patient": {"nhs_number": "999 000 0018"}}, as_of=AS_OF)
    assert [
        (d.stored, d.given) for d in demographic_differences(StoredPatient(7, "A", None, date(2000, 1, 1)), blank)
    ] == [
        ("A", "not recorded"),
        ("01-Jan-2000", "not recorded"),
    ]


@pytest.mark.parametrize(
    ("source", "target", "rule"),
    [
        ("ready_for_mdt", "listed", MOVE_BY_MEETING),
        ("received", "ready_for_mdt", MOVE_BY_DECISION),
        ("awaiting_information", "not_yet_refractory", MOVE_BY_DECISION),
        ("received", "awaiting_information", MOVE_BY_COORDINATOR),
        ("awaiting_information", "received", MOVE_BY_COORDINATOR),
        ("ready_for_mdt", "received", MOVE_BY_CONSULTANT),
        ("ready_for_mdt", "awaiting_information", MOVE_BY_CONSULTANT),
        ("received", "closed", MOVE_BY_CONSULTANT),
    ],
)
@pytest.mark.hazard("H15")
def test_who_makes_each_move(source: str, target: str, rule: str) -> None:
    assert move_rule(source, target) == rule


@pytest.mark.hazard("H15")
def test_closing_an_undiscussed_referral_needs_a_reason() -> None:
    assert move_needs_reason("received", "closed") and not move_needs_reason("discussed", "closed")
    assert not move_needs_reason("received", "awaiting_information")


@pytest.mark.hazard("H14", "H16")
def test_triage_text_shows_the_standing_decision_or_awaiting() -> None:
    assert triage_text("ready_for_mdt", None, None) == "Ready for MDT (awaiting consultant)"
    assert triage_text("ready_for_mdt", "ready_for_mdt", "confirmed") == "Ready for MDT (confirmed)"
    assert (
        triage_text("ready_for_mdt", "not_yet_refractory", "overridden")
        == "Not yet refractory (overridden: was ready for MDT)"
    )
    assert triage_text(None, None, None) == "not assessed (awaiting consultant)"


@pytest.mark.hazard("H01")
def test_an_edit_that_changes_who_the_referral_is_for_is_named() -> None:
    from triage_app.domain.identity import identity_changes

    before = referral(1)
    assert identity_changes(before, referral(1, patient__hospital_number="H-1")) == []
    moved = identity_changes(before, referral(2, patient__family_name="Newname"))
    assert [d.field for d in moved] == ["patient.nhs_number", "patient.family_name"]
    assert moved[0].stored.count(" ") == 2 and moved[1].given == "Newname"
    cleared = identity_changes(parse_referral({}, as_of=AS_OF), parse_referral({}, as_of=AS_OF))
    assert cleared == []
    unknown = identity_changes(parse_referral({}, as_of=AS_OF), referral(1))
    assert unknown[0].stored == "not recorded"
    assert identity_changes(referral(1), parse_referral({"patient": {}}, as_of=AS_OF))[0].given == "not recorded"
