"""Each criterion's met, not_met and unknown, at every boundary of the spec's tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from tests.factories import AS_OF, referral
from triage_app.domain.referral import (
    BotulinumToxin,
    Diagnosis,
    History,
    Onset,
    OralMedication,
    Patient,
    Phenotype,
    Physiotherapy,
    Referral,
    Referrer,
    Severity,
)
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import (
    criterion_r1,
    criterion_r2,
    criterion_r3,
    criterion_r4,
    criterion_s1,
    criterion_s2,
    criterion_s3,
    criterion_s4,
    criterion_s5,
    whole_months,
)

BASE = referral(1)


def with_toxin(**values: Any) -> Referral:
    fields = {"cycles": None, "guidance": None, "response": None, "immunoresistance_tested": None} | values
    return replace(BASE, botulinum_toxin=BotulinumToxin(**fields))


# R1 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toxin", "status", "missing"),
    [
        ({"cycles": 0}, "not_met", ()),
        ({"cycles": 0, "response": "not_tolerated"}, "not_met", ()),
        ({"response": "good"}, "not_met", ()),
        ({"response": "good", "cycles": 5}, "not_met", ()),
        ({}, "unknown", ("botulinum_toxin.response", "botulinum_toxin.cycles")),
        ({"cycles": 4}, "unknown", ("botulinum_toxin.response",)),
        ({"response": "not_tolerated"}, "unknown", ("botulinum_toxin.cycles",)),
        ({"response": "not_tolerated", "cycles": 1}, "met", ()),
        ({"response": "primary_non_response", "cycles": 1}, "not_met", ()),
        ({"response": "primary_non_response", "cycles": 2}, "met", ()),
        ({"response": "primary_non_response"}, "unknown", ("botulinum_toxin.cycles",)),
        ({"response": "secondary_non_response", "cycles": 2}, "not_met", ()),
        ({"response": "secondary_non_response", "cycles": 3}, "met", ()),
        ({"response": "secondary_non_response", "cycles": 3, "guidance": "emg"}, "met", ()),
        ({"response": "secondary_non_response", "cycles": 3, "guidance": "none"}, "met", ()),
        ({"response": "secondary_non_response"}, "unknown", ("botulinum_toxin.cycles",)),
        ({"response": "partial", "cycles": 3, "guidance": "emg"}, "met", ()),
        ({"response": "partial", "cycles": 3, "guidance": "ultrasound"}, "met", ()),
        ({"response": "partial", "cycles": 2, "guidance": "emg"}, "not_met", ()),
        ({"response": "partial", "cycles": 2}, "not_met", ()),
        ({"response": "partial", "cycles": 3, "guidance": "none"}, "not_met", ()),
        ({"response": "partial", "guidance": "none"}, "not_met", ()),
        ({"response": "partial", "cycles": 3}, "unknown", ("botulinum_toxin.guidance",)),
        ({"response": "partial", "guidance": "emg"}, "unknown", ("botulinum_toxin.cycles",)),
        ({"response": "partial"}, "unknown", ("botulinum_toxin.cycles", "botulinum_toxin.guidance")),
    ],
)
@pytest.mark.hazard("H05")
def test_r1(toxin: dict[str, Any], status: str, missing: tuple[str, ...], rules: Rules) -> None:
    result = criterion_r1(with_toxin(**toxin), rules)
    assert (result.status, result.missing) == (status, missing)
    assert result.reason.endswith(".")


def test_r1_reason_quotes_the_values(rules: Rules) -> None:
    result = criterion_r1(with_toxin(cycles=6, guidance="emg", response="secondary_non_response"), rules)
    assert result.reason == "6 cycles, EMG-guided, secondary non-response: meets the 3-cycle minimum."
    one = criterion_r1(with_toxin(cycles=1, response="not_tolerated"), rules)
    assert one.reason.startswith("1 cycle, ")


@pytest.mark.hazard("H05")
def test_r1_thresholds_come_from_the_rules(rules: Rules) -> None:
    strict = replace(rules, bont_min_cycles=5, bont_min_cycles_primary=4)
    assert criterion_r1(with_toxin(cycles=4, response="secondary_non_response"), strict).status == "not_met"
    assert criterion_r1(with_toxin(cycles=5, response="secondary_non_response"), strict).status == "met"
    assert criterion_r1(with_toxin(cycles=3, response="primary_non_response"), strict).status == "not_met"


# R2 ----------------------------------------------------------------------------------------------------


def with_drugs(*outcomes: str | None) -> Referral:
    return replace(BASE, oral_medications=tuple(OralMedication(f"drug{i}", o) for i, o in enumerate(outcomes)))


@pytest.mark.parametrize(
    ("outcomes", "minimum", "status", "missing"),
    [
        (("ineffective",), 1, "met", ()),
        (("not_tolerated",), 1, "met", ()),
        (("contraindicated",), 1, "met", ()),
        (("ineffective", "effective"), 1, "not_met", ()),
        (("effective", None), 1, "not_met", ()),
        (("partial",), 1, "not_met", ()),
        (("ineffective",), 2, "not_met", ()),
        (("ineffective", "partial"), 2, "not_met", ()),
        (("ineffective", None), 2, "unknown", ("oral_medications[1].outcome",)),
        ((None,), 1, "unknown", ("oral_medications[0].outcome",)),
        ((None, "partial", None), 2, "unknown", ("oral_medications[0].outcome", "oral_medications[2].outcome")),
        ((None,), 2, "not_met", ()),
        (("ineffective", "not_tolerated"), 2, "met", ()),
    ],
)
@pytest.mark.hazard("H05")
def test_r2(
    outcomes: tuple[str | None, ...], minimum: int, status: str, missing: tuple[str, ...], rules: Rules
) -> None:
    result = criterion_r2(with_drugs(*outcomes), replace(rules, oral_min_drugs=minimum))
    assert (result.status, result.missing) == (status, missing)


def test_r2_empty_list_is_not_met_and_missing_list_unknown(rules: Rules) -> None:
    assert criterion_r2(replace(BASE, oral_medications=()), rules).status == "not_met"
    missing = criterion_r2(replace(BASE, oral_medications=None), rules)
    assert (missing.status, missing.missing) == ("unknown", ("oral_medications",))


def test_r2_always_met_when_no_drug_is_required(rules: Rules) -> None:
    relaxed = replace(rules, oral_min_drugs=0)
    for medications in (None, (), (OralMedication("x", "effective"),)):
        assert criterion_r2(replace(BASE, oral_medications=medications), relaxed).status == "met"


def test_r2_names_drugs_without_a_name_by_position(rules: Rules) -> None:
    unnamed = replace(BASE, oral_medications=(OralMedication(None, "effective"),))
    assert "drug 1" in criterion_r2(unnamed, rules).reason
    failed = replace(BASE, oral_medications=(OralMedication(None, "ineffective"),))
    assert "drug 1" in criterion_r2(failed, rules).reason


# R3 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completed", "outcome", "status", "missing"),
    [
        (True, "partial", "met", ()),
        (True, "no_benefit", "met", ()),
        (True, "good", "not_met", ()),
        (False, None, "not_met", ()),
        (False, "partial", "not_met", ()),
        (None, "good", "not_met", ()),
        (True, None, "unknown", ("physiotherapy.outcome",)),
        (None, "partial", "unknown", ("physiotherapy.completed",)),
        (None, None, "unknown", ("physiotherapy.completed", "physiotherapy.outcome")),
    ],
)
@pytest.mark.hazard("H05")
def test_r3(completed: bool | None, outcome: str | None, status: str, missing: tuple[str, ...], rules: Rules) -> None:
    result = criterion_r3(replace(BASE, physiotherapy=Physiotherapy(completed, outcome)), rules)
    assert (result.status, result.missing) == (status, missing)


def test_r3_always_met_when_physiotherapy_is_not_required(rules: Rules) -> None:
    relaxed = replace(rules, require_physiotherapy=False)
    assert criterion_r3(replace(BASE, physiotherapy=Physiotherapy(False, None)), relaxed).status == "met"


# R4 ----------------------------------------------------------------------------------------------------


def with_onset(onset: Onset | None, received: date | None) -> Referral:
    return replace(BASE, received_on=received, diagnosis=replace(BASE.diagnosis, onset=onset))


@pytest.mark.parametrize(
    ("onset", "received", "months"),
    [
        (date(2024, 1, 15), date(2026, 1, 15), 24),
        (date(2024, 1, 15), date(2026, 1, 14), 23),
        (date(2024, 1, 31), date(2026, 2, 28), 24),
        (date(2024, 1, 1), date(2025, 12, 31), 23),
    ],
)
@pytest.mark.hazard("H13")
def test_whole_months(onset: date, received: date, months: int) -> None:
    assert whole_months(onset, received) == months


@pytest.mark.parametrize(
    ("onset", "received", "status"),
    [
        (Onset(date(2024, 1, 15), False), date(2026, 1, 15), "met"),
        (Onset(date(2024, 1, 15), False), date(2026, 1, 14), "not_met"),
        (Onset(date(2024, 1, 1), True), date(2026, 1, 1), "met"),
        (Onset(date(2024, 2, 1), True), date(2026, 1, 31), "not_met"),
    ],
)
@pytest.mark.hazard("H05")
def test_r4(onset: Onset, received: date, status: str, rules: Rules) -> None:
    assert criterion_r4(with_onset(onset, received), rules).status == status


def test_r4_unknown_without_onset_or_received(rules: Rules) -> None:
    assert criterion_r4(with_onset(None, AS_OF), rules).missing == ("diagnosis.onset",)
    assert criterion_r4(with_onset(Onset(date(2020, 1, 1), True), None), rules).missing == ("received_on",)
    both = criterion_r4(with_onset(None, None), rules)
    assert (both.status, both.missing) == ("unknown", ("diagnosis.onset", "received_on"))
    assert "onset and date received" in both.reason


# S1-S4 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "status"), [("cervical_dystonia", "met"), ("other", "not_met"), (None, "unknown")]
)
@pytest.mark.hazard("H05")
def test_s1(condition: str | None, status: str) -> None:
    assert criterion_s1(replace(BASE, diagnosis=Diagnosis(condition=condition))).status == status


@pytest.mark.parametrize(
    ("unit", "status"), [("RXX01", "met"), ("rxx01", "met"), ("RQQ07", "not_met"), (None, "unknown")]
)
@pytest.mark.hazard("H05")
def test_s2(unit: str | None, status: str, rules: Rules) -> None:
    result = criterion_s2(replace(BASE, receiving_unit_ods=unit), rules)
    assert result.status == status
    if unit is None:
        assert result.missing == ("receiving_unit_ods",)


@pytest.mark.parametrize(
    ("confirmed", "role", "status", "missing"),
    [
        (True, "gp", "met", ()),
        (True, None, "met", ()),
        (None, "neurologist", "met", ()),
        (False, "movement_disorders_neurologist", "met", ()),
        (False, "neurosurgeon", "met", ()),
        (False, "gp", "not_met", ()),
        (False, "other", "not_met", ()),
        (None, "gp", "unknown", ("diagnosis.specialist_confirmed",)),
        (False, None, "unknown", ("referrer.role",)),
        (None, None, "unknown", ("diagnosis.specialist_confirmed", "referrer.role")),
    ],
)
@pytest.mark.hazard("H05")
def test_s3(confirmed: bool | None, role: str | None, status: str, missing: tuple[str, ...]) -> None:
    changed = replace(
        BASE,
        diagnosis=replace(BASE.diagnosis, specialist_confirmed=confirmed),
        referrer=Referrer(name="Dr X", role=role),
    )
    result = criterion_s3(changed)
    assert (result.status, result.missing) == (status, missing)


def test_s3_names_a_gp() -> None:
    gp = replace(BASE, diagnosis=replace(BASE.diagnosis, specialist_confirmed=False), referrer=Referrer(role="gp"))
    assert "a GP" in criterion_s3(gp).reason


@pytest.mark.hazard("H05")
def test_s4() -> None:
    assert criterion_s4(replace(BASE, severity=Severity(twstrs_total=0))).status == "met"
    missing = criterion_s4(replace(BASE, severity=Severity()))
    assert (missing.status, missing.missing) == ("unknown", ("severity.twstrs_total",))


# S5 ----------------------------------------------------------------------------------------------------

# Each safety fact that always applies, and how to leave it out of the (complete) base referral.
ALWAYS_NEEDED = [
    ("patient.date_of_birth", lambda r: replace(r, patient=replace(r.patient, date_of_birth=None))),
    ("received_on", lambda r: replace(r, received_on=None)),
    (
        "history.congenital_head_or_spine_abnormality",
        lambda r: replace(r, history=replace(r.history, congenital_head_or_spine_abnormality=None)),
    ),
    ("history.dysphagia", lambda r: replace(r, history=replace(r.history, dysphagia=None))),
    ("history.prior_neck_surgery", lambda r: replace(r, history=replace(r.history, prior_neck_surgery=None))),
    ("history.cervical_spine_disease", lambda r: replace(r, history=replace(r.history, cervical_spine_disease=None))),
    ("phenotype.components", lambda r: replace(r, phenotype=replace(r.phenotype, components=None))),
    ("phenotype.head_tremor", lambda r: replace(r, phenotype=replace(r.phenotype, head_tremor=None))),
    ("diagnosis.aetiology", lambda r: replace(r, diagnosis=replace(r.diagnosis, aetiology=None))),
    ("diagnosis.distribution", lambda r: replace(r, diagnosis=replace(r.diagnosis, distribution=None))),
]


def test_s5_met_when_every_safety_fact_is_recorded(rules: Rules) -> None:
    result = criterion_s5(BASE, rules)  # secondary non-response: guidance and immunoresistance test apply
    assert (result.status, result.missing) == ("met", ())
    assert result.reason == (
        "Safety screen complete: age, history, Col-Cap components, head tremor, aetiology, distribution, "
        "injection guidance and immunoresistance testing recorded."
    )
    assert (result.title, result.nice) == ("Safety screen complete", "NICE HTG51 2.1.1, 2.4.2")


@pytest.mark.parametrize(("path", "leave_out"), ALWAYS_NEEDED, ids=[path for path, _ in ALWAYS_NEEDED])
@pytest.mark.hazard("H06")
def test_s5_each_fact_missing_alone(path: str, leave_out: Any, rules: Rules) -> None:
    result = criterion_s5(leave_out(BASE), rules)
    assert (result.status, result.missing) == ("unknown", (path,))
    assert result.reason.startswith("Safety screen incomplete: ")
    assert result.reason.endswith("not recorded, so the cautions that depend on it cannot be assessed.")


def test_s5_reason_names_what_is_missing_in_words(rules: Rules) -> None:
    gaps = replace(
        BASE,
        history=replace(BASE.history, dysphagia=None),
        phenotype=replace(BASE.phenotype, components=()),
    )
    result = criterion_s5(gaps, rules)
    assert result.missing == ("history.dysphagia", "phenotype.components")
    assert result.reason == (
        "Safety screen incomplete: dysphagia and Col-Cap components not recorded, "
        "so the cautions that depend on them cannot be assessed."
    )


@pytest.mark.parametrize("components", [None, ()])
@pytest.mark.hazard("H06")
def test_s5_components_missing_or_empty_both_count_as_missing(components: tuple[str, ...] | None, rules: Rules) -> None:
    result = criterion_s5(replace(BASE, phenotype=Phenotype(components=components, head_tremor=False)), rules)
    assert (result.status, result.missing) == ("unknown", ("phenotype.components",))


def test_s5_nothing_recorded_lists_every_fact_that_always_applies(rules: Rules) -> None:
    result = criterion_s5(Referral(), rules)
    assert result.status == "unknown"
    assert result.missing == tuple(sorted(path for path, _ in ALWAYS_NEEDED))
    assert "date of birth, date received, congenital head or spine abnormality, dysphagia" in result.reason


@pytest.mark.parametrize(
    ("toxin", "missing"),
    [
        # guidance is a safety fact only when a response other than good is recorded
        ({"response": "partial"}, ("botulinum_toxin.guidance",)),
        ({"response": "primary_non_response"}, ("botulinum_toxin.guidance",)),
        ({"response": "not_tolerated"}, ("botulinum_toxin.guidance",)),
        ({"response": "good"}, ()),
        ({}, ()),
        ({"cycles": 0}, ()),
        ({"response": "partial", "guidance": "none"}, ()),
        # the immunoresistance test is a safety fact only after secondary non-response
        (
            {"response": "secondary_non_response"},
            ("botulinum_toxin.guidance", "botulinum_toxin.immunoresistance_tested"),
        ),
        ({"response": "secondary_non_response", "guidance": "emg"}, ("botulinum_toxin.immunoresistance_tested",)),
        ({"response": "secondary_non_response", "guidance": "emg", "immunoresistance_tested": False}, ()),
        ({"response": "primary_non_response", "guidance": "emg"}, ()),
        ({"response": "partial", "guidance": "ultrasound"}, ()),
    ],
)
@pytest.mark.hazard("H06")
def test_s5_conditional_toxin_facts(toxin: dict[str, Any], missing: tuple[str, ...], rules: Rules) -> None:
    result = criterion_s5(with_toxin(**toxin), rules)
    assert (result.status, result.missing) == ("unknown" if missing else "met", missing)


def test_s5_met_reason_lists_only_the_facts_that_apply(rules: Rules) -> None:
    good = criterion_s5(with_toxin(response="good"), rules)
    assert (
        good.reason
        == "Safety screen complete: age, history, Col-Cap components, head tremor, aetiology and distribution recorded."
    )
    partial = criterion_s5(with_toxin(response="partial", guidance="emg"), rules)
    assert partial.reason.endswith("distribution and injection guidance recorded.")


def test_s5_always_met_when_the_rules_do_not_require_a_safety_screen(rules: Rules) -> None:
    relaxed = replace(rules, require_safety_screen=False)
    for sparse in (Referral(), replace(BASE, history=History(), phenotype=Phenotype(components=()))):
        result = criterion_s5(sparse, relaxed)
        assert (result.status, result.missing) == ("met", ())
        assert "require_safety_screen is false" in result.reason


@pytest.mark.hazard("H06")
def test_s5_is_never_not_met(rules: Rules) -> None:
    # True cautions are flags, not failures: S5 only asks that the facts be recorded.
    cautions = replace(
        BASE,
        patient=Patient(date_of_birth=date(2015, 1, 1)),
        history=History(True, True, True, True),
        phenotype=Phenotype(("anterocollis", "anterocaput", "retrocollis", "laterocollis"), True),
        diagnosis=replace(BASE.diagnosis, aetiology="tardive", distribution="generalised"),
        botulinum_toxin=BotulinumToxin(4, "none", "secondary_non_response", False),
    )
    assert criterion_s5(cautions, rules).status == "met"
