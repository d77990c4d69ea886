"""The referral as the triage rules see it: every field of the JSON interchange format, each optional.

`None` always means *unknown*. The classes are plain frozen dataclasses so that the rules, the storage layer
and the GUI can share them without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

SEXES = ("female", "male", "other", "unknown")
REFERRER_ROLES = ("gp", "neurologist", "movement_disorders_neurologist", "neurosurgeon", "other")
SPECIALIST_REFERRER_ROLES = frozenset({"neurologist", "movement_disorders_neurologist", "neurosurgeon"})
CONDITIONS = ("cervical_dystonia", "other")
AETIOLOGIES = ("idiopathic", "tardive", "functional", "other_secondary")
DISTRIBUTIONS = ("focal", "segmental", "generalised")
PHENOTYPE_COMPONENTS = (
    "torticollis",
    "torticaput",
    "laterocollis",
    "laterocaput",
    "anterocollis",
    "anterocaput",
    "retrocollis",
    "retrocaput",
    "lateral_shift",
    "sagittal_shift",
)
BONT_GUIDANCE = ("emg", "ultrasound", "none")
BONT_RESPONSES = ("good", "partial", "primary_non_response", "secondary_non_response", "not_tolerated")
ORAL_OUTCOMES = ("effective", "partial", "ineffective", "not_tolerated", "contraindicated")
PHYSIO_OUTCOMES = ("good", "partial", "no_benefit")
HISTORY_FIELDS = ("dysphagia", "prior_neck_surgery", "congenital_head_or_spine_abnormality", "cervical_spine_disease")

# --- limits ----------------------------------------------------------------------------------------------------
# One table for the whole app (safety.md: names 100 characters, free text 4,000; codes and identifiers shorter).
# Parsing, the referral form, and the meetings, triage and users services all read it, so a value the form takes
# is one the import takes, and one every agenda and letter can lay out in a few seconds.

NAME_LENGTH = 100
FREE_TEXT_LENGTH = 4_000

#: Field -> the most characters it takes (after surrounding spaces are trimmed). Referral fields by their path
#: in the interchange format; the others by `record.field`.
LIMITS: dict[str, int] = {
    "external_id": 64,
    "patient.nhs_number": 20,  # ten digits, typed with spaces or hyphens
    "patient.family_name": NAME_LENGTH,
    "patient.given_name": NAME_LENGTH,
    "patient.hospital_number": 32,
    "referrer.name": NAME_LENGTH,
    "referrer.organisation_ods": 9,
    "receiving_unit_ods": 9,
    "oral_medications.drug": NAME_LENGTH,
    "clinical_question": FREE_TEXT_LENGTH,
    "second_referral_reason": FREE_TEXT_LENGTH,
    "meeting.place": 200,
    "meeting.video_link": 500,
    "meeting.chair": NAME_LENGTH,
    "meeting.attendee": NAME_LENGTH,
    "outcome.rationale": FREE_TEXT_LENGTH,
    "outcome.amend_reason": FREE_TEXT_LENGTH,
    "action.description": FREE_TEXT_LENGTH,
    "action.owner": NAME_LENGTH,
    "triage.reason": FREE_TEXT_LENGTH,
    "status.note": FREE_TEXT_LENGTH,
    "user.login": 128,
    "user.display_name": NAME_LENGTH,
}
#: Any other text: a choice (`cervical_dystonia`), a date. Longer is refused before it is compared or echoed.
SHORT_TEXT_LENGTH = 64
#: Fields whose text may run over several lines; every other field is one line.
MULTILINE_FIELDS = frozenset(
    {
        "clinical_question",
        "second_referral_reason",
        "outcome.rationale",
        "outcome.amend_reason",
        "action.description",
        "triage.reason",
        "status.note",
    }
)
#: Whole-number fields -> (lowest, highest). Every number the app stores has a range.
NUMBER_RANGES: dict[str, tuple[int, int]] = {
    "severity.twstrs_total": (0, 85),
    "severity.twstrs_pain": (0, 20),
    "severity.tsui": (0, 25),
    "botulinum_toxin.cycles": (0, 300),  # a cycle every 3 months for 75 years
}
#: Lists in a referral -> most items.
LIST_LIMITS: dict[str, int] = {"oral_medications": 50, "phenotype.components": len(PHENOTYPE_COMPONENTS) * 2}

_ALLOWED_IN_MULTILINE = frozenset("\n\r\t")


def limit_of(key: str) -> int:
    """The most characters the field `key` takes (`LIMITS`, else `SHORT_TEXT_LENGTH`); list items share one."""
    if key.startswith("oral_medications[") and key.endswith(".drug"):
        key = "oral_medications.drug"
    return LIMITS.get(key, SHORT_TEXT_LENGTH)


def text_problem(text: str, key: str, *, limit: int | None = None) -> str | None:
    """Why `text` cannot be stored in the field `key`: too long (`limit`, else the field's own), not valid text
    (a lone UTF-16 surrogate, which no file, database or PDF can hold) or a control character; `None` when it can.

    Never echoes the text itself: it may be ten megabytes, or a name (no patient data in logs).
    """
    limit = limit_of(key) if limit is None else limit
    if len(text) > limit:
        return f"{limit:,} characters at most (this one has {len(text):,})"
    multiline = key in MULTILINE_FIELDS
    for position, char in enumerate(text, start=1):
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"is not valid text: character {position} is half of a UTF-16 pair (U+{code:04X}) on its own"
        if (code < 0x20 or 0x7F <= code < 0xA0) and not (multiline and char in _ALLOWED_IN_MULTILINE):
            where = "" if multiline else " (it must be one line)"
            return f"holds a control character (U+{code:04X}) at character {position}{where}: remove it"
    return None


def number_problem(value: int, key: str) -> str | None:
    """Why the whole number `value` is outside the field's range (`NUMBER_RANGES`); `None` when it is inside.

    A number too long to write out (Python refuses more than 4,300 digits) is described by its size.
    """
    low, high = NUMBER_RANGES[key]
    if low <= value <= high:
        return None
    return f"{describe_number(value)} is out of range: it must be from {low} to {high}"


def describe_number(value: int | float) -> str:
    """A number as an error message shows it: written out when short, else by its number of digits."""
    if isinstance(value, float) or -(10**18) < value < 10**18:
        return str(value)
    digits = len(str(abs(value))) if value.bit_length() < 14_000 else int(value.bit_length() * 0.30103) + 1
    return f"a number of {digits:,} digits"


@dataclass(frozen=True, slots=True)
class Onset:
    """Date of onset; `month_only` when the referral gave just `YYYY-MM` (read as the first of the month)."""

    first_day: date
    month_only: bool

    def isoformat(self) -> str:
        """The value as it was written in the interchange format."""
        return self.first_day.strftime("%Y-%m") if self.month_only else self.first_day.isoformat()


@dataclass(frozen=True, slots=True)
class Patient:
    nhs_number: str | None = None  # ten digits, no spaces
    family_name: str | None = None
    given_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    hospital_number: str | None = None


@dataclass(frozen=True, slots=True)
class Referrer:
    name: str | None = None
    role: str | None = None
    organisation_ods: str | None = None  # upper-cased


@dataclass(frozen=True, slots=True)
class Diagnosis:
    condition: str | None = None
    aetiology: str | None = None
    distribution: str | None = None
    onset: Onset | None = None
    specialist_confirmed: bool | None = None


@dataclass(frozen=True, slots=True)
class Phenotype:
    components: tuple[str, ...] | None = None  # distinct, in the order given
    head_tremor: bool | None = None


@dataclass(frozen=True, slots=True)
class Severity:
    twstrs_total: int | None = None
    twstrs_pain: int | None = None
    tsui: int | None = None


@dataclass(frozen=True, slots=True)
class BotulinumToxin:
    cycles: int | None = None
    guidance: str | None = None
    response: str | None = None
    immunoresistance_tested: bool | None = None


@dataclass(frozen=True, slots=True)
class OralMedication:
    drug: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class Physiotherapy:
    completed: bool | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    dysphagia: bool | None = None
    prior_neck_surgery: bool | None = None
    congenital_head_or_spine_abnormality: bool | None = None
    cervical_spine_disease: bool | None = None


@dataclass(frozen=True, slots=True)
class Referral:
    """One referral, validated. Build it with `parse_referral` or field by field."""

    external_id: str | None = None
    received_on: date | None = None
    patient: Patient = field(default_factory=Patient)
    referrer: Referrer = field(default_factory=Referrer)
    receiving_unit_ods: str | None = None
    diagnosis: Diagnosis = field(default_factory=Diagnosis)
    phenotype: Phenotype = field(default_factory=Phenotype)
    severity: Severity = field(default_factory=Severity)
    botulinum_toxin: BotulinumToxin = field(default_factory=BotulinumToxin)
    oral_medications: tuple[OralMedication, ...] | None = None  # None: unknown; (): none tried
    physiotherapy: Physiotherapy = field(default_factory=Physiotherapy)
    history: History = field(default_factory=History)
    clinical_question: str | None = None


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def referral_to_json(referral: Referral) -> dict[str, Any]:
    """The referral in the interchange format (every key present, unknowns as null)."""
    p, r, d = referral.patient, referral.referrer, referral.diagnosis
    ph, s, b = referral.phenotype, referral.severity, referral.botulinum_toxin
    pt, h = referral.physiotherapy, referral.history
    return {
        "external_id": referral.external_id,
        "received_on": _iso(referral.received_on),
        "patient": {
            "nhs_number": p.nhs_number,
            "family_name": p.family_name,
            "given_name": p.given_name,
            "date_of_birth": _iso(p.date_of_birth),
            "sex": p.sex,
            "hospital_number": p.hospital_number,
        },
        "referrer": {"name": r.name, "role": r.role, "organisation_ods": r.organisation_ods},
        "receiving_unit_ods": referral.receiving_unit_ods,
        "diagnosis": {
            "condition": d.condition,
            "aetiology": d.aetiology,
            "distribution": d.distribution,
            "onset": None if d.onset is None else d.onset.isoformat(),
            "specialist_confirmed": d.specialist_confirmed,
        },
        "phenotype": {
            "components": None if ph.components is None else list(ph.components),
            "head_tremor": ph.head_tremor,
        },
        "severity": {"twstrs_total": s.twstrs_total, "twstrs_pain": s.twstrs_pain, "tsui": s.tsui},
        "botulinum_toxin": {
            "cycles": b.cycles,
            "guidance": b.guidance,
            "response": b.response,
            "immunoresistance_tested": b.immunoresistance_tested,
        },
        "oral_medications": None
        if referral.oral_medications is None
        else [{"drug": m.drug, "outcome": m.outcome} for m in referral.oral_medications],
        "physiotherapy": {"completed": pt.completed, "outcome": pt.outcome},
        "history": {
            "dysphagia": h.dysphagia,
            "prior_neck_surgery": h.prior_neck_surgery,
            "congenital_head_or_spine_abnormality": h.congenital_head_or_spine_abnormality,
            "cervical_spine_disease": h.cervical_spine_disease,
        },
        "clinical_question": referral.clinical_question,
    }


def flatten_fields(referral: Referral) -> dict[str, Any]:
    """Leaf path -> value, the shape used for audit diffs (`patient.nhs_number`, `oral_medications[0].drug`)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list) and prefix != "phenotype.components":
            flat[f"{prefix}.count"] = len(value)
            for index, inner in enumerate(value):
                walk(f"{prefix}[{index}]", inner)
        else:
            flat[prefix] = value

    walk("", referral_to_json(referral))
    return flat


