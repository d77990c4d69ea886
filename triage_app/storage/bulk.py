"""Fast insertion of many scored referrals at once (demo data, benchmarks): Core executemany, explicit ids.

The same columns and child rows as `insert_referral` + `store_assessment`, without the ORM's per-row cost.
The caller records the audit event; the referrals' states go into it at the commit (storage.audit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from triage_app.domain.referral import Referral
from triage_app.domain.scoring import Assessment
from triage_app.storage.audit import note_referrals_written
from triage_app.storage.models import (
    ApprovedRulesRow,
    AssessmentCriterionRow,
    AssessmentFlagRow,
    AssessmentMissingRow,
    AssessmentRow,
    OralMedicationRow,
    PhenotypeComponentRow,
    ReferralRow,
    ReferralSearchKeyRow,
    StatusChangeRow,
    utc_now,
)
from triage_app.storage.plain_insert import insert_plain
from triage_app.storage.referral_fields import split_columns, write_unmapped
from triage_app.storage.referrals import assessment_child_columns, assessment_columns, child_columns, referral_columns
from triage_app.storage.search_keys import bulk_search_key_rows

_Rows = list[dict[str, Any]]


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _next_id(session: Session, model: Any) -> int:
    table = _table(model)
    return int(session.connection().execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()) + 1


def bulk_insert(
    session: Session, *, items: Sequence[tuple[Referral, Assessment]], user_id: int, status: str = "received"
) -> list[int]:
    """Insert scored referrals in the caller's write transaction; return their new ids."""
    if not items:
        return []
    first_referral, first_assessment = _next_id(session, ReferralRow), _next_id(session, AssessmentRow)
    ids = _insert_scored(session, items, user_id, status, first_referral, first_assessment, copy=True)
    _advance_id_sequences(session, (ReferralRow, AssessmentRow))
    # Core inserts pass the audit's hooks by: name them, so that the caller's audit event (demo_load) records
    # each new referral's version and state hash, and `audit verify` checks them like any other.
    note_referrals_written(session, ids, created=True)
    return ids


_IMPORT_IDS = "bulk.import_ids"  # session.info: the next (referral, assessment) ids of this write transaction


def _next_ids(session: Session) -> tuple[int, int]:
    """The next referral and assessment ids (SQLite: the largest + 1), in one statement built once."""
    global _NEXT_IDS
    if _NEXT_IDS is None:
        referral, assessment = _table(ReferralRow), _table(AssessmentRow)
        _NEXT_IDS = sa.select(
            sa.select(sa.func.coalesce(sa.func.max(referral.c.id), 0)).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(assessment.c.id), 0)).scalar_subquery(),
        )
    last_referral, last_assessment = session.connection().execute(_NEXT_IDS).one()
    return int(last_referral) + 1, int(last_assessment) + 1


_NEXT_IDS: Any = None


