"""The audit trail: written with each change, hash-chained, and tampering is caught."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services.audit import audit_queue_export, verify_audit_trail
from triage_app.services.referrals import register_referral, update_referral
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor
from triage_app.storage.audit_checkpoint import advance_checkpoint, read_checkpoint, restart_checkpoint
from triage_app.storage.engine import Database, DatabaseError
from triage_app.storage.models import AuditChainHead, AuditEventRow


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


def _events(db: Database) -> list[tuple[int, str, str]]:
    with db.read() as session:
        rows = session.execute(sa.text("SELECT id, action, changes FROM audit_event ORDER BY id")).all()
    return [(int(event_id), str(action), str(changes)) for event_id, action, changes in rows]


@pytest.mark.hazard("H03")
def test_every_change_writes_an_event(trail: Database) -> None:
    actions = [action for _, action, _ in _events(trail)]
    # the database's id (made with its first audited change), two users (admin, consultant) and three referrals
    assert actions.count("create") == 1 + 2 + 3
    assert actions.count("update") == 3
    assert "triage_confirmed" in actions and "status_change" in actions
    report = verify_audit_trail(trail)
    assert report.intact and report.checked == len(actions)


def test_update_event_records_fields_before_and_after(trail: Database) -> None:
    updates = [json.loads(changes) for _, action, changes in _events(trail) if action == "update"]
    first = updates[0]
    assert first["clinical_question"] == [
        "Consider SPD: rotational torticollis, lost response to toxin.",
        "Question 1",
    ]
    assert first["version"] == [1, 2]
    assert "patient.nhs_number" not in first  # unchanged fields are not listed


def drop_append_only_triggers(connection: sqlite3.Connection) -> None:
    """What a forger with the sqlite3 shell does first: drop the triggers that refuse changes to the trail."""
    names = connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in names:
        connection.execute(f"DROP TRIGGER {name}")


Tamper = Callable[..., None]


@pytest.fixture
def tamper(db_url: str) -> Tamper:
    """What a forger holding the database does: get past the append-only triggers, then run `statements`.

    SQLite: the sqlite3 shell on the file, dropping the triggers first. PostgreSQL: the superuser, with
    `SET session_replication_role = replica`, under which ordinary triggers do not fire (they stay in place).
    """

    def run(*statements: str) -> None:
        url = sa.make_url(db_url)
        if url.get_backend_name() == "sqlite":
            assert url.database is not None
            with contextlib.closing(sqlite3.connect(url.database)) as connection, connection:
                drop_append_only_triggers(connection)
                for statement in statements:
                    connection.execute(statement)
            return
        engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as server:
                server.exec_driver_sql("SET LOCAL session_replication_role = replica")
                for statement in statements:
                    server.exec_driver_sql(statement)
        finally:
            engine.dispose()

    return run


@pytest.mark.hazard("H12")
def test_altered_event_is_caught(trail: Database, tamper: Tamper) -> None:
    tamper("UPDATE audit_event SET user_login = 'someone-else' WHERE id = 5")
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 5
    assert "altered" in (report.problem or "")


@pytest.mark.hazard("H03")
def test_deleted_event_is_caught(trail: Database, tamper: Tamper) -> None:
    tamper("DELETE FROM audit_event WHERE id = 4")
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 5
    assert "missing" in (report.problem or "")


@pytest.mark.hazard("H03")
def test_deleted_event_with_ids_renumbered_is_caught(trail: Database, tamper: Tamper) -> None:
    tamper(
        "DELETE FROM audit_event WHERE id = 4",
        "UPDATE audit_event SET id = id - 1 WHERE id > 4",
    )
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 4


@pytest.mark.hazard("H03")
def test_deleted_newest_event_is_caught(trail: Database, tamper: Tamper) -> None:
    last = _events(trail)[-1][0]
    tamper(f"DELETE FROM audit_event WHERE id = {last}")
    report = verify_audit_trail(trail)
    assert not report.intact and "newest events were deleted" in (report.problem or "")


@pytest.mark.hazard("H03")
def test_reordered_events_are_caught(trail: Database, tamper: Tamper) -> None:
    tamper(
        "UPDATE audit_event SET id = -1 WHERE id = 3",
        "UPDATE audit_event SET id = 3 WHERE id = 4",
        "UPDATE audit_event SET id = 4 WHERE id = -1",
    )
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 3


@pytest.mark.hazard("H12")
def test_recomputed_hash_without_relinking_is_caught(trail: Database, tamper: Tamper) -> None:
    """A forger who rewrites an event and its own hash still breaks the next event's link."""
    from triage_app.storage.audit import event_hash

    with trail.read() as session:
        row = session.execute(
            sa.text(
                "SELECT id, occurred_at, user_login, action, entity, entity_id, changes, prev_hash FROM audit_event "
                "WHERE id = 6"
            )
        ).one()
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
    tamper(f"UPDATE audit_event SET user_login = 'forger', hash = '{forged}' WHERE id = 6")  # hex digits only
    report = verify_audit_trail(trail)
    assert not report.intact and report.first_broken == 7


