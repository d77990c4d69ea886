"""A held meeting with two recorded outcomes and plain invented names, for the tests of where exports go and
what happens when they cannot be written (tests/exporters/test_export_destinations.py,
tests/safety/test_faults_exports.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.exporters.corpus import MEETING_DAY
from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor, add_user
from triage_app.storage.engine import Database


@pytest.fixture
def held_meeting(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> tuple[int, list[int]]:
    """A meeting on MEETING_DAY with two cases whose outcomes a consultant with an MDT role recorded."""
    signer = add_user(
        db,
        actor=admin,
        login="signer-test",
        display_name="Ms Petra Invented",
        roles=["consultant"],
        mdt_role="functional_neurosurgeon",
    )
    ids = []
    for serial, family in ((41, "Plainfield"), (42, "Ordinaryson")):
        saved = register_referral(
            db, actor=admin, referral=referral(serial, patient__family_name=family), rules=rules, as_of=AS_OF
        )
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=saved.version)
        ids.append(saved.referral_id)
    meeting_id = meetings.create_meeting(
        db, actor=admin, meeting_date=MEETING_DAY, meeting_time="13:30", today=AS_OF
    ).meeting_id
    for rid in ids:
        meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=rid)
    for rid in ids:
        meetings.record_outcome(
            db,
            actor=signer,
            meeting_id=meeting_id,
            referral_id=rid,
            outcome="decline",
            rationale="Invented rationale: toxin still helps",
            today=MEETING_DAY,
        )
    return meeting_id, ids


def sha256_of(path: Path) -> str:
    """The file's hash, to prove it was not touched."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_events(db: Database) -> list[str]:
    """The `changes` of every export event in the audit trail, oldest first (read by a connection of its own, on
    either backend)."""
    engine = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT changes FROM audit_event WHERE action = 'export' ORDER BY id")
            return [str(row[0]) for row in rows]
    finally:
        engine.dispose()


def data_folder(db: Database, tmp_path: Path) -> Path:
    """The app's data folder: the SQLite file's folder, or on a server a folder of the test's own (logs, backups)."""
    if db.location.path is not None:
        return db.location.path.parent
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    return folder


def leftovers(folder: Path) -> list[str]:
    """Temporary or set-aside files an export left in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".part", ".replaced")))
