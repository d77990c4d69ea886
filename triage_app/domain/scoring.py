"""The triage outcome, the caution flags and the priority of one referral: `assess`.

Implements ../shared/spec/triage-rules.md (version spd-2026.2) exactly. Pure functions of a validated
`Referral`, the `Rules` and the assessment date; every result explains itself in words. The criteria R1-R4 and
S1-S5 are in domain.criteria, the 18-week clock in domain.rtt; their names are re-exported here, so callers
import the whole of scoring from this one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from triage_app.domain.criteria import (
    CRITERIA,
    MET,
    NOT_MET,
    UNKNOWN,
    CriterionResult,
    criterion_r1,
    criterion_r2,
    criterion_r3,
    criterion_r4,
    criterion_s1,
    criterion_s2,
    criterion_s3,
    criterion_s4,
    criterion_s5,
    in_sentence,
    in_words,
    join_words,
    safety_facts,
    whole_months,
)
from triage_app.domain.referral import Referral, field_label
from triage_app.domain.rtt import (
    RTT_BREACHED,
    RTT_FLAG,
    RTT_STANDARD_WEEKS,
    RTT_WARNING,
    RTT_WITHIN,
    RttClock,
    received_by,
    rtt_at_risk,
    rtt_flag,
    weeks_waiting,
)
from triage_app.domain.rules import Rules

__all__ = [
    "CRITERIA",
    "FLAGS",
    "MET",
    "NEEDS_INFORMATION",
    "NEEDS_SPECIALIST",
    "NOT_MET",
    "NOT_YET_REFRACTORY",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "OUT_OF_SCOPE",
    "READY_FOR_MDT",
    "REDIRECT",
    "RTT_BREACHED",
    "RTT_FLAG",
    "RTT_STANDARD_WEEKS",
    "RTT_WARNING",
    "RTT_WITHIN",
    "UNKNOWN",
    "Assessment",
    "CriterionResult",
    "PriorityTerms",
    "RttClock",
    "age_in_years",
    "assess",
    "criterion_r1",
    "criterion_r2",
    "criterion_r3",
    "criterion_r4",
    "criterion_s1",
    "criterion_s2",
    "criterion_s3",
    "criterion_s4",
    "criterion_s5",
    "decide_outcome",
    "in_words",
    "outcome_words",
    "priority_terms",
    "raise_flags",
    "received_by",
    "round_half_up",
    "rtt_at_risk",
    "rtt_flag",
    "safety_facts",
    "summarise",
    "waiting_term",
    "weeks_waiting",
    "whole_months",
]

OUT_OF_SCOPE: Final = "out_of_scope"
REDIRECT: Final = "redirect_to_specialist_unit"
NEEDS_SPECIALIST: Final = "needs_specialist_assessment"
NOT_YET_REFRACTORY: Final = "not_yet_refractory"
NEEDS_INFORMATION: Final = "needs_information"
READY_FOR_MDT: Final = "ready_for_mdt"

OUTCOMES: Final = (OUT_OF_SCOPE, REDIRECT, NEEDS_SPECIALIST, NOT_YET_REFRACTORY, NEEDS_INFORMATION, READY_FOR_MDT)

OUTCOME_LABELS: Final = {
    OUT_OF_SCOPE: "Out of scope",
    REDIRECT: "Redirect to a specialist unit",
    NEEDS_SPECIALIST: "Needs specialist assessment",
    NOT_YET_REFRACTORY: "Not yet refractory",
    NEEDS_INFORMATION: "Needs information",
    READY_FOR_MDT: "Ready for MDT",
}


def outcome_words(outcome: str | None) -> str:
    """An outcome inside a sentence: `ready for MDT`, `not yet refractory` (`not assessed` when None)."""
    label = OUTCOME_LABELS.get(outcome or "", outcome or "not assessed")
    return label[:1].lower() + label[1:]


#: flag -> (short label for the queue, explanation for the triage panel and the agenda)
FLAGS: Final = {
    "anterior_pattern": (
        "anterior",
        "Anterocollis or anterocaput: the deep anterior flexors are out of reach of the posterior approach.",
    ),
    "cervical_spine_disease": ("c-spine", "Cervical spine disease recorded."),
    "complex_pattern": (
        "complex",
        "Many muscle groups involved: SPD is unsuitable where too many muscle groups are involved.",
    ),
    "congenital_abnormality": (
        "congenital",
        "Congenital abnormality of the head or spine (NICE 2.1.1).",
    ),
    "dysphagia": (
        "dysphagia",
        "Pre-existing swallowing difficulty: postoperative dysphagia follows it (Münchau 2001); "
        "consider videofluoroscopy.",
    ),
    "head_tremor": ("tremor", "Head tremor: tremor is not changed by SPD."),
    "immunoresistance_untested": (
        "immuno?",
        "Secondary non-response without an immunoresistance test: consider a frontalis or EDB test.",
    ),
    "injection_not_guided": (
        "unguided",
        "Injections were not EMG- or ultrasound-guided: optimise technique before calling it refractory "
        "(British Neurotoxin Network).",
    ),
    "non_idiopathic": (
        "secondary",
        "Tardive, functional or other secondary dystonia: limited evidence; MDT to review the diagnosis.",
    ),
    "not_focal": ("not focal", "Segmental or generalised dystonia: DBS may suit better."),
    "paediatric": (
        "paediatric",
        # The age comes from the approved rules (a unit may approve another), so the words do not fix it.
        "Under the paediatric age of the approved rules at referral (18 in spd-2026.2): in children, congenital "
        "causes and spontaneous recovery (NICE 2.1.1).",
    ),
    "primary_non_responder": (
        "primary NR",
        "Primary non-response to toxin: SPD is much less promising (Braun 1994); consider DBS.",
    ),
    "prior_neck_surgery": ("neck surgery", "Previous neck surgery recorded."),
    "rtt_breach_risk": (
        "RTT risk",
        "Waiting at or beyond the warning week of the 18-week referral-to-treatment standard.",
    ),
}

_NON_IDIOPATHIC = frozenset({"tardive", "functional", "other_secondary"})
_NOT_FOCAL = frozenset({"segmental", "generalised"})
_ANTERIOR = frozenset({"anterocollis", "anterocaput"})


@dataclass(frozen=True, slots=True)
class PriorityTerms:
    severity: int
    pain: int
    waiting: int

    @property
    def total(self) -> int:
        """The priority, 0-100."""
        return self.severity + self.pain + self.waiting


@dataclass(frozen=True, slots=True)
class Assessment:
    """The result of scoring one referral on one date with one rules version."""

    outcome: str
    priority: int
    priority_terms: PriorityTerms
    criteria: tuple[CriterionResult, ...]
    flags: tuple[str, ...]
    missing: tuple[str, ...]
    summary: str
    rules_version: str
    as_of: date
    weeks_waiting: int | None

    def to_json(self) -> dict[str, Any]:
        """As the `score` command prints it (the spec's keys, plus `as_of`)."""
        terms = self.priority_terms
        return {
            "outcome": self.outcome,
            "priority": self.priority,
            "rules_version": self.rules_version,
            "as_of": self.as_of.isoformat(),
            "summary": self.summary,
            "criteria": [c.to_json() for c in self.criteria],
            "flags": list(self.flags),
            "missing": list(self.missing),
            "priority_terms": {"severity": terms.severity, "pain": terms.pain, "waiting": terms.waiting},
        }


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest whole number, halves up, in exact integer arithmetic."""
    return (2 * numerator + denominator) // (2 * denominator)


def age_in_years(born: date, on: date) -> int:
    """Whole years; a 29 February birthday falls on 1 March in other years."""
    years = on.year - born.year
    birthday = (born.month, born.day)
    if birthday == (2, 29) and not _is_leap(on.year):
        birthday = (3, 1)
    if (on.month, on.day) < birthday:
        years -= 1
    return years


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# --- Outcome, flags and priority ---------------------------------------------------------------------------


def decide_outcome(criteria: dict[str, CriterionResult]) -> str:
    """The first row of the spec's outcome table that applies."""
    if criteria["S1"].status == NOT_MET:
        return OUT_OF_SCOPE
    if criteria["S2"].status == NOT_MET:
        return REDIRECT
    if criteria["S3"].status == NOT_MET:
        return NEEDS_SPECIALIST
    if any(criteria[c].status == NOT_MET for c in ("R1", "R2", "R3", "R4")):
        return NOT_YET_REFRACTORY
    if any(c.status == UNKNOWN for c in criteria.values()):
        return NEEDS_INFORMATION
    return READY_FOR_MDT


def raise_flags(referral: Referral, rules: Rules, weeks_waiting: int | None) -> tuple[str, ...]:
    """Caution flags, sorted by name. A flag whose data is missing is not raised."""
    flags = []
    patient, history = referral.patient, referral.history
    diagnosis, toxin = referral.diagnosis, referral.botulinum_toxin
    components = referral.phenotype.components or ()
    if not _ANTERIOR.isdisjoint(components):
        flags.append("anterior_pattern")
    if history.cervical_spine_disease:
        flags.append("cervical_spine_disease")
    if len(set(components)) >= rules.complex_pattern_min_components:
        flags.append("complex_pattern")
    if history.congenital_head_or_spine_abnormality:
        flags.append("congenital_abnormality")
    if history.dysphagia:
        flags.append("dysphagia")
    if referral.phenotype.head_tremor:
        flags.append("head_tremor")
    if toxin.response == "secondary_non_response" and toxin.immunoresistance_tested is False:
        flags.append("immunoresistance_untested")
    if toxin.guidance == "none" and toxin.response is not None and toxin.response != "good":
        flags.append("injection_not_guided")
    if diagnosis.aetiology in _NON_IDIOPATHIC:
        flags.append("non_idiopathic")
    if diagnosis.distribution in _NOT_FOCAL:
        flags.append("not_focal")
    if (
        patient.date_of_birth is not None
        and referral.received_on is not None
        and age_in_years(patient.date_of_birth, referral.received_on) < rules.paediatric_age
    ):
        flags.append("paediatric")
    if toxin.response == "primary_non_response":
        flags.append("primary_non_responder")
    if history.prior_neck_surgery:
        flags.append("prior_neck_surgery")
    if rtt_at_risk(weeks_waiting, rules.rtt_warning_weeks):
        flags.append(RTT_FLAG)
    return tuple(flags)  # appended in name order


def priority_terms(referral: Referral, rules: Rules, weeks_waiting: int | None) -> PriorityTerms:
    """Each term rounded half up; a missing term counts 0; the waiting term is capped at its weight."""
    total, pain = referral.severity.twstrs_total, referral.severity.twstrs_pain
    severity_term = 0 if total is None else round_half_up(rules.severity_weight * total, 85)
    pain_term = 0 if pain is None else round_half_up(rules.pain_weight * pain, 20)
    return PriorityTerms(severity_term, pain_term, waiting_term(weeks_waiting, rules))


def waiting_term(weeks_waiting: int | None, rules: Rules) -> int:
    """The waiting term: weight x weeks / target, rounded half up, capped at its weight; 0 when unknown."""
    if weeks_waiting is None:
        return 0
    return min(rules.waiting_weight, round_half_up(rules.waiting_weight * weeks_waiting, rules.waiting_target_weeks))


_DECIDING_CRITERION: Final = {OUT_OF_SCOPE: "S1", REDIRECT: "S2", NEEDS_SPECIALIST: "S3"}


def summarise(outcome: str, criteria: dict[str, CriterionResult], missing: tuple[str, ...]) -> str:
    """The outcome and its deciding reasons, worded as findings (never as instructions), in one sentence a
    coordinator can paste into a letter."""
    if outcome in _DECIDING_CRITERION:
        deciding = criteria[_DECIDING_CRITERION[outcome]]
        return f"Criterion not met ({in_sentence(deciding.title)}): {_lower_first(deciding.reason)}"
    if outcome == NOT_YET_REFRACTORY:
        failing = [criteria[c] for c in ("R1", "R2", "R3", "R4") if criteria[c].status == NOT_MET]
        reasons = "; ".join(_lower_first(c.reason).removesuffix(".") for c in failing)
        return f"Criteria not met (refractory to best medical treatment): {reasons}."
    if outcome == NEEDS_INFORMATION:
        fields = join_words(in_sentence(field_label(path)) for path in missing)
        return f"Information needed before MDT discussion: {fields} not recorded."
    duration = _lower_first(criteria["R4"].reason).split(":")[0]
    return (
        "All criteria met for MDT discussion: botulinum toxin, oral medication and physiotherapy criteria met, "
        f"{duration}; scope, specialist unit, specialist assessment, baseline severity and safety screen "
        "criteria met."
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def assess(referral: Referral, rules: Rules, as_of: date) -> Assessment:
    """Score one validated referral on `as_of` (the assessment date) with `rules`."""
    results = (
        criterion_r1(referral, rules),
        criterion_r2(referral, rules),
        criterion_r3(referral, rules),
        criterion_r4(referral, rules),
        criterion_s1(referral),
        criterion_s2(referral, rules),
        criterion_s3(referral),
        criterion_s4(referral),
        criterion_s5(referral, rules),
    )
    by_id = {c.id: c for c in results}
    outcome = decide_outcome(by_id)
    missing = tuple(sorted({path for c in results if c.status == UNKNOWN for path in c.missing}))
    weeks = weeks_waiting(referral.received_on, as_of)
    terms = priority_terms(referral, rules, weeks)
    return Assessment(
        outcome=outcome,
        priority=terms.total,
        priority_terms=terms,
        criteria=results,
        flags=raise_flags(referral, rules, weeks),
        missing=missing,
        summary=summarise(outcome, by_id, missing),
        rules_version=rules.version,
        as_of=as_of,
        weeks_waiting=weeks,
    )
