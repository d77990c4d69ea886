"""The one table of referral fields: for each field its path in the interchange format, kind, label, form
section, limits, choices, place in the identity minimum, the cautions it feeds and its storage column.

The parser (domain.parsing), the interchange JSON and labels (domain.referral), the form (ui.referral_form and
ui.form_fields) and the storage mapping (storage.referral_fields) all read this table, so adding a referral
field is one entry here, a migration (with its column on `ReferralRow`) and a test. Limits are written here
once: the form takes what the import takes.

The table is a plain ordered dict, in the order of the interchange format; `add_field` and `remove_field` are
how a test adds a throwaway field and takes it away again. Repeated groups (oral medications) are a `list`
entry with their own sub-table in `items`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

#: What a field holds, and so how it is read, shown and stored:
#: text (one line, or several when `multiline`), nhs_number (text, checked and normalised), ods (an ODS code,
#: upper-cased), date (YYYY-MM-DD), month_or_date (YYYY-MM or YYYY-MM-DD, an `Onset`), choice (one of
#: `choices`), flag (true/false), whole (a whole number in `number_range`), components (a list of distinct
#: choices) and list (a repeated group of objects, each read by the sub-table `items`).
Kind = Literal["text", "nhs_number", "ods", "date", "month_or_date", "choice", "flag", "whole", "components", "list"]

# --- limits (safety.md: names 100 characters, free text 4,000; codes and identifiers shorter) -----------------
NAME_LENGTH = 100
FREE_TEXT_LENGTH = 4_000
#: Any other text: a choice (`cervical_dystonia`), a date. Longer is refused before it is compared or echoed.
SHORT_TEXT_LENGTH = 64
#: A postal address, several lines (the longest UK addresses run to about 200 characters).
ADDRESS_LENGTH = 300


@dataclass(frozen=True, slots=True)
class Choice:
    """One allowed value of an enumerated field and the words the form shows for it."""

    value: str
    label: str


def choices(*values: str, **labels: str) -> tuple[Choice, ...]:
    """Choices labelled as the form shows them: `labels[value]`, else the value in words (`Partial`)."""
    return tuple(Choice(value, labels.get(value, value.replace("_", " ").capitalize())) for value in values)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One referral field, everything the parser, the form and the storage mapping need to know about it."""

    path: str  # in the interchange format: `patient.nhs_number`; an item of a list: `oral_medications.drug`
    kind: Kind
    label: str
    section: str = ""  # the form's section ("" for an item of a list: it shows in its list)
    column: str | None = None  # the `referral` column (a list: the column saying whether it is known)
    max_length: int = SHORT_TEXT_LENGTH  # characters, after surrounding spaces are trimmed
    multiline: bool = False
    number_range: tuple[int, int] | None = None  # whole numbers: lowest and highest
    choices: tuple[Choice, ...] = ()
    max_items: int | None = None  # lists
    items: tuple[FieldSpec, ...] = ()  # a list's sub-table
    list_noun: str = ""  # lists, in messages: "must be a list of {list_noun}"
    item_noun: str = ""  # lists, in messages: "'x' is not {item_noun}"
    identity: int | None = None  # its place in the identity minimum (safety.md "The right patient"), if part
    cautions: tuple[str, ...] = ()  # the caution flags (domain.scoring.FLAGS) its value feeds
    placeholder: str = ""

    @property
    def group(self) -> str:
        """The object of the interchange format it sits in (`patient`); "" at the top level."""
        return self.path.rpartition(".")[0]

    @property
    def key(self) -> str:
        """Its key inside that object (`nhs_number`)."""
        return self.path.rpartition(".")[2]

    @property
    def values(self) -> tuple[str, ...]:
        """The allowed values of a choice (or components) field."""
        return tuple(choice.value for choice in self.choices)

    def item(self, key: str) -> FieldSpec:
        """The entry of a list's sub-table for `key` (`drug`)."""
        return next(spec for spec in self.items if spec.key == key)


def _text(path: str, label: str, section: str, column: str, max_length: int, **more: object) -> FieldSpec:
    return FieldSpec(path, "text", label, section, column, max_length=max_length, **more)  # type: ignore[arg-type]


SEXES = ("female", "male", "other", "unknown")
REFERRER_ROLES = ("gp", "neurologist", "movement_disorders_neurologist", "neurosurgeon", "other")
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

P, R, D, PH, S, B, M, T, H, Q = (
    "Patient",
    "Referral",
    "Diagnosis",
    "Phenotype",
    "Severity",
    "Botulinum toxin",
    "Oral medication",
    "Physiotherapy",
    "History",
    "Clinical question",
)
#: The form's section of the addresses letters go to (local fields: not in the interchange format).
L = "Addresses for letters"
#: The form's sections, in the order a clinician reads a referral.
SECTIONS: tuple[str, ...] = (P, R, D, PH, S, B, M, T, H, Q, L)
#: The clinical sections, in that order: a meeting's case shows one line for each (the agenda's CSV a column each).
CLINICAL_SECTIONS: tuple[str, ...] = (D, PH, S, B, M, T, H)

