"""Referral repository: a `Referral` to rows and back (mapping: referral_fields.py), compare-and-swap saves, assessments.

Functions take the caller's session and keyword-only arguments; the services own the transaction.

The queue's SQL is in storage/queue.py (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from triage_app.domain.referral import Referral
from triage_app.domain.scoring import Assessment
from triage_app.storage.models import (
    AppUser,
    AssessmentCriterionRow,
    AssessmentFlagRow,
    AssessmentMissingRow,
    AssessmentRow,
    OralMedicationRow,
    PhenotypeComponentRow,
    ReferralRow,
    StatusChangeRow,
    utc_now,
)
from triage_app.storage.priorities import refresh_priorities

# The queue's SQL is in storage/queue.py; its names are here too, where the services have always read them.
from triage_app.storage.queue import (
    QUEUE_SORTS,
    SORT_BREACHES,
    SORT_COLUMNS,
    QueueFilter,
    QueueRow,
    count_by,
    flag_counts,
    matching_ids,
    open_meetings,
    queue_conditions,
    queue_count,
    queue_id_array,
    queue_ids,
    queue_order,
    queue_rows,
    rtt_band,
    rtt_condition,
)
from triage_app.storage.referral_fields import (
    read_unmapped,
    referral_columns,
    referral_from_rows,
    search_key,
    split_columns,
    write_unmapped,
)
from triage_app.storage.search_keys import write_search_keys

__all__ = [
    "QUEUE_SORTS",
    "SORT_BREACHES",
    "SORT_COLUMNS",
    "QueueFilter",
    "QueueRow",
    "count_by",
    "flag_counts",
    "matching_ids",
    "open_meetings",
    "queue_conditions",
    "queue_count",
    "queue_id_array",
    "queue_ids",
    "queue_order",
    "queue_rows",
    "referral_columns",
    "referral_from_rows",
    "refresh_priorities",
    "rtt_band",
    "rtt_condition",
    "search_key",
]


class VersionConflict(Exception):
    """The stored referral is newer than the version the user loaded."""

    def __init__(self, *, referral_id: int, expected: int, current: ReferralRow, changed_by: str) -> None:
        super().__init__(
            f"referral {referral_id} was changed by {changed_by} at {current.updated_at:%d-%b-%Y %H:%M} UTC "
            f"(version {current.version}; you loaded version {expected})"
        )
        self.referral_id = referral_id
        self.expected = expected
        self.current_version = current.version
        self.changed_by = changed_by
        self.changed_at: datetime = current.updated_at


#: A row's values by column name: what the ORM rows here and storage.bulk's Core inserts are both made from.
Columns = dict[str, Any]


def child_columns(referral_id: int, referral: Referral) -> tuple[list[Columns], list[Columns]]:
    """The referral's child rows: its oral medications and its phenotype's components, each in order."""
    medications = [
        {"referral_id": referral_id, "position": position, "drug": medication.drug, "outcome": medication.outcome}
        for position, medication in enumerate(referral.oral_medications or ())
    ]
    components = [
        {"referral_id": referral_id, "component": component, "position": position}
        for position, component in enumerate(referral.phenotype.components or ())
    ]
    return medications, components


def assessment_columns(assessment: Assessment, *, referral_id: int, user_id: int) -> Columns:
    """The row of an assessment stored as the referral's current one."""
    terms = assessment.priority_terms
    return {
        "referral_id": referral_id,
        "is_current": True,
        "assessed_on": assessment.as_of,
        "assessed_by": user_id,
        "rules_version": assessment.rules_version,
        "outcome": assessment.outcome,
        "priority": assessment.priority,
        "priority_severity": terms.severity,
        "priority_pain": terms.pain,
        "priority_waiting": terms.waiting,
        "weeks_waiting": assessment.weeks_waiting,
        "summary": assessment.summary,
    }


def assessment_child_columns(
    assessment_id: int, assessment: Assessment
) -> tuple[list[Columns], list[Columns], list[Columns]]:
    """The assessment's child rows: its criteria, its flags and the fields it found missing."""
    criteria = [
        {"assessment_id": assessment_id, "criterion_id": c.id, "status": c.status, "reason": c.reason}
        for c in assessment.criteria
    ]
    flags = [{"assessment_id": assessment_id, "flag": flag} for flag in assessment.flags]
    missing = [{"assessment_id": assessment_id, "field_path": path} for path in assessment.missing]
    return criteria, flags, missing


