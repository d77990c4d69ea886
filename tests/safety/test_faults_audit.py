"""Attacks on the audit trail, done for real on a real SQLite file with the sqlite3 module, as someone holding the
file would: drop the append-only triggers, then rewrite, delete or edit. `audit verify` must catch each one and
say what it found (finding 9 of issue 10)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services.audit import AuditReport, verify_audit_trail
from triage_app.services.referrals import register_referral, update_referral
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor
from triage_app.storage.audit import event_hash
from triage_app.storage.audit_checkpoint import read_checkpoint, set_checkpoint_path
from triage_app.storage.engine import Database


@pytest.fixture
def checkpoint(db: Database, db_path: Path) -> Path:
    """The checkpoint file open_session would keep for this database, in its backups folder."""
    backups = db_path.parent / "backups"
    backups.mkdir()
    path = backups / "audit-checkpoint.json"
    set_checkpoint_path(db.engine, path, database=db.location.describe())
    return path


@pytest.fixture
def trail(db: Database, checkpoint: Path, admin: Actor, consultant: Actor, rules: Rules) -> Database:
    """Three referrals, each edited once; one confirmed by a consultant, one awaiting information."""
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
    report = verify_audit_trail(db)
    assert report.intact, report.problems
    assert report.referrals_checked == 3 and report.referrals_not_covered == 0
    return db


def _shell(path: Path) -> sqlite3.Connection:
    """The sqlite3 shell of someone holding the file, with the append-only triggers dropped first."""
    connection = sqlite3.connect(path, isolation_level=None)
    for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        connection.execute(f"DROP TRIGGER {name}")
    return connection


def _rechain(connection: sqlite3.Connection, start: int) -> None:
    """Recompute every hash from event `start` on, and the head: the chain checks out inside the database."""
    prev = connection.execute("SELECT hash FROM audit_event WHERE id = ?", (start - 1,)).fetchone()
    prev_hash = prev[0] if prev else "0" * 64
    rows = connection.execute(
        "SELECT id, occurred_at, user_login, action, entity, entity_id, changes FROM audit_event WHERE id >= ? "
        "ORDER BY id",
        (start,),
    ).fetchall()
    last_id = start - 1
    for event_id, occurred_at, user_login, action, entity, entity_id, changes in rows:
        digest = event_hash(
            event_id=event_id,
            occurred_at=occurred_at,
            user_login=user_login,
            action=action,
            entity=entity,
            entity_id=entity_id,
            changes=changes,
            prev_hash=prev_hash,
        )
        connection.execute("UPDATE audit_event SET prev_hash = ?, hash = ? WHERE id = ?", (prev_hash, digest, event_id))
        prev_hash, last_id = digest, event_id
    connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", (last_id, prev_hash))


def _only_problem_besides_triggers(report: AuditReport) -> str:
    assert not report.intact
    others = [p for p in report.problems if "append-only protection" not in p]
    assert report.problems[-1].startswith("the database's append-only protection of the audit trail is gone")
    return others[0]


@pytest.mark.hazard("H17")
def test_an_edited_event_with_the_chain_and_head_recomputed_is_caught_by_the_checkpoint(
    trail: Database, db_path: Path, checkpoint: Path
) -> None:
    with _shell(db_path) as connection:
        head = connection.execute("SELECT last_event_id, last_hash FROM audit_chain_head").fetchone()
        connection.execute("UPDATE audit_event SET user_login = 'someone-else' WHERE id = 5")
        _rechain(connection, 5)
        assert connection.execute("SELECT last_event_id FROM audit_chain_head").fetchone()[0] == head[0]
    report = verify_audit_trail(trail)
    assert report.chain.intact  # inside the database the forgery holds ...
    problem = _only_problem_besides_triggers(report)  # ... the checkpoint does not
    assert problem.startswith(f"event {head[0]} differs from the checkpoint ({checkpoint}")
    assert problem.endswith("the chain was rewritten")
    assert report.problem == problem  # the first problem shown


@pytest.mark.hazard("H17")
def test_the_newest_three_events_deleted_and_the_head_moved_back_are_caught(
    trail: Database, db_path: Path, checkpoint: Path
) -> None:
    with _shell(db_path) as connection:
        last = connection.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        connection.execute("DELETE FROM audit_event WHERE id > ?", (last - 3,))
        kept = connection.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", kept)
    report = verify_audit_trail(trail)
    assert report.chain.intact
    problem = _only_problem_besides_triggers(report)
    assert problem == (
        f"the database's chain ends at event {last - 3}, but the checkpoint ({checkpoint}, written "
        f"{read_checkpoint(checkpoint).at}) records event {last}: events {last - 2} to {last} were deleted "  # type: ignore[union-attr]
        "and the head moved back"
    )
    # and the referrals whose last events went show it too (the status change of referral 2 was among them)
    assert "referral 2: changed without an audit event (version 3, last event says version 2)" in report.problems


@pytest.mark.hazard("H17")
def test_every_event_and_the_head_deleted_is_caught(trail: Database, db_path: Path, checkpoint: Path) -> None:
    with _shell(db_path) as connection:
        last = connection.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        connection.execute("DELETE FROM audit_event")
        connection.execute("DELETE FROM audit_chain_head")
    report = verify_audit_trail(trail)
    assert report.chain.intact and report.checked == 0  # was reported as "intact: 0 events"
    assert report.problem == (
        f"the database holds no audit events, but the checkpoint ({checkpoint}, written "
        f"{read_checkpoint(checkpoint).at}) records event {last}: all events (and the head) were deleted"  # type: ignore[union-attr]
    )


@pytest.mark.hazard("H17", "H01")
def test_a_referral_edited_in_the_database_without_an_event_is_named(trail: Database, db_path: Path) -> None:
    # no triggers need dropping: the referral table is the app's to change, and the trail records each change
    with sqlite3.connect(db_path) as connection:
        version = connection.execute("SELECT version FROM referral WHERE id = 3").fetchone()[0]
        connection.execute("UPDATE referral SET family_name = 'Otherperson', version = version + 1 WHERE id = 3")
    report = verify_audit_trail(trail)
    assert report.problems == (
        f"referral 3: changed without an audit event (version {version + 1}, last event says version {version})",
    )


@pytest.mark.hazard("H17", "H01")
def test_a_referral_edited_without_its_version_is_named(trail: Database, db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute("UPDATE referral SET date_of_birth = '1980-01-01' WHERE id = 2")
        connection.execute("UPDATE oral_medication SET outcome = 'not_tolerated' WHERE referral_id = 1")
    report = verify_audit_trail(trail)
    assert len(report.problems) == 2
    assert report.problems[0].startswith("referral 1: content differs from its last audit event (event ")
    assert report.problems[1].startswith("referral 2: content differs from its last audit event (event ")


@pytest.mark.hazard("H17", "H03")
def test_a_referral_deleted_or_added_in_the_database_is_named(trail: Database, db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA foreign_keys = ON")  # its assessments, history and medications go with it
        connection.execute("DELETE FROM referral WHERE id = 2")
        columns = [row[1] for row in connection.execute("PRAGMA table_info(referral)") if row[1] != "id"]
        values = ["'2026-09-09'" if name == "received_on" else name for name in columns]  # a copy of referral 3
        connection.execute(
            f"INSERT INTO referral (id, {', '.join(columns)}) SELECT 9, {', '.join(values)} FROM referral WHERE id = 3"
        )
    report = verify_audit_trail(trail)
    assert "referral 9: stored without an audit event (version 2)" in report.problems
    assert any(p.startswith("referral 2: deleted without an audit event (its last event, ") for p in report.problems)


@pytest.mark.hazard("H17")
def test_the_head_is_written_outside_the_database_after_each_commit(
    trail: Database, db_path: Path, checkpoint: Path, admin: Actor, rules: Rules, caplog: pytest.LogCaptureFixture
) -> None:
    saved = checkpoint.read_text()
    with sqlite3.connect(db_path) as connection:
        head = connection.execute("SELECT last_event_id, last_hash FROM audit_chain_head").fetchone()
    data = json.loads(saved)
    assert (data["head_id"], data["head_hash"]) == tuple(head) and data["database"] == trail.location.describe()
    assert checkpoint.stat().st_mode & 0o077 == 0  # owner-only, like the database
    caplog.set_level("INFO", logger="triage_app.storage.audit")
    register_referral(trail, actor=admin, referral=referral(4), rules=rules, as_of=AS_OF)
    after = read_checkpoint(checkpoint)
    assert after is not None and after.head_id == head[0] + 1
    assert f"audit head {after.head_id} {after.head_hash}" in caplog.text  # the log: ids and hash only
    assert "Quillfeather" not in caplog.text and "999" not in caplog.text.replace(str(after.head_id), "")


@pytest.mark.hazard("H17")
def test_no_checkpoint_file_is_said_and_is_not_an_error(trail: Database, checkpoint: Path) -> None:
    checkpoint.unlink()
    report = verify_audit_trail(trail)
    assert report.intact
    assert (
        report.checkpoint
        == f"checkpoint not compared (no checkpoint file at {checkpoint}: a new install, or it was removed)"
    )


@pytest.mark.hazard("H17")
def test_a_damaged_checkpoint_is_reported_and_not_written_over(
    trail: Database, checkpoint: Path, admin: Actor, rules: Rules
) -> None:
    checkpoint.write_text('{"head_id": "lots"')
    register_referral(trail, actor=admin, referral=referral(4), rules=rules, as_of=AS_OF)  # the change still commits
    assert checkpoint.read_text() == '{"head_id": "lots"'  # evidence kept
    report = verify_audit_trail(trail)
    assert not report.intact and report.problem is not None
    assert report.problem.startswith(f"the audit checkpoint {checkpoint} is not a checkpoint (damaged or edited)")
    assert report.problem.endswith("the head outside the database cannot be compared")
