"""The 18-week clock read for the day it is shown, the pseudonymised agenda's contents, and the rules line.

The clock: `weeks_waiting` and `rtt_flag` are the one definition the rules engine, the queue, the panel and the
agenda count with; a stored assessment's `rtt_breach_risk` is replaced by the day's. Pseudonymised agendas carry
initials, the last four NHS digits and an age band, and no identifier or free text in any field.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.domain.test_meetings_domain import MEETING, NOW, REQUIRED, TEMPLATE, case
from tests.factories import AS_OF, referral
from triage_app.domain.letters import Signatory, fill_letter, letter_fields
from triage_app.domain.meetings import (
    FREE_TEXT_WITHHELD,
    PSEUDONYMISED,
    WITHHELD,
    CaseAction,
    age_band,
    build_agenda,
    identifier_patterns,
    withhold,
)
from triage_app.domain.referral import Referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import (
    RTT_BREACHED,
    RTT_FLAG,
    RTT_WARNING,
    RTT_WITHIN,
    RttClock,
    assess,
    received_by,
    rtt_flag,
    weeks_waiting,
)

TODAY = date(2026, 11, 2)
CLOCK = RttClock(TODAY, 12)


@pytest.mark.hazard("H07")
@pytest.mark.parametrize(
    ("days", "weeks", "band", "flagged"),
    [
        (0, 0, RTT_WITHIN, False),
        (12 * 7 - 1, 11, RTT_WITHIN, False),  # the day before the warning week
        (12 * 7, 12, RTT_WARNING, True),  # the warning week's first day
        (18 * 7 - 1, 17, RTT_WARNING, True),  # 17 weeks 6 days: not yet a breach
        (18 * 7, 18, RTT_BREACHED, True),  # 18 whole weeks: breached
        (40 * 7 + 3, 40, RTT_BREACHED, True),
    ],
)
def test_the_clock_around_its_thresholds(days: int, weeks: int, band: str, flagged: bool, rules: Rules) -> None:
    received = TODAY - timedelta(days=days)
    assert weeks_waiting(received, TODAY) == CLOCK.weeks(received) == weeks
    assert CLOCK.band(received) == band and CLOCK.at_risk(received) is flagged
    assert rtt_flag(received, TODAY, rules) is flagged  # the shipped rules warn at 12 weeks
    # The SQL cutoffs say the same as the arithmetic: received on or before the cutoff <=> that many weeks.
    assert (received <= CLOCK.warning_cutoff) is flagged
    assert (received <= CLOCK.breach_cutoff) is (band == RTT_BREACHED)


@pytest.mark.hazard("H07")
def test_unknown_received_date_is_no_flag_and_says_so() -> None:
    assert weeks_waiting(None, TODAY) is None and not CLOCK.at_risk(None) and CLOCK.band(None) is None
    assert CLOCK.describe(None) == "date received not recorded"
    assert received_by(TODAY, 2) == date(2026, 10, 19)


def test_the_clock_in_words() -> None:
    assert CLOCK.describe(TODAY - timedelta(weeks=1)) == "1 week waiting"
    assert CLOCK.describe(TODAY - timedelta(weeks=13)) == (
        "13 weeks waiting: at or past the 12-week warning of the 18-week standard"
    )
    assert CLOCK.describe(TODAY - timedelta(weeks=19)) == (
        "19 weeks waiting: past the 18-week referral-to-treatment standard"
    )


@pytest.mark.hazard("H07")
def test_a_stored_assessment_shows_the_days_rtt_flag(rules: Rules) -> None:
    """Scored on the day it arrived (no RTT flag), shown 13 weeks later: the caution stands today."""
    received = date(2026, 8, 3)
    scored = assess(referral(1, received_on=received.isoformat()), rules, received)
    assert RTT_FLAG not in scored.flags and "head_tremor" in scored.flags
    today = RttClock.of(rules, received + timedelta(weeks=13))
    assert today.flags(scored.flags, received) == tuple(sorted((*scored.flags, RTT_FLAG)))
    # A clock read before the warning week drops a flag stored later (the day shown is the day that counts).
    earlier = RttClock.of(rules, received + timedelta(weeks=2))
    assert earlier.flags((*scored.flags, RTT_FLAG), received) == scored.flags
    # The rules engine itself is unchanged: scored on the 13th week, it raises the flag.
    assert RTT_FLAG in assess(referral(1, received_on=received.isoformat()), rules, today.as_of).flags


def test_age_bands() -> None:
    assert [age_band(a) for a in (3, 17, 18, 19, 20, 47, 89, 90, 104)] == [
        "under 18",
        "under 18",
        "18-19",
        "18-19",
        "20-29",
        "40-49",
        "80-89",
        "90 or over",
        "90 or over",
    ]


def test_identifier_patterns_match_every_grouping_and_format() -> None:
    source = referral(1)  # Morwenna Quillfeather, born 12-Nov-1979
    digits = source.patient.nhs_number or ""
    pattern = identifier_patterns(source, ["Rationale text", None, "x"])
    for text in (
        digits,
        f"{digits[:3]} {digits[3:6]} {digits[6:]}",
        f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        "QUILLFEATHER",
        "morwenna",
        "1979-11-12",
        "12-Nov-1979",
        "12/11/1979",
        "K0043921",
        "Dr  Ada\nTestwell",  # any white space between the words
        "RXX",
        "T-001",
        "clonazepam",
        source.clinical_question or "",
        "rationale TEXT",
    ):
        assert withhold(f"before {text} after", pattern) == f"before {WITHHELD} after", text
    assert withhold("RXX01 and 4 weeks", pattern) == "RXX01 and 4 weeks"  # whole words only
    assert identifier_patterns(Referral()) is None and withhold("anything", None) == "anything"


def pseudonymised_case(**changes: object) -> Referral:
    return referral(
        1,
        diagnosis__onset="2015-04-03",
        oral_medications=[{"drug": "Baclofen for Morwenna", "outcome": "ineffective"}, {"drug": None}],
        **changes,
    )


@pytest.mark.hazard("H11")
def test_a_pseudonymised_case_holds_no_identifier_or_free_text(rules: Rules) -> None:
    source = pseudonymised_case(patient__hospital_number="H-77", external_id="REF-Quillfeather-9")
    scored = assess(source, rules, AS_OF)
    listed = case(
        1,
        source,
        criteria=tuple((c.id, c.status, c.reason) for c in scored.criteria),
        flags=scored.flags,
        outcome="decline",
        rationale="Discussed with Morwenna's daughter",
        actions=(CaseAction("Write to Dr Testwell", "Cora Ordinator", date(2026, 12, 10)),),
    )
    generated = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    agenda = build_agenda(
        MEETING,
        [listed],
        quorum_roles=REQUIRED,
        generated_at=generated,
        pseudonymised=True,
        outcomes=True,
        rtt_warning_weeks=rules.rtt_warning_weeks,
    )
    shown = agenda.cases[0]
    assert agenda.marking == PSEUDONYMISED and len(PSEUDONYMISED) <= 110  # it fits a PDF page's top line
    assert shown.name == "M.Q." and shown.nhs_number == f"xxx xxx {(source.patient.nhs_number or '')[-4:]}"
    assert shown.age_band == "40-49" and shown.date_of_birth == "" and shown.hospital_number == ""
    assert shown.referrer == "neurologist (name and organisation withheld)"
    as_of = generated.astimezone().date()
    assert shown.received.startswith("Aug-2026: ") and f"on {as_of:%d-%b-%Y}" in shown.received
    assert shown.clinical_question == FREE_TEXT_WITHHELD and shown.rationale == FREE_TEXT_WITHHELD
    assert shown.actions == (f"1 agreed; details {FREE_TEXT_WITHHELD}",)
    lines = dict(shown.lines)
    assert lines["Oral medication"].startswith("drug 1: ineffective; drug 2: not recorded (drug names withheld")
    assert "onset Apr-2015" in lines["Diagnosis"]
    r2 = next(c for c in shown.criteria if c.startswith("R2"))
    r4 = next(c for c in shown.criteria if c.startswith("R4"))
    assert "(drug 1)" in r2 and "Baclofen" not in r2 and "(Apr-2015)" in r4
    assert ("Video link", "withheld from the pseudonymised copy") in agenda.meeting
    assert "RTT risk" in " ".join(shown.flags)  # the document's day: 15 weeks waiting
    everything = " ".join(
        [
            shown.referrer,
            shown.received,
            shown.clinical_question,
            shown.triage,
            shown.rationale,
            *shown.criteria,
            *shown.flags,
            *shown.actions,
            *(text for _, text in shown.lines),
        ]
    ).casefold()
    for secret in ("quillfeather", "morwenna", "testwell", "baclofen", "h-77", "ref-", "1979", "03-apr", "daughter"):
        assert secret not in everything, secret


@pytest.mark.hazard("H11")
def test_the_last_line_of_defence_withholds_what_slips_through() -> None:
    """A triage text that somehow carried the patient's name (here: an unknown flag named after them)."""
    source = referral(1)
    agenda = build_agenda(
        MEETING, [case(1, source, flags=("Quillfeather",))], quorum_roles=REQUIRED, generated_at=NOW, pseudonymised=True
    )
    assert agenda.cases[0].flags == (WITHHELD,)
    sparse = build_agenda(
        MEETING,
        [case(1, Referral(), criteria=(), flags=(), decided_outcome=None)],
        quorum_roles=REQUIRED,
        generated_at=NOW,
        pseudonymised=True,
    ).cases[0]
    assert sparse.age_band == "not recorded" and sparse.nhs_number == "not recorded"
    assert sparse.referrer == "role not recorded (name and organisation withheld)"
    assert sparse.clinical_question == "not given" and dict(sparse.lines)["Oral medication"] == "not recorded"


