"""Outcome letters to referrers, filled from a template a unit can edit (resources/templates).

Placeholders are `$name`; values go in as plain text in one pass, so nothing in a referral (`{{7*7}}`,
`$other`, markup) is ever evaluated.

A letter goes to the referrer, outside the MDT, so safety.md asks more of it than of other text: it is made
only for an outcome the MDT recorded, never before the meeting's date, is dated the day it is made, names
the patient by three identifiers, carries the one-line intended-use statement and is signed with the name
and role of the consultant who recorded the outcome. A template that leaves out any of those is refused.

When the caller gives a rules line (which approved rules the triage used), the letter carries it: where the
template puts `$rules_line`, or else right after the intended-use statement, in the same paragraph.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from string import Template
from typing import Final

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, NOT_DISCUSSED, CaseInput, MeetingInfo, role_label
from triage_app.domain.referral import format_nhs_number

#: The marking on every page of a letter: it leaves the MDT for the referrer, so no "do not forward".
LETTER_MARKING: Final = "Confidential: contains patient-identifiable information"

#: The signature's role when the consultant who recorded the outcome has no MDT role on file.
DEFAULT_SIGNATORY_ROLE: Final = "Consultant"

PLACEHOLDERS = (
    "today",
    "unit_name",
    "referrer_name",
    "referrer_organisation",
    "patient_name",
    "nhs_number",
    "date_of_birth",
    "hospital_number",
    "meeting_date",
    "outcome",
    "rationale",
    "actions",
    "signatory",  # "name, role" on one line, kept for templates written before the two below
    "signatory_name",
    "signatory_role",
    "intended_use",
    "rules_line",  # optional: where a template does not place it, it follows the intended-use statement
    "referrer_address",  # the address lines, or ADDRESS_NOT_ON_FILE
    "gp_name",
    "gp_practice",
    "gp_address",
    "cc_gp",  # who the copy goes to (GP's name, practice, address), "" when the referrer is the GP
    "marking",
)

#: The address block of a letter whose referrer's address is not on the referral.
ADDRESS_NOT_ON_FILE: Final = "Address not on file"

#: What every template must say; each entry is met by any one of its placeholders.
REQUIRED_PLACEHOLDERS: Final[tuple[tuple[str, ...], ...]] = (
    ("today",),
    ("patient_name",),
    ("nhs_number",),
    ("date_of_birth",),
    ("intended_use",),
    ("signatory_name", "signatory"),
    ("signatory_role", "signatory"),
)


@dataclass(frozen=True, slots=True)
class Letter:
    """A filled letter: a title and paragraphs of plain text, and the marking every page carries."""

    referral_id: int
    title: str
    paragraphs: tuple[str, ...]
    marking: str = LETTER_MARKING


@dataclass(frozen=True, slots=True)
class Signatory:
    """Who signs a letter: the consultant who recorded the outcome, by name and role in words."""

    name: str
    role: str


def signatory_role(mdt_role: str | None) -> str:
    """The signature's role: the consultant's MDT role in words (`Functional neurosurgeon`), else `Consultant`."""
    return role_label(mdt_role) if mdt_role else DEFAULT_SIGNATORY_ROLE


def needs_letter(case: CaseInput) -> bool:
    """Whether the case gets a letter: only a recorded outcome does, and "not discussed" is no outcome."""
    return case.outcome is not None and case.outcome != NOT_DISCUSSED


def too_early(meeting: MeetingInfo, today: date) -> str | None:
    """Why no letter can be made `today` for this meeting, or None when it can (on or after its date)."""
    if today >= meeting.meeting_date:
        return None
    return (
        f"the meeting is on {format_date(meeting.meeting_date)}: outcome letters are made on or after that date, "
        f"once the MDT has recorded its outcomes (today is {format_date(today)})"
    )


def letter_fields(
    case: CaseInput,
    meeting: MeetingInfo,
    *,
    unit_name: str,
    signatory: Signatory,
    today: date,
    intended_use: str = INTENDED_USE_LINE,
    rules_line: str = "",
) -> dict[str, str]:
    """Every placeholder's text for one case; `today` is the day the letter is made and the date it bears;
    `rules_line` (empty: none) says which approved rules the triage used."""
    patient = case.referral.patient
    referrer = case.referral.referrer
    referral = case.referral
    return {
        "today": format_date(today),
        "unit_name": unit_name,
        "referrer_name": referrer.name or "Colleague",
        "referrer_organisation": referrer.organisation_ods or "",
        "patient_name": format_name(patient.family_name, patient.given_name) or "name not recorded",
        "nhs_number": format_nhs_number(patient.nhs_number) or "not recorded",
        "date_of_birth": format_date(patient.date_of_birth) or "not recorded",
        "hospital_number": patient.hospital_number or "not recorded",
        "meeting_date": format_date(meeting.meeting_date),
        "outcome": MEETING_OUTCOME_LABELS.get(case.outcome or "", "not recorded"),
        "rationale": case.rationale or "",
        "actions": "; ".join(
            f"{a.description} ({a.owner or 'owner not set'}, by {format_date(a.due) or 'date not set'})"
            for a in case.actions
        )
        or "none",
        "signatory": f"{signatory.name}, {signatory.role}",
        "signatory_name": signatory.name,
        "signatory_role": signatory.role,
        "intended_use": intended_use,
        "rules_line": rules_line.strip(),
        "referrer_address": _text(referral.value("referrer.address")) or ADDRESS_NOT_ON_FILE,
        "gp_name": _text(referral.value("gp.name")),
        "gp_practice": _text(referral.value("gp.practice")),
        "gp_address": _text(referral.value("gp.address")),
        "cc_gp": cc_gp(case),
        "marking": LETTER_MARKING,
    }


def _text(value: object) -> str:
    """A stored text field as a letter prints it: trimmed, blank lines dropped, "" when unknown."""
    if not isinstance(value, str):
        return ""
    return "\n".join(line.strip() for line in value.splitlines() if line.strip())


def referrer_is_gp(case: CaseInput) -> bool:
    """Whether the referrer is the patient's GP (then no copy goes to the GP: the letter already does)."""
    return case.referral.referrer.role == "gp"


