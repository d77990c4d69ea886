"""Letters' addresses, information requests and decisions in words, in the domain alone.

The exporter and chase tests run these through Word and the database; these check the words themselves: a letter
addressed to the right referrer with the GP copied (H10), a request naming the patient by three identifiers and
asking in words a referrer understands (H07: the chase date), an override shown with its reason (H14).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from tests.domain.test_meetings_domain import MEETING, NOW, REQUIRED, case
from tests.factories import referral
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.letters import (
    ADDRESS_NOT_ON_FILE,
    LETTER_MARKING,
    Signatory,
    cc_gp,
    letter_fields,
    letter_stem,
    missing_addresses,
    safe_file_part,
    unique_names,
)
from triage_app.domain.mdt import decision_text
from triage_app.domain.meetings import build_agenda
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.requests import (
    DEFAULT_CHASE_DAYS,
    REQUEST_WORDS,
    RequestPatient,
    awaited_item,
    awaited_items,
    awaited_text,
    default_chase_date,
    is_overdue,
    request_fields,
    request_file_name,
    request_letter,
)

TODAY = date(2026, 11, 22)
SIGNER = Signatory("Dr Zara Invented", "Functional neurosurgeon")
PATIENT = RequestPatient(
    family_name="Quinnell",
    given_name="Marguerite",
    nhs_number="9990001234",
    date_of_birth=date(1979, 5, 6),
    hospital_number="K0043921",
    received_on=date(2026, 8, 3),
    referrer_name="Dr Ada Testwell",
    referrer_organisation="RXX",
    referrer_address="Neurology Department\n1 Invented Road",
)


def addressed(**changes: object) -> dict[str, str]:
    """The letter fields of a neurologist's referral with `changes` to its address fields."""
    source = referral(1, **changes)
    return letter_fields(case(1, source, outcome="decline"), MEETING, unit_name="Unit X", signatory=SIGNER, today=TODAY)


@pytest.mark.hazard("H10")
def test_a_letter_is_addressed_to_the_referrer_and_copied_to_the_gp() -> None:
    fields = addressed(
        referrer__address="  Neurology Department \n\n 1 Invented Road  ",
        gp__name="Dr Gill Practitioner",
        gp__practice="Invented Surgery",
        gp__address="2 Made-up Lane\nTestford",
    )
    assert fields["referrer_address"] == "Neurology Department\n1 Invented Road"  # trimmed, blank line dropped
    assert fields["gp_name"] == "Dr Gill Practitioner" and fields["gp_practice"] == "Invented Surgery"
    assert fields["cc_gp"] == "Dr Gill Practitioner\nInvented Surgery\n2 Made-up Lane\nTestford"
    assert fields["signatory"] == "Dr Zara Invented, Functional neurosurgeon"
    assert fields["marking"] == LETTER_MARKING and fields["intended_use"] == INTENDED_USE_LINE


@pytest.mark.hazard("H10")
def test_missing_addresses_are_named_and_the_gp_copy_is_never_forgotten() -> None:
    fields = addressed()
    assert fields["referrer_address"] == ADDRESS_NOT_ON_FILE
    assert fields["cc_gp"] == "The patient's GP (details not on file)"
    assert missing_addresses(case(1, referral(1))) == ["the referrer's address", "the GP's address"]
    complete = referral(1, referrer__address="1 Invented Road", gp__address="2 Made-up Lane")
    assert missing_addresses(case(1, complete)) == []


@pytest.mark.hazard("H10")
def test_a_gp_referrer_gets_no_copy_of_their_own_letter() -> None:
    from_gp = case(1, referral(1, referrer__role="gp", referrer__address="Invented Surgery"))
    assert cc_gp(from_gp) == ""
    assert missing_addresses(from_gp) == []  # the GP's address is the referrer's: not asked for twice


def test_file_names_are_safe_on_every_desktop() -> None:
    assert safe_file_part('  a<b>c:"d/e\\f|g?h*i\x07j\x7f  ') == "a b c d e f g h i j"
    assert safe_file_part(" ..name.. ") == "name"
    long_name = referral(1, patient__family_name="Q" * 100, patient__given_name="Morwenna" * 10)
    stem = letter_stem(case(1, long_name), TODAY)
    number = format_nhs_number(long_name.patient.nhs_number)
    assert len(stem) <= 120 and stem.startswith("QQQQ") and stem.endswith(f"{number} outcome 22-Nov-2026")
    nameless = referral(1, patient__family_name=None, patient__given_name=None)
    assert letter_stem(case(1, nameless), TODAY, "request") == f"Name not recorded {number} request 22-Nov-2026"
    assert unique_names(["Same", "same", "Other", "SAME"], "pdf") == [
        "Same.pdf",
        "same (2).pdf",
        "Other.pdf",
        "SAME (3).pdf",
    ]