# --- append-only in the database (schema 0005) ---------------------------------------------------------------


@pytest.mark.hazard("H17")
@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (sa.update(AuditEventRow).where(AuditEventRow.id == 3).values(user_login="forger"), "cannot be changed"),  # type: ignore[arg-type]
        (sa.delete(AuditEventRow).where(AuditEventRow.id == 3), "cannot be deleted"),  # type: ignore[arg-type]
        (sa.delete(AuditChainHead), "the chain head cannot be deleted"),
        (sa.update(AuditChainHead).values(last_event_id=2), "the chain head only moves forward"),
    ],
)
def test_the_database_refuses_changes_to_the_trail_in_words(
    trail: Database, statement: sa.Executable, words: str
) -> None:
    before = _events(trail)
    with pytest.raises(DatabaseError) as refused, trail.write() as session:
        session.execute(statement)
    message = str(refused.value)
    assert message.startswith("refused by the database: audit trail is append-only: ")
    assert words in message and message.endswith("Audit events are never changed or deleted; nothing was changed.")
    assert _events(trail) == before
    assert verify_audit_trail(trail).intact


@pytest.mark.hazard("H17")
@pytest.mark.sqlite_only("the sqlite3 shell writing to the file past the app")
def test_the_sqlite_shell_cannot_write_over_an_event_either(trail: Database, db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute(
            "INSERT OR REPLACE INTO audit_event SELECT id, occurred_at, 'forger', action, entity, entity_id, changes, "
            "prev_hash, hash FROM audit_event WHERE id = 3"
        )
    assert verify_audit_trail(trail).intact


@pytest.mark.hazard("H17")
@pytest.mark.server_only("another program's SQL on the server, past the app")
@pytest.mark.parametrize(
    ("statement", "words"),
    [
        ("UPDATE audit_event SET user_login = 'forger' WHERE id = 3", "an audit event cannot be changed"),
        ("DELETE FROM audit_event WHERE id = 3", "an audit event cannot be deleted"),
        ("TRUNCATE audit_event CASCADE", "an audit event cannot be emptied (TRUNCATE)"),
        (
            "INSERT INTO audit_event SELECT id, occurred_at, 'forger', action, entity, entity_id, changes, prev_hash, "
            "hash FROM audit_event WHERE id = 3 ON CONFLICT (id) DO UPDATE SET user_login = excluded.user_login",
            "an audit event cannot be changed",
        ),
        ("DELETE FROM audit_chain_head", "the chain head cannot be deleted"),
        ("UPDATE audit_chain_head SET last_event_id = 2", "the chain head only moves forward"),
    ],
)
def test_sql_on_the_server_cannot_change_the_trail_either(
    trail: Database, db_url: str, statement: str, words: str
) -> None:
    """Even the superuser's own SQL (psql, another program) is refused by the trigger functions of schema 0005."""
    before = _events(trail)
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with pytest.raises(DatabaseError) as refused, engine.begin() as connection:
            connection.exec_driver_sql(statement)  # any engine's refusal is said in words (storage/engine.py)
    finally:
        engine.dispose()
    assert f"audit trail is append-only: {words}" in str(refused.value)
    assert _events(trail) == before
    assert verify_audit_trail(trail).intact


@pytest.mark.hazard("H17")
@pytest.mark.sqlite_only("dropping a trigger in the SQLite file")
def test_dropped_triggers_are_reported(trail: Database, db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute("DROP TRIGGER audit_event_no_delete")
    report = verify_audit_trail(trail)
    assert report.problems == (
        "the database's append-only protection of the audit trail is gone (1 of 6 triggers dropped or disabled: "
        "audit_event_no_delete): someone changed the schema, and events may have been altered",
    )


@pytest.mark.hazard("H17")
@pytest.mark.server_only("dropping and disabling trigger functions on the server")
@pytest.mark.parametrize(
    "statement",
    [
        "DROP TRIGGER audit_event_append_only ON audit_event",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
    ],
)
def test_dropped_or_disabled_server_triggers_are_reported(trail: Database, db_url: str, statement: str) -> None:
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    report = verify_audit_trail(trail)
    assert report.problems == (
        "the database's append-only protection of the audit trail is gone (1 of 4 triggers dropped or disabled: "
        "audit_event_append_only): someone changed the schema, and events may have been altered",
    )


# --- referral states and the checkpoint ----------------------------------------------------------------------


@pytest.mark.hazard("H17")
def test_each_change_records_the_referrals_state_once_committed(trail: Database) -> None:
    """update_referral stores the new assessment after its event: the state recorded is the one committed."""
    report = verify_audit_trail(trail)
    assert report.intact and report.referrals_checked == 3 and report.referrals_not_covered == 0
    updates = [json.loads(changes) for _, action, changes in _events(trail) if action == "update"]
    assert [list(u["referral_state"][1]["referrals"]) for u in updates] == [["1"], ["2"], ["3"]]
    assert all(
        u["referral_state"][1]["referrals"][k][0] == 2 for u in updates for k in u["referral_state"][1]["referrals"]
    )


def test_a_meeting_and_its_outcome_keep_the_referral_states_whole(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    """Meeting events change referrals (listed, discussed) without naming them as their entity."""
    from datetime import date

    from triage_app.services import meetings

    ids = []
    for serial in (1, 2):
        saved = register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF)
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=1)
        ids.append(saved.referral_id)
    first = meetings.create_meeting(
        db,
        actor=admin,
        meeting_date=date(2026, 12, 3),
        meeting_time="13:30",
        attendees=[("Dr A", "other")],
        today=AS_OF,
    ).meeting_id
    later = meetings.create_meeting(
        db,
        actor=admin,
        meeting_date=date(2026, 12, 10),
        meeting_time="13:30",
        attendees=[("Dr A", "other")],
        today=AS_OF,
    ).meeting_id
    meetings.fill_to_capacity(db, actor=admin, meeting_id=first)
    meetings.remove_case(db, actor=admin, meeting_id=first, referral_id=ids[1])
    meetings.add_case(db, actor=admin, meeting_id=first, referral_id=ids[1])
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=first,
        referral_id=ids[0],
        outcome="more_information_needed",
        rationale="Videofluoroscopy first",
        today=date(2026, 12, 3),
    )
    meetings.cancel_meeting(db, actor=admin, meeting_id=later)
    report = verify_audit_trail(db)
    assert report.intact, report.problems
    assert report.referrals_checked == 2 and report.referrals_not_covered == 0


