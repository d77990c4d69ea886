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
    Onset,
    OralMedication,
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
def test_r1(toxin: dict[str, Any], status: str, missing: tuple[str, ...], rules: Rules) -> None:
    result = criterion_r1(with_toxin(**toxin), rules)
    assert (result.status, result.missing) == (status, missing)
    assert result.reason.endswith(".")


def test_r1_reason_quotes_the_values(rules: Rules) -> None:
    result = criterion_r1(with_toxin(cycles=6, guidance="emg", response="secondary_non_response"), rules)
    assert result.reason == "6 cycles, EMG-guided, secondary non-response: meets the 3-cycle minimum."
    one = criterion_r1(with_toxin(cycles=1, response="not_tolerated"), rules)
    assert one.reason.startswith("1 cycle, ")


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
def test_s1(condition: str | None, status: str) -> None:
    assert criterion_s1(replace(BASE, diagnosis=Diagnosis(condition=condition))).status == status


@pytest.mark.parametrize(
    ("unit", "status"), [("RXX01", "met"), ("rxx01", "met"), ("RQQ07", "not_met"), (None, "unknown")]
)
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


def test_s4() -> None:
    assert criterion_s4(replace(BASE, severity=Severity(twstrs_total=0))).status == "met"
    missing = criterion_s4(replace(BASE, severity=Severity()))
    assert (missing.status, missing.missing) == ("unknown", ("severity.twstrs_total",))
