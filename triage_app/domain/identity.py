"""Who a referral is for: the identity minimum a stored referral needs, and demographics that disagree.

Scoring accepts anything (a referral with only a name still scores); storing it in the queue needs enough to
be sure which patient it is. Pure functions: the services apply them inside their transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from triage_app.domain.fields import identity_minimum
from triage_app.domain.formats import format_date
from triage_app.domain.parsing import FieldError
from triage_app.domain.referral import Referral, field_label, format_nhs_number

#: Fields without which a referral is not stored (safety.md, "The right patient"): their `identity` in the
#: table of fields (domain.fields) says which, and in which order they are asked for.
IDENTITY_MINIMUM: Final = identity_minimum()


def missing_identity(referral: Referral) -> list[FieldError]:
    """One error per missing identity field, each named; empty when the referral can be stored."""
    return [
        FieldError(
            path,
            f"{field_label(path)} is needed to store a referral (part of the identity minimum that makes sure it is the right patient)",
        )
        for path in identity_minimum()
        if referral.value(path) is None
    ]


@dataclass(frozen=True, slots=True)
class StoredPatient:
    """The demographics already stored for an NHS number (from its newest referral)."""

    referral_id: int
    family_name: str | None
    given_name: str | None
    date_of_birth: date | None


@dataclass(frozen=True, slots=True)
class DemographicDifference:
    """A demographic the new referral gives differently from the one stored for the same NHS number."""

    field: str
    stored: str
    given: str


def _same_name(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def demographic_differences(stored: StoredPatient, referral: Referral) -> list[DemographicDifference]:
    """Family name or date of birth that differ from what is stored for this NHS number (case is ignored)."""
    patient = referral.patient
    differences = []
    if not _same_name(stored.family_name, patient.family_name):
        differences.append(_difference("patient.family_name", stored.family_name, patient.family_name))
    if stored.date_of_birth != patient.date_of_birth:
        differences.append(
            _difference("patient.date_of_birth", format_date(stored.date_of_birth), format_date(patient.date_of_birth))
        )
    return differences


def _difference(field: str, stored: str | None, given: str | None) -> DemographicDifference:
    """A difference as the user sees it: each side in words, or `not recorded`."""
    return DemographicDifference(field, stored or "not recorded", given or "not recorded")


def describe_differences(differences: list[DemographicDifference]) -> str:
    """`Family name: stored QUINNELL, this referral ABARA; ...` for messages."""
    return "; ".join(f"{field_label(d.field)}: stored {d.stored}, this referral {d.given}" for d in differences)


def identity_changes(before: Referral, after: Referral) -> list[DemographicDifference]:
    """What an edit changes of the referral's own patient: NHS number, family name (case ignored), date of birth.

    Changing them makes the referral another patient's, or corrects who it is for: the user confirms, seeing both.
    """
    differences = []
    old, new = before.patient, after.patient
    if old.nhs_number != new.nhs_number:
        differences.append(
            _difference("patient.nhs_number", format_nhs_number(old.nhs_number), format_nhs_number(new.nhs_number))
        )
    stored = StoredPatient(0, old.family_name, old.given_name, old.date_of_birth)
    return differences + demographic_differences(stored, after)
