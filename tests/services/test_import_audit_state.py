"""An imported record's audit event (issue 14 item 3): written by the same hook as every save, with the state
read by the writer's prepared statements, it verifies and records the hash `audit verify` recomputes; the rows
the import writes with the driver's executemany hold the values the ORM's save stores. Both backends.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral, referral_json
from triage_app.domain.demo import synthetic_referral
from triage_app.domain.rules import Rules
from triage_app.services.audit import verify_audit_trail
from triage_app.services.referrals import import_referrals, register_referral
from triage_app.services.users import Actor
from triage_app.storage.audit_chain import _states_where, all_referral_states, referral_states
from triage_app.storage.engine import Database


def _records(count: int) -> list[dict[str, Any]]:
    rng = random.Random(14)
    return [synthetic_referral(serial, rng, AS_OF) for serial in range(1, count + 1)]


def _recorded_states(db: Database) -> dict[int, list[Any]]:
    """Each referral's state as its last audit event records it."""
    found: dict[int, list[Any]] = {}
    with db.read() as session:
        for (changes,) in session.execute(sa.text("SELECT changes FROM audit_event ORDER BY id")):
            state = json.loads(changes).get("referral_state")
            if state:
                for rid, entry in state[1]["referrals"].items():
                    found[int(rid)] = entry
    return found


@pytest.mark.hazard("H03")
@pytest.mark.parametrize("batch", [1, 4])
def test_an_imported_record_s_event_verifies_and_records_the_state_verify_computes(
    db: Database, admin: Actor, rules: Rules, batch: int
) -> None:
    records = _records(9)
    report = import_referrals(db, actor=admin, records=records, rules=rules, as_of=AS_OF, batch_size=batch)
    assert len(report.added) == 9, report.summary()
    chain = verify_audit_trail(db)
    assert chain.intact, chain
    assert chain.referrals_checked == 9 and chain.referrals_not_covered == 0
    recorded = _recorded_states(db)
    with db.read() as session:
        connection = session.connection()
        verified = {rid: (version, digest) for rid, version, digest in all_referral_states(connection)}
        written = referral_states(connection, verified)
        by_condition = {rid: (v, d) for rid, v, d in _states_where(connection, lambda c: c.in_(list(verified)))}
        children = connection.execute(sa.text("SELECT count(*) FROM oral_medication")).scalar_one()
        components = connection.execute(sa.text("SELECT count(*) FROM phenotype_component")).scalar_one()
    assert children > 0 and components > 0  # the hash covers child rows too: some records have them
    assert written == verified == by_condition  # the writer's statements and verify's agree, byte for byte
    for _index, rid, _outcome in report.added:
        assert recorded[rid] == [*verified[rid], "new"]  # the event recorded what verify recomputes


def _row(connection: sa.Connection, table: str, key: str, value: int) -> list[dict[str, Any]]:
    rows = connection.execute(sa.text(f"SELECT * FROM {table} WHERE {key} = :v ORDER BY 1"), {"v": value})
    return [dict(row._mapping) for row in rows]


#: Columns that differ between two saves of the same referral by design (ids, who and when, the patient's keys).
_DIFFERENT = {
    "id",
    "referral_id",
    "assessment_id",
    "current_assessment_id",
    "nhs_number",
    "external_id",
    "created_at",
    "updated_at",
    "assessed_at",
    "changed_at",
    "version",
}


@pytest.mark.hazard("H03")
def test_the_import_stores_the_values_the_form_s_save_stores(db: Database, admin: Actor, rules: Rules) -> None:
    """The driver's executemany converts each value as SQLAlchemy does: a record imported and the same record
    saved through the form's service store the same values, typed the same (dates, times, booleans, text)."""
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    # the same record but the patient's NHS number
    report = import_referrals(db, actor=admin, records=[referral_json(2)], rules=rules, as_of=AS_OF)
    assert len(report.added) == 1, report.summary()
    imported = report.added[0][1]
    with db.read() as session:
        connection = session.connection()
        if connection.dialect.name == "sqlite":  # the stored text itself: how dates, times and booleans are held
            typed = [
                connection.execute(
                    sa.text(
                        "SELECT typeof(received_on), received_on, typeof(created_at), length(created_at), "
                        "typeof(specialist_confirmed), typeof(onset_month_only) FROM referral WHERE id = :i"
                    ),
                    {"i": rid},
                ).one()
                for rid in (saved.referral_id, imported)
            ]
            assert typed[0] == typed[1]
        ids = {}
        for rid in (saved.referral_id, imported):
            row = _row(connection, "referral", "id", rid)[0]
            ids[rid] = row["current_assessment_id"]
        for table, key in (
            ("referral", "id"),
            ("oral_medication", "referral_id"),
            ("phenotype_component", "referral_id"),
            ("status_change", "referral_id"),
        ):
            a, b = (
                [{k: v for k, v in r.items() if k not in _DIFFERENT} for r in _row(connection, table, key, rid)]
                for rid in (saved.referral_id, imported)
            )
            assert a == b, table
        for table, key in (
            ("assessment", "id"),
            ("assessment_criterion", "assessment_id"),
            ("assessment_flag", "assessment_id"),
            ("assessment_missing", "assessment_id"),
        ):
            a, b = (
                [{k: v for k, v in r.items() if k not in _DIFFERENT} for r in _row(connection, table, key, ids[rid])]
                for rid in (saved.referral_id, imported)
            )
            assert a == b, table
