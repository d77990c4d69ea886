"""The triage criteria R1-R4 (refractory to best medical treatment) and S1-S5 (scope, specialist unit,
specialist assessment, baseline severity, safety screen), each a pure function of a validated `Referral` and the
`Rules` that explains itself in words.

Split from domain.scoring (which decides the outcome, flags and priority from these results, and re-exports every
name here, so `from triage_app.domain.scoring import criterion_r1` keeps working). Implements
../shared/spec/triage-rules.md (version spd-2026.2) exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from triage_app.domain.formats import format_date, format_month
from triage_app.domain.referral import SPECIALIST_REFERRER_ROLES, Onset, Referral, field_label
from triage_app.domain.rules import Rules

MET: Final = "met"
NOT_MET: Final = "not_met"
UNKNOWN: Final = "unknown"

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

_FAILED_ORAL = frozenset({"ineffective", "not_tolerated", "contraindicated"})


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


def whole_months(start: date, end: date) -> int:
    """Calendar months from start to end, less one if end's day of month is before start's."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return months


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
            f"Safety screen incomplete: {join_words(in_sentence(field_label(p)) for p in absent)} not recorded, "
            f"so the cautions that depend on {them} cannot be assessed.",
            tuple(sorted(absent)),
        )
    checked = ["age", "history", "Col-Cap components", "head tremor", "aetiology", "distribution"]
    paths = {path for path, _ in facts}
    if "botulinum_toxin.guidance" in paths:
        checked.append("injection guidance")
    if "botulinum_toxin.immunoresistance_tested" in paths:
        checked.append("immunoresistance testing")
    return CriterionResult("S5", MET, f"Safety screen complete: {join_words(checked)} recorded.")


def in_sentence(label: str) -> str:
    """A form label inside a sentence: `Dysphagia` -> `dysphagia`; `TWSTRS total` and `Col-Cap components` kept."""
    first_word = label.split(" ", 1)[0]
    return label if any(ch.isupper() for ch in first_word[1:]) else label[:1].lower() + label[1:]


def join_words(items: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c` (and nothing for no items)."""
    words = list(items)
    return " and ".join(part for part in (", ".join(words[:-1]), *words[-1:]) if part)
