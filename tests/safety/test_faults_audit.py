"""Attacks on the audit trail, done for real as someone holding the database would: on a SQLite file with the
sqlite3 module, dropping the append-only triggers first; on PostgreSQL (--backend=postgresql) as the superuser with
`session_replication_role = replica`, under which the triggers do not fire. Then rewrite, delete or edit: `audit
verify` must catch each one and say what it found (finding 9 of issue 10)."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.logs import LOG_FILENAME, configure_logging
from triage_app.services.audit import AuditReport, audit_queue_export, verify_audit_trail
from triage_app.services.referrals import register_referral, update_referral
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor
from triage_app.storage.audit import event_hash
from triage_app.storage.audit_checkpoint import read_checkpoint, set_checkpoint_path
from triage_app.storage.engine import Database, parse_database_url, sqlite_url


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The app's data folder (its SQLite file, if on SQLite, is elsewhere: only backups and logs matter here)."""
    folder = tmp_path / "appdata"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def checkpoint(db: Database, data_dir: Path) -> Path:
    """The checkpoint file open_session would keep for this database, in its backups folder."""
    backups = data_dir / "backups"
    backups.mkdir()
    path = backups / "audit-checkpoint.json"
    set_checkpoint_path(db.engine, path, database=db.location.describe())
    return path


@pytest.fixture
def app_log(data_dir: Path) -> Iterator[Path]:
    """The app's rotating log in the data folder's logs/, as the CLI and the desktop configure it."""
    folder = data_dir / "logs"
    assert configure_logging(folder) is not None
    yield folder
    root = logging.getLogger("triage_app")
    for handler in [h for h in root.handlers if isinstance(h, RotatingFileHandler)]:
        root.removeHandler(handler)
        handler.close()


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


def _on_sqlite(db_url: str) -> bool:
    return sa.make_url(db_url).get_backend_name() == "sqlite"


class _ServerShell:
    """psql of the server's superuser: `?` parameters like the sqlite3 module; commits and closes on leaving."""

    def __init__(self, db_url: str, *, past_triggers: bool) -> None:
        url = sa.make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.connection = psycopg.connect(url)
        if past_triggers:  # ordinary triggers (the append-only ones) do not fire; the schema is untouched
            self.connection.execute("SET session_replication_role = replica")

    def execute(self, sql: str, params: Any = ()) -> Any:
        """The cursor, as sqlite3's `execute` gives it (fetchone, fetchall)."""
        return self.connection.execute(sql.replace("?", "%s"), params)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> _ServerShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.__exit__(*exc)  # type: ignore[arg-type]  # commits, or rolls back on an error


Shell = Any  # a sqlite3.Connection or a _ServerShell: execute(sql, params) with `?` parameters


def _shell(db_url: str) -> Shell:
    """The shell of someone holding the database, past the append-only triggers: on SQLite the sqlite3 shell with
    the triggers dropped first; on a server the superuser with session_replication_role = replica."""
    if not _on_sqlite(db_url):
        return _ServerShell(db_url, past_triggers=True)
    connection = sqlite3.connect(str(sa.make_url(db_url).database), isolation_level=None)
    for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        connection.execute(f"DROP TRIGGER {name}")
    return connection


def _sql(db_url: str) -> Shell:
    """Another program's connection to the database, as any login may write the app's tables (triggers fire)."""
    if not _on_sqlite(db_url):
        return _ServerShell(db_url, past_triggers=False)
    return sqlite3.connect(str(sa.make_url(db_url).database))


def _rechain(connection: Shell, start: int) -> None:
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


def _only_problem_besides_triggers(report: AuditReport, db_url: str) -> str:
    """The first problem besides the dropped triggers (SQLite; on a server they were bypassed, not dropped)."""
    assert not report.intact
    others = [p for p in report.problems if "append-only protection" not in p]
    if _on_sqlite(db_url):
        assert report.problems[-1].startswith("the database's append-only protection of the audit trail is gone")
    else:
        assert others == list(report.problems)
    return others[0]


