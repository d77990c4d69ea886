"""The queue's search keys: one row per name part and per NHS-number suffix, searched by an index range (H01).

A referral for "Marguerite Quinnell-Abara", NHS number 999 123 4323, holds the keys
  F QUINNELL, F ABARA, G MARGUERITE                     (family and given name parts, upper-cased)
  N 1234323, N 234323, N 34323, N 4323                    (NHS-number suffixes of four or more digits, after the first)
so "abara", "Quinnell Abara", "QUINNELL, Marguerite" and "4323" are each an index range on `key` (prefix <= key <
prefix + U+10FFFF), never a scan. The whole number is found through the referral's own NHS-number index.

Written wherever a referral's name or NHS number is (storage.referrals, storage.bulk); schema 0011 fills them for
existing referrals with the same rule (its own copy: a migration never changes once released).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from triage_app.storage.models import ReferralSearchKeyRow

FAMILY, GIVEN, NHS = "F", "G", "N"
#: The fewest digits a search matches anywhere in an NHS number (fewer match its start only).
MIN_DIGITS = 4
#: Longest key stored (the column's length).
KEY_LENGTH = 200

_SEPARATORS = re.compile(r"[\s,.;:/()\-]+")


def name_parts(text: str | None) -> list[str]:
    """The upper-cased parts a name is found by: each part of a hyphenated or double-barrelled name, and one with
    an apostrophe also without it and in its pieces ("O'NEILL", "ONEILL", "O", "NEILL"); no duplicates, in order."""
    found: list[str] = []
    for part in _SEPARATORS.split((text or "").upper().replace("\u2019", "'")):
        for variant in (part, part.replace("'", ""), *part.split("'")):
            variant = variant[:KEY_LENGTH]
            if variant and variant not in found:
                found.append(variant)
    return found


def nhs_suffixes(nhs_number: str | None) -> list[str]:
    """The NHS number's digit suffixes of at least `MIN_DIGITS`, after the first (the whole number has its own
    index): "9991234323" -> "991234323" ... "4323"."""
    digits = "".join(ch for ch in nhs_number or "" if ch.isdigit())
    return [digits[start:] for start in range(1, len(digits) - MIN_DIGITS + 1)]


def search_key_rows(
    referral_id: int, family: str | None, given: str | None, nhs_number: str | None
) -> list[dict[str, Any]]:
    """The referral's search-key rows as column values."""
    keys = [(FAMILY, key) for key in name_parts(family)]
    keys += [(GIVEN, key) for key in name_parts(given)]
    keys += [(NHS, key) for key in nhs_suffixes(nhs_number)]
    return [{"key": key, "kind": kind, "referral_id": referral_id} for kind, key in dict.fromkeys(keys)]


def _table() -> sa.Table:
    table: sa.Table = ReferralSearchKeyRow.__table__  # type: ignore[attr-defined]
    return table


def write_search_keys(
    session: Session, referral_id: int, *, family: str | None, given: str | None, nhs_number: str | None
) -> None:
    """Replace a referral's search keys (after its name or NHS number is written), in the caller's transaction."""
    table = _table()
    connection = session.connection()
    connection.execute(sa.delete(table).where(table.c.referral_id == referral_id))
    rows = search_key_rows(referral_id, family, given, nhs_number)
    if rows:
        connection.execute(sa.insert(table), rows)


def bulk_search_key_rows(items: Iterable[tuple[int, str | None, str | None, str | None]]) -> list[dict[str, Any]]:
    """Search-key rows for many new referrals: (id, family, given, NHS number) each."""
    rows: list[dict[str, Any]] = []
    for referral_id, family, given, nhs_number in items:
        rows += search_key_rows(referral_id, family, given, nhs_number)
    return rows


def _prefix(column: Any, prefix: str) -> sa.ColumnElement[bool]:
    return sa.and_(column >= prefix, column < prefix + "\U0010ffff")


def _key_match(table: Any, prefix: str, kinds: tuple[str, ...]) -> sa.ColumnElement[bool]:
    kind = sa.or_(*(table.c.kind == one for one in kinds))  # not IN: the queue runs it on the driver's cursor
    return sa.and_(_prefix(table.c.key, prefix), kind)


def having_keys(wanted: list[tuple[str, tuple[str, ...]]]) -> sa.Select[Any]:
    """The ids of the referrals holding, for every (prefix, kinds) wanted, a key of one of those kinds
    starting with the prefix.

    The longest prefix (the fewest referrals, as a rule) is read by its index range; each other word is checked
    for those referrals only, by their own keys (the referral_id index): "Ashworth M" reads the Ashworths, not
    every name starting with M.
    """
    ordered = sorted(wanted, key=lambda item: -len(item[0]))
    table = _table()
    first = table.alias("k0")
    query = sa.select(first.c.referral_id).where(_key_match(first, *ordered[0]))
    for number, (prefix, kinds) in enumerate(ordered[1:], start=1):
        other = table.alias(f"k{number}")
        query = query.where(
            sa.exists().where(other.c.referral_id == first.c.referral_id, _key_match(other, prefix, kinds))
        )
    return query


def search_selects(text: str) -> list[sa.Select[Any]]:
    """Queries of referral ids (the caller unites them) for a typed search over names and NHS-number digits.

    "Given Family", "Family Given", "FAMILY, Given", a single part, or a part's start: every word typed must
    start a part of the patient's name (AND, so more words only narrow it); with a comma, the words before it
    must be family-name parts and those after it given-name parts. Four or more digits match anywhere in an NHS
    number (spaces ignored).
    """
    digits = text.replace(" ", "").replace("-", "")
    if digits.isdigit():
        return [having_keys([(digits, (NHS,))])] if len(digits) >= MIN_DIGITS else []
    family_text, comma, given_text = text.partition(",")
    if comma:
        wanted: list[tuple[str, tuple[str, ...]]] = [(word, (FAMILY,)) for word in _words(family_text)]
        wanted += [(word, (GIVEN,)) for word in _words(given_text)]
    else:
        wanted = [(word, (FAMILY, GIVEN)) for word in _words(text)]
    return [having_keys(wanted)] if wanted else []


def _words(text: str) -> list[str]:
    return [word for word in _SEPARATORS.split(text.upper().replace("\u2019", "'")) if word.strip("'")]
