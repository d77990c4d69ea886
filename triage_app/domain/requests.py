"""What a referral awaits, in words, and the letter asking the referrer for it.

A referral the triage cannot complete lists its missing fields as paths (`severity.twstrs_total`). A coordinator
chasing them needs them in words a referrer understands ("the TWSTRS total score"): the form's labels
(domain.fields) read into a sentence, with plainer wording for the fields a referrer is most often asked for.

The request goes to the referrer, outside the MDT, so it names the patient by three identifiers, carries the
letter marking (patient-identifiable, no "do not forward") and the one-line intended-use statement, and is signed
by the coordinator who writes it, by name and role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from triage_app.domain.criteria import in_sentence
from triage_app.domain.fields import field_spec
from triage_app.domain.formats import format_date, format_name
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.letters import LETTER_MARKING, Letter
from triage_app.domain.referral import field_label, format_nhs_number

#: Days from moving a referral to awaiting information to its default chase date.
DEFAULT_CHASE_DAYS: Final = 14

#: The fields a referrer is most often asked for, worded as a request reads them (others: the form's label).
REQUEST_WORDS: Final[dict[str, str]] = {
    "patient.date_of_birth": "the patient's date of birth",
    "referrer.role": "your role (GP, neurologist or other)",
    "diagnosis.condition": "the diagnosis",
    "diagnosis.aetiology": "the aetiology of the dystonia (idiopathic, tardive, functional or other secondary)",
    "diagnosis.distribution": "the distribution of the dystonia (focal, segmental or generalised)",
    "diagnosis.onset": "the date (or month) of onset",
    "diagnosis.specialist_confirmed": "whether a specialist has confirmed the diagnosis",
    "phenotype.components": "the Col-Cap components of the head and neck posture",
    "phenotype.head_tremor": "whether the patient has a head tremor",
    "severity.twstrs_total": "the TWSTRS total score",
    "severity.twstrs_pain": "the TWSTRS pain score",
    "severity.tsui": "the Tsui score",
    "botulinum_toxin.cycles": "the number of botulinum toxin cycles",
    "botulinum_toxin.guidance": "how the botulinum toxin injections were guided (EMG, ultrasound or not guided)",
    "botulinum_toxin.response": "the response to botulinum toxin",
    "botulinum_toxin.immunoresistance_tested": "whether immunoresistance to botulinum toxin has been tested",
    "oral_medications": "the oral medications tried and the outcome of each",
    "physiotherapy.completed": "whether a course of physiotherapy was completed",
    "physiotherapy.outcome": "the outcome of physiotherapy",
    "history.dysphagia": "whether the patient has dysphagia",
    "history.prior_neck_surgery": "whether the patient has had neck surgery",
    "history.congenital_head_or_spine_abnormality": "whether the patient has a congenital head or spine abnormality",
    "history.cervical_spine_disease": "whether the patient has cervical spine disease",
}

#: The role a request is signed in: the coordinator who writes it.
REQUEST_SIGNER_ROLE: Final = "MDT coordinator"


def _list_item(path: str, drugs: Sequence[str | None]) -> str | None:
    """An oral medication's missing drug or outcome, by the drug's name when it is known."""
    match = re.fullmatch(r"oral_medications\[(\d+)\]\.(drug|outcome)", path)
    if match is None:
        return None
    index, leaf = int(match.group(1)), match.group(2)
    drug = drugs[index] if index < len(drugs) else None
    if leaf == "drug":
        return f"the name of oral medication {index + 1}"
    return f"the outcome of {drug.strip()}" if drug and drug.strip() else f"the outcome of oral medication {index + 1}"


def awaited_item(path: str, drugs: Sequence[str | None] = ()) -> str:
    """One missing field in words: `severity.twstrs_total` -> `the TWSTRS total score`; an oral medication's
    outcome by its drug (`drugs`, in the referral's order): `the outcome of clonazepam`."""
    if path in REQUEST_WORDS:
        return REQUEST_WORDS[path]
    item = _list_item(path, drugs)
    if item is not None:
        return item
    spec = field_spec(path)
    label = in_sentence(field_label(path))
    if spec is not None and spec.kind == "flag":
        return f"whether: {label} (yes or no)"
    return f"the {label}"


def awaited_items(missing: Iterable[str], drugs: Sequence[str | None] = ()) -> tuple[str, ...]:
    """The missing fields in words, in the order given, each once."""
    return tuple(dict.fromkeys(awaited_item(path, drugs) for path in missing))


def awaited_text(missing: Iterable[str], drugs: Sequence[str | None] = ()) -> str:
    """What is awaited, in one line: `the TWSTRS total score; the number of botulinum toxin cycles`."""
    return "; ".join(awaited_items(missing, drugs))


def default_chase_date(today: date, days: int = DEFAULT_CHASE_DAYS) -> date:
    """The date to chase a referral moved to awaiting information today."""
    return today + timedelta(days=days)


def is_overdue(chase_on: date | None, today: date) -> bool:
    """A chase is overdue once its date has passed (due today is not yet overdue); no date set is overdue."""
    return chase_on is None or chase_on < today


@dataclass(frozen=True, slots=True)
class RequestPatient:
    """The patient and referrer a request names (three identifiers, the hospital number when known)."""

    family_name: str | None
    given_name: str | None
    nhs_number: str | None
    date_of_birth: date | None
    hospital_number: str | None
    received_on: date | None
    referrer_name: str | None
    referrer_organisation: str | None
    referrer_address: str | None = None


def request_letter(
    referral_id: int,
    patient: RequestPatient,
    awaited: Iterable[str],
    *,
    today: date,
    reply_by: date | None,
    unit_name: str,
    signer_name: str,
    signer_role: str = REQUEST_SIGNER_ROLE,
) -> Letter:
    """The letter asking the referrer for what is awaited (each item in words, e.g. from `awaited_items`)."""
    items = [item.strip() for item in awaited if item.strip()]
    if not items:
        raise ValueError("nothing is awaited: a request names at least one piece of information")
    name = format_name(patient.family_name, patient.given_name) or "(name not recorded)"
    identifiers = [
        f"Patient: {name}",
        f"NHS number: {format_nhs_number(patient.nhs_number) if patient.nhs_number else '(not recorded)'}",
        f"Date of birth: {format_date(patient.date_of_birth) or '(not recorded)'}",
    ]
    if patient.hospital_number:
        identifiers.append(f"Hospital number: {patient.hospital_number}")
    to = patient.referrer_name or "the referrer"
    if patient.referrer_organisation:
        to += f", {patient.referrer_organisation}"
    received = format_date(patient.received_on)
    reply = f" Please reply by {format_date(reply_by)}." if reply_by is not None else ""
    unit = f"the {unit_name}" if unit_name[:1].islower() else unit_name  # "the specialist neurosurgical unit"
    paragraphs = (
        format_date(today),
        f"To: {to}",
        "; ".join(identifiers),
        f"Dear {patient.referrer_name or 'colleague'},",
        f"Thank you for your referral{f' received on {received}' if received else ''} to {unit}. Before the "
        "MDT can consider it, we need some further information, which the referral did not include.",
        "Please send: " + "; ".join(items) + ".",
        "The referral is on hold until we receive it." + reply,
        INTENDED_USE_LINE,
        "Yours sincerely,",
        f"{signer_name}, {signer_role}, {unit_name}",
    )
    return Letter(referral_id=referral_id, title="Request for further information", paragraphs=paragraphs)


def request_fields(
    patient: RequestPatient,
    awaited: Iterable[str],
    *,
    today: date,
    reply_by: date | None,
    unit_name: str,
    signer_name: str,
    signer_role: str = REQUEST_SIGNER_ROLE,
) -> dict[str, str]:
    """The request's placeholders for a unit's Word template (resources/templates/information_request.docx):
    plain text, each awaited item on a line of its own."""
    items = [item.strip() for item in awaited if item.strip()]
    if not items:
        raise ValueError("nothing is awaited: a request names at least one piece of information")
    organisation = patient.referrer_organisation or ""
    address = "\n".join(part for part in (organisation, patient.referrer_address or "") if part)
    return {
        "today": format_date(today),
        "referrer_name": patient.referrer_name or "the referrer",
        "referrer_address": address or "(address not recorded)",
        "unit_name": unit_name,
        "patient_name": format_name(patient.family_name, patient.given_name) or "(name not recorded)",
        "nhs_number": format_nhs_number(patient.nhs_number) if patient.nhs_number else "(not recorded)",
        "date_of_birth": format_date(patient.date_of_birth) or "(not recorded)",
        "hospital_number": patient.hospital_number or "(not recorded)",
        "received_on": format_date(patient.received_on) or "(date not recorded)",
        "awaited": "\n".join(f"• {item[:1].upper()}{item[1:]}" for item in items),
        "reply_by": f"Please reply by {format_date(reply_by)}." if reply_by is not None else "",
        "intended_use": INTENDED_USE_LINE,
        "signatory_name": signer_name,
        "signatory_role": signer_role,
        "marking": LETTER_MARKING,
    }


def request_file_name(patient: RequestPatient, today: date, fmt: str) -> str:
    """`information-request-QUINNELL-Marguerite-22-Nov-2026.docx`: the patient and the date, no internal id."""

    def cleaned(part: str | None) -> str:
        return "".join(ch if ch.isalnum() else "-" for ch in part or "").strip("-")

    # The whole family name in capitals, a double-barrelled one too (SMITH-JONES), as letters name patients.
    who = "-".join(part for part in (cleaned(patient.family_name).upper(), cleaned(patient.given_name)) if part)
    who = who or "PATIENT"
    return f"information-request-{who}-{format_date(today)}.{fmt}"
