"""The referral as the triage rules see it: every field of the JSON interchange format, each optional.

`None` always means *unknown*. The classes are plain frozen dataclasses so that the rules, the storage layer
and the GUI can share them without importing one another.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any, TypeVar

from triage_app.domain.fields import (
    FREE_TEXT_LENGTH,
    NAME_LENGTH,
    REFERRAL_FIELDS,
    SHORT_TEXT_LENGTH,
    FieldSpec,
    field_spec,
    referral_fields,
)

__all__ = ["FREE_TEXT_LENGTH", "NAME_LENGTH", "SHORT_TEXT_LENGTH"]  # the limits, from the one table

SPECIALIST_REFERRER_ROLES = frozenset({"neurologist", "movement_disorders_neurologist", "neurosurgeon"})

# --- limits ----------------------------------------------------------------------------------------------------
# Referral fields take theirs from the one table (domain.fields); the other records' fields are here. Parsing,
# the referral form, and the meetings, triage and users services all read them, so a value the form takes is
# one the import takes, and one every agenda and letter can lay out in a few seconds.

#: Fields of records other than the referral, by `record.field` -> the most characters each takes.
OTHER_LIMITS: dict[str, int] = {
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
#: Fields of other records whose text may run over several lines; every other field is one line.
OTHER_MULTILINE = frozenset(
    {
        "second_referral_reason",
        "outcome.rationale",
        "outcome.amend_reason",
        "action.description",
        "triage.reason",
        "status.note",
    }
)
_TEXT_KINDS = frozenset({"text", "nhs_number", "ods"})
_V = TypeVar("_V")


class _FromTable(Mapping[str, _V]):
    """A read-only view of one column of the field table, read afresh on each use (a field added shows at once)."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], dict[str, _V]]) -> None:
        self._read = read

    def __getitem__(self, key: str) -> _V:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def _all_specs() -> Iterator[FieldSpec]:
    for spec in referral_fields():
        yield spec
        yield from spec.items


#: Field -> the most characters it takes: text fields of the referral (from the table) and of other records.
LIMITS: Mapping[str, int] = _FromTable(
    lambda: {s.path: s.max_length for s in _all_specs() if s.kind in _TEXT_KINDS} | OTHER_LIMITS
)
#: Whole-number fields -> (lowest, highest). Every number the app stores has a range.
NUMBER_RANGES: Mapping[str, tuple[int, int]] = _FromTable(
    lambda: {s.path: s.number_range for s in referral_fields() if s.number_range is not None}
)
#: Lists in a referral -> most items.
LIST_LIMITS: Mapping[str, int] = _FromTable(
    lambda: {s.path: s.max_items for s in referral_fields() if s.max_items is not None}
)
#: Leaf path -> label a coordinator reads (form labels, "missing" lists, error summaries).
FIELD_LABELS: Mapping[str, str] = _FromTable(lambda: {s.path: s.label for s in referral_fields()})

_ALLOWED_IN_MULTILINE = frozenset("\n\r\t")


def limit_of(key: str) -> int:
    """The most characters the field `key` takes (its table entry, else `OTHER_LIMITS`, else `SHORT_TEXT_LENGTH`);
    the items of a list share one (`oral_medications[7].drug`)."""
    spec = field_spec(key)
    return spec.max_length if spec is not None else OTHER_LIMITS.get(key, SHORT_TEXT_LENGTH)


def _multiline(key: str) -> bool:
    spec = field_spec(key)
    return spec.multiline if spec is not None else key in OTHER_MULTILINE


def text_problem(text: str, key: str, *, limit: int | None = None) -> str | None:
    """Why `text` cannot be stored in the field `key`: too long (`limit`, else the field's own), not valid text
    (a lone UTF-16 surrogate, which no file, database or PDF can hold) or a control character; `None` when it can.

    Never echoes the text itself: it may be ten megabytes, or a name (no patient data in logs).
    """
    limit = limit_of(key) if limit is None else limit
    if len(text) > limit:
        return f"{limit:,} characters at most (this one has {len(text):,})"
    multiline = _multiline(key)
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
    #: (path, value) of the table's fields that have no attribute here yet (a new field, before a rule reads
    #: it and it earns one), in the table's order; unknown (None) values are left out.
    extra: tuple[tuple[str, Any], ...] = ()

    def value(self, path: str) -> Any:
        """The value of the field at `path` (`patient.nhs_number`), by its attribute or from `extra`."""
        return field_value(self, path)


