"""The triage rules: criteria R1-R4 and S1-S5, the outcome, the caution flags and the priority.

Implements ../shared/spec/triage-rules.md (version spd-2026.2) exactly. Pure functions of a validated
`Referral`, the `Rules` and the assessment date; every result explains itself in words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from triage_app.domain.formats import format_date, format_month
from triage_app.domain.referral import SPECIALIST_REFERRER_ROLES, Onset, Referral, field_label
from triage_app.domain.rules import Rules

MET: Final = "met"
NOT_MET: Final = "not_met"
UNKNOWN: Final = "unknown"

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


#: id -> (short title, NICE recommendation it rests on)
CRITERIA: Final = {
    "R1": ("Botulinum toxin adequately tried", "NICE HTG51 1.3, 2.1.2"),
    "R2": ("Oral anti-spasm medication tried", "NICE HTG51 1.3, 2.1.2"),
    "R3": ("Physiotherapy tried", "NICE HTG51 1.3, 2.1.2"),
    "R4": ("Persistent disease, past the window of spontaneous remission", "NICE HTG51 1.3"),
    "S1": ("In scope: cervical dystonia", "NICE HTG51 1.3"),
    "S2": ("Addressed to a specialist neurosurgical unit offering SPD", "NICE HTG51 1.2"),
    "S3": ("Specialist assessment", "NICE HTG51 1.2"),
    "S4": ("Baseline severity for audit", "NICE HTG51 1.1"),
    "S5": ("Safety screen complete", "NICE HTG51 2.1.1, 2.4.2"),
}

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

_FAILED_ORAL = frozenset({"ineffective", "not_tolerated", "contraindicated"})
_NON_IDIOPATHIC = frozenset({"tardive", "functional", "other_secondary"})
_NOT_FOCAL = frozenset({"segmental", "generalised"})
_ANTERIOR = frozenset({"anterocollis", "anterocaput"})
_GUIDED = frozenset({"emg", "ultrasound"})


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion: `met`, `not_met` or `unknown`, the reason in words and the fields it lacked."""

    id: str
    status: str
    reason: str
    missing: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The criterion's short name."""
        return CRITERIA[self.id][0]

    @property
    def nice(self) -> str:
        """The NICE recommendation the criterion rests on."""
        return CRITERIA[self.id][1]

    def to_json(self) -> dict[str, str]:
        """As the `score` command prints it."""
        return {"id": self.id, "status": self.status, "reason": self.reason, "title": self.title, "nice": self.nice}


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