@pytest.mark.hazard("H17")
def test_an_edited_event_with_the_chain_and_head_recomputed_is_caught_by_the_checkpoint(
    trail: Database, db_url: str, checkpoint: Path
) -> None:
    with _shell(db_url) as connection:
        head = connection.execute("SELECT last_event_id, last_hash FROM audit_chain_head").fetchone()
        connection.execute("UPDATE audit_event SET user_login = 'someone-else' WHERE id = 5")
        _rechain(connection, 5)
        assert connection.execute("SELECT last_event_id FROM audit_chain_head").fetchone()[0] == head[0]
    report = verify_audit_trail(trail)
    assert report.chain.intact  # inside the database the forgery holds ...
    problem = _only_problem_besides_triggers(report, db_url)  # ... the checkpoint does not
    assert problem.startswith(f"event {head[0]} differs from the checkpoint ({checkpoint}")
    assert problem.endswith("the chain was rewritten")
    assert report.problem == problem  # the first problem shown


@pytest.mark.hazard("H17")
def test_the_newest_three_events_deleted_and_the_head_moved_back_are_caught(
    trail: Database, db_url: str, checkpoint: Path
) -> None:
    with _shell(db_url) as connection:
        last = connection.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        connection.execute("DELETE FROM audit_event WHERE id > ?", (last - 3,))
        kept = connection.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", kept)
    report = verify_audit_trail(trail)
    assert report.chain.intact
    problem = _only_problem_besides_triggers(report, db_url)
    assert problem == (
        f"the database's chain ends at event {last - 3}, but the checkpoint ({checkpoint}, written "
        f"{read_checkpoint(checkpoint).at}) records event {last}: events {last - 2} to {last} were deleted "  # type: ignore[union-attr]
        "and the head moved back"
    )
    # and the referrals whose last events went show it too (the status change of referral 2 was among them)
    assert "referral 2: changed without an audit event (version 3, last event says version 2)" in report.problems


@pytest.mark.hazard("H17")
def test_every_event_and_the_head_deleted_is_caught(trail: Database, db_url: str, checkpoint: Path) -> None:
    with _shell(db_url) as connection:
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
def test_a_referral_edited_in_the_database_without_an_event_is_named(trail: Database, db_url: str) -> None:
    # no triggers need dropping: the referral table is the app's to change, and the trail records each change
    with _sql(db_url) as connection:
        version = connection.execute("SELECT version FROM referral WHERE id = 3").fetchone()[0]
        connection.execute("UPDATE referral SET family_name = 'Otherperson', version = version + 1 WHERE id = 3")
    report = verify_audit_trail(trail)
    assert report.problems == (
        f"referral 3: changed without an audit event (version {version + 1}, last event says version {version})",
    )


@pytest.mark.hazard("H17", "H01")
def test_a_referral_edited_without_its_version_is_named(trail: Database, db_url: str) -> None:
    with _sql(db_url) as connection:
        connection.execute("UPDATE referral SET date_of_birth = '1980-01-01' WHERE id = 2")
        connection.execute("UPDATE oral_medication SET outcome = 'not_tolerated' WHERE referral_id = 1")
    report = verify_audit_trail(trail)
    assert len(report.problems) == 2
    assert report.problems[0].startswith("referral 1: content differs from its last audit event (event ")
    assert report.problems[1].startswith("referral 2: content differs from its last audit event (event ")


@pytest.mark.hazard("H17", "H03")
def test_a_referral_deleted_or_added_in_the_database_is_named(trail: Database, db_url: str) -> None:
    columns = [column["name"] for column in sa.inspect(trail.engine).get_columns("referral") if column["name"] != "id"]
    with _sql(db_url) as connection:
        if isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA foreign_keys = ON")  # its assessments, history and medications go with it
        connection.execute("DELETE FROM referral WHERE id = 2")
        values = ["'2026-09-09'" if name == "received_on" else name for name in columns]  # a copy of referral 3
        connection.execute(
            f"INSERT INTO referral (id, {', '.join(columns)}) SELECT 9, {', '.join(values)} FROM referral WHERE id = 3"
        )
    report = verify_audit_trail(trail)
    assert "referral 9: stored without an audit event (version 2)" in report.problems
    assert any(p.startswith("referral 2: deleted without an audit event (its last event, ") for p in report.problems)