@pytest.mark.hazard("H07")
def test_the_agenda_counts_weeks_to_the_day_it_is_made(rules: Rules) -> None:
    received = MEETING.meeting_date - timedelta(weeks=13)
    source = referral(1, received_on=received.isoformat())
    listed = case(1, source, flags=("head_tremor",))  # scored before the warning week: no RTT flag stored
    before = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)  # 11 weeks waiting when the agenda is made
    early = build_agenda(
        MEETING, [listed], quorum_roles=REQUIRED, generated_at=before, rtt_warning_weeks=rules.rtt_warning_weeks
    ).cases[0]
    assert early.received.endswith("11 weeks waiting on 19-Nov-2026, 13 by the meeting")
    assert not any(f.startswith("RTT risk") for f in early.flags)
    after = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # the outcome summary, the day after the meeting
    late = build_agenda(
        MEETING,
        [listed],
        quorum_roles=REQUIRED,
        generated_at=after,
        rtt_warning_weeks=rules.rtt_warning_weeks,
        outcomes=True,
    ).cases[0]
    assert late.received.endswith("13 weeks waiting on 04-Dec-2026")
    assert any(f.startswith("RTT risk") for f in late.flags)
    stored = build_agenda(MEETING, [listed], quorum_roles=REQUIRED, generated_at=after).cases[0]
    assert not any(f.startswith("RTT risk") for f in stored.flags)  # no rules given: the flags as scored


