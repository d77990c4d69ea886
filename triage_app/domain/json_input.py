"""Reading JSON text for `parse_referral`: duplicate keys remembered, integers too long for any field kept by size,
so neither ends in a traceback nor is lost silently."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: More digits than this and a JSON integer is kept as an `OversizedNumber` (Python refuses to read more than
#: 4,300 digits, and no field takes anything near even this many).
_MAX_DIGITS = 30


class JsonObject(dict[str, Any]):
    """A JSON object as `loads_json` reads it, remembering the keys the text gave more than once.

    `json` keeps the last of duplicate keys silently; a referral that says `"family_name"` twice is refused
    instead, naming the key, because nobody can tell which of the two the referrer meant.
    """

    __slots__ = ("duplicate_keys",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        duplicates: dict[str, None] = {}
        for key, _ in pairs:
            if key in seen:
                duplicates[key] = None
            seen.add(key)
        self.duplicate_keys: tuple[str, ...] = tuple(duplicates)


@dataclass(frozen=True, slots=True)
class OversizedNumber:
    """A JSON integer with more digits than any field takes (kept by size: Python cannot read 5,000 digits)."""

    digits: int

    def __str__(self) -> str:
        return f"a number of {self.digits:,} digits"


def _parse_int(text: str) -> int | OversizedNumber:
    digits = len(text.lstrip("-"))
    return OversizedNumber(digits) if digits > _MAX_DIGITS else int(text)


def loads_json(text: str) -> Any:
    """Parse JSON text for `parse_referral`: objects are `JsonObject` (duplicate keys remembered) and integers
    too long to be any field's value are `OversizedNumber`, so neither ends in a traceback nor is lost silently.

    Raises `json.JSONDecodeError` for text that is not JSON and `RecursionError` for nesting too deep.
    """
    return json.loads(text, object_pairs_hook=JsonObject, parse_int=_parse_int)


def duplicate_keys(value: object) -> tuple[str, ...]:
    """The keys a JSON object (read by `loads_json`) gave more than once."""
    return value.duplicate_keys if isinstance(value, JsonObject) else ()


class JsonTextError(ValueError):
    """A file's bytes that are not a JSON document, with the sentence that says why (led by the file's name)."""


def json_document(raw: bytes, label: str) -> Any:
    """The JSON document in a file's bytes (`loads_json`: duplicate keys and oversized integers kept for the
    parser to name). `JsonTextError` names what is wrong, led by `label`: not UTF-8, empty, not JSON, nested too
    deeply."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonTextError(f"{label}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again") from None
    if not text.strip():
        raise JsonTextError(f"{label}: the file is empty; expected a referral (JSON object) or a JSON array")
    try:
        return loads_json(text)
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"{label}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise JsonTextError(f"{label}: the JSON is nested too deeply") from None