def cc_gp(case: CaseInput) -> str:
    """Who the GP's copy goes to, one line each (name, practice, address); "" when the referrer is the GP.

    A GP not on file still gets a line ("the patient's GP (details not on file)") so the copy is not forgotten.
    """
    if referrer_is_gp(case):
        return ""
    referral = case.referral
    lines = [_text(referral.value(path)) for path in ("gp.name", "gp.practice", "gp.address")]
    found = "\n".join(line for line in lines if line)
    return found or "The patient's GP (details not on file)"


def missing_addresses(case: CaseInput) -> list[str]:
    """What a letter's export reports as missing: the referrer's address, the GP's details (when copied)."""
    referral = case.referral
    missing = []
    if not _text(referral.value("referrer.address")):
        missing.append("the referrer's address")
    if not referrer_is_gp(case) and not _text(referral.value("gp.address")):
        missing.append("the GP's address")
    return missing


#: Characters Windows refuses in a file name (and the control characters, below).
_UNSAFE = set('<>:"/\\|?*')


def safe_file_part(text: str) -> str:
    """`text` as part of a file name any desktop accepts: no characters Windows refuses, no control
    characters, runs of spaces as one, no leading or trailing dots or spaces."""
    cleaned = "".join(" " if ch in _UNSAFE or ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    return " ".join(cleaned.split()).strip(" .")


def letter_stem(case: CaseInput, on: date, kind: str = "outcome") -> str:
    """The file name (without suffix) of a case's letter: `QUINNELL Marguerite 999 123 4567 outcome 22-Nov-2026`.

    Family name in capitals, given name, NHS number, the kind of letter and the date, so a coordinator finds
    it by patient; never an internal id. At most 120 characters (the name is cut, never the NHS number or date).
    """
    patient = case.referral.patient
    name = safe_file_part(f"{(patient.family_name or '').upper()} {patient.given_name or ''}") or "Name not recorded"
    tail = safe_file_part(f"{format_nhs_number(patient.nhs_number) or 'no NHS number'} {kind} {format_date(on)}")
    name = name[: max(1, 119 - len(tail))].strip(" .")
    return f"{name} {tail}"  # never only a name Windows reserves (CON, NUL): the number and date follow


def unique_names(stems: list[str], suffix: str) -> list[str]:
    """File names for `stems`, in order, a second and later one of the same name numbered `(2)`, `(3)`: two
    letters for the same patient and day never share a file (names compared as Windows does, ignoring case)."""
    seen: dict[str, int] = {}
    names = []
    for stem in stems:
        count = seen.get(stem.casefold(), 0) + 1
        seen[stem.casefold()] = count
        names.append(f"{stem}.{suffix}" if count == 1 else f"{stem} ({count}).{suffix}")
    return names


class TemplateError(ValueError):
    """The letter template cannot be used; the message says why."""


def _used_placeholders(template: Template, text: str) -> set[str]:
    return {named or braced for _, named, braced, _ in template.pattern.findall(text) if named or braced}


def check_template(template_text: str) -> Template:
    """The template without its comment lines, refused if empty, if it uses an unknown placeholder or if it
    leaves out something every letter must say (date, three identifiers, intended use, signatory)."""
    lines = [line for line in template_text.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).strip()
    if not text:
        raise TemplateError("the letter template is empty")
    template = Template(text)
    used = _used_placeholders(template, text)
    unknown = used - set(PLACEHOLDERS)
    if unknown:
        raise TemplateError(f"the letter template uses unknown placeholders: {', '.join(sorted(unknown))}")
    missing = [group[0] for group in REQUIRED_PLACEHOLDERS if not used & set(group)]
    if missing:
        raise TemplateError(
            "the letter template leaves out what every letter must say: " + ", ".join(f"${name}" for name in missing)
        )
    return template


def fill_letter(template_text: str, fields: dict[str, str], referral_id: int) -> Letter:
    """Fill the template: comment lines (#) dropped, the first line is the title, blank lines split paragraphs.

    A rules line the template does not place itself follows the intended-use statement.
    """
    template = check_template(template_text)
    values = dict(fields)
    rules_line = values.get("rules_line", "")
    if rules_line and "rules_line" not in _used_placeholders(template, template.template):
        values["intended_use"] = f"{values.get('intended_use', '')} {rules_line}".strip()
    filled = template.safe_substitute(values)
    blocks = [block.strip() for block in filled.split("\n\n")]
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in blocks if block]
    return Letter(referral_id, blocks[0], tuple(blocks[1:]))