def insert_imported(session: Session, *, referral: Referral, assessment: Assessment, user_id: int) -> int:
    """Insert one new scored referral (status received) in the caller's write transaction; return its id.

    What `insert_referral` + `store_assessment` write, with a few Core statements instead of the ORM's unit of
    work (an import writes thousands). Ids: on SQLite the write lock is held from BEGIN IMMEDIATE, so the next
    ids are read once per transaction and counted on (as SQLite itself numbers: the largest id + 1); on
    PostgreSQL each is taken from the table's sequence, as a plain insert takes it, so concurrent writers never
    collide. Columns the model does not declare (fields a migration added) are written as `insert_referral`
    writes them. The audit is told of the new referral (its state goes into the transaction's event).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        referral_id, assessment_id = connection.execute(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence('referral', 'id')), "
                "nextval(pg_get_serial_sequence('assessment', 'id'))"
            )
        ).one()
    else:
        known = session.info.get(_IMPORT_IDS)
        referral_id, assessment_id = known or _next_ids(session)
        session.info[_IMPORT_IDS] = (referral_id + 1, assessment_id + 1)
    declared, undeclared = split_columns(referral_columns(referral))
    _insert_scored(
        session,
        [(referral, assessment)],
        user_id,
        "received",
        int(referral_id),
        int(assessment_id),
        copy=False,
        columns=declared,
    )
    write_unmapped(session, int(referral_id), undeclared)
    note_referrals_written(session, [int(referral_id)], created=True)
    return int(referral_id)


_REFERRALS: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
_PATIENT_STORED = sa.select(_REFERRALS.c.id).where(_REFERRALS.c.nhs_number == sa.bindparam("nhs")).limit(1)


def patient_stored(session: Session, nhs_number: str) -> bool:
    """Whether any referral is stored for this NHS number, in the caller's transaction (an import's records are
    mostly new patients: one Core read on the NHS number's index answers them, not the ORM's full rows)."""
    session.flush()  # anything the session holds unwritten counts (an import writes through Core: nothing)
    return session.connection().execute(_PATIENT_STORED, {"nhs": nhs_number}).first() is not None


_NEWEST_RULES: Any = None


def newest_rules_version(session: Session) -> str | None:
    """The version of the rules in force (the newest approval), read in the caller's transaction with one
    statement built once: an import checks it every transaction (`require_rules_in_force` words a refusal)."""
    global _NEWEST_RULES
    if _NEWEST_RULES is None:
        approved = _table(ApprovedRulesRow)
        _NEWEST_RULES = sa.select(approved.c.version).order_by(approved.c.id.desc()).limit(1)
    version = session.connection().execute(_NEWEST_RULES).scalar()
    return None if version is None else str(version)


def forget_import_ids(session: Session) -> None:
    """Forget the ids counted on in this transaction (after a savepoint's rollback: they may be taken again)."""
    session.info.pop(_IMPORT_IDS, None)


def _insert_scored(
    session: Session,
    items: Sequence[tuple[Referral, Assessment]],
    user_id: int,
    status: str,
    first_referral: int,
    first_assessment: int,
    *,
    copy: bool,
    columns: dict[str, Any] | None = None,
) -> list[int]:
    """The rows of `items`, numbered from the ids given, inserted table by table (`copy`: COPY on PostgreSQL)."""
    now = utc_now()
    referrals: _Rows = []
    medications: _Rows = []
    components: _Rows = []
    assessments: _Rows = []
    criteria: _Rows = []
    flags: _Rows = []
    missing: _Rows = []
    history: _Rows = []
    ids: list[int] = []
    for offset, (referral, assessment) in enumerate(items):
        rid, aid = first_referral + offset, first_assessment + offset
        ids.append(rid)
        terms = assessment.priority_terms
        referrals.append(
            (referral_columns(referral) if columns is None else columns)
            | {
                "id": rid,
                "version": 1,
                "status": status,
                "current_assessment_id": aid,
                "outcome": assessment.outcome,
                "queue_outcome": assessment.outcome,  # no consultant decision yet: the computed outcome shows
                "priority": assessment.priority,
                "priority_waiting": terms.waiting,
                "created_at": now,
                "created_by": user_id,
                "updated_at": now,
                "updated_by": user_id,
            }
        )
        referral_children = child_columns(rid, referral)
        medications += referral_children[0]
        components += referral_children[1]
        assessments.append(
            assessment_columns(assessment, referral_id=rid, user_id=user_id) | {"id": aid, "assessed_at": now}
        )
        assessment_children = assessment_child_columns(aid, assessment)
        criteria += assessment_children[0]
        flags += assessment_children[1]
        missing += assessment_children[2]
        history.append(
            {"referral_id": rid, "from_status": None, "to_status": status, "changed_by": user_id, "changed_at": now}
        )
    search_keys = bulk_search_key_rows(
        (row["id"], row.get("family_name"), row.get("given_name"), row.get("nhs_number")) for row in referrals
    )
    connection = session.connection()
    # Referral rows first (children point at them), their assessment pointer is filled at once: foreign
    # keys are checked per statement, and the assessment rows follow in the same transaction.
    for model, rows in (
        (ReferralRow, referrals),
        (OralMedicationRow, medications),
        (PhenotypeComponentRow, components),
        (AssessmentRow, assessments),
        (AssessmentCriterionRow, criteria),
        (AssessmentFlagRow, flags),
        (AssessmentMissingRow, missing),
        (StatusChangeRow, history),
        (ReferralSearchKeyRow, search_keys),
    ):
        if rows:
            _insert_rows(connection, _table(model), rows, use_copy=copy)
    return ids


def _insert_rows(connection: sa.Connection, table: sa.Table, rows: _Rows, *, use_copy: bool = True) -> None:
    """Insert the rows: Core executemany on SQLite (in-process, a row costs little); COPY on PostgreSQL, where
    psycopg's executemany sends a statement per row, several times slower for a batch of thousands.

    COPY takes the columns of the first row (every row has the same keys, as executemany needs), each value
    through its type's bind processor as SQLAlchemy would; columns left out take the server's default (an id from
    its sequence) or NULL: the tables written here have no Python-side defaults for the columns left out.
    """
    if connection.dialect.name != "postgresql" or not use_copy:
        insert_plain(connection, table, rows)
        return
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(connection.dialect) for name in names]
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[name] if process is None else process(row[name])
                        for name, process in zip(names, processors, strict=True)
                    ]
                )
    finally:
        cursor.close()


def _advance_id_sequences(session: Session, models: Sequence[Any]) -> None:
    """On PostgreSQL, move each table's id sequence past the ids written here by hand.

    Rows inserted with explicit ids leave the server's sequence behind, so the next ordinary insert (a referral
    entered in the form, an assessment made by approving rules) would take an id already used. SQLite needs
    nothing: it numbers from the largest id stored.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for model in models:
        table = _table(model)
        connection.execute(
            sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))")
        )
