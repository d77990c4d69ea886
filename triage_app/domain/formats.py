"""How dates, names and NHS numbers are shown and typed: DD-MMM-YYYY dates, FAMILY, Given names, 3-3-4 numbers.

Coordinators type dates several ways; `parse_user_date` accepts the common ones and says what it expects.
"""

from __future__ import annotations

import re
from datetime import date

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FULL_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_NUMBER = (
    {name.lower(): index + 1 for index, name in enumerate(MONTHS)}
    | {name: index + 1 for index, name in enumerate(_FULL_MONTHS)}
    | {"sept": 9}
)
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[-/ .]([A-Za-z]{3,9}|\d{1,2})[-/ .](\d{4})")
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_MONTH_YEAR = re.compile(r"([A-Za-z]{3,9}|\d{1,2})[-/ .](\d{4})")
_ISO_MONTH = re.compile(r"(\d{4})-(\d{1,2})")

DATE_HINT = "a date such as 03-Dec-2026, 03/12/2026 or 2026-12-03"
MONTH_HINT = "a month such as Dec-2019, 12/2019 or 2019-12, or a full date"


def format_date(value: date | None) -> str:
    """03-Dec-2026; empty for an unknown date."""
    return "" if value is None else f"{value.day:02d}-{MONTHS[value.month - 1]}-{value.year:04d}"


def format_month(value: date | None) -> str:
    """Dec-2019."""
    return "" if value is None else f"{MONTHS[value.month - 1]}-{value.year:04d}"


def format_name(family: str | None, given: str | None) -> str:
    """FAMILY, Given (either part may be unknown)."""
    parts = [(family or "").upper(), given or ""]
    return ", ".join(p for p in parts if p)


def _month(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return _MONTH_NUMBER.get(text.lower())


def parse_user_date(text: str) -> date:
    """A date as a person types it (day first, as in the UK). `ValueError` says what was expected."""
    value = text.strip()
    match = _ISO_DAY.fullmatch(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _DAY_MONTH_YEAR.fullmatch(value)
        if not match:
            raise ValueError(f"'{value}' is not a date: type {DATE_HINT}")
        month_value = _month(match.group(2))
        if month_value is None:
            raise ValueError(f"'{match.group(2)}' is not a month: type {DATE_HINT}")
        day, month, year = int(match.group(1)), month_value, int(match.group(3))
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"'{value}' is not a real date: check the day and month") from None


def parse_user_month_or_date(text: str) -> tuple[date, bool]:
    """An onset: a month (returns its first day, True) or a full date (the date, False)."""
    value = text.strip()
    for pattern, order in ((_ISO_MONTH, "ym"), (_MONTH_YEAR, "my")):
        match = pattern.fullmatch(value)
        if match:
            month_text, year_text = (match.group(2), match.group(1)) if order == "ym" else match.groups()
            month = _month(month_text)
            if month is None or not 1 <= month <= 12:
                raise ValueError(f"'{value}' is not a month: type {MONTH_HINT}")
            return date(int(year_text), month, 1), True
    try:
        return parse_user_date(value), False
    except ValueError:
        raise ValueError(f"'{value}' is not a month or a date: type {MONTH_HINT}") from None
