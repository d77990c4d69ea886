"""How the import and score commands name a record of a file to the person who runs them.

Records are numbered from 1, as a coordinator counts them ("record 250 of 400"), and named by what the file itself
says when it can be read: the referrer's reference (`external_id`), else the NHS number as given. These names are
for the user's terminal only, never the log (no patient identifiers in logs): the log keeps record numbers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from triage_app.domain.parsing import duplicate_keys
from triage_app.domain.referral import text_problem

#: Characters that could hide or reorder what a terminal shows (format, separators, private or unassigned).
_UNSHOWN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: An NHS number given as a JSON number is shown when it could be one (ten digits, with room for a typo).
_MAX_NHS_DIGITS = 20


def record_number(index: int) -> int:
    """The record's number as people count: the first record of a file is record 1."""
    return index + 1


def record_reference(record: object) -> str | None:
    """What the file itself calls `record`: `external_id REF-1` (the referrer's reference) when that is readable
    text, else `NHS number 999 000 0001` as given; None when neither can be read.

    A value that is over its field's limit, not valid text, holds a control or format character, or whose key is
    given twice in the record names nothing (it may be ten megabytes, or make the terminal show something else).
    """
    if not isinstance(record, Mapping):
        return None
    external_id = _readable(record, "external_id", "external_id")
    if external_id is not None:
        return f"external_id {external_id}"
    patient = record.get("patient")
    if isinstance(patient, Mapping):
        nhs_number = _readable(patient, "nhs_number", "patient.nhs_number")
        if nhs_number is not None:
            return f"NHS number {nhs_number}"
    return None


def describe_record(index: int, record: object = None, *, reference: str | None = None) -> str:
    """`record 250 (external_id REF-250)`: the record at `index` (from 0) by its number and what the file calls it
    (`reference`, else read from `record`); `record 250` alone when the file names it by nothing readable."""
    name = reference if reference is not None else record_reference(record)
    where = f"record {record_number(index)}"
    return f"{where} ({name})" if name else where


def _readable(data: Mapping[object, object], key: str, field: str) -> str | None:
    """`data[key]` as the file gives it, when it can be shown on one line as it is; else None."""
    if key in duplicate_keys(data):
        return None  # two values: naming the record by either could point at the wrong one
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**_MAX_NHS_DIGITS:
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text_problem(text, field) is not None:
        return None
    if any(unicodedata.category(char) in _UNSHOWN_CATEGORIES for char in text):
        return None
    return text
