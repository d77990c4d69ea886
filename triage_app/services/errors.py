"""Errors the use cases raise; each message is written for the person at the desk."""

from __future__ import annotations

from datetime import datetime

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