def test_the_rules_line_goes_with_the_agenda() -> None:
    line = "Rules spd-2026.2 (sha256 0123456789ab), approved by Ada Admin on 01-Oct-2026"
    agenda = build_agenda(MEETING, [case(1)], quorum_roles=REQUIRED, generated_at=NOW, rules_line=f"  {line} ")
    assert agenda.rules_line == line
    assert build_agenda(MEETING, [case(1)], quorum_roles=REQUIRED, generated_at=NOW).rules_line == ""


def test_the_rules_line_follows_the_intended_use_in_a_letter() -> None:
    line = "Rules spd-2026.2 approved on 01-Oct-2026"
    decided = case(1, outcome="decline")
    fields = letter_fields(
        decided, MEETING, unit_name="U", signatory=Signatory("Dr Z", "Consultant"), today=date(2026, 12, 4)
    )
    assert fields["rules_line"] == ""
    plain = fill_letter(TEMPLATE, fields, 1)
    with_line = fill_letter(TEMPLATE, {**fields, "rules_line": line}, 1)
    assert line not in " ".join(plain.paragraphs)
    last = with_line.paragraphs[-1]
    assert line in last and last.index("the quorate MDT decides.") < last.index(line)
    placed = fill_letter(TEMPLATE + "\n\nBased on: $rules_line", {**fields, "rules_line": line}, 1)
    assert placed.paragraphs[-1] == f"Based on: {line}" and line not in placed.paragraphs[-2]


def test_an_empty_medication_list_reads_none_tried_in_the_pseudonymised_copy() -> None:
    agenda = build_agenda(
        MEETING,
        [case(1, replace(referral(2), oral_medications=()), flags=(RTT_FLAG,))],
        quorum_roles=REQUIRED,
        generated_at=NOW,
        pseudonymised=True,
        rtt_warning_weeks=12,
    )
    shown = agenda.cases[0]
    assert dict(shown.lines)["Oral medication"] == "none tried"
    assert [f for f in shown.flags if f.startswith("RTT risk")]  # received 03-Aug-2026: 15 weeks on 21-Nov-2026
