"""`triage-app import FILE --batch N` (issue 14 item 3), on either backend: N records a transaction, each record's
line heard only once its batch is committed; a refused record, a duplicate or a record the database refuses
does not spoil its batch; a database error rolls the whole batch back and the summary names the records not
stored; the role and the rules are checked in each batch's own transaction; the audit trail holds.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral_json
from triage_app.cli.commands.importing import cmd_import
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.rules import Rules
from triage_app.services.audit import verify_audit_trail
from triage_app.services.errors import ServiceError
from triage_app.services.referrals import ADDED, DUPLICATE, FAILED, REFUSED, RecordResult, import_referrals
from triage_app.services.users import Actor, set_roles
from triage_app.storage.engine import Database, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def nhs_of(serials: Any) -> list[str]:
    return [make_test_nhs_number(serial) for serial in serials]


def stored(db: Database) -> list[str]:
    with db.read() as session:
        return [row[0] for row in session.execute(sa.text("SELECT nhs_number FROM referral ORDER BY id"))]


@contextlib.contextmanager
def short_wait(db_url: str, busy_timeout_ms: int = 300) -> Iterator[Database]:
    """The app's Database on the same database, giving up on a lock after `busy_timeout_ms`."""
    database = Database(parse_database_url(db_url), busy_timeout_ms=busy_timeout_ms)
    try:
        yield database
    finally:
        database.dispose()


@contextlib.contextmanager
def writer_lock(db_url: str) -> Iterator[Any]:
    """Another program holding the referral table (SQLite: the write lock; PostgreSQL: an exclusive table lock)
    from `take()` until the block ends."""
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    taken = {"on": False}

    def take() -> None:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("BEGIN")
            connection.exec_driver_sql("LOCK TABLE referral IN EXCLUSIVE MODE")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        taken["on"] = True

    try:
        yield take
    finally:
        if taken["on"]:
            connection.exec_driver_sql("ROLLBACK")
        connection.close()
        engine.dispose()


def audit_intact(db: Database) -> None:
    report = verify_audit_trail(db)
    assert report.chain.first_broken is None and report.referrals_not_covered == 0, report.problems


@pytest.mark.hazard("H03", "H02")
def test_each_line_is_heard_only_after_its_batch_is_committed_and_refusals_do_not_spoil_it(
    db: Database, db_url: str, admin: Actor, rules: Rules
) -> None:
    import_referrals(db, actor=admin, records=[referral_json(3)], rules=rules, as_of=AS_OF)  # stored before
    records = [referral_json(serial) for serial in range(1, 11)]
    records[3] = referral_json(4, patient__nhs_number="123")  # refused: not an NHS number
    heard: list[tuple[int, str, bool]] = []

    with short_wait(db_url) as other:

        def acknowledged(result: RecordResult) -> None:  # read from another connection: already committed?
            visible = result.referral_id is not None and result.referral_id in _ids(other)
            heard.append((result.index, result.kind, visible))

        report = import_referrals(
            db, actor=admin, records=records, rules=rules, as_of=AS_OF, batch_size=4, on_result=acknowledged
        )
    assert [kind for _, kind, _ in heard] == [ADDED, ADDED, DUPLICATE, REFUSED] + [ADDED] * 6
    assert all(visible for _, kind, visible in heard if kind in (ADDED, DUPLICATE))
    assert report.refused[0][0] == 3 and report.refused[0][1][0].field == "patient.nhs_number"
    assert sorted(stored(db)) == sorted(nhs_of([3, 1, 2, 5, 6, 7, 8, 9, 10]))
    assert report.summary() == "8 added, 1 duplicate, 0 possible duplicate, 1 refused of 10 records"
    audit_intact(db)


def _ids(db: Database) -> set[int]:
    with db.read() as session:
        return {int(row[0]) for row in session.execute(sa.text("SELECT id FROM referral"))}


