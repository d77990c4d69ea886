"""Outcome letters to referrers, filled from a template a unit can edit (resources/templates).

Placeholders are `$name`; values go in as plain text in one pass, so nothing in a referral (`{{7*7}}`,
`$other`, markup) is ever evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from string import Template

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, CaseInput, MeetingInfo
from triage_app.domain.referral import format_nhs_number

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
    "signatory",
)


@dataclass(frozen=True, slots=True)
class Letter:
    """A filled letter: a title and paragraphs of plain text."""

    referral_id: int
    title: str
    paragraphs: tuple[str, ...]


def letter_fields(
    case: CaseInput, meeting: MeetingInfo, *, unit_name: str, signatory: str, today: date
) -> dict[str, str]:
    """Every placeholder's text for one case."""
    patient = case.referral.patient
    referrer = case.referral.referrer
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
        "signatory": signatory,
    }


class TemplateError(ValueError):
    """The letter template cannot be used; the message says why."""


def fill_letter(template_text: str, fields: dict[str, str], referral_id: int) -> Letter:
    """Fill the template: comment lines (#) dropped, the first line is the title, blank lines split paragraphs."""
    lines = [line for line in template_text.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).strip()
    if not text:
        raise TemplateError("the letter template is empty")
    template = Template(text)
    used = {named or braced for _, named, braced, _ in template.pattern.findall(text) if named or braced}
    unknown = used - set(PLACEHOLDERS)
    if unknown:
        raise TemplateError(f"the letter template uses unknown placeholders: {', '.join(sorted(unknown))}")
    filled = template.safe_substitute(fields)
    blocks = [block.strip() for block in filled.split("\n\n")]
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in blocks if block]
    return Letter(referral_id, blocks[0], tuple(blocks[1:]))
