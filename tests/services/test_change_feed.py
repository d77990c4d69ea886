"""The change feed: what another desktop changed, read from the audit trail, as one `Changes` with who and when.

"Another desktop" is a second `Database` on the test's URL (its own engine and connections, as another copy of
the app has); this desktop's own writes (through its own `Database`) are skipped, since its ops broadcast them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.changes import EVERYTHING
from triage_app.services.live_changes import ChangeFeed, batch_of, waker
from triage_app.services.referrals import get_referral, register_referral, update_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor, add_user, sign_in
from triage_app.storage.change_feed import CHANNEL, FeedEvent, events_after
from triage_app.storage.engine import Database, parse_database_url


@pytest.fixture
def other(db_url: str) -> Iterator[Database]:
    """Another desktop's database handle on the same database."""
    database = Database(parse_database_url(db_url))
    yield database
    database.dispose()


def _register(db: Database, actor: Actor, rules: Rules, serial: int) -> int:
    return register_referral(db, actor=actor, referral=referral(serial), rules=rules, as_of=AS_OF).referral_id


@pytest.mark.hazard("H04")
def test_the_feed_names_exactly_what_another_desktop_changed_with_who_and_when(
    db: Database, other: Database, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    first = _register(db, admin, rules, 1)
    second = _register(db, admin, rules, 2)
    feed = ChangeFeed(db)
    assert not feed.read()  # nothing since it started

    elsewhere = sign_in(other, login="coord-test")
    detail = get_referral(other, referral_id=first)
    update_referral(
        other,
        actor=elsewhere,
        referral_id=first,
        expected_version=detail.row.version,
        referral=replace(detail.referral, clinical_question="Asked elsewhere"),
        rules=rules,
        as_of=AS_OF,
    )
    third = _register(other, elsewhere, rules, 3)

    batch = feed.read()
    assert batch.changes.referral_ids == {first}
    assert batch.changes.created == {third}
    assert second not in batch.changes.all_referrals
    assert not (batch.changes.everything or batch.changes.users or batch.changes.rules or batch.changes.meetings)
    assert batch.changes.by == "Cora Ordinator"
    edit = batch.edits[first]
    assert edit.by == "Cora Ordinator" and edit.version == get_referral(db, referral_id=first).row.version
    assert abs(edit.at.timestamp() - time.time()) < 60
    assert batch.edits[third].version == 1
    assert not feed.read()  # read once


@pytest.mark.hazard("H04")
def test_this_desktops_own_writes_are_not_reported_back(
    db: Database, other: Database, admin: Actor, rules: Rules
) -> None:
    feed = ChangeFeed(db)
    mine = _register(db, admin, rules, 1)  # through the feed's own database: its op broadcast it already
    assert not feed.read()
    theirs = _register(other, sign_in(other, login="admin-test"), rules, 2)  # same person, another desktop
    batch = feed.read()
    assert batch.changes.created == {theirs} and mine not in batch.changes.all_referrals
    assert batch.changes.by == "Ada Admin"


def test_own_writes_are_still_known_after_the_connections_are_closed(
    db: Database, other: Database, admin: Actor, rules: Rules
) -> None:
    feed = ChangeFeed(db)
    db.dispose()  # a new pool behind the same Database
    mine = _register(db, admin, rules, 1)
    theirs = _register(other, sign_in(other, login="admin-test"), rules, 2)
    batch = feed.read()
    assert batch.changes.created == {theirs} and mine not in batch.changes.all_referrals


@pytest.mark.hazard("H16")
def test_a_consultants_decision_and_a_meeting_elsewhere_are_named(
    db: Database, other: Database, admin: Actor, rules: Rules
) -> None:
    add_user(other, actor=admin, login="cons-test", display_name="Dr Con Sultant", roles=["consultant"])
    rid = _register(db, admin, rules, 1)
    feed = ChangeFeed(db)
    consultant = sign_in(other, login="cons-test")
    decide_triage(
        other,
        actor=consultant,
        referral_id=rid,
        expected_version=get_referral(other, referral_id=rid).row.version,
        override_outcome="needs_information",
        reason="Ask for the swallow study",
    )
    batch = feed.read()
    assert batch.changes.referral_ids == {rid}
    assert batch.edits[rid].by == "Dr Con Sultant"
    assert batch.edits[rid].version == get_referral(db, referral_id=rid).row.version

    from tests.dates import meeting_day

    meeting = meetings.create_meeting(
        other, actor=sign_in(other, login="admin-test"), meeting_date=meeting_day(), meeting_time="13:30"
    )
    batch = feed.read()
    assert batch.changes.meetings and meeting.meeting_id in batch.changes.meeting_ids


def test_users_rules_and_unknown_events_map_to_their_flags() -> None:
    def ev(i: int, entity: str, entity_id: str | None, action: str = "update") -> FeedEvent:
        from datetime import UTC, datetime

        return FeedEvent(i, datetime.now(UTC), "x", "X", action, entity, entity_id, hash=f"h{i}")

    assert batch_of([ev(1, "user", "3")]).changes.users
    assert batch_of([ev(1, "rules", "2", "approve")]).changes.rules
    assert batch_of([ev(1, "referral", None, "demo")]).changes.everything
    assert batch_of([ev(1, "database", None, "restore")]).changes.everything
    assert batch_of([ev(1, "something_new", "1")]).changes.everything
    assert not batch_of([ev(1, "database", None, "backup")]).changes
    assert not batch_of([ev(1, "queue", None, "export")]).changes
    assert not batch_of([ev(1, "user", "3")], own={1: "h1"}).changes
    assert batch_of([ev(1, "user", "3")], own={1: "another"}).changes.users  # same id, another desktop's event
    assert batch_of([ev(1, "user", "3")], complete=False).changes == EVERYTHING
    assert batch_of([ev(1, "user", "3")], complete=False).changes.by  # never "this desktop"


def test_more_events_than_worth_listing_say_everything(
    db: Database, other: Database, admin: Actor, rules: Rules
) -> None:
    feed = ChangeFeed(db, max_events=2)
    actor = sign_in(other, login="admin-test")
    for serial in range(1, 5):
        _register(other, actor, rules, serial)
    batch = feed.read()
    assert batch.changes.everything
    assert not feed.read()  # it skipped to the newest event


def test_the_feed_reads_by_the_primary_key_only(db: Database, admin: Actor, rules: Rules) -> None:
    _register(db, admin, rules, 1)
    with db.read() as session:
        events = events_after(session.connection(), 0, limit=100)
    assert [e.id for e in events] == sorted(e.id for e in events)
    if db.location.is_sqlite:
        with db.read() as session:
            plan = (
                session.connection()
                .exec_driver_sql("EXPLAIN QUERY PLAN SELECT id FROM audit_event WHERE id > 5 ORDER BY id LIMIT 10")
                .all()
            )
        assert any("INTEGER PRIMARY KEY" in str(row) or "PRIMARY KEY" in str(row) for row in plan), plan


@pytest.mark.hazard("H04")
def test_sqlite_waker_sees_another_process_commit(db: Database, db_url: str, admin: Actor, rules: Rules) -> None:
    if not db.location.is_sqlite:
        pytest.skip("sqlite only: PRAGMA data_version")
    wake = waker(db)
    try:
        assert not wake.wait(0)
        _register(Database(parse_database_url(db_url)), admin, rules, 1)
        assert wake.wait(0)
        assert not wake.wait(0)
    finally:
        wake.close()


@pytest.mark.server_only("LISTEN/NOTIFY")
@pytest.mark.hazard("H11")
def test_the_notification_carries_an_event_id_and_no_names(
    db: Database, db_url: str, admin: Actor, rules: Rules
) -> None:
    import psycopg

    from triage_app.storage.change_feed import listener_conninfo

    listener = psycopg.connect(listener_conninfo(db.location.url), autocommit=True)
    try:
        listener.execute(f"LISTEN {CHANNEL}")
        # Another process registers a referral, as another desktop would.
        script = (
            "from tests.factories import referral, AS_OF\n"
            "from triage_app.config import default_rules_path\n"
            "from triage_app.domain.rules import load_rules\n"
            "from triage_app.services.referrals import register_referral\n"
            "from triage_app.services.users import sign_in\n"
            "from triage_app.storage.engine import Database, parse_database_url\n"
            "import sys\n"
            "db = Database(parse_database_url(sys.argv[1]))\n"
            "register_referral(db, actor=sign_in(db, login='admin-test'), referral=referral(7), "
            "rules=load_rules(default_rules_path()), as_of=AS_OF)\n"
        )
        subprocess.run([sys.executable, "-c", script, db_url], check=True, env=os.environ.copy(), timeout=60)
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    finally:
        listener.close()
    assert payloads, "no notification arrived"
    assert all(re.fullmatch(r"\d+", p) for p in payloads), payloads  # an event id: no name, no NHS number
    with db.read() as session:
        newest = session.connection().execute(sa.text("SELECT max(id) FROM audit_event")).scalar()
    assert int(payloads[-1]) == newest


@pytest.mark.server_only("LISTEN/NOTIFY")
def test_a_rolled_back_change_notifies_nobody(db: Database, admin: Actor) -> None:
    import psycopg

    from triage_app.storage.change_feed import listener_conninfo

    listener = psycopg.connect(listener_conninfo(db.location.url), autocommit=True)
    try:
        listener.execute(f"LISTEN {CHANNEL}")
        with pytest.raises(RuntimeError), db.write() as session:
            from triage_app.services.auditing import audit

            audit(session, admin, "update", "user", 1, {"x": [1, 2]})
            session.flush()
            raise RuntimeError("abandon")
        assert not list(listener.notifies(timeout=0.5, stop_after=1))
    finally:
        listener.close()


@pytest.mark.hazard("H04")
def test_a_trail_that_went_back_a_restore_says_everything(db: Database, admin: Actor) -> None:
    feed = ChangeFeed(db, after_id=10**9)  # this desktop saw events the database no longer has
    batch = feed.read()
    assert batch.changes.everything and batch.changes.by
    assert not feed.read()  # and it follows the restored trail from its newest event on