_TABLE: tuple[FieldSpec, ...] = (
    _text("external_id", "Referrer's reference", R, "external_id", 64),
    FieldSpec("received_on", "date", "Date received", R, "received_on", identity=5, cautions=("paediatric",)),
    FieldSpec(
        "patient.nhs_number", "nhs_number", "NHS number", P, "nhs_number", max_length=20, identity=1,
        placeholder="999 000 0000",
    ),  # ten digits, typed with spaces or hyphens
    _text("patient.family_name", "Family name", P, "family_name", NAME_LENGTH, identity=2),
    _text("patient.given_name", "Given name", P, "given_name", NAME_LENGTH, identity=3),
    FieldSpec("patient.date_of_birth", "date", "Date of birth", P, "date_of_birth", identity=4, cautions=("paediatric",)),
    FieldSpec("patient.sex", "choice", "Sex", P, "sex", choices=choices(*SEXES)),
    _text("patient.hospital_number", "Hospital number", P, "hospital_number", 32),
    _text("referrer.name", "Referrer's name", R, "referrer_name", NAME_LENGTH, identity=6),
    FieldSpec(
        "referrer.role", "choice", "Referrer's role", R, "referrer_role",
        choices=choices(*REFERRER_ROLES, gp="GP", movement_disorders_neurologist="Movement disorders neurologist"),
    ),
    FieldSpec(
        "referrer.organisation_ods", "ods", "Referrer's organisation (ODS)", R, "referrer_organisation_ods",
        max_length=9, placeholder="e.g. RXX",
    ),
    FieldSpec(
        "receiving_unit_ods", "ods", "Receiving unit (ODS)", R, "receiving_unit_ods", max_length=9,
        placeholder="e.g. RXX01",
    ),
    FieldSpec("diagnosis.condition", "choice", "Condition", D, "condition", choices=choices(*CONDITIONS)),
    FieldSpec(
        "diagnosis.aetiology", "choice", "Aetiology", D, "aetiology", choices=choices(*AETIOLOGIES),
        cautions=("non_idiopathic",),
    ),
    FieldSpec(
        "diagnosis.distribution", "choice", "Distribution", D, "distribution", choices=choices(*DISTRIBUTIONS),
        cautions=("not_focal",),
    ),
    FieldSpec("diagnosis.onset", "month_or_date", "Onset", D, "onset"),
    FieldSpec("diagnosis.specialist_confirmed", "flag", "Diagnosis confirmed by a specialist", D, "specialist_confirmed"),
    FieldSpec(
        "phenotype.components", "components", "Col-Cap components", PH, "phenotype_components_known",
        choices=choices(*PHENOTYPE_COMPONENTS), max_items=len(PHENOTYPE_COMPONENTS) * 2,
        list_noun="Col-Cap forms", item_noun="a Col-Cap form", cautions=("anterior_pattern", "complex_pattern"),
    ),
    FieldSpec("phenotype.head_tremor", "flag", "Head tremor", PH, "head_tremor", cautions=("head_tremor",)),
    FieldSpec("severity.twstrs_total", "whole", "TWSTRS total", S, "twstrs_total", number_range=(0, 85)),
    FieldSpec("severity.twstrs_pain", "whole", "TWSTRS pain", S, "twstrs_pain", number_range=(0, 20)),
    FieldSpec("severity.tsui", "whole", "Tsui score", S, "tsui", number_range=(0, 25)),
    # a cycle every 3 months for 75 years
    FieldSpec("botulinum_toxin.cycles", "whole", "Toxin cycles", B, "bont_cycles", number_range=(0, 300)),
    FieldSpec(
        "botulinum_toxin.guidance", "choice", "Injection guidance", B, "bont_guidance",
        choices=choices(*BONT_GUIDANCE, emg="EMG-guided", ultrasound="Ultrasound-guided", none="Not guided"),
        cautions=("injection_not_guided",),
    ),
    FieldSpec(
        "botulinum_toxin.response", "choice", "Toxin response", B, "bont_response", choices=choices(*BONT_RESPONSES),
        cautions=("primary_non_responder", "immunoresistance_untested", "injection_not_guided"),
    ),
    FieldSpec(
        "botulinum_toxin.immunoresistance_tested", "flag", "Immunoresistance tested", B,
        "bont_immunoresistance_tested", cautions=("immunoresistance_untested",),
    ),
    FieldSpec(
        "oral_medications", "list", "Oral medications", M, "oral_medications_known", max_items=50,
        list_noun="medications", item_noun="an oral medication",
        items=(
            FieldSpec("oral_medications.drug", "text", "Drug", max_length=NAME_LENGTH),
            FieldSpec("oral_medications.outcome", "choice", "Outcome", choices=choices(*ORAL_OUTCOMES)),
        ),
    ),
    FieldSpec("physiotherapy.completed", "flag", "Physiotherapy completed", T, "physio_completed"),
    FieldSpec(
        "physiotherapy.outcome", "choice", "Physiotherapy outcome", T, "physio_outcome",
        choices=choices(*PHYSIO_OUTCOMES),
    ),
    FieldSpec("history.dysphagia", "flag", "Dysphagia", H, "dysphagia", cautions=("dysphagia",)),
    FieldSpec(
        "history.prior_neck_surgery", "flag", "Previous neck surgery", H, "prior_neck_surgery",
        cautions=("prior_neck_surgery",),
    ),
    FieldSpec(
        "history.congenital_head_or_spine_abnormality", "flag", "Congenital head or spine abnormality", H,
        "congenital_head_or_spine_abnormality", cautions=("congenital_abnormality",),
    ),
    FieldSpec(
        "history.cervical_spine_disease", "flag", "Cervical spine disease", H, "cervical_spine_disease",
        cautions=("cervical_spine_disease",),
    ),
    _text("clinical_question", "Clinical question", Q, "clinical_question", FREE_TEXT_LENGTH, multiline=True),
    # Local fields, for letters (issue 13): the interchange format (triage-rules.md) names no address, so these
    # are typed on the form; every one is optional, so a conforming file imports as before (see LOCAL_FIELDS).
    _text("referrer.address", "Referrer's address", L, "referrer_address", ADDRESS_LENGTH, multiline=True),
    _text("gp.name", "GP's name", L, "gp_name", NAME_LENGTH),
    _text("gp.practice", "GP practice", L, "gp_practice", NAME_LENGTH),
    _text("gp.address", "GP practice address", L, "gp_address", ADDRESS_LENGTH, multiline=True),
)  # fmt: skip

