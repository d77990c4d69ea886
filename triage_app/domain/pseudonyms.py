"""What a pseudonymised agenda or outcome summary may say of a patient, and the last check that nothing else does.

The pseudonymised agenda and outcome summary go wider than the MDT (architecture.md, "Patient data"), so they
carry what identifies the case to the MDT and no more (decided for H11, a breach through exports):

- the patient as initials and the last four digits of the NHS number (`M.Q.`, `xxx xxx 0301`);
- an age band instead of the date of birth: an exact age is a quasi-identifier (with initials and four digits
  it narrows a patient down), while a band still shows a child or an older patient; no hospital number;
- the referrer's role only: the referrer's name and organisation code point at a practice and so at the patient;
- the month received, not the day: together with the weeks waiting it is what the 18-week clock needs, and a
  day of receipt is one more fact that could match a patient's letters; the onset likewise as a month;
- no free text at all: clinical question, drug names, rationale and agreed actions are typed by people and can
  hold anything (a name, a date of birth, a family member), so they are left out, saying so; criteria reasons
  are the rules' own words, with drug names and an onset's day taken out;
- every case field is finally checked against the patient's identifiers and the case's free text, and any
  that still turns up is replaced by `[withheld]`, so a future field cannot leak them by accident.

Split from domain.meetings (the agenda), which re-exports every name here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from triage_app.domain.formats import format_date
from triage_app.domain.referral import Referral

CONFIDENTIAL: Final = "CONFIDENTIAL: patient-identifiable data. Do not forward outside the MDT."
PSEUDONYMISED: Final = (
    "Pseudonymised: initials, last 4 NHS digits and age band; no free text, birth dates or referrers."
)
WITHHELD: Final = "[withheld]"
FREE_TEXT_WITHHELD: Final = "withheld from the pseudonymised copy (free text)"


def initials(family: str | None, given: str | None) -> str:
    """`M.Q.` from Morwenna Quillfeather; `?` for an unknown part."""
    return f"{(given or '?')[:1].upper()}.{(family or '?')[:1].upper()}."


def nhs_last_four(digits: str | None) -> str:
    """`xxx xxx 0301`: the last four digits only, in the 3-3-4 shape people read an NHS number in."""
    return "" if not digits else f"xxx xxx {digits[-4:]}"


def age_band(age: int) -> str:
    """`under 18`, `18-19`, `40-49`, `90 or over`: an age that still tells a child from an older patient."""
    if age < 18:
        return "under 18"
    if age >= 90:
        return "90 or over"
    low = max(18, age // 10 * 10)
    return f"{low}-{age // 10 * 10 + 9}"


def word_pattern(value: str) -> str:
    """A regular expression for `value` as a whole word, any run of spaces standing for any white space."""
    return r"(?<!\w)" + r"\s+".join(re.escape(part) for part in value.split()) + r"(?!\w)"


def identifier_patterns(referral: Referral, extra: Iterable[str | None] = ()) -> re.Pattern[str] | None:
    """One pattern matching any of the referral's identifiers as people write them, and any `extra` text.

    Names, hospital number, the referrer's name and organisation, the external reference, drug names; the NHS
    number in any grouping (`9990000301`, `999 000 0301`, `999-000-0301`); the date of birth as ISO, DD-Mon-YYYY,
    DD/MM/YYYY and D/M/YYYY. Parts shorter than two characters are skipped (an initial is no identifier).
    """
    patient, referrer = referral.patient, referral.referrer
    words = [
        patient.family_name,
        patient.given_name,
        patient.hospital_number,
        referrer.name,
        referrer.organisation_ods,
        referral.external_id,
        referral.clinical_question,
        *(m.drug for m in referral.oral_medications or ()),
        *extra,
    ]
    patterns = [word_pattern(w.strip()) for w in words if w and len(w.strip()) >= 2]
    digits = re.sub(r"\D", "", patient.nhs_number or "")
    if digits:
        patterns.append(r"[\s-]*".join(digits))
    born = patient.date_of_birth
    if born is not None:
        for text in {
            born.isoformat(),
            format_date(born),
            f"{born.day:02d}/{born.month:02d}/{born.year}",
            f"{born.day}/{born.month}/{born.year}",
        }:
            patterns.append(re.escape(text))
    return re.compile("|".join(patterns), re.IGNORECASE) if patterns else None


def withhold(text: str, identifiers: re.Pattern[str] | None) -> str:
    """`text` with anything `identifiers` matches replaced by `[withheld]`."""
    return text if identifiers is None else identifiers.sub(WITHHELD, text)