def test_awaited_fields_read_in_words_a_referrer_understands(monkeypatch: pytest.MonkeyPatch) -> None:
    assert awaited_item("severity.twstrs_total") == "the TWSTRS total score"
    assert awaited_item("oral_medications[0].outcome", ["clonazepam"]) == "the outcome of clonazepam"
    assert awaited_item("oral_medications[1].outcome", ["clonazepam", "  "]) == "the outcome of oral medication 2"
    assert awaited_item("oral_medications[4].outcome", ["clonazepam"]) == "the outcome of oral medication 5"
    assert awaited_item("oral_medications[0].drug") == "the name of oral medication 1"
    # A yes/no field without plainer words (every one has them today) is asked as a question.
    monkeypatch.delitem(REQUEST_WORDS, "history.dysphagia")
    assert awaited_item("history.dysphagia") == "whether: dysphagia (yes or no)"
    assert awaited_item("patient.hospital_number").startswith("the ")
    twice = ["severity.tsui", "severity.tsui", "diagnosis.onset"]
    assert awaited_items(twice) == ("the Tsui score", "the date (or month) of onset")
    assert awaited_text(twice) == "the Tsui score; the date (or month) of onset"


@pytest.mark.hazard("H07")
def test_chase_dates_and_overdue() -> None:
    assert default_chase_date(TODAY) == date(2026, 12, 6) and DEFAULT_CHASE_DAYS == 14
    assert default_chase_date(TODAY, 7) == date(2026, 11, 29)
    assert not is_overdue(TODAY, TODAY)  # due today is not yet overdue
    assert is_overdue(date(2026, 11, 21), TODAY)
    assert is_overdue(None, TODAY)  # no chase date set: chase it now rather than never


@pytest.mark.hazard("H10")
def test_a_request_names_the_patient_by_three_identifiers() -> None:
    letter = request_letter(
        7,
        PATIENT,
        [" the Tsui score ", ""],
        today=TODAY,
        reply_by=date(2026, 12, 6),
        unit_name="specialist neurosurgical unit",
        signer_name="Pat Coordinator",
    )
    assert letter.referral_id == 7 and letter.title == "Request for further information"
    text = "\n".join(letter.paragraphs)
    assert (
        "Patient: QUINNELL, Marguerite; NHS number: 999 000 1234; Date of birth: 06-May-1979; Hospital number: K0043921"
    ) in text
    assert "To: Dr Ada Testwell, RXX" in text and "Dear Dr Ada Testwell," in text
    assert "received on 03-Aug-2026 to the specialist neurosurgical unit" in text
    assert "Please send: the Tsui score." in text and "Please reply by 06-Dec-2026." in text
    assert letter.paragraphs[-1] == "Pat Coordinator, MDT coordinator, specialist neurosurgical unit"
    assert INTENDED_USE_LINE in letter.paragraphs


def test_a_request_with_little_on_file_says_so() -> None:
    sparse = RequestPatient(None, None, None, None, None, None, None, None)
    letter = request_letter(
        1, sparse, ["the Tsui score"], today=TODAY, reply_by=None, unit_name="Unit X", signer_name="S"
    )
    text = "\n".join(letter.paragraphs)
    assert "Patient: (name not recorded); NHS number: (not recorded); Date of birth: (not recorded)" in text
    assert "Hospital number" not in text and "To: the referrer" in text and "Dear colleague," in text
    assert "Thank you for your referral to Unit X." in text and "Please reply by" not in text
    fields = request_fields(sparse, ["the Tsui score"], today=TODAY, reply_by=None, unit_name="U", signer_name="S")
    assert fields["referrer_address"] == "(address not recorded)" and fields["reply_by"] == ""
    assert fields["patient_name"] == "(name not recorded)" and fields["received_on"] == "(date not recorded)"
    assert fields["hospital_number"] == "(not recorded)" and fields["nhs_number"] == "(not recorded)"


