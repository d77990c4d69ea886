"""Errors the use cases raise; each message is written for the person at the desk."""

from __future__ import annotations

from datetime import date, datetime

from triage_app.domain.formats import format_date
from triage_app.domain.identity import DemographicDifference, describe_differences
from triage_app.domain.parsing import FieldError
from triage_app.storage.referrals import VersionConflict


class ServiceError(Exception):
    """Base class: a use case refused; the message says why."""


class PermissionDenied(ServiceError):
    """The current user lacks the role the action needs."""


class NotFound(ServiceError):
    """The record does not exist (any more)."""


class DuplicateReferral(ServiceError):
    """A referral with the same NHS number and received date is already stored."""

    def __init__(self, message: str, *, existing_id: int) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class IdentityIncomplete(ServiceError):
    """The referral lacks part of the identity minimum; `errors` names each missing field."""

    def __init__(self, errors: list[FieldError]) -> None:
        names = ", ".join(e.field for e in errors)
        super().__init__(f"the referral was not stored: it needs {names} to identify the patient")
        self.errors = errors


class DemographicsMismatch(ServiceError):
    """The NHS number is stored with another family name or date of birth; the user must confirm the change."""

    def __init__(self, *, existing_id: int, differences: list[DemographicDifference]) -> None:
        super().__init__(
            f"this NHS number is already stored (referral {existing_id}) with different demographics: "
            f"{describe_differences(differences)}. Check it is the same patient; if the demographics really "
            "changed, confirm the change to store it."
        )
        self.existing_id = existing_id
        self.differences = differences


class IdentityChanged(DemographicsMismatch):
    """An edit changes who the referral is for (NHS number, family name, date of birth); the user confirms."""

    def __init__(
        self, *, referral_id: int, differences: list[DemographicDifference], other_patient: str | None = None
    ) -> None:
        also = (
            f" The new NHS number is already stored for another patient: {other_patient}; saving puts this "
            "referral under that patient."
            if other_patient
            else ""
        )
        ServiceError.__init__(
            self,
            f"this edit changes who referral {referral_id} is for: {describe_differences(differences)}.{also} Check "
            "it is the right patient; confirm the change to store it.",
        )
        self.existing_id = referral_id
        self.differences = differences


class OpenReferralExists(ServiceError):
    """The patient already has an open referral; a second one needs a written reason."""

    def __init__(self, *, existing_id: int, received_on: date | None, status: str) -> None:
        super().__init__(
            f"possible duplicate: this patient already has an open referral (referral {existing_id}, received "
            f"{format_date(received_on) or 'on an unknown date'}, {status.replace('_', ' ')}). Open that one, or "
            "give a written reason to add a second referral."
        )
        self.existing_id = existing_id
        self.received_on = received_on
        self.status = status


class InvalidTransition(ServiceError):
    """The workflow does not allow this status change."""


class ConflictError(ServiceError):
    """Someone else saved the record after the user loaded it; nothing was overwritten."""

    def __init__(
        self, *, referral_id: int, expected_version: int, current_version: int, changed_by: str, changed_at: datetime
    ) -> None:
        super().__init__(
            f"This referral was changed by {changed_by} at {changed_at:%d-%b-%Y %H:%M} UTC after you opened it "
            f"(you had version {expected_version}, it is now version {current_version}). Your changes were not "
            "saved: reload it to see theirs."
        )
        self.referral_id = referral_id
        self.expected_version = expected_version
        self.current_version = current_version
        self.changed_by = changed_by
        self.changed_at = changed_at

    @classmethod
    def from_version_conflict(cls, conflict: VersionConflict) -> ConflictError:
        """The user-facing refusal for a compare-and-swap the storage layer lost."""
        return cls(
            referral_id=conflict.referral_id,
            expected_version=conflict.expected,
            current_version=conflict.current_version,
            changed_by=conflict.changed_by,
            changed_at=conflict.changed_at,
        )
