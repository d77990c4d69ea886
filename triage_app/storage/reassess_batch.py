"""A reassessment batch's reads and writes in a few statements: Core selects and executemany inserts.

The ORM path (`storage.referrals.load_referral` and `store_assessment`, one referral at a time) costs about 3 ms a
referral: five selects, an ORM insert and flush per assessment and per child row. A batch of a few hundred is read
here with four selects (referrals, their medications, their phenotype components and any columns the model does
not declare) and written with one UPDATE of the old current assessments, one INSERT ... RETURNING of the new ones
(executemany, ids returned in the order given), one executemany INSERT for each kind of child row, and one
executemany UPDATE of the referrals' queue columns. Everything runs in the caller's write transaction, so the
batch and its audit events commit together or not at all. The audit's hooks do not see Core statements on a
connection: `note_referrals_written` names the referrals, so the transaction's audit events carry their states.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from triage_app.domain.referral import Referral
from triage_app.domain.scoring import Assessment
from triage_app.storage.audit import note_referrals_written
from triage_app.storage.models import (
    AssessmentCriterionRow,
    AssessmentFlagRow,
    AssessmentMissingRow,
    AssessmentRow,
    OralMedicationRow,
    PhenotypeComponentRow,
    ReferralRow,
    utc_now,
)
from triage_app.storage.plain_insert import insert_plain
from triage_app.storage.referral_fields import read_unmapped_many, referral_from_rows
from triage_app.storage.referrals import assessment_child_columns, assessment_columns


def _marker(connection: sa.Connection) -> str:
    """The DBAPI's positional parameter marker: sqlite3 takes ?, psycopg %s."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


@dataclass(frozen=True, slots=True)
class LoadedReferral:
    """A referral read for reassessment: the queue columns a lapse needs, and the domain referral to score."""

    referral_id: int
    status: str
    version: int
    decided_outcome: str | None
    decision_basis: str | None
    referral: Referral


def load_referrals(session: Session, referral_ids: Sequence[int]) -> list[LoadedReferral]:
    """The referrals with these ids (those that still exist), in id order, read with four Core selects."""
    if not referral_ids:
        return []
    ids = sorted(set(referral_ids))
    connection = session.connection()
    referral, medication, component = _table(ReferralRow), _table(OralMedicationRow), _table(PhenotypeComponentRow)
    rows = connection.execute(sa.select(referral).where(referral.c.id.in_(ids)).order_by(referral.c.id)).all()
    medications: dict[int, list[Any]] = defaultdict(list)
    for row in connection.execute(sa.select(medication).where(medication.c.referral_id.in_(ids))):
        medications[row.referral_id].append(row)
    components: dict[int, list[Any]] = defaultdict(list)
    for row in connection.execute(sa.select(component).where(component.c.referral_id.in_(ids))):
        components[row.referral_id].append(row)
    unmapped = read_unmapped_many(session, ids)
    loaded = []
    for row in rows:
        # A Core row answers attribute access by column name, as the ORM row does: the same rebuild serves both.
        domain = referral_from_rows(
            cast(ReferralRow, row),
            cast(list[OralMedicationRow], medications.get(row.id, [])),
            cast(list[PhenotypeComponentRow], components.get(row.id, [])),
            unmapped.get(row.id),
        )
        loaded.append(LoadedReferral(row.id, row.status, row.version, row.decided_outcome, row.decision_basis, domain))
    return loaded


def store_assessments(session: Session, *, scored: Sequence[tuple[int, Assessment]], user_id: int) -> dict[int, int]:
    """Store each (referral id, assessment) as that referral's current assessment, earlier ones kept as history;
    update the queue's copy of the result as `storage.referrals.store_assessment` does. Returns {referral id: new
    assessment id}. Core statements in the caller's transaction."""
    if not scored:
        return {}
    connection = session.connection()
    assessment = _table(AssessmentRow)
    ids = [referral_id for referral_id, _ in scored]
    connection.execute(
        sa.update(assessment)
        .where(assessment.c.referral_id.in_(ids), assessment.c.is_current.is_(True))
        .values(is_current=False)
    )
    now = utc_now()
    rows = [
        assessment_columns(result, referral_id=referral_id, user_id=user_id) | {"assessed_at": now}
        for referral_id, result in scored
    ]
    returned = connection.execute(
        sa.insert(assessment).returning(assessment.c.id, sort_by_parameter_order=True), rows
    ).all()
    new_ids = [int(row[0]) for row in returned]
    criteria: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for assessment_id, (_, result) in zip(new_ids, scored, strict=True):
        children = assessment_child_columns(assessment_id, result)
        criteria += children[0]
        flags += children[1]
        missing += children[2]
    for model, child_rows in (
        (AssessmentCriterionRow, criteria),
        (AssessmentFlagRow, flags),
        (AssessmentMissingRow, missing),
    ):
        if child_rows:
            insert_plain(connection, _table(model), child_rows)  # the driver's executemany, as an import
    # The queue's copy of the current result; not a user edit, so the version is left alone (as store_assessment).
    queue_columns = [
        (assessment_id, result.outcome, result.outcome, result.priority, result.priority_terms.waiting, referral_id)
        for assessment_id, (referral_id, result) in zip(new_ids, scored, strict=True)
    ]
    mark = _marker(connection)
    connection.exec_driver_sql(
        f"UPDATE referral SET current_assessment_id = {mark}, outcome = {mark}, "
        f"queue_outcome = coalesce(decided_outcome, {mark}), priority = {mark}, priority_waiting = {mark} "
        f"WHERE id = {mark}",
        queue_columns,  # executemany: a list of tuples, as the DBAPI takes it
    )
    note_referrals_written(session, ids)
    return dict(zip(ids, new_ids, strict=True))
