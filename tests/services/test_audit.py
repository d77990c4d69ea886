"""The audit trail: written with each change, hash-chained, and tampering is caught."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services.audit import verify_audit_trail
from triage_app.services.referrals import register_referral, update_referral
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor
from triage_app.storage.engine import Database


@pytest.fixture
def trail(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> Database:
    """A database with several audited actions of each kind."""
    for serial in range(1, 4):
        saved = register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF)
        update_referral(
            db,
            actor=admin,
            referral_id=saved.referral_id,
            expected_version=1,
            referral=replace(referral(serial), clinical_question=f"Question {serial}"),
            rules=rules,
            as_of=AS_OF,
        )
    decide_triage(db, actor=consultant, referral_id=1, expected_version=2)
    change_status(db, actor=admin, referral_id=2, expected_version=2, status="awaiting_information")
    return db


def _events(path: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT id, action, changes FROM audit_event ORDER BY id").fetchall()


@pytest.mark.hazard("H03")
def test_every_change_writes_an_event(trail: Database, db_path: Path) -> None:
    actions = [action for _, action, _ in _events(db_path)]
    assert actions.count("create") == 2 + 3  # two users (admin, consultant) and three referrals
    assert actions.count("update") == 3
    assert "triage_confirmed" in actions and "status_change" in actions
    report = verify_audit_trail(trail)
    assert report.intact and report.checked == len(actions)


def test_update_event_records_fields_before_and_after(trail: Database, db_path: Path) -> None:
    updates = [json.loads(changes) for _, action, changes in _events(db_path) if action == "update"]
    first = updates[0]
    assert first["clinical_question"] == [
        "Consider SPD: rotational torticollis, lost response to toxin.",
        "Question 1",
    ]
    assert first["version"] == [1, 2]
    assert "patient.nhs_number" not in first  # unchanged fields are not listed


def _tamper(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as connection:
        for statement in statements:
            connection.execute(statement)


@pytest.mark.hazard("H12")
def test_altered_event_is_caught(trail: Database, db_path: Path) -> None:
    _tamper(db_path, "UPDATE audit_event SET user_login = 'someone-else' WHERE id = 5")
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 5
    assert "altered" in (report.problem or "")


@pytest.mark.hazard("H03")
def test_deleted_event_is_caught(trail: Database, db_path: Path) -> None:
    _tamper(db_path, "DELETE FROM audit_event WHERE id = 4")
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 5
    assert "missing" in (report.problem or "")


@pytest.mark.hazard("H03")
def test_deleted_event_with_ids_renumbered_is_caught(trail: Database, db_path: Path) -> None:
    _tamper(
        db_path,
        "DELETE FROM audit_event WHERE id = 4",
        "UPDATE audit_event SET id = id - 1 WHERE id > 4",
    )
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 4


@pytest.mark.hazard("H03")
def test_deleted_newest_event_is_caught(trail: Database, db_path: Path) -> None:
    last = _events(db_path)[-1][0]
    _tamper(db_path, f"DELETE FROM audit_event WHERE id = {last}")
    report = verify_audit_trail(trail)
    assert not report.intact and "newest events were deleted" in (report.problem or "")


@pytest.mark.hazard("H03")
def test_reordered_events_are_caught(trail: Database, db_path: Path) -> None:
    _tamper(
        db_path,
        "UPDATE audit_event SET id = -1 WHERE id = 3",
        "UPDATE audit_event SET id = 3 WHERE id = 4",
        "UPDATE audit_event SET id = 4 WHERE id = -1",
    )
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 3


@pytest.mark.hazard("H12")
def test_recomputed_hash_without_relinking_is_caught(trail: Database, db_path: Path) -> None:
    """A forger who rewrites an event and its own hash still breaks the next event's link."""
    from triage_app.storage.audit import event_hash

    with sqlite3.connect(db_path) as connection:
        row = connection.execute(
            "SELECT id, occurred_at, user_login, action, entity, entity_id, changes, prev_hash FROM audit_event "
            "WHERE id = 6"
        ).fetchone()
        forged = event_hash(
            event_id=row[0],
            occurred_at=row[1],
            user_login="forger",
            action=row[3],
            entity=row[4],
            entity_id=row[5],
            changes=row[6],
            prev_hash=row[7],
        )
        connection.execute("UPDATE audit_event SET user_login = 'forger', hash = ? WHERE id = 6", (forged,))
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 7
