"""Reading a referral from the JSON interchange format, with the input errors of the rules spec.

Every error names the field by its path (`patient.nhs_number`, `oral_medications[1].outcome`) and says what
is wrong in words a coordinator understands. A record with any error is never scored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from triage_app.domain.fields import FieldSpec, groups
from triage_app.domain.json_input import JsonObject, OversizedNumber, duplicate_keys, loads_json
from triage_app.domain.nhs_number import nhs_number_problem, normalise_nhs_number
from triage_app.domain.referral import (
    NUMBER_RANGES,
    Onset,
    Referral,
    build_referral,
    describe_number,
    make_item,
    number_problem,
    text_problem,
)

__all__ = ["JsonObject", "OversizedNumber", "duplicate_keys", "loads_json"]  # where callers have read them

_T = TypeVar("_T")
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH_RE = re.compile(r"\d{4}-\d{2}")
_ODS_RE = re.compile(r"[A-Za-z0-9]{3,9}")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One input error: the field's path and a sentence saying what is wrong."""

    field: str
    message: str

    def to_json(self) -> dict[str, str]:
        """As the `score` command prints it."""
        return {"field": self.field, "message": self.message}


class ReferralInputError(ValueError):
    """A referral that cannot be scored; `errors` lists every offending field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


_EMPTY: Mapping[str, Any] = {}
#: Choices, dates and codes are checked against their form after this sanity bound (the form's message says
#: more than a length would); what they store is far shorter.
_FORM_CHECKED_LENGTH = 1_000


def _listing(values: tuple[str, ...]) -> str:
    return ", ".join(values)


class _Reader:
    """Collects every error of one record while reading it."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def section(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key)
        if value is None:
            return _EMPTY
        if not isinstance(value, dict):
            self.fail(key, f"must be an object with the {key.replace('_', ' ')} fields, not {_kind(value)}")
            return _EMPTY
        allowed = frozenset(spec.key for spec in groups()[key])
        for unknown in value.keys() - allowed:
            self.fail(
                f"{key}.{_key_name(unknown)}",
                f"is not a field of {key} (expected one of: {', '.join(sorted(allowed))})",
            )
        self.refuse_duplicates(value, f"{key}.")
        return value

    def refuse_duplicates(self, value: object, prefix: str) -> None:
        """A key given twice in one object: the record is refused, naming the key."""
        for duplicate in duplicate_keys(value):
            self.fail(
                f"{prefix}{_key_name(duplicate)}",
                "is given more than once in this record (a duplicate key): give each field once",
            )

    def text(self, data: Mapping[str, Any], key: str, path: str, *, limit: int | None = None) -> str | None:
        """Text, trimmed; refused when longer than `limit` (else the field's own in `LIMITS`), or not valid text."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(path, f"must be text, not {_kind(value)}")
            return None
        value = value.strip()
        problem = text_problem(value, path, limit=limit)
        if problem is not None:
            self.fail(path, problem)
            return None
        return value or None

    def choice(self, data: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(data, key, path, limit=_FORM_CHECKED_LENGTH)
        if value is not None and value not in allowed:
            self.fail(path, f"'{_clip(value)}' is not one of the allowed values: {_listing(allowed)}")
            return None
        return value

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = data.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.fail(path, f"must be true or false, not {_kind(value)}")
        return None

    def whole(self, data: Mapping[str, Any], key: str, path: str) -> int | None:
        """A whole number within the field's range (its table entry): never a float, nan, or 5,000 digits."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, OversizedNumber):
            low, high = NUMBER_RANGES[path]
            self.fail(path, f"{value} is out of range: it must be from {low} to {high}")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be a whole number, not {_kind(value)}")
            return None
        problem = number_problem(value, path)
        if problem is not None:
            self.fail(path, problem)
            return None
        return value

    def day(self, data: Mapping[str, Any], key: str, path: str) -> date | None:
        return self.dated(data, key, path, _parse_day, "YYYY-MM-DD, for example 2026-10-01")

    def dated(
        self, data: Mapping[str, Any], key: str, path: str, parse: Callable[[str], _T | None], form: str
    ) -> _T | None:
        """A date in the text's own form (`form` says which, in the message when it cannot be read)."""
        text = self.text(data, key, path, limit=_FORM_CHECKED_LENGTH)
        if text is None:
            return None
        parsed = parse(text)
        if parsed is None:
            self.fail(path, f"'{_clip(text)}' is not a date: write it as {form}")
        return parsed

    def ods(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        value = self.text(data, key, path, limit=_FORM_CHECKED_LENGTH)
        if value is None:
            return None
        if not _ODS_RE.fullmatch(value):
            self.fail(path, f"'{_clip(value)}' is not an ODS code: it must be 3 to 9 letters and digits")
            return None
        return value.upper()

    def read(self, spec: FieldSpec, data: Mapping[str, Any], path: str) -> Any:
        """The value of the field `spec` (at `path`) in `data`, read by its kind; None when absent or wrong."""
        key, kind = spec.key, spec.kind
        if kind == "text":
            return self.text(data, key, path)
        if kind == "nhs_number":
            return self.nhs_number(data, key, path)
        if kind == "ods":
            return self.ods(data, key, path)
        if kind == "date":
            return self.day(data, key, path)
        if kind == "month_or_date":
            return self.onset(data, key, path)
        if kind == "choice":
            return self.choice(data, key, path, spec.values)
        if kind == "flag":
            return self.flag(data, key, path)
        if kind == "whole":
            return self.whole(data, key, path)
        if kind == "components":
            return self.components(spec, data.get(key))
        return self.items(spec, data.get(key))

    def nhs_number(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        value = self.text(data, key, path)
        if value is None:
            return None
        problem = nhs_number_problem(value)
        if problem is not None:
            self.fail(path, problem)
            return None
        return normalise_nhs_number(value)

    def onset(self, data: Mapping[str, Any], key: str, path: str) -> Onset | None:
        return self.dated(data, key, path, _parse_onset, "YYYY-MM or YYYY-MM-DD")

    def components(self, spec: FieldSpec, raw: object) -> tuple[str, ...] | None:
        """A list of distinct choices, in the order given."""
        raw = self.listed(spec, raw)
        if raw is None:
            return None
        seen: dict[str, None] = {}
        for index, item in enumerate(raw):
            path = f"{spec.path}[{index}]"
            if not isinstance(item, str):
                self.fail(path, f"must be text, not {_kind(item)}")
            elif item.strip() not in spec.values:
                self.fail(path, f"'{_printable(_clip(item))}' is not {spec.item_noun}: {_listing(spec.values)}")
            else:
                seen[item.strip()] = None
        return tuple(seen)

    def items(self, spec: FieldSpec, raw: object) -> tuple[Any, ...] | None:
        """A repeated group: each item an object read by the list's sub-table."""
        raw = self.listed(spec, raw)
        if raw is None:
            return None
        keys = [item.key for item in spec.items]
        items = []
        for index, item in enumerate(raw):
            path = f"{spec.path}[{index}]"
            if not isinstance(item, dict):
                self.fail(path, f"must be an object with {', '.join(keys[:-1])} and {keys[-1]}, not {_kind(item)}")
                continue
            for unknown in item.keys() - set(keys):
                self.fail(
                    f"{path}.{_key_name(unknown)}", f"is not a field of {spec.item_noun} (expected {', '.join(keys)})"
                )
            self.refuse_duplicates(item, f"{path}.")
            values = {sub.key: self.read(sub, item, f"{path}.{sub.key}") for sub in spec.items}
            items.append(make_item(spec.path, values))
        return tuple(items)

    def listed(self, spec: FieldSpec, raw: object) -> list[Any] | None:
        """The list a list field gives, or None (unknown; or not a list, or too long: each an error)."""
        if raw is None:
            return None
        if not isinstance(raw, list):
            self.fail(spec.path, f"must be a list of {spec.list_noun}, not {_kind(raw)}")
            return None
        limit = spec.max_items if spec.max_items is not None else len(raw)
        if len(raw) > limit:
            self.fail(spec.path, f"{limit} items at most (this one has {len(raw):,})")
            return None
        return raw


def _key_name(key: str) -> str:
    """A key as it goes into an error path: clipped, control characters and lone surrogates written as escapes
    (so the message can always be printed), and an empty or blank key shown quoted, so the path is never blank."""
    shown = _printable(_clip(key))
    return shown if key.strip() else f'"{shown}"'


def _printable(text: str) -> str:
    """`text` with control characters and lone surrogates written as `\\uXXXX`."""
    return "".join(
        f"\\u{ord(c):04x}" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) <= 0xDFFF else c for c in text
    )


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {describe_number(value)}"
    if isinstance(value, OversizedNumber):
        return str(value)
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return type(value).__name__  # not from JSON (a caller's own object): named for the developer


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse_day(text: str) -> date | None:
    if not _DAY_RE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_onset(text: str) -> Onset | None:
    if _MONTH_RE.fullmatch(text):
        parsed = _parse_day(text + "-01")
        return None if parsed is None else Onset(parsed, month_only=True)
    parsed = _parse_day(text)
    return None if parsed is None else Onset(parsed, month_only=False)


def parse_referral(data: object, *, as_of: date) -> Referral:
    """Validate one record of the interchange format; raise `ReferralInputError` listing every problem.

    Every field of the table (domain.fields) is read by its kind, within its limits; then the checks between
    fields. `as_of` is the assessment date: a referral received after it is an input error.
    """
    reader = _Reader()
    if not isinstance(data, dict):
        raise ReferralInputError([FieldError("(record)", f"a referral must be a JSON object, not {_kind(data)}")])
    table = groups()
    top_keys = frozenset(spec.key for spec in table[""]) | (table.keys() - {""})
    for unknown in data.keys() - top_keys:
        reader.fail(
            _key_name(unknown), f"is not a field of a referral (expected one of: {', '.join(sorted(top_keys))})"
        )
    reader.refuse_duplicates(data, "")
    values: dict[str, Any] = {}
    for group, specs in table.items():
        section = reader.section(data, group) if group else data
        for spec in specs:
            values[spec.path] = reader.read(spec, section, spec.path)
    _check_between_fields(reader, values, as_of)
    if reader.errors:
        raise ReferralInputError(sorted(reader.errors, key=lambda e: e.field))
    return build_referral(values)


def _check_between_fields(reader: _Reader, values: dict[str, Any], as_of: date) -> None:
    """The checks that compare fields: dates in order, the TWSTRS pain within its total."""
    received_on, date_of_birth = values["received_on"], values["patient.date_of_birth"]
    if received_on is not None and received_on > as_of:
        reader.fail("received_on", f"{received_on.isoformat()} is after the assessment date {as_of.isoformat()}")
    if date_of_birth is not None and received_on is not None and date_of_birth > received_on:
        reader.fail(
            "patient.date_of_birth",
            f"{date_of_birth.isoformat()} is after the date the referral was received ({received_on.isoformat()})",
        )
    onset = values["diagnosis.onset"]
    if onset is not None:
        onset_problem = _onset_problem(onset, date_of_birth, received_on)
        if onset_problem is not None:
            reader.fail("diagnosis.onset", onset_problem)
    total, pain = values["severity.twstrs_total"], values["severity.twstrs_pain"]
    if total is not None and pain is not None and pain > total:
        reader.fail("severity.twstrs_pain", f"{pain} is more than the TWSTRS total ({total}), which includes it")


def _onset_problem(onset: Onset, date_of_birth: date | None, received_on: date | None) -> str | None:
    """An onset given as a month is compared by month; a full date by day."""

    def key(value: date) -> tuple[int, ...]:
        return (value.year, value.month) if onset.month_only else (value.year, value.month, value.day)

    if date_of_birth is not None and key(onset.first_day) < key(date_of_birth):
        return f"{onset.isoformat()} is before the date of birth ({date_of_birth.isoformat()})"
    if received_on is not None and key(onset.first_day) > key(received_on):
        return f"{onset.isoformat()} is after the date the referral was received ({received_on.isoformat()})"
    return None


def parse_as_of(text: str) -> date:
    """An `--as-of` value: strictly YYYY-MM-DD, else `ValueError` with a message naming it."""
    parsed = _parse_day(text.strip())
    if parsed is None:
        raise ValueError(f"--as-of '{_printable(_clip(text))}' is not a date: write it as YYYY-MM-DD")
    return parsed
