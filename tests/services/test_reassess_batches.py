"""Reassessment in batches (issue 14): each batch and its audit events commit whole or not at all, a Cancel keeps
exactly the batches done, the audit trail verifies after either, and the queue answers between batches.

Real databases: a SQLite file, or the test server under `--backend=postgresql`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from tests.services.test_rules_governance import current, edited
from triage_app.domain.rules import Rules
from triage_app.services import queue as queue_service
from triage_app.services.audit import verify_audit_trail
from triage_app.services.reassessment import count_stale, reassess_open
from triage_app.services.referrals import register_referral
from triage_app.services.rules import approve_rules
from triage_app.services.users import Actor
from triage_app.storage.engine import Database, DatabaseError
from triage_app.storage.models import AuditEventRow
from triage_app.storage.stopping import StopSignal

NEW_VERSION = "spd-2099.1"


def _register(db: Database, admin: Actor, rules: Rules, count: int) -> list[int]:
    return [
        register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF).referral_id
        for serial in range(1, count + 1)
    ]


def _approve_new_rules(db: Database, admin: Actor) -> Rules:
    """A newer rules version approved as the desktop does: the approval only, the referrals left to reassess."""
    approval = approve_rules(db, actor=admin, proposed=edited(NEW_VERSION), as_of=AS_OF, reassess=False)
    assert not approval.reassessed and approval.deferred > 0
    return approval.approval.rules


def _reassess_events(db: Database) -> list[str]:
    with db.read() as session:
        return [
            str(entity_id)
            for entity_id in session.execute(
                sa.select(AuditEventRow.entity_id).where(AuditEventRow.action == "reassess").order_by(AuditEventRow.id)
            ).scalars()
        ]


def _versions(db: Database, ids: list[int]) -> list[str | None]:
    now = current(db)
    return [now[rid][1] for rid in ids]


@pytest.mark.hazard("H05")
@pytest.mark.hazard("H03")
def test_an_approval_from_the_desktop_leaves_the_referrals_to_the_background(
    db: Database, admin: Actor, rules: Rules
) -> None:
    ids = _register(db, admin, rules, 4)
    new_rules = _approve_new_rules(db, admin)
    assert _versions(db, ids) == [rules.version] * 4  # not yet reassessed: still the earlier rules' result
    assert count_stale(db, rules=new_rules) == 4
    done = reassess_open(db, actor=admin, rules=new_rules, as_of=AS_OF, batch_size=3)
    assert done.referral_ids == ids and not done.stopped and done.remaining == 0
    assert _versions(db, ids) == [NEW_VERSION] * 4
    assert count_stale(db, rules=new_rules) == 0
    assert verify_audit_trail(db).intact


@pytest.mark.hazard("H05")
@pytest.mark.hazard("H03")
def test_cancel_after_the_first_batch_keeps_exactly_that_batch(db: Database, admin: Actor, rules: Rules) -> None:
    ids = _register(db, admin, rules, 7)
    new_rules = _approve_new_rules(db, admin)
    stop = StopSignal()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done > 0:
            stop.stop()  # the user presses Cancel while the second batch would start

    result = reassess_open(db, actor=admin, rules=new_rules, as_of=AS_OF, batch_size=3, progress=progress, stop=stop)
    assert seen == [(0, 7), (3, 7)]
    assert result.stopped and result.referral_ids == ids[:3] and result.remaining == 4
    assert _versions(db, ids) == [NEW_VERSION] * 3 + [rules.version] * 4
    assert _reassess_events(db) == [str(rid) for rid in ids[:3]]  # an event for each referral kept, no other
    report = verify_audit_trail(db)
    assert report.intact, report.problems
    # The next run (the next start) picks up exactly the rest.
    rest = reassess_open(db, actor=admin, rules=new_rules, as_of=AS_OF, batch_size=3)
    assert rest.referral_ids == ids[3:]
    assert verify_audit_trail(db).intact


@pytest.mark.hazard("H05")
def test_closing_during_the_first_look_stops_it_and_changes_nothing(db: Database, admin: Actor, rules: Rules) -> None:
    """The look for stale referrals reads every open one (seconds at a million): closing the window interrupts it
    (SQLite) or stops after it (a server), rescoring nothing; the next start looks again."""
    ids = _register(db, admin, rules, 4)
    new_rules = _approve_new_rules(db, admin)
    stop = StopSignal()
    stop.stop()  # closed before (or while) the look ran
    result = reassess_open(db, actor=admin, rules=new_rules, as_of=AS_OF, batch_size=3, stop=stop)
    assert result.stopped and result.referral_ids == [] and not result.changes
    assert _versions(db, ids) == [rules.version] * 4 and _reassess_events(db) == []
    assert reassess_open(db, actor=admin, rules=new_rules, as_of=AS_OF).referral_ids == ids


@pytest.mark.sqlite_only("SQLite's interrupt of a running statement")
def test_a_stop_interrupts_the_first_look_while_it_runs(db: Database, admin: Actor, rules: Rules) -> None:
    from triage_app.services import reassessment

    _register(db, admin, rules, 2)
    new_rules = _approve_new_rules(db, admin)
    stop = StopSignal()
    real = reassessment._reassessable_ids

    def slow_look(session: Any, **kwargs: Any) -> list[int]:
        # A statement that runs until interrupted, on the connection the look uses (a recursive count to 10^12).
        timer = threading.Timer(0.2, stop.stop)
        timer.start()
        session.connection().exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000000) "
            "SELECT count(*) FROM n"
        )
        return real(session, **kwargs)

    reassessment._reassessable_ids = slow_look  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        result = reassess_open(db, actor=admin, rules=new_rules, as_of=AS_OF, stop=stop)
        took = time.perf_counter() - started
    finally:
        reassessment._reassessable_ids = real  # type: ignore[assignment]
    assert result.stopped and result.referral_ids == []
    assert took < 1.0, f"the look took {took:.2f} s to stop"


def _fail_audit_of(db: Database, referral_id: int) -> None:
    """A real fault in the database: inserting the audit event of `referral_id` is refused by a trigger."""
    with db.write() as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "CREATE FUNCTION test_refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.action = 'reassess' AND NEW.entity_id = '{referral_id}' THEN "
                "RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER test_refuse_event BEFORE INSERT ON audit_event "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_event()"
            )
        else:
            connection.exec_driver_sql(
                "CREATE TRIGGER test_refuse_event BEFORE INSERT ON audit_event "
                f"WHEN NEW.action = 'reassess' AND NEW.entity_id = '{referral_id}' "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )


@pytest.mark.hazard("H03")
@pytest.mark.hazard("H05")
def test_a_batch_that_fails_rolls_back_whole(db: Database, admin: Actor, rules: Rules) -> None:
    ids = _register(db, admin, rules, 7)
    new_rules = _approve_new_rules(db, admin)
    _fail_audit_of(db, ids[4])  # the second referral of the second batch
    with pytest.raises((DatabaseError, sa.exc.SQLAlchemyError), match="injected fault"):
        reassess_open(db, actor=admin, rules=new_rules, as_of=AS_OF, batch_size=3)
    # The first batch stands; none of the second (not even the referral before the fault), nor any after.
    assert _versions(db, ids) == [NEW_VERSION] * 3 + [rules.version] * 4
    assert _reassess_events(db) == [str(rid) for rid in ids[:3]]
    with db.read() as session:
        stored = session.execute(
            sa.text("SELECT count(*) FROM assessment WHERE rules_version = :v"), {"v": NEW_VERSION}
        ).scalar_one()
    assert stored == 3  # no assessment of the failed batch was left behind as history either
    report = verify_audit_trail(db)
    assert report.intact, report.problems


@pytest.mark.hazard("H04")
def test_the_queue_answers_between_batches(db: Database, admin: Actor, rules: Rules) -> None:
    ids = _register(db, admin, rules, 6)
    new_rules = _approve_new_rules(db, admin)
    mid_way, queried = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if done == 3:
            mid_way.set()
            assert queried.wait(10), "the queue did not answer while the reassessment ran"

    def run() -> None:
        try:
            outcome["result"] = reassess_open(
                db, actor=admin, rules=new_rules, as_of=AS_OF, batch_size=3, progress=progress
            )
        except BaseException as exc:  # reported by the test below
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert mid_way.wait(20)
        shown = queue_service.page(db, ids=ids, actor=admin)  # a query op, as the window's worker runs it
        assert sorted(shown) == ids
        assert count_stale(db, rules=new_rules) == 3  # the queue knows how many are still to reassess
    finally:
        queried.set()
        worker.join(30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].referral_ids == ids