#: The table's fields that are not part of the interchange format: the app's own (letters' addresses).
LOCAL_FIELDS: tuple[str, ...] = ("referrer.address", "gp.name", "gp.practice", "gp.address")

#: Path -> field, in the order of the interchange format. Read it through the functions below.
REFERRAL_FIELDS: dict[str, FieldSpec] = {spec.path: spec for spec in _TABLE}


def referral_fields() -> Iterator[FieldSpec]:
    """Every field of a referral (lists as one entry), in the order of the interchange format."""
    return iter(tuple(REFERRAL_FIELDS.values()))


def field_spec(path: str) -> FieldSpec | None:
    """The field at `path`; an item of a list by `oral_medications[2].drug` or `oral_medications.drug`."""
    spec = REFERRAL_FIELDS.get(path)
    if spec is not None or "." not in path:
        return spec
    head, _, key = path.rpartition(".")
    owner = REFERRAL_FIELDS.get(head.partition("[")[0])
    if owner is None or not owner.items:
        return None
    return next((item for item in owner.items if item.key == key), None)


#: `groups()` as last worked out, with the table's fields it was worked out from (parsing asks for it ten times a
#: record; an import parses thousands). A field added or removed (`add_field`) makes it be worked out again.
_GROUPS: tuple[tuple[FieldSpec, ...], dict[str, tuple[FieldSpec, ...]]] | None = None


def groups() -> dict[str, tuple[FieldSpec, ...]]:
    """Object of the interchange format ("" for the top level) -> its fields, in order."""
    global _GROUPS
    specs_now = tuple(REFERRAL_FIELDS.values())
    if (
        _GROUPS is not None
        and len(_GROUPS[0]) == len(specs_now)
        and all(a is b for a, b in zip(_GROUPS[0], specs_now, strict=True))
    ):
        return dict(_GROUPS[1])
    found: dict[str, list[FieldSpec]] = {}
    for spec in specs_now:
        found.setdefault(spec.group, []).append(spec)
    result = {group: tuple(specs) for group, specs in found.items()}
    _GROUPS = (specs_now, result)
    return dict(result)


def form_sections() -> list[tuple[str, tuple[FieldSpec, ...]]]:
    """The form's sections in reading order, each with its fields (a section of a new field comes last)."""
    found: dict[str, list[FieldSpec]] = {title: [] for title in SECTIONS}
    for spec in referral_fields():
        found.setdefault(spec.section, []).append(spec)
    return [(title, tuple(specs)) for title, specs in found.items() if specs]


def identity_minimum() -> tuple[str, ...]:
    """The paths without which a referral is not stored, in the order they are asked for."""
    members = [spec for spec in referral_fields() if spec.identity is not None]
    return tuple(spec.path for spec in sorted(members, key=lambda spec: spec.identity or 0))


def add_field(spec: FieldSpec) -> None:
    """Add a field to the table (a test's throwaway field); refused if its path is taken."""
    if spec.path in REFERRAL_FIELDS:
        raise ValueError(f"{spec.path} is already a referral field")
    REFERRAL_FIELDS[spec.path] = spec


def remove_field(path: str) -> None:
    """Take a field out of the table again."""
    del REFERRAL_FIELDS[path]