@pytest.mark.hazard("H17")
def test_the_head_is_written_outside_the_database_after_each_commit(
    trail: Database, db_url: str, checkpoint: Path, admin: Actor, rules: Rules, caplog: pytest.LogCaptureFixture
) -> None:
    saved = checkpoint.read_text()
    with _sql(db_url) as connection:
        head = connection.execute("SELECT last_event_id, last_hash FROM audit_chain_head").fetchone()
        (database_id,) = connection.execute("SELECT value FROM app_setting WHERE key = 'database_id'").fetchone()
    data = json.loads(saved)
    # named by the database's own id (kept inside it), not by its path: it follows the file when the folder moves
    assert (data["head_id"], data["head_hash"]) == tuple(head) and data["database"] == database_id
    assert checkpoint.stat().st_mode & 0o077 == 0  # owner-only, like the database
    caplog.set_level("INFO", logger="triage_app.storage.audit")
    register_referral(trail, actor=admin, referral=referral(4), rules=rules, as_of=AS_OF)
    after = read_checkpoint(checkpoint)
    assert after is not None and after.head_id == head[0] + 1
    assert f"audit head {after.head_id} {after.head_hash} db={database_id}" in caplog.text  # ids and hash only
    shown = caplog.text.replace(f"audit head {after.head_id} {after.head_hash} db={database_id}", "")
    assert "Quillfeather" not in shown and "999" not in shown


@pytest.mark.hazard("H17")
def test_a_missing_checkpoint_while_the_trail_holds_events_is_a_problem(trail: Database, checkpoint: Path) -> None:
    checkpoint.unlink()
    report = verify_audit_trail(trail)
    assert not report.intact  # was "checkpoint not compared (... a new install, or it was removed)", exit 0
    assert report.problem is not None
    assert report.problem.startswith(
        f"the checkpoint file {checkpoint} is missing though the trail has {report.checked} events: it was removed, "
        "or the database was moved here from another data folder. If it was moved on purpose: "
    )
    assert report.checkpoint == f"no checkpoint file at {checkpoint}"


@pytest.mark.hazard("H17")
def test_no_checkpoint_and_no_events_is_a_new_install(db: Database, checkpoint: Path) -> None:
    report = verify_audit_trail(db)
    assert report.intact, report.problems
    assert report.checkpoint == f"checkpoint not compared (no checkpoint file at {checkpoint}: a new install)"


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


def _rotate(log_dir: Path) -> None:
    """Start a new log file now, as the handler does at 1 MB: what was logged moves to triage-app.log.1."""
    for handler in logging.getLogger("triage_app").handlers:
        if isinstance(handler, RotatingFileHandler):
            handler.doRollover()
    assert (log_dir / f"{LOG_FILENAME}.1").exists()


@pytest.mark.hazard("H17")
def test_a_rewritten_chain_with_the_checkpoint_deleted_is_caught_by_the_log(
    app_log: Path, trail: Database, db_url: str, checkpoint: Path
) -> None:
    with _shell(db_url) as connection:
        head = connection.execute("SELECT last_event_id FROM audit_chain_head").fetchone()[0]
        connection.execute("UPDATE audit_event SET user_login = 'someone-else' WHERE id = 5")
        _rechain(connection, 5)
    checkpoint.unlink()  # the outside record the forger can reach
    report = verify_audit_trail(trail, log_dir=app_log)
    assert report.chain.intact  # inside the database the forgery holds ...
    problem = _only_problem_besides_triggers(report, db_url)  # ... the log does not
    assert problem.startswith("event 5 differs from the head the app log recorded (triage-app.log, ")
    assert problem.endswith(f"the chain was rewritten (and {head - 5} more logged heads differ)")
    assert report.problems[1].startswith(f"the checkpoint file {checkpoint} is missing though the trail has ")


@pytest.mark.hazard("H17")
def test_heads_in_the_rotated_log_files_are_compared_too(
    app_log: Path, trail: Database, db_url: str, checkpoint: Path, admin: Actor, rules: Rules
) -> None:
    _rotate(app_log)
    register_referral(trail, actor=admin, referral=referral(4), rules=rules, as_of=AS_OF)
    _rotate(app_log)  # now .2 holds the trail's first heads, .1 the newest
    assert "audit head" not in (app_log / LOG_FILENAME).read_text()
    assert verify_audit_trail(trail, log_dir=app_log).intact
    with _shell(db_url) as connection:
        last = connection.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        connection.execute("DELETE FROM audit_event WHERE id = ?", (last,))
        kept = connection.execute("SELECT id, hash FROM audit_event WHERE id = ?", (last - 1,)).fetchone()
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", kept)
    checkpoint.unlink()
    report = verify_audit_trail(trail, log_dir=app_log)
    assert report.problem is not None
    assert report.problem.startswith(
        f"the database's chain ends at event {last - 1}, but the app log (triage-app.log.1, "
    )
    assert report.problem.endswith(f"event {last} was deleted and the head moved back")