@pytest.mark.hazard("H03")
def test_a_database_error_rolls_the_whole_batch_back_and_names_the_records_not_stored(
    db_url: str, admin: Actor, rules: Rules
) -> None:
    records = [referral_json(serial) for serial in range(1, 13)]
    lines: list[str] = []
    with writer_lock(db_url) as take, short_wait(db_url) as db:

        def acknowledged(result: RecordResult) -> None:
            lines.append(result.line())
            if result.index == 3:  # the first batch is committed: another program takes the lock
                take()

        report = import_referrals(
            db, actor=admin, records=records, rules=rules, as_of=AS_OF, batch_size=4, on_result=acknowledged
        )
    assert [line.split(":")[0] for line in lines] == [f"record {i} (external_id T-001)" for i in range(1, 5)]
    assert report.stopped_at == 4 and report.stop_batch_end == 7
    assert list(report.not_tried) == list(range(4, 12))
    summary = report.summary()
    assert summary.startswith("stopped at record 5 of 12: ")
    assert (
        "record 5 (external_id T-001) and the rest of its batch (records 5-8) were not stored (the batch's "
        "transaction was rolled back), records 9-12 were not tried" in summary
    )
    assert "nothing was changed" not in summary.lower()
    with short_wait(db_url) as db:
        assert stored(db) == nhs_of(range(1, 5))
        again = import_referrals(db, actor=admin, records=records, rules=rules, as_of=AS_OF, batch_size=4)
        assert [r.kind for r in again.results] == [DUPLICATE] * 4 + [ADDED] * 8
        assert stored(db) == nhs_of(range(1, 13))
        audit_intact(db)


def _refuse_inserts_of(db: Database, nhs: str) -> None:
    """A trigger in the database refusing this NHS number: the database's own refusal of one record."""
    with db.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                sa.text(
                    "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.nhs_number = '{nhs}' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$"
                )
            )
            session.execute(
                sa.text(
                    "CREATE TRIGGER injected_fault BEFORE INSERT ON referral FOR EACH ROW EXECUTE FUNCTION "
                    "injected_fault()"
                )
            )
        else:
            session.execute(
                sa.text(
                    "CREATE TRIGGER injected_fault BEFORE INSERT ON referral "
                    f"WHEN NEW.nhs_number = '{nhs}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
                )
            )


@pytest.mark.hazard("H03")
def test_a_record_the_database_refuses_is_rolled_back_alone_and_its_batch_is_stored(
    db: Database, admin: Actor, rules: Rules
) -> None:
    _refuse_inserts_of(db, make_test_nhs_number(2))
    lines: list[str] = []
    report = import_referrals(
        db,
        actor=admin,
        records=[referral_json(serial) for serial in range(1, 6)],
        rules=rules,
        as_of=AS_OF,
        batch_size=5,
        on_result=lambda r: lines.append(r.line()),
    )
    assert [r.kind for r in report.results] == [ADDED, FAILED, ADDED, ADDED, ADDED]
    assert lines[1].startswith("record 2 (external_id T-001): not stored: ") and "injected fault" in lines[1]
    assert stored(db) == nhs_of([1, 3, 4, 5])
    with db.read() as session:  # nothing of record 2 anywhere: its savepoint took every row back
        assert session.execute(sa.text("SELECT count(*) FROM oral_medication")).scalar_one() == 4
        assert session.execute(sa.text("SELECT count(*) FROM assessment")).scalar_one() == 4
        assert session.execute(sa.text("SELECT count(*) FROM referral_search_key")).scalar_one() > 0
    audit_intact(db)