def format_nhs_number(digits: str | None) -> str:
    """NHS number shown 3-3-4 (`999 000 0301`); anything else is shown as given."""
    if digits is None:
        return ""
    if len(digits) == 10 and digits.isdigit():
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return digits


#: Leaf path -> label a coordinator reads (form labels, "missing" lists, error summaries).
FIELD_LABELS: dict[str, str] = {
    "external_id": "Referrer's reference",
    "received_on": "Date received",
    "patient.nhs_number": "NHS number",
    "patient.family_name": "Family name",
    "patient.given_name": "Given name",
    "patient.date_of_birth": "Date of birth",
    "patient.sex": "Sex",
    "patient.hospital_number": "Hospital number",
    "referrer.name": "Referrer's name",
    "referrer.role": "Referrer's role",
    "referrer.organisation_ods": "Referrer's organisation (ODS)",
    "receiving_unit_ods": "Receiving unit (ODS)",
    "diagnosis.condition": "Condition",
    "diagnosis.aetiology": "Aetiology",
    "diagnosis.distribution": "Distribution",
    "diagnosis.onset": "Onset",
    "diagnosis.specialist_confirmed": "Diagnosis confirmed by a specialist",
    "phenotype.components": "Col-Cap components",
    "phenotype.head_tremor": "Head tremor",
    "severity.twstrs_total": "TWSTRS total",
    "severity.twstrs_pain": "TWSTRS pain",
    "severity.tsui": "Tsui score",
    "botulinum_toxin.cycles": "Toxin cycles",
    "botulinum_toxin.guidance": "Injection guidance",
    "botulinum_toxin.response": "Toxin response",
    "botulinum_toxin.immunoresistance_tested": "Immunoresistance tested",
    "oral_medications": "Oral medications",
    "physiotherapy.completed": "Physiotherapy completed",
    "physiotherapy.outcome": "Physiotherapy outcome",
    "history.dysphagia": "Dysphagia",
    "history.prior_neck_surgery": "Previous neck surgery",
    "history.congenital_head_or_spine_abnormality": "Congenital head or spine abnormality",
    "history.cervical_spine_disease": "Cervical spine disease",
    "clinical_question": "Clinical question",
}


def field_label(path: str) -> str:
    """The label for a field path; list items read `Oral medication 2 outcome`."""
    if path.startswith("oral_medications["):
        index, _, leaf = path[len("oral_medications[") :].partition("].")
        return f"Oral medication {int(index) + 1} {leaf}" if index.isdigit() else path
    return FIELD_LABELS.get(path, path)