@contextlib.contextmanager
def _another_database_copied_from(trail: Database, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A copy of the test's database (the same events), under a database id of its own: another database (a copy
    shares the id). SQLite: a backup of the file; a server: CREATE DATABASE ... TEMPLATE (dropped after)."""
    if _on_sqlite(db_url):
        other_path = tmp_path / "other.sqlite3"
        with (
            contextlib.closing(sqlite3.connect(str(sa.make_url(db_url).database))) as source,
            contextlib.closing(sqlite3.connect(other_path)) as target,
        ):
            source.backup(target)
        other_url = sqlite_url(other_path)
        cleanup = None
    else:
        trail.engine.dispose()  # a template may have no other connections
        url = sa.make_url(db_url)
        name = f"{url.database}_copy"
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
        other_url = url.set(database=name).render_as_string(hide_password=False)
        cleanup = (admin, name)
    try:
        with _sql(other_url) as connection:
            connection.execute("UPDATE app_setting SET value = ? WHERE key = 'database_id'", ("f" * 32,))
        yield other_url
    finally:
        if cleanup is not None:
            admin, name = cleanup
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.mark.hazard("H17")
def test_heads_of_another_database_in_the_same_log_are_not_compared(
    app_log: Path, trail: Database, db_url: str, admin: Actor, tmp_path: Path
) -> None:
    with _another_database_copied_from(trail, db_url, tmp_path) as other_url:
        other = Database(parse_database_url(other_url))
        try:
            audit_queue_export(other, actor=admin, referral_ids=[1], what="json", filters={})
        finally:
            other.dispose()
    report = verify_audit_trail(trail, log_dir=app_log)
    assert report.intact, report.problems  # the copy's newer head, logged in the same file, is its own
    assert " logged heads match (up to event " in report.logged


def _delete_newest_under_recreated_triggers(db_url: str, count: int = 1) -> tuple[int, int]:
    """The tester's deletion: drop the two triggers in the way, delete the newest `count` events, move the head
    back to the event before them, and re-create the triggers (the schema looks untouched). (last, kept) ids.
    On a server the superuser need not drop them: under session_replication_role = replica they do not fire."""
    if not _on_sqlite(db_url):
        with _ServerShell(db_url, past_triggers=True) as shell:
            last = shell.execute("SELECT max(id) FROM audit_event").fetchone()[0]
            shell.execute("DELETE FROM audit_event WHERE id > ?", (last - count,))
            kept = shell.execute("SELECT id, hash FROM audit_event WHERE id = ?", (last - count,)).fetchone()
            shell.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", kept)
        return int(last), int(last) - count
    protected = ("audit_event_no_delete", "audit_chain_head_forward_only")
    with sqlite3.connect(str(sa.make_url(db_url).database), isolation_level=None) as connection:
        schema = dict(
            connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)", protected
            ).fetchall()
        )
        for name in protected:
            connection.execute(f"DROP TRIGGER {name}")
        last = connection.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        connection.execute("DELETE FROM audit_event WHERE id > ?", (last - count,))
        kept = connection.execute("SELECT id, hash FROM audit_event WHERE id = ?", (last - count,)).fetchone()
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", kept)
        for name in protected:
            connection.execute(schema[name])
    connection.close()
    return last, last - count


def _checkpoint_moved_back(checkpoint: Path, db_url: str, event_id: int) -> None:
    """Edit the checkpoint file (plain JSON the forger can reach) to the event the head was moved back to."""
    with _sql(db_url) as connection:
        (digest,) = connection.execute("SELECT hash FROM audit_event WHERE id = ?", (event_id,)).fetchone()
    data = json.loads(checkpoint.read_text())
    data.update(head_id=event_id, head_hash=digest)
    checkpoint.write_text(json.dumps(data))


@pytest.mark.hazard("H17")
def test_a_read_only_open_compares_the_heads_the_writable_opens_logged(
    app_log: Path, trail: Database, db_url: str, checkpoint: Path, admin: Actor
) -> None:
    """Tester's finding 1: opened read-only (full disk, damaged or 0444 file), verify said "app log: no head of
    this database logged" and exit 0: the read-only engine's URL (a `file:...?mode=ro` URI) gave another key."""
    for what in ("json", "csv"):  # two queue exports: the events a forger deletes (no referral state in them)
        audit_queue_export(trail, actor=admin, referral_ids=[1, 2], what=what, filters={})
    last, kept = _delete_newest_under_recreated_triggers(db_url, 2)
    _checkpoint_moved_back(checkpoint, db_url, kept)
    read_only = Database(parse_database_url(db_url), read_only="injected: the disk is full")
    try:
        report = verify_audit_trail(read_only, checkpoint=checkpoint, log_dir=app_log)
    finally:
        read_only.dispose()
    assert report.checkpoint == f"checkpoint at event {kept} matches"  # the forger moved it back too
    assert report.problem is not None and report.problem.startswith(
        f"the database's chain ends at event {kept}, but the app log (triage-app.log, "
    )
    assert report.problem.endswith(f"events {kept + 1} to {last} were deleted and the head moved back")
    assert "no head of this database logged" not in report.logged