@pytest.mark.hazard("H15")
def test_a_role_taken_away_mid_import_stops_it_at_the_next_batch_in_that_batch_s_own_transaction(
    db: Database, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    def demote(result: RecordResult) -> None:
        if result.index == 2:  # the first batch is committed; an administrator takes the role away
            set_roles(db, actor=admin, login=coordinator.login, roles=["consultant"])

    report = import_referrals(
        db,
        actor=coordinator,
        records=[referral_json(serial) for serial in range(1, 10)],
        rules=rules,
        as_of=AS_OF,
        batch_size=3,
        on_result=demote,
    )
    assert report.stopped_at == 3 and "coordinator" in (report.stop_reason or "")
    assert stored(db) == nhs_of(range(1, 4))
    assert "records 4-6" in report.summary() and "records 7-9 were not tried" in report.summary()


@pytest.mark.hazard("H03")
def test_should_stop_ends_the_import_between_batches_keeping_what_was_committed(
    db: Database, admin: Actor, rules: Rules
) -> None:
    heard: list[int] = []
    report = import_referrals(
        db,
        actor=admin,
        records=[referral_json(serial) for serial in range(1, 11)],
        rules=rules,
        as_of=AS_OF,
        batch_size=3,
        on_result=lambda r: heard.append(r.index),
        should_stop=lambda: len(heard) >= 3,
    )
    assert heard == [0, 1, 2] and report.cancelled_at == 3 and not report.ok
    assert stored(db) == nhs_of(range(1, 4))
    assert report.summary().startswith("cancelled after record 3 of 10: 3 added, ")
    assert "records 4-10 not tried" in report.summary()


@pytest.mark.parametrize("size", [0, -1, 10_001, 2.5, True, "3"])
def test_a_batch_size_that_is_not_a_whole_number_from_1_to_10000_is_refused(
    db: Database, admin: Actor, rules: Rules, size: Any
) -> None:
    with pytest.raises(ServiceError, match="whole number from 1 to 10,000"):
        import_referrals(db, actor=admin, records=[referral_json(1)], rules=rules, as_of=AS_OF, batch_size=size)
    assert stored(db) == []


@pytest.mark.hazard("H03")
def test_the_command_with_batch_prints_each_line_and_json_names_what_was_not_stored(
    db: Database, admin: Actor, rules: Rules, tmp_path: Path
) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps([referral_json(serial) for serial in range(1, 8)]), encoding="utf-8")
    session = SimpleNamespace(db=db, actor=admin, rules=rules)
    out, err = io.StringIO(), io.StringIO()
    args = SimpleNamespace(file=str(path), as_of=AS_OF.isoformat(), second_referral_reason=None, json=False, batch=3)
    assert cmd_import(args, session, out, err) == 0
    lines = out.getvalue().splitlines()
    assert lines[:7] == [f"record {i} (external_id T-001): added as referral {i} (ready_for_mdt)" for i in range(1, 8)]
    assert lines[7] == "7 added, 0 duplicate, 0 possible duplicate, 0 refused of 7 records"
    out = io.StringIO()
    args.json = True
    assert cmd_import(args, session, out, err) == 0
    summary = json.loads(out.getvalue().splitlines()[-1])["summary"]
    assert summary["duplicates"] == 7 and summary["not_stored_records"] == []


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "0 is out of range: choose 1 to 10,000"), ("10001", "10,001 is out of range"), ("x", "'x' is not a whole")],
)
def test_the_command_refuses_a_bad_batch_with_exit_2(tmp_path: Path, value: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "triage_app", "--data-dir", str(tmp_path / "d"), "import", "x.json", "--batch", value],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"argument --batch: {message}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.hazard("H03")
@pytest.mark.sqlite_only("the crash harness kills importers of a data folder's SQLite file")
def test_the_crash_harness_with_batches_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """scripts/crash_harness.py with `--import-batch 3`: importers of 7 records, 3 a transaction, killed at random;
    every line printed before a kill is stored (a line is printed only after its batch commits)."""
    harness = ROOT / "scripts" / "crash_harness.py"
    options = ["--rounds", "2", "--processes", "2", "--batch", "7", "--import-batch", "3", "--seed", "11"]
    done = subprocess.run(
        [sys.executable, str(harness), *options, "--data-dir", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "records a transaction: 3" in done.stdout
    assert "lost=0 duplicated=0 mismatched=0" in done.stdout
    assert "integrity ok" in done.stdout and "audit intact: audit trail intact" in done.stdout
