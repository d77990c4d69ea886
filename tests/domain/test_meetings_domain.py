"""Meetings in the domain: quorum, pseudonyms, the SPD checklist, agenda contents and letters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import referral
from triage_app.domain.formats import format_date
from triage_app.domain.letters import PLACEHOLDERS, Signatory, TemplateError, fill_letter, letter_fields
from triage_app.domain.meetings import (
    CONFIDENTIAL,
    PSEUDONYMISED,
    CaseAction,
    CaseInput,
    MeetingInfo,
    build_agenda,
    checklist_missing,
    initials,
    nhs_last_four,
    quorum,
    role_label,
)
from triage_app.domain.referral import BotulinumToxin, OralMedication, Referral

REQUIRED = ("functional_neurosurgeon", "movement_disorders_neurologist", "physiotherapist")
MEETING = MeetingInfo(
    meeting_id=1,
    meeting_date=date(2026, 12, 3),
    meeting_time="13:30",
    place="Seminar room 2",
    video_link="https://video.example.invalid/mdt",
    chair="Dr A Chair",
    attendees=(("Dr A Chair", "functional_neurosurgeon"), ("Dr B", "movement_disorders_neurologist"), ("C", None)),
    status="planned",
    circulated_at=None,
)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def case(position: int = 1, source: Referral | None = None, **changes: object) -> CaseInput:
    base = CaseInput(
        position=position,
        referral_id=position,
        referral=source or referral(position),
        triage_outcome="ready_for_mdt",
        priority=53,
        criteria=(("R1", "met", "9 cycles: meets the 3-cycle minimum."), ("ZZ", "met", "ignored")),
        flags=("head_tremor", "custom_flag"),
        late_addition=False,
        decided_outcome="ready_for_mdt",
        decision_kind="confirmed",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_quorum() -> None:
    assert quorum(
        ["functional_neurosurgeon", "movement_disorders_neurologist", "physiotherapist", None], REQUIRED
    ).quorate
    missing = quorum(["functional_neurosurgeon", None], REQUIRED)
    assert not missing.quorate and missing.missing == REQUIRED[1:]
    assert missing.describe() == "Not quorate: no movement disorders neurologist, no physiotherapist"
    assert quorum(list(REQUIRED), REQUIRED).describe() == "Quorate"


def test_pseudonyms_and_labels() -> None:
    assert initials("Quillfeather", "morwenna") == "M.Q." and initials(None, None) == "?.?."
    assert nhs_last_four("9990000301") == "xxx xxx 0301" and nhs_last_four(None) == ""
    assert role_label("physiotherapist") == "Physiotherapist"
    assert role_label("art_therapist") == "Art therapist" and role_label(None) == "Role not given"


def test_checklist() -> None:
    assert len(checklist_missing({})) == 3
    assert (
        checklist_missing(
            {"patient_information_given": True, "consent_discussion_planned": True, "baseline_severity_recorded": True}
        )
        == []
    )


@pytest.mark.hazard("H01", "H06")
def test_agenda_shows_every_section() -> None:
    agenda = build_agenda(MEETING, [case(2), case(1, late_addition=True)], quorum_roles=REQUIRED, generated_at=NOW)
    assert agenda.marking == CONFIDENTIAL and not agenda.quorate
    assert agenda.quorum == "Not quorate: no physiotherapist"
    assert ("Video link", "https://video.example.invalid/mdt") in agenda.meeting
    assert agenda.attendees[2] == "C (Role not given)"
    first = agenda.cases[0]
    assert first.number == 1 and first.late_addition and first.referral_id == 1
    assert first.nhs_number.count(" ") == 2 and "(age 47)" in first.date_of_birth
    assert first.hospital_number == "K0043921"
    assert first.referrer == "Dr Ada Testwell, neurologist, RXX"
    assert first.received == "03-Aug-2026: 15 weeks waiting on 21-Nov-2026, 17 by the meeting"
    labels = dict(first.lines)
    assert labels["Botulinum toxin"] == "9 cycles, ultrasound-guided, response secondary non-response"
    assert labels["Oral medication"] == "clonazepam: ineffective"
    assert labels["History"] == "none of the listed conditions"
    assert first.criteria == ("R1 Botulinum toxin adequately tried: met. 9 cycles: meets the 3-cycle minimum.",)
    assert first.flags[0].startswith("tremor: ") and first.flags[1] == "custom_flag"
    assert first.triage == "Ready for MDT (confirmed), priority 53" and first.outcome == ""


@pytest.mark.hazard("H11")
def test_pseudonymised_agenda_hides_identifiers() -> None:
    agenda = build_agenda(MEETING, [case(1)], quorum_roles=REQUIRED, generated_at=NOW, pseudonymised=True)
    only = agenda.cases[0]
    assert agenda.marking == PSEUDONYMISED
    assert only.name == "M.Q." and only.nhs_number.startswith("xxx xxx ")
    assert only.date_of_birth == "" and only.hospital_number == ""


@pytest.mark.hazard("H06")
def test_unknown_values_read_as_not_recorded() -> None:
    sparse = Referral()
    agenda = build_agenda(
        replace(MEETING, place=None, video_link=None, chair=None, attendees=()),
        [case(1, sparse, triage_outcome=None, priority=None, criteria=(), flags=(), decided_outcome=None)],
        quorum_roles=REQUIRED,
        generated_at=NOW,
    )
    shown = agenda.cases[0]
    lines = dict(shown.lines)
    assert shown.name == "name not recorded" and shown.nhs_number == "not recorded"
    assert shown.referrer == "not recorded" and shown.received == "not recorded"
    assert lines["Phenotype"] == "not recorded; not recorded"
    assert lines["Oral medication"] == "not recorded"
    assert "cycles not recorded" in lines["Botulinum toxin"] and "guidance not recorded" in lines["Botulinum toxin"]
    assert lines["Severity"] == "TWSTRS total ?/85, pain ?/20, Tsui ?/25"
    assert shown.triage == "TRIAGE CHANGED: RECONFIRM: not assessed (awaiting consultant), priority ?"
    assert ("Chair", "not set") in agenda.meeting


def test_treatment_lines_cover_each_answer() -> None:
    detailed = replace(
        referral(3, history__dysphagia=True, history__prior_neck_surgery=True, phenotype__head_tremor=False),
        oral_medications=(OralMedication(None, None),),
        botulinum_toxin=BotulinumToxin(cycles=3, guidance="emg", response="partial"),
    )
    empty = replace(referral(4, phenotype__components=[]), oral_medications=())
    agenda = build_agenda(MEETING, [case(1, detailed), case(2, empty)], quorum_roles=REQUIRED, generated_at=NOW)
    first, second = (dict(c.lines) for c in agenda.cases)
    assert first["History"] == "dysphagia, previous neck surgery"
    assert first["Oral medication"] == "unnamed drug: not recorded"
    assert first["Phenotype"].endswith("no head tremor")
    assert "EMG-guided" in first["Botulinum toxin"]
    assert second["Oral medication"] == "none tried" and second["Phenotype"].startswith("none;")


def test_outcome_summary_carries_decisions() -> None:
    decided = case(
        1,
        outcome="accept_for_spd",
        rationale="Refractory; consent clinic booked",
        actions=(CaseAction("Book consent clinic", "Coordinator", date(2026, 12, 10)), CaseAction("Write", None, None)),
    )
    agenda = build_agenda(MEETING, [decided], quorum_roles=REQUIRED, generated_at=NOW, outcomes=True)
    shown = agenda.cases[0]
    assert agenda.title.startswith("MDT outcome summary")
    assert shown.outcome == "Accept for SPD" and shown.rationale == "Refractory; consent clinic booked"
    assert shown.actions == (
        "Book consent clinic (owner: Coordinator, due 10-Dec-2026)",
        "Write (owner: not set, due not set)",
    )


TEMPLATE = (
    "# comment\nOutcome\n\nDear $referrer_name,\nabout $patient_name\n\n$outcome. $rationale\n\n$actions\n\n"
    "$today $nhs_number $date_of_birth $intended_use $signatory"
)


@pytest.mark.hazard("H10")
def test_letter_fills_placeholders_as_plain_text() -> None:
    hostile = case(
        1,
        referral(1, patient__family_name="{{7*7}}", patient__given_name="$signatory <b>"),
        outcome="decline",
        rationale="${unit_name} stays literal",
        actions=(CaseAction("Review", "GP", None),),
    )
    fields = letter_fields(
        hostile, MEETING, unit_name="Unit X", signatory=Signatory("Dr Z", "Consultant"), today=date(2026, 12, 4)
    )
    assert set(fields) == set(PLACEHOLDERS)
    letter = fill_letter(TEMPLATE, fields, 1)
    assert letter.title == "Outcome"
    assert letter.paragraphs[0] == "Dear Dr Ada Testwell, about {{7*7}}, $signatory <b>"
    assert letter.paragraphs[1] == "Decline. ${unit_name} stays literal"
    assert letter.paragraphs[2] == "Review (GP, by date not set)"
    assert letter.paragraphs[3].endswith("Dr Z, Consultant")


def test_letter_defaults_for_missing_values() -> None:
    fields = letter_fields(
        case(1, Referral()), MEETING, unit_name="U", signatory=Signatory("S", "Consultant"), today=date(2026, 12, 4)
    )
    assert fields["referrer_name"] == "Colleague" and fields["nhs_number"] == "not recorded"
    assert fields["outcome"] == "not recorded" and fields["actions"] == "none"


@pytest.mark.parametrize(
    ("template", "message"),
    [("# only a comment\n", "empty"), ("Title\n\n$patient_name $shoe_size ${colour}", "colour, shoe_size")],
)
def test_bad_templates_are_named(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        fill_letter(template, {}, 1)


@pytest.mark.hazard("H10")
def test_who_signs_and_which_cases_get_letters() -> None:
    from triage_app.domain.letters import needs_letter, signatory_role, too_early

    assert signatory_role("functional_neurosurgeon") == "Functional neurosurgeon"
    assert signatory_role(None) == "Consultant"
    assert needs_letter(case(1, outcome="decline")) and not needs_letter(case(1, outcome="not_discussed"))
    assert not needs_letter(case(1))
    assert too_early(MEETING, MEETING.meeting_date) is None
    early = too_early(MEETING, MEETING.meeting_date - timedelta(days=1))
    assert early is not None and early.startswith(f"the meeting is on {format_date(MEETING.meeting_date)}")


@pytest.mark.hazard("H10")
def test_a_template_without_the_patient_identifiers_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"\$nhs_number"):
        fill_letter("Outcome\n\n$today $patient_name $date_of_birth $intended_use $signatory", {}, 1)


def test_case_lines_use_words_and_dates_people_read() -> None:
    source = referral(1, phenotype__components=["sagittal_shift", "torticollis"], diagnosis__onset="2015-04")
    agenda = build_agenda(MEETING, [case(1, source)], quorum_roles=REQUIRED, generated_at=NOW)
    lines = dict(agenda.cases[0].lines)
    assert lines["Phenotype"].startswith("sagittal shift, torticollis") and "onset Apr-2015" in lines["Diagnosis"]
    dated = referral(1, diagnosis__onset="2015-04-03")
    assert (
        "onset 03-Apr-2015"
        in dict(build_agenda(MEETING, [case(1, dated)], quorum_roles=REQUIRED, generated_at=NOW).cases[0].lines)[
            "Diagnosis"
        ]
    )