@pytest.mark.hazard("H17")
def test_a_checkpoint_naming_another_database_is_a_problem(trail: Database, checkpoint: Path) -> None:
    data = json.loads(checkpoint.read_text())
    data["database"] = "/srv/other-unit/data/triage.sqlite3"  # another database's (an older version's path key)
    checkpoint.write_text(json.dumps(data))
    report = verify_audit_trail(trail)
    assert not report.intact  # was "checkpoint not compared (... records another database ...)", exit 0
    assert report.problem is not None and report.problem.startswith(
        f"the checkpoint {checkpoint} records another database (/srv/other-unit/data/triage.sqlite3), not this one (id "
    )


@pytest.mark.hazard("H17")
def test_a_checkpoint_an_older_version_keyed_by_this_path_is_compared_and_taken_over(
    trail: Database, db_url: str, checkpoint: Path, admin: Actor, rules: Rules
) -> None:
    data = json.loads(checkpoint.read_text())
    data["database"] = trail.location.describe()  # as the version before database ids wrote it
    checkpoint.write_text(json.dumps(data))
    report = verify_audit_trail(trail)
    assert report.intact, report.problems
    assert report.checkpoint == f"checkpoint at event {data['head_id']} matches"
    register_referral(trail, actor=admin, referral=referral(4), rules=rules, as_of=AS_OF)
    with _sql(db_url) as connection:
        (database_id,) = connection.execute("SELECT value FROM app_setting WHERE key = 'database_id'").fetchone()
    connection.close()
    after = read_checkpoint(checkpoint)
    assert after is not None and after.head_id > data["head_id"] and after.database == database_id


@pytest.mark.hazard("H03")
def test_a_change_committed_while_verify_reads_is_no_false_alarm(
    trail: Database,
    checkpoint: Path,
    app_log: Path,
    admin: Actor,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The daily backup's audit check runs while the desktop commits: a change committed after verify took its
    snapshot moves the checkpoint and logs a head beyond that snapshot. Read after it, they looked like deleted
    events ("the chain ends at event N, but the checkpoint records event N+1"): a false alarm on a sound trail."""
    import triage_app.services.audit as audit_service

    real_verify_chain = audit_service.verify_chain

    def commit_meanwhile(session: Any) -> Any:
        report = real_verify_chain(session)  # the snapshot is taken: now another desk commits a change
        register_referral(trail, actor=admin, referral=referral(9), rules=rules, as_of=AS_OF)
        return report

    before = read_checkpoint(checkpoint)
    monkeypatch.setattr(audit_service, "verify_chain", commit_meanwhile)
    report = verify_audit_trail(trail, log_dir=app_log)
    after = read_checkpoint(checkpoint)
    assert before is not None and after is not None and after.head_id > before.head_id  # it did commit meanwhile
    assert report.intact, report.problems
    monkeypatch.undo()
    assert verify_audit_trail(trail, log_dir=app_log).intact  # and the trail with the new change is whole