@pytest.mark.hazard("H17")
def test_the_checkpoint_only_moves_forward(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "audit-checkpoint.json"
    assert advance_checkpoint(path, head_id=5, head_hash="a" * 64, database="db")
    assert not advance_checkpoint(path, head_id=4, head_hash="b" * 64, database="db")  # a slower process
    assert not advance_checkpoint(path, head_id=5, head_hash="c" * 64, database="db")
    assert "audit head 5 cccccccccccc differs from the checkpoint's aaaaaaaaaaaa" in caplog.text
    assert not advance_checkpoint(path, head_id=9, head_hash="d" * 64, database="another")
    stored = read_checkpoint(path)
    assert stored is not None and (stored.head_id, stored.head_hash) == (5, "a" * 64)
    restart_checkpoint(path, head_id=2, head_hash="e" * 64, reason="restored backup triage-2026-12-01.sqlite3")
    stored = read_checkpoint(path)
    assert stored is not None and (stored.head_id, stored.head_hash, stored.database) == (2, "e" * 64, "db")
    assert [(h["head_id"], h["reason"]) for h in stored.history] == [(5, "restored backup triage-2026-12-01.sqlite3")]
    assert advance_checkpoint(path, head_id=3, head_hash="f" * 64, database="db")
    assert read_checkpoint(path).history == stored.history  # type: ignore[union-attr]


def _advance_many(path: str, start: int, count: int) -> None:
    for head_id in range(start, start + count * 2, 2):
        advance_checkpoint(Path(path), head_id=head_id, head_hash=f"{head_id:064x}", database="db")


@pytest.mark.hazard("H17")
def test_processes_writing_the_checkpoint_at_once_never_move_it_back(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "audit-checkpoint.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_advance_many, args=(str(path), start, 150)) for start in (1, 2)]
    for worker in workers:
        worker.start()
    seen = []
    while any(worker.is_alive() for worker in workers):
        current = read_checkpoint(path) if path.exists() else None  # never half a file: atomic replace
        if current is not None:
            seen.append(current.head_id)
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    assert seen == sorted(seen)
    final = read_checkpoint(path)
    assert final is not None and final.head_id == 300 and final.head_hash == f"{300:064x}"
    assert not list(tmp_path.glob(".audit-checkpoint.json.*.part"))


@pytest.mark.hazard("H11")
def test_a_queue_export_is_audited_with_the_referral_ids(trail: Database, admin: Actor) -> None:
    assert audit_queue_export(trail, actor=admin, referral_ids=[3, 1, 2], what="json", filters={"status": None}) is None
    _, action, changes = _events(trail)[-1]
    assert action == "export"
    assert json.loads(changes) == {
        "format": [None, "json"],
        "referrals": [None, 3],
        "referral_ids": [None, [3, 1, 2]],
        "filter": [None, {"status": None}],
    }
    assert verify_audit_trail(trail).intact