def _write_children(session: Session, referral_id: int, referral: Referral) -> None:
    session.execute(delete(OralMedicationRow).where(col(OralMedicationRow.referral_id) == referral_id))
    session.execute(delete(PhenotypeComponentRow).where(col(PhenotypeComponentRow.referral_id) == referral_id))
    medications, components = child_columns(referral_id, referral)
    session.add_all([OralMedicationRow(**values) for values in medications])
    session.add_all([PhenotypeComponentRow(**values) for values in components])


def insert_referral(session: Session, *, referral: Referral, user_id: int, status: str) -> ReferralRow:
    """Store a new referral (version 1) with its child rows and first status."""
    now = utc_now()
    declared, undeclared = split_columns(referral_columns(referral))
    row = ReferralRow(
        **declared,
        status=status,
        version=1,
        created_at=now,
        created_by=user_id,
        updated_at=now,
        updated_by=user_id,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    write_unmapped(session, row.id, undeclared)
    _write_children(session, row.id, referral)
    _write_search_keys(session, row.id, referral)
    session.add(StatusChangeRow(referral_id=row.id, from_status=None, to_status=status, changed_by=user_id))
    session.flush()
    return row


def update_referral(
    session: Session, *, referral_id: int, expected_version: int, referral: Referral, user_id: int
) -> int:
    """Compare-and-swap: save only if the stored version is still `expected_version`; return the new one.

    Raises `VersionConflict` naming who changed it and when. Never a silent overwrite.
    """
    declared, undeclared = split_columns(referral_columns(referral))
    version = bump_version(
        session, referral_id=referral_id, expected_version=expected_version, user_id=user_id, **declared
    )
    write_unmapped(session, referral_id, undeclared)
    _write_children(session, referral_id, referral)
    _write_search_keys(session, referral_id, referral)
    session.flush()
    return version


def _write_search_keys(session: Session, referral_id: int, referral: Referral) -> None:
    """The queue's search keys follow the referral's name and NHS number (H01: found by what it holds now)."""
    patient = referral.patient
    write_search_keys(
        session, referral_id, family=patient.family_name, given=patient.given_name, nhs_number=patient.nhs_number
    )


def bump_version(session: Session, *, referral_id: int, expected_version: int, user_id: int, **values: Any) -> int:
    """Compare-and-swap for changes other than the referral's fields (status, for one)."""
    result = session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id, col(ReferralRow.version) == expected_version)
        .values(**values, version=ReferralRow.version + 1, updated_at=utc_now(), updated_by=user_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise_conflict(session, referral_id=referral_id, expected_version=expected_version)
    return expected_version + 1


def raise_conflict(session: Session, *, referral_id: int, expected_version: int) -> None:
    """Raise `VersionConflict` (or `LookupError` when the referral is gone)."""
    current = session.execute(
        select(ReferralRow).where(col(ReferralRow.id) == referral_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if current is None:
        raise LookupError(f"referral {referral_id} does not exist")
    user = session.get(AppUser, current.updated_by)
    name = user.display_name if user is not None else f"user {current.updated_by}"
    raise VersionConflict(referral_id=referral_id, expected=expected_version, current=current, changed_by=name)


def get_referral_row(session: Session, referral_id: int) -> ReferralRow | None:
    """The referral's row, freshly read."""
    return session.execute(
        select(ReferralRow).where(col(ReferralRow.id) == referral_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def load_referral(session: Session, referral_id: int) -> tuple[ReferralRow, Referral] | None:
    """The row and the domain referral, or None."""
    row = get_referral_row(session, referral_id)
    if row is None:
        return None
    medications = (
        session.execute(select(OralMedicationRow).where(col(OralMedicationRow.referral_id) == referral_id))
        .scalars()
        .all()
    )
    components = (
        session.execute(select(PhenotypeComponentRow).where(col(PhenotypeComponentRow.referral_id) == referral_id))
        .scalars()
        .all()
    )
    return row, referral_from_rows(row, medications, components, read_unmapped(session, referral_id))


def find_referral_id(session: Session, *, nhs_number: str, received_on: date) -> int | None:
    """The referral with this NHS number and received date (the duplicate key), if any."""
    return session.execute(
        select(col(ReferralRow.id)).where(
            col(ReferralRow.nhs_number) == nhs_number, col(ReferralRow.received_on) == received_on
        )
    ).scalar_one_or_none()


def store_assessment(session: Session, *, referral_id: int, assessment: Assessment, user_id: int) -> AssessmentRow:
    """Store an assessment as the referral's current one; earlier ones stay as history."""
    session.execute(
        update(AssessmentRow)
        .where(col(AssessmentRow.referral_id) == referral_id, col(AssessmentRow.is_current).is_(True))
        .values(is_current=False)
        .execution_options(synchronize_session=False)
    )
    row = AssessmentRow(**assessment_columns(assessment, referral_id=referral_id, user_id=user_id))
    session.add(row)
    session.flush()
    assert row.id is not None
    criteria, flags, missing = assessment_child_columns(row.id, assessment)
    session.add_all([AssessmentCriterionRow(**values) for values in criteria])
    session.add_all([AssessmentFlagRow(**values) for values in flags])
    session.add_all([AssessmentMissingRow(**values) for values in missing])
    # The queue's copy of the current result. Not a user edit, so the version is left alone; a standing
    # decision keeps showing until the service decides whether it lapsed (see set_decision).
    session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id)
        .values(
            current_assessment_id=row.id,
            outcome=assessment.outcome,
            queue_outcome=sa.func.coalesce(col(ReferralRow.decided_outcome), assessment.outcome),
            priority=assessment.priority,
            priority_waiting=assessment.priority_terms.waiting,
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return row


def set_decision(
    session: Session,
    *,
    referral_id: int,
    decision_id: int | None,
    outcome: str | None,
    kind: str | None,
    basis: str | None,
) -> None:
    """Record (or, with all None, clear) the referral's standing decision and what the queue shows."""
    session.execute(
        update(ReferralRow)
        .where(col(ReferralRow.id) == referral_id)
        .values(
            decision_id=decision_id,
            decided_outcome=outcome,
            decision_kind=kind,
            decision_basis=basis,
            queue_outcome=outcome if outcome is not None else col(ReferralRow.outcome),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()


@dataclass(frozen=True, slots=True)
class PatientReferral:
    """Another referral stored for the same NHS number: who, when, and where it stands."""

    referral_id: int
    received_on: date | None
    status: str
    family_name: str | None
    given_name: str | None
    date_of_birth: date | None


def referrals_for_patient(session: Session, *, nhs_number: str, except_id: int | None = None) -> list[PatientReferral]:
    """Every referral stored for this NHS number, newest first (the duplicate and demographics checks).

    One stored without a received date (before the identity minimum) comes last: SQLite sorts NULL lowest,
    PostgreSQL highest, so the order says where NULLs go rather than leaving it to the database.
    """
    query = (
        select(ReferralRow)
        .where(col(ReferralRow.nhs_number) == nhs_number)
        .order_by(
            col(ReferralRow.received_on).is_(None), col(ReferralRow.received_on).desc(), col(ReferralRow.id).desc()
        )
    )
    if except_id is not None:
        query = query.where(col(ReferralRow.id) != except_id)
    return [
        PatientReferral(r.id or 0, r.received_on, r.status, r.family_name, r.given_name, r.date_of_birth)
        for r in session.execute(query).scalars()
    ]


@dataclass(frozen=True, slots=True)
class StoredAssessment:
    """A stored assessment with its criteria, flags and missing fields."""

    row: AssessmentRow
    criteria: tuple[AssessmentCriterionRow, ...]
    flags: tuple[str, ...]
    missing: tuple[str, ...]


def load_assessment(session: Session, assessment_id: int) -> StoredAssessment | None:
    """One stored assessment in full."""
    row = session.get(AssessmentRow, assessment_id)
    if row is None:
        return None
    criteria = (
        session.execute(
            select(AssessmentCriterionRow)
            .where(col(AssessmentCriterionRow.assessment_id) == assessment_id)
            .order_by(col(AssessmentCriterionRow.criterion_id))
        )
        .scalars()
        .all()
    )
    order = {key: i for i, key in enumerate(("R1", "R2", "R3", "R4", "S1", "S2", "S3", "S4", "S5"))}
    flags = (
        session.execute(
            select(col(AssessmentFlagRow.flag)).where(col(AssessmentFlagRow.assessment_id) == assessment_id)
        )
        .scalars()
        .all()
    )
    missing = (
        session.execute(
            select(col(AssessmentMissingRow.field_path)).where(col(AssessmentMissingRow.assessment_id) == assessment_id)
        )
        .scalars()
        .all()
    )
    return StoredAssessment(
        row=row,
        criteria=tuple(sorted(criteria, key=lambda c: order.get(c.criterion_id, 99))),
        flags=tuple(sorted(flags)),
        missing=tuple(sorted(missing)),
    )