#: The objects of the interchange format and the class each is read into.
SECTION_TYPES: dict[str, type] = {
    "patient": Patient,
    "referrer": Referrer,
    "diagnosis": Diagnosis,
    "phenotype": Phenotype,
    "severity": Severity,
    "botulinum_toxin": BotulinumToxin,
    "physiotherapy": Physiotherapy,
    "history": History,
}
#: The list fields and the class of their items.
ITEM_TYPES: dict[str, type] = {"oral_medications": OralMedication}
_ATTRIBUTES = {cls: frozenset(f.name for f in fields(cls)) for cls in (Referral, *SECTION_TYPES.values())}


@functools.cache  # a handful of paths, asked for each field of each referral a reassessment rebuilds
def _home(path: str) -> tuple[str, str, type | None]:
    """(group, key, the class holding the field), the class None when the field lives in `Referral.extra`."""
    group, _, key = path.rpartition(".")
    cls = SECTION_TYPES.get(group) if group else Referral
    return group, key, cls if cls is not None and key in _ATTRIBUTES[cls] else None


def field_value(referral: Referral, path: str) -> Any:
    """The value of the field at `path` of `referral` (None: unknown)."""
    group, key, cls = _home(path)
    if cls is None:
        return dict(referral.extra).get(path)
    return getattr(getattr(referral, group) if group else referral, key)


def build_referral(values: Mapping[str, Any]) -> Referral:
    """A referral from field path -> value (each already valid); fields not given are unknown."""
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    extra: list[tuple[str, Any]] = []
    for path, value in values.items():
        group, key, cls = _home(path)
        if cls is None:
            if value is not None:
                extra.append((path, value))
        elif group:
            sections.setdefault(group, {})[key] = value
        else:
            top[key] = value
    built = {group: SECTION_TYPES[group](**kwargs) for group, kwargs in sections.items()}
    return Referral(**top, **built, extra=tuple(extra))


def make_item(list_path: str, values: Mapping[str, Any]) -> Any:
    """One item of the list field `list_path` (an `OralMedication`) from its key -> value."""
    return ITEM_TYPES[list_path](**values)


def to_interchange(spec: FieldSpec, value: Any) -> Any:
    """A field's value as the interchange format writes it (dates and onsets as text, lists as lists)."""
    if value is None:
        return None
    if spec.kind in ("date", "month_or_date"):
        return value.isoformat()
    if spec.kind == "components":
        return list(value)
    if spec.kind == "list":
        return [{item.key: getattr(entry, item.key) for item in spec.items} for entry in value]
    return value


def referral_to_json(referral: Referral) -> dict[str, Any]:
    """The referral in the interchange format (every key present, unknowns as null), in the table's order."""
    data: dict[str, Any] = {}
    for spec in referral_fields():
        target = data
        for key in spec.group.split(".") if spec.group else ():
            target = target.setdefault(key, {})
        target[spec.key] = to_interchange(spec, field_value(referral, spec.path))
    return data


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


def field_label(path: str) -> str:
    """The label for a field path; list items read `Oral medication 2 outcome`."""
    owner_path, bracket, rest = path.partition("[")
    if not bracket:
        return FIELD_LABELS.get(path, path)
    owner = REFERRAL_FIELDS.get(owner_path)
    index, _, leaf = rest.partition("].")
    if owner is None or not owner.items or not index.isdigit():
        return path
    noun = owner.item_noun.partition(" ")[2]
    return f"{noun[:1].upper()}{noun[1:]} {int(index) + 1} {leaf}"