def whole_months(start: date, end: date) -> int:
    """Calendar months from start to end, less one if end's day of month is before start's."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return months


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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


_WORDS = {
    "primary_non_response": "primary non-response",
    "secondary_non_response": "secondary non-response",
    "movement_disorders_neurologist": "movement disorders neurologist",
    "no_benefit": "no benefit",
}


def in_words(value: str) -> str:
    """An enumerated value as a coordinator writes it (`secondary non-response`, `no benefit`)."""
    return _WORDS.get(value, value.replace("_", " "))


# --- Refractory to best medical treatment -------------------------------------------------------------


def criterion_r1(referral: Referral, rules: Rules) -> CriterionResult:
    """R1: botulinum toxin adequately tried."""
    toxin = referral.botulinum_toxin
    cycles, response, guidance = toxin.cycles, toxin.response, toxin.guidance
    if cycles == 0:
        return CriterionResult("R1", NOT_MET, "0 cycles of botulinum toxin: toxin has not been tried.")
    if response == "good":
        given = f"{_plural(cycles, 'cycle')}, " if cycles is not None else ""
        return CriterionResult("R1", NOT_MET, f"{given}good response to botulinum toxin: not refractory to toxin.")
    if response is None:
        missing = ["botulinum_toxin.response"]
        if cycles is None:
            missing.append("botulinum_toxin.cycles")
            return CriterionResult(
                "R1", UNKNOWN, "Botulinum toxin response and number of cycles not recorded.", tuple(missing)
            )
        return CriterionResult(
            "R1", UNKNOWN, f"{_plural(cycles, 'cycle')} of toxin, response not recorded.", tuple(missing)
        )
    if response == "not_tolerated":
        if cycles is None:
            return CriterionResult(
                "R1", UNKNOWN, "Toxin not tolerated, number of cycles not recorded.", ("botulinum_toxin.cycles",)
            )
        return CriterionResult(
            "R1", MET, f"{_plural(cycles, 'cycle')}, toxin not tolerated: meets the minimum of 1 cycle."
        )
    if response == "partial":
        return _r1_partial(cycles, guidance, rules.bont_min_cycles)
    minimum = rules.bont_min_cycles_primary if response == "primary_non_response" else rules.bont_min_cycles
    label = in_words(response)
    if cycles is None:
        return CriterionResult(
            "R1", UNKNOWN, f"{label.capitalize()}, number of cycles not recorded.", ("botulinum_toxin.cycles",)
        )
    guidance_text = _guidance_text(guidance)
    if cycles >= minimum:
        return CriterionResult(
            "R1", MET, f"{_plural(cycles, 'cycle')}{guidance_text}, {label}: meets the {minimum}-cycle minimum."
        )
    return CriterionResult(
        "R1", NOT_MET, f"{_plural(cycles, 'cycle')}{guidance_text}, {label}: below the {minimum}-cycle minimum."
    )


def _guidance_text(guidance: str | None) -> str:
    if guidance == "emg":
        return ", EMG-guided"
    if guidance == "ultrasound":
        return ", ultrasound-guided"
    if guidance == "none":
        return ", unguided"
    return ""


def _r1_partial(cycles: int | None, guidance: str | None, minimum: int) -> CriterionResult:
    if cycles is not None and cycles < minimum:
        return CriterionResult(
            "R1",
            NOT_MET,
            f"{_plural(cycles, 'cycle')}{_guidance_text(guidance)}, partial response: below the {minimum}-cycle minimum.",
        )
    if guidance == "none":
        counted = f"{_plural(cycles, 'cycle')}, " if cycles is not None else ""
        return CriterionResult(
            "R1",
            NOT_MET,
            f"{counted}unguided injections, partial response: a partial response counts as refractory only "
            "after EMG- or ultrasound-guided injections.",
        )
    missing = []
    if cycles is None:
        missing.append("botulinum_toxin.cycles")
    if guidance is None:
        missing.append("botulinum_toxin.guidance")
    if missing:
        known = f"{_plural(cycles, 'cycle')}, " if cycles is not None else ""
        lacking = " and ".join(
            name for name, absent in (("cycles", cycles is None), ("injection guidance", guidance is None)) if absent
        )
        return CriterionResult("R1", UNKNOWN, f"{known}partial response; {lacking} not recorded.", tuple(missing))
    assert cycles is not None
    return CriterionResult(
        "R1",
        MET,
        f"{_plural(cycles, 'cycle')}{_guidance_text(guidance)}, partial response: meets the {minimum}-cycle minimum.",
    )


def criterion_r2(referral: Referral, rules: Rules) -> CriterionResult:
    """R2: oral anti-spasm medication tried."""
    minimum = rules.oral_min_drugs
    if minimum == 0:
        return CriterionResult("R2", MET, "The rules require no oral medication trial (oral_min_drugs is 0).")
    medications = referral.oral_medications
    if medications is None:
        return CriterionResult("R2", UNKNOWN, "Oral medication history not recorded.", ("oral_medications",))
    if not medications:
        return CriterionResult("R2", NOT_MET, "No oral anti-spasm medication has been tried.")
    effective = [m.drug or f"drug {i + 1}" for i, m in enumerate(medications) if m.outcome == "effective"]
    if effective:
        return CriterionResult(
            "R2", NOT_MET, f"Oral medication effective ({', '.join(effective)}): not refractory to medication."
        )
    failed = [m.drug or f"drug {i + 1}" for i, m in enumerate(medications) if m.outcome in _FAILED_ORAL]
    unknown = [f"oral_medications[{i}].outcome" for i, m in enumerate(medications) if m.outcome is None]
    tried = _plural(len(failed), "drug")
    if len(failed) >= minimum:
        return CriterionResult(
            "R2",
            MET,
            f"{tried} failed, ineffective, not tolerated or contraindicated ({', '.join(failed)}): "
            f"meets the minimum of {minimum}.",
        )
    if len(failed) + len(unknown) >= minimum:
        return CriterionResult(
            "R2",
            UNKNOWN,
            f"{tried} failed of the {minimum} needed; the outcome of {_plural(len(unknown), 'drug')} is not recorded.",
            tuple(unknown),
        )
    return CriterionResult(
        "R2", NOT_MET, f"{tried} failed of the {minimum} needed: oral medication not adequately tried."
    )


def criterion_r3(referral: Referral, rules: Rules) -> CriterionResult:
    """R3: physiotherapy tried."""
    if not rules.require_physiotherapy:
        return CriterionResult("R3", MET, "The rules do not require physiotherapy (require_physiotherapy is false).")
    physio = referral.physiotherapy
    if physio.completed is False:
        return CriterionResult("R3", NOT_MET, "Physiotherapy not completed.")
    if physio.outcome == "good":
        return CriterionResult("R3", NOT_MET, "Good response to physiotherapy: not refractory to it.")
    if physio.completed and physio.outcome is not None:
        return CriterionResult(
            "R3", MET, f"Physiotherapy completed, outcome {in_words(physio.outcome)}: meets the criterion."
        )
    missing = []
    if physio.completed is None:
        missing.append("physiotherapy.completed")
    if physio.outcome is None:
        missing.append("physiotherapy.outcome")
    if len(missing) == 2:
        reason = "Physiotherapy not recorded: whether it was completed and its outcome are unknown."
    elif physio.completed is None:
        reason = (
            f"Physiotherapy outcome {in_words(physio.outcome or '')}, but whether it was completed is not recorded."
        )
    else:
        reason = "Physiotherapy completed, outcome not recorded."
    return CriterionResult("R3", UNKNOWN, reason, tuple(missing))


def _onset_words(onset: Onset) -> str:
    """`Apr-2015`, or `03-Apr-2015` when the day was given: a date as people read it, in the reason."""
    return format_month(onset.first_day) if onset.month_only else format_date(onset.first_day)


def criterion_r4(referral: Referral, rules: Rules) -> CriterionResult:
    """R4: persistent disease, past the window of spontaneous remission."""
    onset, received = referral.diagnosis.onset, referral.received_on
    if onset is None or received is None:
        missing = tuple(
            path for path, absent in (("diagnosis.onset", onset is None), ("received_on", received is None)) if absent
        )
        lacking = " and ".join("onset" if p == "diagnosis.onset" else "date received" for p in missing)
        return CriterionResult("R4", UNKNOWN, f"Duration cannot be worked out: {lacking} not recorded.", missing)
    months = whole_months(onset.first_day, received)
    minimum = rules.min_duration_months
    span = f"{_plural(months, 'month')} from onset ({_onset_words(onset)}) to referral"
    if months >= minimum:
        return CriterionResult("R4", MET, f"{span}: meets the {minimum}-month minimum.")
    return CriterionResult(
        "R4", NOT_MET, f"{span}: below the {minimum}-month minimum (spontaneous remission is still possible)."
    )


# --- Specialist unit and governance ---------------------------------------------------------------------


def criterion_s1(referral: Referral) -> CriterionResult:
    """S1: in scope, cervical dystonia."""
    condition = referral.diagnosis.condition
    if condition == "cervical_dystonia":
        return CriterionResult("S1", MET, "Diagnosis is cervical dystonia.")
    if condition == "other":
        return CriterionResult(
            "S1",
            NOT_MET,
            "Diagnosis recorded is not cervical dystonia, so it is outside the scope of the SPD criteria.",
        )
    return CriterionResult("S1", UNKNOWN, "Diagnosis not recorded.", ("diagnosis.condition",))


def criterion_s2(referral: Referral, rules: Rules) -> CriterionResult:
    """S2: addressed to a specialist neurosurgical unit offering SPD."""
    unit = referral.receiving_unit_ods
    if unit is None:
        return CriterionResult("S2", UNKNOWN, "Receiving unit not recorded.", ("receiving_unit_ods",))
    if unit.upper() in rules.specialist_units:
        return CriterionResult("S2", MET, f"Receiving unit {unit} is a specialist neurosurgical unit offering SPD.")
    return CriterionResult(
        "S2", NOT_MET, f"Receiving unit {unit} is not on the list of specialist neurosurgical units offering SPD."
    )


def criterion_s3(referral: Referral) -> CriterionResult:
    """S3: specialist assessment."""
    confirmed, role = referral.diagnosis.specialist_confirmed, referral.referrer.role
    if confirmed:
        return CriterionResult("S3", MET, "Diagnosis confirmed by a specialist.")
    if role in SPECIALIST_REFERRER_ROLES:
        return CriterionResult("S3", MET, f"Referred by a {in_words(role or '')}.")
    if confirmed is False and role in ("gp", "other"):
        who = "a GP" if role == "gp" else "a non-specialist"
        return CriterionResult("S3", NOT_MET, f"Referred by {who} and the diagnosis is not confirmed by a specialist.")
    missing = []
    if confirmed is None:
        missing.append("diagnosis.specialist_confirmed")
    if role is None:
        missing.append("referrer.role")
    return CriterionResult(
        "S3", UNKNOWN, "Whether a specialist has assessed the patient is not recorded.", tuple(sorted(missing))
    )


def criterion_s4(referral: Referral) -> CriterionResult:
    """S4: baseline severity recorded for audit."""
    total = referral.severity.twstrs_total
    if total is None:
        return CriterionResult("S4", UNKNOWN, "Baseline TWSTRS total not recorded.", ("severity.twstrs_total",))
    return CriterionResult("S4", MET, f"Baseline TWSTRS total {total}/85 recorded for audit.")


# --- Safety screen ------------------------------------------------------------------------------------------


def safety_facts(referral: Referral) -> tuple[tuple[str, bool], ...]:
    """(field path, recorded?) for each fact S5 needs, in the spec's order; conditional facts only when they apply.

    `botulinum_toxin.guidance` applies when a toxin response other than good is recorded, and
    `botulinum_toxin.immunoresistance_tested` when the response is secondary non-response. An empty list of
    Col-Cap components counts as not recorded.
    """
    patient, history, phenotype = referral.patient, referral.history, referral.phenotype
    diagnosis, toxin = referral.diagnosis, referral.botulinum_toxin
    facts = [
        ("patient.date_of_birth", patient.date_of_birth is not None),
        ("received_on", referral.received_on is not None),
        ("history.congenital_head_or_spine_abnormality", history.congenital_head_or_spine_abnormality is not None),
        ("history.dysphagia", history.dysphagia is not None),
        ("history.prior_neck_surgery", history.prior_neck_surgery is not None),
        ("history.cervical_spine_disease", history.cervical_spine_disease is not None),
        ("phenotype.components", bool(phenotype.components)),
        ("phenotype.head_tremor", phenotype.head_tremor is not None),
        ("diagnosis.aetiology", diagnosis.aetiology is not None),
        ("diagnosis.distribution", diagnosis.distribution is not None),
    ]
    if toxin.response is not None and toxin.response != "good":
        facts.append(("botulinum_toxin.guidance", toxin.guidance is not None))
    if toxin.response == "secondary_non_response":
        facts.append(("botulinum_toxin.immunoresistance_tested", toxin.immunoresistance_tested is not None))
    return tuple(facts)


def criterion_s5(referral: Referral, rules: Rules) -> CriterionResult:
    """S5: safety screen complete; `met` or `unknown` (never `not_met`), each missing fact listed."""
    if not rules.require_safety_screen:
        return CriterionResult("S5", MET, "The rules do not require a safety screen (require_safety_screen is false).")
    facts = safety_facts(referral)
    absent = [path for path, recorded in facts if not recorded]
    if absent:
        them = "it" if len(absent) == 1 else "them"
        return CriterionResult(
            "S5",
            UNKNOWN,
            f"Safety screen incomplete: {_join(_in_sentence(field_label(p)) for p in absent)} not recorded, "
            f"so the cautions that depend on {them} cannot be assessed.",
            tuple(sorted(absent)),
        )
    checked = ["age", "history", "Col-Cap components", "head tremor", "aetiology", "distribution"]
    paths = {path for path, _ in facts}
    if "botulinum_toxin.guidance" in paths:
        checked.append("injection guidance")
    if "botulinum_toxin.immunoresistance_tested" in paths:
        checked.append("immunoresistance testing")
    return CriterionResult("S5", MET, f"Safety screen complete: {_join(checked)} recorded.")


def _in_sentence(label: str) -> str:
    """A form label inside a sentence: `Dysphagia` -> `dysphagia`; `TWSTRS total` and `Col-Cap components` kept."""
    first_word = label.split(" ", 1)[0]
    return label if any(ch.isupper() for ch in first_word[1:]) else label[:1].lower() + label[1:]


def _join(items: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c` (and nothing for no items)."""
    words = list(items)
    return " and ".join(part for part in (", ".join(words[:-1]), *words[-1:]) if part)


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


