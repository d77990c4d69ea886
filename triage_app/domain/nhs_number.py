"""NHS number: normalising what people type or paste, and the modulus-11 check digit."""

from __future__ import annotations

_SEPARATORS = str.maketrans("", "", " -")
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def normalise_nhs_number(text: str) -> str:
    """Digits only: spaces and hyphens removed (`999 000-0301` -> `9990000301`)."""
    return text.strip().translate(_SEPARATORS)


def check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits; None when the number can never be valid (remainder 10)."""
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_number_problem(text: str) -> str | None:
    """None when `text` is a valid NHS number; otherwise what is wrong, in a coordinator's words."""
    digits = normalise_nhs_number(text)
    if not digits.isascii() or not digits.isdigit():
        return "an NHS number has only digits (spaces and hyphens are allowed between them)"
    if len(digits) != 10:
        return f"an NHS number has 10 digits; this one has {len(digits)}"
    expected = check_digit(digits[:9])
    if expected is None:
        return "this is not a valid NHS number (no check digit fits its first nine digits): check for a typing error"
    if expected != int(digits[9]):
        return "NHS number check digit does not match: check for a typing error"
    return None


def is_test_range(digits: str) -> bool:
    """True for the never-issued test range 999 000 0000 - 999 999 9999 used in tests and demo data."""
    return len(digits) == 10 and digits.startswith("999")


def make_test_nhs_number(serial: int) -> str:
    """A valid NHS number of the test range, distinct for each serial from 0 to 99,999 (then repeating).

    Each serial owns ten consecutive nine-digit bodies; at most one of ten can lack a check digit.
    """
    block = 999_000_000 + (serial % 100_000) * 10
    for body in range(block, block + 10):
        check = check_digit(str(body))
        if check is not None:
            return f"{body}{check}"
    raise AssertionError("unreachable: one body in ten always has a check digit")  # pragma: no cover