@pytest.mark.parametrize("awaited", [[], ["  ", ""]])
def test_a_request_for_nothing_is_refused(awaited: list[str]) -> None:
    with pytest.raises(ValueError, match="nothing is awaited"):
        request_letter(1, PATIENT, awaited, today=TODAY, reply_by=None, unit_name="U", signer_name="S")
    with pytest.raises(ValueError, match="nothing is awaited"):
        request_fields(PATIENT, awaited, today=TODAY, reply_by=None, unit_name="U", signer_name="S")


@pytest.mark.hazard("H10")
def test_request_template_fields() -> None:
    fields = request_fields(
        PATIENT,
        ["the Tsui score", "the date (or month) of onset"],
        today=TODAY,
        reply_by=date(2026, 12, 6),
        unit_name="Unit X",
        signer_name="Pat Coordinator",
    )
    assert fields["referrer_address"] == "RXX\nNeurology Department\n1 Invented Road"
    assert fields["awaited"] == "• The Tsui score\n• The date (or month) of onset"
    assert fields["reply_by"] == "Please reply by 06-Dec-2026."
    assert fields["nhs_number"] == "999 000 1234" and fields["date_of_birth"] == "06-May-1979"
    assert fields["signatory_role"] == "MDT coordinator" and fields["marking"] == LETTER_MARKING


def test_request_file_names_carry_the_patient_and_date_only() -> None:
    assert request_file_name(PATIENT, TODAY, "docx") == "information-request-QUINNELL-Marguerite-22-Nov-2026.docx"
    odd = replace(PATIENT, family_name="O'Brien", given_name=None)
    assert request_file_name(odd, TODAY, "pdf") == "information-request-O-BRIEN-22-Nov-2026.pdf"
    barrelled = replace(PATIENT, family_name="Smith-Jones", given_name="Anne Marie")
    assert request_file_name(barrelled, TODAY, "docx") == "information-request-SMITH-JONES-Anne-Marie-22-Nov-2026.docx"
    nameless = replace(PATIENT, family_name=None, given_name=None)
    assert request_file_name(nameless, TODAY, "pdf") == "information-request-PATIENT-22-Nov-2026.pdf"


@pytest.mark.hazard("H14")
def test_an_override_is_shown_with_its_reason_and_who_made_it() -> None:
    overridden = case(
        1,
        triage_outcome="not_eligible",
        decided_outcome="ready_for_mdt",
        decision_kind="overridden",
        decided_by="Dr Zara Invented",
        decided_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        decision_reason="Toxin cycles confirmed by phone",
    )
    text = decision_text(overridden)
    assert text.startswith("Overridden by Dr Zara Invented on 20-Nov-2026: ")
    assert text.endswith(". Reason: Toxin cycles confirmed by phone")
    unexplained = replace(overridden, decision_reason=None)
    assert "Reason" not in decision_text(unexplained)


@pytest.mark.hazard("H11")
def test_a_pseudonymised_agenda_withholds_an_overrides_reason() -> None:
    overridden = case(
        1,
        triage_outcome="not_eligible",
        decided_outcome="ready_for_mdt",
        decision_kind="overridden",
        decision_reason="Spoke to Mrs Quinnell's daughter",
    )
    agenda = build_agenda(MEETING, [overridden], quorum_roles=REQUIRED, generated_at=NOW, pseudonymised=True)
    shown = agenda.cases[0]
    assert "Quinnell" not in str(shown)
    assert "Reason: " in str(shown)


def test_once_attendance_is_taken_the_quorum_is_of_those_who_attended() -> None:
    attended = replace(
        MEETING,
        attendance=(
            ("Dr A Chair", "functional_neurosurgeon", True),
            ("Dr B", "movement_disorders_neurologist", False),
        ),
    )
    live = build_agenda(attended, [case(1)], quorum_roles=REQUIRED, generated_at=NOW)
    assert live.quorum == ("Not quorate: no movement disorders neurologist, no physiotherapist (of those who attended)")
    closed = replace(attended, closed_quorum="Not quorate: no physiotherapist")
    stored = build_agenda(closed, [case(1)], quorum_roles=REQUIRED, generated_at=NOW)
    assert stored.quorum == "Not quorate: no physiotherapist (of those who attended)"  # as stored at closing