def weeks_waiting(received_on: date | None, as_of: date) -> int | None:
    """Whole weeks (days // 7) from `received_on` to `as_of`; None when the received date is unknown.

    The one definition of weeks waiting: the priority's waiting term, the `rtt_breach_risk` caution, the queue,
    the triage panel and the agenda all count with it.
    """
    return None if received_on is None else (as_of - received_on).days // 7


def rtt_at_risk(weeks: int | None, warning_weeks: int) -> bool:
    """The `rtt_breach_risk` rule: whole weeks waiting at or beyond the warning week (unknown weeks: not raised)."""
    return weeks is not None and weeks >= warning_weeks


def rtt_flag(received_on: date | None, as_of: date, rules: Rules) -> bool:
    """Whether `rtt_breach_risk` stands on `as_of` for a referral received on `received_on`."""
    return rtt_at_risk(weeks_waiting(received_on, as_of), rules.rtt_warning_weeks)


def received_by(as_of: date, weeks: int) -> date:
    """The latest received date that has waited `weeks` whole weeks or more on `as_of`.

    weeks_waiting(r, as_of) >= weeks exactly when r <= as_of - 7 * weeks days, so SQL can filter and sort on the
    received date against this cutoff (an index range, the same on SQLite and PostgreSQL) instead of doing date
    arithmetic in the database.
    """
    return as_of - timedelta(weeks=weeks)


