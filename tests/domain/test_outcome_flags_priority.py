"""The outcome order, every caution flag, and the priority's rounding and cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from tests.factories import AS_OF, referral
from triage_app.domain.referral import (
    BotulinumToxin,
    Diagnosis,
    History,
    Patient,
    Phenotype,
    Physiotherapy,
    Referral,
    Referrer,
    Severity,
)
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import (
    OUTCOME_LABELS,
    OUTCOMES,
    age_in_years,
    assess,
    priority_terms,
    raise_flags,
    round_half_up,
)

BASE = referral(1)
SUMMARY_OPENINGS = {
    "ready_for_mdt": "All criteria met for MDT discussion: ",
    "out_of_scope": "Criterion not met (in scope: cervical dystonia): ",
    "redirect_to_specialist_unit": "Criterion not met (addressed to a specialist neurosurgical unit offering SPD): ",
    "needs_specialist_assessment": "Criterion not met (specialist assessment): ",
    "not_yet_refractory": "Criteria not met (refractory to best medical treatment): ",
    "needs_information": "Information needed before MDT discussion: ",
}
# Instructions the summary must never give: results are worded as findings (safety.md, "Intended use").
INSTRUCTIONS = ("continue", "should", "refer ", "redirect", "needs specialist", "recommend", "please", "not indicated")


def scenario(*, s1: str = "met", s2: str = "met", s3: str = "met", r: str = "met", unknown: bool = False) -> Referral:
    """A referral whose S1, S2, S3 and R1 take the statuses asked for."""
    condition = {"met": "cervical_dystonia", "not_met": "other", "unknown": None}[s1]
    unit = {"met": "RXX01", "not_met": "RQQ07", "unknown": None}[s2]
    diagnosis = replace(BASE.diagnosis, condition=condition)
    referrer = BASE.referrer
    if s3 == "not_met":
        diagnosis, referrer = replace(diagnosis, specialist_confirmed=False), Referrer(role="gp")
    elif s3 == "unknown":
        diagnosis, referrer = replace(diagnosis, specialist_confirmed=None), Referrer(role=None)
    toxin = {"met": BASE.botulinum_toxin, "not_met": BotulinumToxin(cycles=0), "unknown": BotulinumToxin()}[r]
    changed = replace(BASE, diagnosis=diagnosis, receiving_unit_ods=unit, referrer=referrer, botulinum_toxin=toxin)
    if unknown:
        changed = replace(changed, severity=Severity())
    return changed


@pytest.mark.parametrize(
    ("kwargs", "outcome"),
    [
        ({}, "ready_for_mdt"),
        ({"s1": "not_met", "s2": "not_met", "s3": "not_met", "r": "not_met"}, "out_of_scope"),
        ({"s2": "not_met", "s3": "not_met", "r": "not_met"}, "redirect_to_specialist_unit"),
        ({"s3": "not_met", "r": "not_met"}, "needs_specialist_assessment"),
        ({"r": "not_met"}, "not_yet_refractory"),
        ({"unknown": True}, "needs_information"),
        # a not_met further down outranks an unknown further up
        ({"s1": "unknown", "s2": "not_met"}, "redirect_to_specialist_unit"),
        ({"s1": "unknown", "s2": "unknown", "s3": "not_met"}, "needs_specialist_assessment"),
        ({"s1": "unknown", "s2": "unknown", "s3": "unknown", "r": "not_met"}, "not_yet_refractory"),
        ({"s1": "unknown"}, "needs_information"),
        ({"r": "unknown"}, "needs_information"),
    ],
)
@pytest.mark.hazard("H05")
def test_outcome_order(kwargs: dict[str, object], outcome: str, rules: Rules) -> None:
    result = assess(scenario(**kwargs), rules, AS_OF)  # type: ignore[arg-type]
    assert result.outcome == outcome
    assert result.summary.startswith(SUMMARY_OPENINGS[outcome])


@pytest.mark.hazard("H14")
def test_summaries_read_as_sentences_of_findings(rules: Rules) -> None:
    for kwargs in ({}, {"s1": "not_met"}, {"s2": "not_met"}, {"s3": "not_met"}, {"r": "not_met"}, {"unknown": True}):
        summary = assess(scenario(**kwargs), rules, AS_OF).summary  # type: ignore[arg-type]
        assert summary[0].isupper() and summary.endswith(".")
        assert summary.count(". ") <= 1, "one or two sentences"
        assert not any(word in summary.lower() for word in INSTRUCTIONS), summary
    info = assess(scenario(unknown=True), rules, AS_OF)
    assert "TWSTRS total" in info.summary
    assert set(SUMMARY_OPENINGS) == set(OUTCOMES) == set(OUTCOME_LABELS)


@pytest.mark.hazard("H14")
def test_summary_wording_for_each_outcome(rules: Rules) -> None:
    def summary(changed: Referral) -> str:
        return assess(changed, rules, AS_OF).summary

    assert summary(BASE) == (
        "All criteria met for MDT discussion: botulinum toxin, oral medication and physiotherapy criteria met, "
        "136 months from onset (Apr-2015) to referral; scope, specialist unit, specialist assessment, baseline "
        "severity and safety screen criteria met."
    )
    assert summary(scenario(s1="not_met")) == (
        "Criterion not met (in scope: cervical dystonia): diagnosis recorded is not cervical dystonia, so it is "
        "outside the scope of the SPD criteria."
    )
    assert summary(scenario(s2="not_met")) == (
        "Criterion not met (addressed to a specialist neurosurgical unit offering SPD): receiving unit RQQ07 "
        "is not on the list of specialist neurosurgical units offering SPD."
    )
    assert summary(scenario(s3="not_met")) == (
        "Criterion not met (specialist assessment): referred by a GP and the diagnosis is not confirmed by a "
        "specialist."
    )
    two_short = replace(BASE, botulinum_toxin=BotulinumToxin(cycles=0), physiotherapy=Physiotherapy(False))
    assert summary(two_short) == (
        "Criteria not met (refractory to best medical treatment): 0 cycles of botulinum toxin: toxin has not "
        "been tried; physiotherapy not completed."
    )
    gaps = replace(BASE, severity=Severity(), history=History(False, None, False, False))
    assert (
        summary(gaps)
        == "Information needed before MDT discussion: previous neck surgery and TWSTRS total not recorded."
    )


@pytest.mark.hazard("H06")
def test_needs_information_because_of_the_safety_screen_alone(rules: Rules) -> None:
    gaps = replace(
        BASE, phenotype=Phenotype(components=(), head_tremor=True), history=replace(BASE.history, dysphagia=None)
    )
    result = assess(gaps, rules, AS_OF)
    statuses = {c.id: c.status for c in result.criteria}
    assert result.outcome == "needs_information"
    assert [cid for cid, status in statuses.items() if status != "met"] == ["S5"]
    assert result.missing == ("history.dysphagia", "phenotype.components")
    assert result.summary == "Information needed before MDT discussion: dysphagia and Col-Cap components not recorded."
    # a caution whose data is missing is not raised: S5 reports the data as missing instead
    assert "dysphagia" not in result.flags
    assert assess(gaps, replace(rules, require_safety_screen=False), AS_OF).outcome == "ready_for_mdt"


@pytest.mark.parametrize(
    ("kwargs", "outcome"),
    [
        ({"s1": "not_met"}, "out_of_scope"),
        ({"s2": "not_met"}, "redirect_to_specialist_unit"),
        ({"s3": "not_met"}, "needs_specialist_assessment"),
        ({"r": "not_met"}, "not_yet_refractory"),
    ],
)
def test_s5_lists_its_missing_facts_when_a_not_met_decides(kwargs: dict[str, str], outcome: str, rules: Rules) -> None:
    decided = scenario(**kwargs)  # type: ignore[arg-type]
    result = assess(replace(decided, diagnosis=replace(decided.diagnosis, aetiology=None)), rules, AS_OF)
    assert result.outcome == outcome
    assert {c.id: c.status for c in result.criteria}["S5"] == "unknown"
    assert result.missing == ("diagnosis.aetiology",)


def test_missing_lists_only_fields_behind_unknown_criteria(rules: Rules) -> None:
    sparse = replace(
        BASE,
        botulinum_toxin=BotulinumToxin(cycles=0),  # R1 decided not_met: its missing response is not listed
        physiotherapy=Physiotherapy(),
        severity=Severity(),
    )
    result = assess(sparse, rules, AS_OF)
    assert result.outcome == "not_yet_refractory"
    assert result.missing == ("physiotherapy.completed", "physiotherapy.outcome", "severity.twstrs_total")


def test_missing_lists_a_field_once_when_two_criteria_lack_it(rules: Rules) -> None:
    # R1 (partial response) and S5 both need the injection guidance; R4 and S5 both need the received date
    partial = replace(BASE, botulinum_toxin=BotulinumToxin(4, None, "partial"), received_on=None)
    result = assess(partial, rules, AS_OF)
    statuses = {c.id: c.status for c in result.criteria}
    assert (statuses["R1"], statuses["R4"], statuses["S5"]) == ("unknown", "unknown", "unknown")
    assert result.missing == ("botulinum_toxin.guidance", "received_on")


# Flags ---------------------------------------------------------------------------------------------------

NO_FLAGS = replace(
    BASE,
    received_on=AS_OF,
    phenotype=Phenotype(components=("torticollis",), head_tremor=False),
)


@pytest.mark.parametrize(
    ("changed", "flag"),
    [
        (replace(NO_FLAGS, phenotype=Phenotype(components=("anterocollis",))), "anterior_pattern"),
        (replace(NO_FLAGS, phenotype=Phenotype(components=("anterocaput",))), "anterior_pattern"),
        (replace(NO_FLAGS, history=History(cervical_spine_disease=True)), "cervical_spine_disease"),
        (
            replace(
                NO_FLAGS,
                phenotype=Phenotype(components=("torticollis", "laterocollis", "retrocaput", "lateral_shift")),
            ),
            "complex_pattern",
        ),
        (replace(NO_FLAGS, history=History(congenital_head_or_spine_abnormality=True)), "congenital_abnormality"),
        (replace(NO_FLAGS, history=History(dysphagia=True)), "dysphagia"),
        (replace(NO_FLAGS, phenotype=Phenotype(head_tremor=True)), "head_tremor"),
        (
            replace(
                NO_FLAGS,
                botulinum_toxin=BotulinumToxin(4, "emg", "secondary_non_response", immunoresistance_tested=False),
            ),
            "immunoresistance_untested",
        ),
        (replace(NO_FLAGS, botulinum_toxin=BotulinumToxin(4, "none", "partial")), "injection_not_guided"),
        (replace(NO_FLAGS, diagnosis=Diagnosis(aetiology="tardive")), "non_idiopathic"),
        (replace(NO_FLAGS, diagnosis=Diagnosis(aetiology="functional")), "non_idiopathic"),
        (replace(NO_FLAGS, diagnosis=Diagnosis(aetiology="other_secondary")), "non_idiopathic"),
        (replace(NO_FLAGS, diagnosis=Diagnosis(distribution="segmental")), "not_focal"),
        (replace(NO_FLAGS, diagnosis=Diagnosis(distribution="generalised")), "not_focal"),
        (replace(NO_FLAGS, patient=Patient(date_of_birth=date(2010, 3, 1))), "paediatric"),
        (replace(NO_FLAGS, botulinum_toxin=BotulinumToxin(2, "emg", "primary_non_response")), "primary_non_responder"),
        (replace(NO_FLAGS, history=History(prior_neck_surgery=True)), "prior_neck_surgery"),
        (replace(NO_FLAGS, received_on=AS_OF - timedelta(weeks=12)), "rtt_breach_risk"),
    ],
)
@pytest.mark.hazard("H06", "H07")
def test_each_flag(changed: Referral, flag: str, rules: Rules) -> None:
    assert raise_flags(NO_FLAGS, rules, 0) == ()
    result = assess(changed, rules, AS_OF)
    assert flag in result.flags
    assert list(result.flags) == sorted(result.flags)


@pytest.mark.parametrize(
    "changed",
    [
        replace(NO_FLAGS, phenotype=Phenotype(components=("torticollis", "laterocollis", "retrocaput"))),
        replace(
            NO_FLAGS,
            phenotype=Phenotype(components=("torticollis", "torticollis", "laterocollis", "retrocaput")),
        ),
        replace(NO_FLAGS, botulinum_toxin=BotulinumToxin(4, "none", "good")),
        replace(NO_FLAGS, botulinum_toxin=BotulinumToxin(4, "none", None)),
        replace(NO_FLAGS, botulinum_toxin=BotulinumToxin(4, "emg", "secondary_non_response", None)),
        replace(NO_FLAGS, botulinum_toxin=BotulinumToxin(4, "emg", "partial", False)),
        replace(NO_FLAGS, patient=Patient(date_of_birth=date(2008, 11, 2))),
        replace(NO_FLAGS, patient=Patient(date_of_birth=None)),
        replace(NO_FLAGS, received_on=AS_OF - timedelta(weeks=12) + timedelta(days=1)),
        replace(NO_FLAGS, received_on=None),
        replace(NO_FLAGS, history=History(), phenotype=Phenotype(), diagnosis=Diagnosis()),
    ],
)
@pytest.mark.hazard("H07")
def test_flags_not_raised(changed: Referral, rules: Rules) -> None:
    assert assess(changed, rules, AS_OF).flags == ()


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
        (date(2008, 2, 29), date(2028, 2, 28), 19),
        (date(2008, 6, 15), date(2026, 6, 14), 17),
        (date(2008, 6, 15), date(2026, 6, 15), 18),
        (date(1900, 1, 1), date(2000, 1, 1), 100),
    ],
)
@pytest.mark.hazard("H13")
def test_age_in_whole_years(born: date, on: date, age: int) -> None:
    assert age_in_years(born, on) == age


@pytest.mark.hazard("H06", "H13")
def test_paediatric_boundary_with_leap_day_birthday(rules: Rules) -> None:
    leapling = replace(NO_FLAGS, patient=Patient(date_of_birth=date(2008, 2, 29)))
    assert "paediatric" in raise_flags(replace(leapling, received_on=date(2026, 2, 28)), rules, 0)
    assert "paediatric" not in raise_flags(replace(leapling, received_on=date(2026, 3, 1)), rules, 0)


# Priority ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounded"),
    [(1, 2, 1), (3, 2, 2), (5, 2, 3), (1, 3, 0), (2, 3, 1), (0, 5, 0), (85, 85, 1)],
)
@pytest.mark.hazard("H08")
def test_round_half_up(numerator: int, denominator: int, rounded: int) -> None:
    assert round_half_up(numerator, denominator) == rounded


@pytest.mark.parametrize(
    ("total", "pain", "weeks", "terms"),
    [
        (0, 0, 0, (0, 0, 0)),
        (85, 20, 18, (50, 20, 30)),
        (85, 20, 100, (50, 20, 30)),  # the waiting term is capped at its weight
        (17, 1, 3, (10, 1, 5)),  # 50*17/85 = 10; 20*1/20 = 1; 30*3/18 = 5
        (38, 9, 13, (22, 9, 22)),  # 22.35 -> 22; 9; 21.67 -> 22
        (11, 3, 9, (6, 3, 15)),  # 6.47 -> 6; 3; 15
        (None, None, None, (0, 0, 0)),  # a missing term counts 0
    ],
)
@pytest.mark.hazard("H08")
def test_priority_terms(
    total: int | None, pain: int | None, weeks: int | None, terms: tuple[int, int, int], rules: Rules
) -> None:
    result = priority_terms(replace(BASE, severity=Severity(total, pain)), rules, weeks)
    assert (result.severity, result.pain, result.waiting) == terms
    assert result.total == sum(terms)


@pytest.mark.hazard("H08")
def test_priority_halves_round_up(rules: Rules) -> None:
    # 50 * 17/85 = 10 exactly; find a value with an exact half: 20 * pain/20 never halves, so use weights
    halves = replace(rules, severity_weight=85, pain_weight=10, waiting_weight=5, waiting_target_weeks=2)
    result = priority_terms(replace(BASE, severity=Severity(1, 1)), halves, 1)
    # 85*1/85 = 1; 10*1/20 = 0.5 -> 1; 5*1/2 = 2.5 -> 3
    assert (result.severity, result.pain, result.waiting) == (1, 1, 3)


@pytest.mark.hazard("H07", "H13")
def test_weeks_waiting_are_whole_weeks(rules: Rules) -> None:
    received = date(2026, 8, 3)
    six_days = assess(replace(BASE, received_on=received), rules, received + timedelta(days=6))
    seven_days = assess(replace(BASE, received_on=received), rules, received + timedelta(days=7))
    assert (six_days.weeks_waiting, seven_days.weeks_waiting) == (0, 1)
    assert seven_days.priority_terms.waiting == 2  # 30/18 = 1.67 -> 2


def test_result_json_shape(rules: Rules) -> None:
    result = assess(BASE, rules, AS_OF).to_json()
    assert set(result) == {
        "outcome",
        "priority",
        "rules_version",
        "as_of",
        "summary",
        "criteria",
        "flags",
        "missing",
        "priority_terms",
    }
    assert [c["id"] for c in result["criteria"]] == ["R1", "R2", "R3", "R4", "S1", "S2", "S3", "S4", "S5"]
    assert result["priority"] == sum(result["priority_terms"].values())
    assert {"title", "nice", "reason", "status", "id"} == set(result["criteria"][0])
