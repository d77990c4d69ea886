"""Registering, importing and refreshing referrals against a real database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral, referral_json
from triage_app.domain.rules import Rules
from triage_app.services.errors import DuplicateReferral
from triage_app.services.referrals import (
    get_referral,
    import_referrals,
    list_queue,
    refresh_queue_priorities,
    register_referral,
)
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.referrals import QueueFilter


def test_a_referral_round_trips_through_the_database(db: Database, admin: Actor, rules: Rules) -> None:
    original = referral(
        5, oral_medications=[{"drug": "baclofen", "outcome": None}, {"drug": "x", "outcome": "partial"}]
    )
    saved = register_referral(db, actor=admin, referral=original, rules=rules, as_of=AS_OF)
    detail = get_referral(db, referral_id=saved.referral_id)
    assert detail.referral == original
    assert detail.assessment is not None
    assert detail.assessment.row.outcome == saved.assessment.outcome == "needs_information"
    assert detail.assessment.missing == ("oral_medications[0].outcome",)
    assert [c.criterion_id for c in detail.assessment.criteria] == [
        "R1",
        "R2",
        "R3",
        "R4",
        "S1",
        "S2",
        "S3",
        "S4",
        "S5",
    ]


@pytest.mark.hazard("H06")
def test_unknown_lists_stay_unknown(db: Database, admin: Actor, rules: Rules) -> None:
    sparse = referral(6, oral_medications=None, phenotype__components=None)
    saved = register_referral(db, actor=admin, referral=sparse, rules=rules, as_of=AS_OF)
    stored = get_referral(db, referral_id=saved.referral_id).referral
    assert stored.oral_medications is None and stored.phenotype.components is None
    empty = referral(7, oral_medications=[], phenotype__components=[])
    stored = get_referral(
        db, referral_id=register_referral(db, actor=admin, referral=empty, rules=rules, as_of=AS_OF).referral_id
    ).referral
    assert stored.oral_medications == () and stored.phenotype.components == ()


@pytest.mark.hazard("H02")
def test_duplicate_is_refused(db: Database, admin: Actor, rules: Rules) -> None:
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    with pytest.raises(DuplicateReferral, match="already in the queue"):
        register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)


@pytest.mark.hazard("H03")
def test_an_import_failure_leaves_no_half_stored_record(
    db: Database, admin: Actor, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage_app.storage import bulk  # the import writes its rows here (Core): fail after the referral row

    real_insert = bulk._insert_rows
    calls = {"n": 0}

    def fail_on_second(connection: object, table: sa.Table, rows: object, **options: object) -> None:
        if table.name == "assessment":
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("disk full")
        real_insert(connection, table, rows, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "_insert_rows", fail_on_second)
    # An unexpected error on one record is reported for it, and the import goes on (see test_faults_import.py).
    report = import_referrals(db, actor=admin, records=[referral_json(1), referral_json(2)], rules=rules, as_of=AS_OF)
    assert report.failed == [(1, "RuntimeError: disk full")] and len(report.added) == 1
    with db.read() as session:  # what is stored, on either backend
        referrals = [tuple(row) for row in session.execute(sa.text("SELECT nhs_number FROM referral"))]
        medications = session.execute(sa.text("SELECT count(*) FROM oral_medication")).scalar_one()
    assert referrals == [(referral_json(1)["patient"]["nhs_number"],)]
    assert medications == 1


@pytest.mark.hazard("H07", "H08")
def test_waiting_term_of_the_queue_priority_grows(db: Database, admin: Actor, rules: Rules) -> None:
    received = date(2026, 10, 1)
    recent = referral(1, received_on=received.isoformat())
    saved = register_referral(db, actor=admin, referral=recent, rules=rules, as_of=received)
    base = saved.assessment.priority_terms.severity + saved.assessment.priority_terms.pain
    assert list_queue(db)[0].priority == base  # waiting 0 weeks on the day it arrived

    later = received + timedelta(weeks=9)
    assert refresh_queue_priorities(db, rules=rules, as_of=later) == 1
    assert list_queue(db)[0].priority == base + 15  # 30 * 9/18
    assert refresh_queue_priorities(db, rules=rules, as_of=later) == 0  # nothing more to do today
    refresh_queue_priorities(db, rules=rules, as_of=received + timedelta(weeks=40))
    assert list_queue(db)[0].priority == base + 30  # capped at its weight
    assert get_referral(db, referral_id=saved.referral_id).assessment.row.priority == base  # type: ignore[union-attr]


@pytest.mark.hazard("H02")
def test_queue_search_by_nhs_number_name_and_hospital_number(db: Database, admin: Actor, rules: Rules) -> None:
    first = register_referral(
        db, actor=admin, referral=referral(1, patient__family_name="Abernethy"), rules=rules, as_of=AS_OF
    )
    register_referral(
        db,
        actor=admin,
        referral=referral(2, patient__family_name="Zephyr", patient__hospital_number="H123"),
        rules=rules,
        as_of=AS_OF,
    )
    nhs = referral_json(1)["patient"]["nhs_number"]
    assert [r.id for r in list_queue(db, queue_filter=QueueFilter(search=f"{nhs[:3]} {nhs[3:6]}-{nhs[6:]}"))] == [
        first.referral_id
    ]
    assert [r.family_name for r in list_queue(db, queue_filter=QueueFilter(search="aber"))] == ["Abernethy"]
    assert [r.family_name for r in list_queue(db, queue_filter=QueueFilter(search="h123"))] == ["Zephyr"]
    assert list_queue(db, queue_filter=QueueFilter(search="%")) == []
    flagged = list_queue(db, queue_filter=QueueFilter(flag="head_tremor"))
    assert len(flagged) == 2