#: The referral-to-treatment standard the clock runs against; the rules' `rtt_warning_weeks` warns ahead of it.
RTT_STANDARD_WEEKS: Final = 18
RTT_FLAG: Final = "rtt_breach_risk"
RTT_BREACHED: Final = "breached"  # 18 whole weeks or more
RTT_WARNING: Final = "warning"  # from the warning week up to 17 weeks
RTT_WITHIN: Final = "within"  # below the warning week


@dataclass(frozen=True, slots=True)
class RttClock:
    """The 18-week clock read on one day: weeks waiting and the `rtt_breach_risk` caution as they stand on `as_of`.

    A stored assessment keeps the flags of the day it was scored; every screen and document that shows the
    clock reads it for the day it is made (`as_of`, the local date), so a referral that crossed the warning week
    since it was scored shows the caution now, not at its next edit.
    """

    as_of: date
    warning_weeks: int

    @classmethod
    def of(cls, rules: Rules, as_of: date) -> RttClock:
        """The clock of these rules read on `as_of`."""
        return cls(as_of, rules.rtt_warning_weeks)

    @property
    def warning_cutoff(self) -> date:
        """Received on or before this date: at or past the warning week (`rtt_breach_risk` raised)."""
        return received_by(self.as_of, self.warning_weeks)

    @property
    def breach_cutoff(self) -> date:
        """Received on or before this date: 18 whole weeks or more."""
        return received_by(self.as_of, RTT_STANDARD_WEEKS)

    def weeks(self, received_on: date | None) -> int | None:
        """Whole weeks waiting on `as_of`."""
        return weeks_waiting(received_on, self.as_of)

    def at_risk(self, received_on: date | None) -> bool:
        """Whether `rtt_breach_risk` stands on `as_of`."""
        return rtt_at_risk(self.weeks(received_on), self.warning_weeks)

    def band(self, received_on: date | None) -> str | None:
        """`breached`, `warning` or `within` on `as_of`; None when the received date is unknown."""
        weeks = self.weeks(received_on)
        if weeks is None:
            return None
        if weeks >= RTT_STANDARD_WEEKS:
            return RTT_BREACHED
        return RTT_WARNING if rtt_at_risk(weeks, self.warning_weeks) else RTT_WITHIN

    def describe(self, received_on: date | None) -> str:
        """The clock in words: `19 weeks waiting: past the 18-week referral-to-treatment standard`."""
        weeks, band = self.weeks(received_on), self.band(received_on)
        if weeks is None:
            return "date received not recorded"
        waiting = f"{_plural(weeks, 'week')} waiting"
        if band == RTT_BREACHED:
            return f"{waiting}: past the {RTT_STANDARD_WEEKS}-week referral-to-treatment standard"
        if band == RTT_WARNING:
            return (
                f"{waiting}: at or past the {self.warning_weeks}-week warning of the {RTT_STANDARD_WEEKS}-week standard"
            )
        return waiting

    def flags(self, stored: Iterable[str], received_on: date | None) -> tuple[str, ...]:
        """Stored flags with `rtt_breach_risk` as it stands on `as_of` (raised or not), sorted by name as scored."""
        flags = {flag for flag in stored if flag != RTT_FLAG}
        if self.at_risk(received_on):
            flags.add(RTT_FLAG)
        return tuple(sorted(flags))


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
        return f"Criterion not met ({_in_sentence(deciding.title)}): {_lower_first(deciding.reason)}"
    if outcome == NOT_YET_REFRACTORY:
        failing = [criteria[c] for c in ("R1", "R2", "R3", "R4") if criteria[c].status == NOT_MET]
        reasons = "; ".join(_lower_first(c.reason).removesuffix(".") for c in failing)
        return f"Criteria not met (refractory to best medical treatment): {reasons}."
    if outcome == NEEDS_INFORMATION:
        fields = _join(_in_sentence(field_label(path)) for path in missing)
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
