"""Dates and names as people read and type them."""

from __future__ import annotations

from datetime import date

import pytest

from triage_app.domain.formats import (
    format_date,
    format_month,
    format_name,
    parse_user_date,
    parse_user_month_or_date,
)


@pytest.mark.hazard("H13")
def test_display_formats() -> None:
    assert format_date(date(2026, 12, 3)) == "03-Dec-2026"
    assert format_date(None) == "" and format_month(None) == ""
    assert format_month(date(2019, 3, 1)) == "Mar-2019"
    assert format_name("Quillfeather", "Morwenna") == "QUILLFEATHER, Morwenna"
    assert format_name(None, "Morwenna") == "Morwenna" and format_name("Ash", None) == "ASH"


@pytest.mark.parametrize(
    "text",
    ["03-Dec-2026", "3-dec-2026", "03 December 2026", "03/12/2026", "3.12.2026", "2026-12-03", " 2026-12-3 "],
)
@pytest.mark.hazard("H13")
def test_dates_people_type(text: str) -> None:
    assert parse_user_date(text) == date(2026, 12, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorrow", "is not a date"),
        ("31/02/2026", "not a real date"),
        ("03-Dek-2026", "'Dek' is not a month"),
        ("2026-13-01", "not a real date"),
        ("12/2026", "is not a date"),
    ],
)
@pytest.mark.hazard("H13")
def test_bad_dates_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_user_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dec-2019", (date(2019, 12, 1), True)),
        ("december 2019", (date(2019, 12, 1), True)),
        ("12/2019", (date(2019, 12, 1), True)),
        ("2019-12", (date(2019, 12, 1), True)),
        ("2019-12-15", (date(2019, 12, 15), False)),
        ("15-Dec-2019", (date(2019, 12, 15), False)),
    ],
)
@pytest.mark.hazard("H13")
def test_onsets(text: str, expected: tuple[date, bool]) -> None:
    assert parse_user_month_or_date(text) == expected


@pytest.mark.parametrize("text", ["13/2019", "Dek-2019", "2019", "soon"])
def test_bad_onsets(text: str) -> None:
    with pytest.raises(ValueError, match="not a month"):
        parse_user_month_or_date(text)
