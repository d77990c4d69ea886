"""Two desktops writing at the same moment: what one does must not be lost or contradicted by the other.

Each desktop is its own `Database` on the `db` fixture's URL (its own engine and connections, as two copies of
the app have). The first desktop's transaction is held open at a pause point while the second desktop's runs
into it and waits (on SQLite at BEGIN IMMEDIATE, for the write lock); then the first commits, and the outcome
must be the one the same two actions give one after the other.

They run on PostgreSQL too, where the `db` fixture is a fresh database per test:
`TRIAGE_TEST_PG_URL=postgresql+psycopg://USER@HOST:PORT/postgres python3 -m pytest --backend=postgresql
tests/services/test_two_desktops.py` (see tests/conftest.py). Nothing here changes: the second desktop is seen
waiting in pg_stat_activity instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.meetings import ACCEPT_FOR_SPD
from triage_app.domain.referral import Severity
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import assess
from triage_app.services import meeting_outcomes, meetings
from triage_app.services import referrals as referral_services
from triage_app.services.errors import ConflictError, DuplicateReferral, OpenReferralExists, ServiceError
from triage_app.services.referrals import apply_assessment, get_referral, register_referral, update_referral
from triage_app.services.triage import StaleAssessment, decide_triage
from triage_app.services.users import Actor, sign_in
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database, parse_database_url

TIMEOUT = 30.0  # seconds: only reached when something is stuck
POLL = 0.01
MEETING_DAY = date(2026, 12, 3)
CHECKLIST = {"patient_information_given": True, "consent_discussion_planned": True, "baseline_severity_recorded": True}
ATTENDEES = [("Dr A", "functional_neurosurgeon"), ("Dr B", "movement_disorders_neurologist"), ("C", "physiotherapist")]
NO_SEVERITY = Severity(twstrs_total=None, twstrs_pain=None, tsui=None)  # changes a ready referral's triage


class TwoDesktops:
    """Runs `first` in a thread held at a pause point inside its transaction, then `second` until it waits."""

    def __init__(self, db: Database) -> None:
        self.db = db  # the second desktop's database, watched for its wait
        self.errors: dict[str, Exception] = {}
        self._first_paused = threading.Event()  # also set if the first desktop ends without pausing
        self._release_first = threading.Event()
        self._second_done = threading.Event()
        self._second_begins_immediate = threading.Event()
        if db.location.is_sqlite:
            sa.event.listen(db.engine, "before_cursor_execute", self._on_statement)

    def _on_statement(self, _conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE" and threading.current_thread().name == "second":
            self._second_begins_immediate.set()

    def pause(self) -> None:
        """The pause point: the first desktop waits here, its transaction open, until the second waits too."""
        if threading.current_thread().name == "first":
            self._first_paused.set()
            assert self._release_first.wait(TIMEOUT), "the first desktop was never released"

    def _start(self, name: str, action: Callable[[], object], done: threading.Event) -> threading.Thread:
        def target() -> None:
            try:
                action()
            except Exception as exc:
                self.errors[name] = exc
            finally:
                done.set()

        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def _second_waits(self) -> bool:
        """True once the second desktop waits for the first's transaction; False if it ended without waiting."""
        deadline = time.monotonic() + TIMEOUT
        while not self._second_done.wait(POLL):
            if self._second_begins_immediate.is_set() or (not self.db.location.is_sqlite and self._lock_waits()):
                return True
            assert time.monotonic() < deadline, "the second desktop neither finished nor waited for a lock"
        return False

    def _lock_waits(self) -> bool:
        with self.db.engine.connect() as connection:
            return bool(
                connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
            )

    def run(self, first: Callable[[], object], second: Callable[[], object], *, must_wait: bool = True) -> bool:
        """Both actions at once; True if the second had to wait for the first (asserted unless `must_wait` is off)."""
        threads = [self._start("first", first, self._first_paused)]
        try:
            assert self._first_paused.wait(TIMEOUT), "the first desktop never reached its pause point"
            assert "first" not in self.errors, f"the first desktop failed before its pause point: {self.errors}"
            threads.append(self._start("second", second, self._second_done))
            waited = self._second_waits()
        finally:
            self._release_first.set()
            for thread in threads:
                thread.join(TIMEOUT)
        assert not any(thread.is_alive() for thread in threads), "a desktop is still running"
        assert "first" not in self.errors, f"the first desktop failed: {self.errors['first']!r}"
        assert waited or not must_wait, f"the second desktop did not wait for the first's transaction: {self.errors}"
        return waited

    def second_error(self) -> Exception | None:
        return self.errors.get("second")


@pytest.fixture
def other_desktop(db: Database) -> Iterator[Database]:
    """Another copy of the app: its own `Database` (engine, connections) on the same URL as `db`."""
    other = Database(parse_database_url(db.location.url.render_as_string(hide_password=False)))
    yield other
    other.dispose()


@pytest.fixture
def desktops(db: Database) -> TwoDesktops:
    return TwoDesktops(db)


def pause_first_at(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str, desktops: TwoDesktops) -> None:
    """Make the first desktop pause each time it calls `module.name`, then go on with the real call."""
    real = getattr(module, name)

    def paused(*args: Any, **kwargs: Any) -> Any:
        desktops.pause()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, paused)


def ready_referral(db: Database, admin: Actor, consultant: Actor, rules: Rules, serial: int) -> int:
    """A registered referral a consultant confirmed as ready for MDT."""
    saved = register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF)
    decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=1)
    return saved.referral_id


def new_meeting(db: Database, coordinator: Actor, day: date = MEETING_DAY) -> int:
    return meetings.create_meeting(
        db, actor=coordinator, meeting_date=day, meeting_time="13:30", attendees=ATTENDEES, today=AS_OF
    ).meeting_id


def listed_referral(db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules) -> tuple[int, int]:
    """A ready referral on a meeting: (referral id, meeting id)."""
    referral_id = ready_referral(db, admin, consultant, rules, serial=1)
    meeting_id = new_meeting(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=meeting_id, referral_id=referral_id)
    return referral_id, meeting_id


@pytest.mark.hazard("H03")
def test_a_save_after_another_desktop_saved_is_refused(
    db: Database, other_desktop: Database, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    loaded = get_referral(db, referral_id=saved.referral_id)  # my form is opened at version 1
    theirs = replace(loaded.referral, severity=replace(loaded.referral.severity, twstrs_total=60))
    update_referral(
        other_desktop,
        actor=sign_in(other_desktop, login=coordinator.login),
        referral_id=saved.referral_id,
        expected_version=1,
        referral=theirs,
        rules=rules,
        as_of=AS_OF,
    )
    mine = replace(loaded.referral, severity=Severity(twstrs_total=20, twstrs_pain=5, tsui=3))
    with pytest.raises(ConflictError) as refused:
        update_referral(
            db, actor=admin, referral_id=saved.referral_id, expected_version=1, referral=mine, rules=rules, as_of=AS_OF
        )
    assert refused.value.changed_by == "Cora Ordinator" and "version 2" in str(refused.value)
    assert get_referral(db, referral_id=saved.referral_id).referral.severity.twstrs_total == 60


@pytest.mark.parametrize("same_day", [False, True], ids=["second-open-referral", "same-day-duplicate"])
@pytest.mark.hazard("H02")
def test_two_desktops_register_the_same_patient(
    db: Database,
    other_desktop: Database,
    desktops: TwoDesktops,
    admin: Actor,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
    same_day: bool,
) -> None:
    # the first registration waits at its audit event: its referral is stored, not yet committed
    pause_first_at(monkeypatch, referral_services, "audit", desktops)
    first = referral(7, received_on="2026-10-20")
    second = referral(7, received_on="2026-10-20" if same_day else "2026-10-27")
    desktops.run(
        lambda: register_referral(other_desktop, actor=admin, referral=first, rules=rules, as_of=AS_OF),
        lambda: register_referral(db, actor=admin, referral=second, rules=rules, as_of=AS_OF),
    )
    expected = DuplicateReferral if same_day else OpenReferralExists
    assert isinstance(desktops.second_error(), expected), repr(desktops.second_error())
    with db.read() as session:
        assert session.execute(sa.text("SELECT count(*) FROM referral")).scalar_one() == 1


@pytest.mark.hazard("H16")
def test_a_decision_on_a_triage_being_reassessed_is_refused_as_stale(
    db: Database, other_desktop: Database, desktops: TwoDesktops, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(3), rules=rules, as_of=AS_OF)
    shown = get_referral(db, referral_id=saved.referral_id)  # what the consultant confirms
    assert shown.row.outcome == "ready_for_mdt"
    reassessment = assess(replace(shown.referral, severity=NO_SEVERITY), rules, AS_OF)
    assert reassessment.outcome != "ready_for_mdt"

    def reassess() -> None:
        with other_desktop.write() as session:
            apply_assessment(session, actor=admin, referral_id=saved.referral_id, assessment=reassessment)
            desktops.pause()  # the new assessment is stored, not yet committed

    desktops.run(
        reassess,
        lambda: decide_triage(
            db,
            actor=consultant,
            referral_id=saved.referral_id,
            expected_version=1,
            expected_assessment_id=shown.row.current_assessment_id,
        ),
    )
    assert isinstance(desktops.second_error(), StaleAssessment), repr(desktops.second_error())
    row = get_referral(db, referral_id=saved.referral_id).row
    assert row.outcome == reassessment.outcome and row.decided_outcome is None  # no decision on the old triage


@pytest.mark.hazard("H09")
def test_two_consultants_record_an_outcome_at_once(
    db: Database,
    other_desktop: Database,
    desktops: TwoDesktops,
    admin: Actor,
    coordinator: Actor,
    consultant: Actor,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    referral_id, meeting_id = listed_referral(db, admin, coordinator, consultant, rules)
    # the first consultant's outcome waits at its audit event: recorded on the case, not yet committed
    pause_first_at(monkeypatch, meeting_outcomes, "audit", desktops)

    def record(on: Database, actor: Actor, outcome: str, rationale: str) -> None:
        meetings.record_outcome(
            on,
            actor=actor,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome=outcome,
            rationale=rationale,
            today=MEETING_DAY,
            checklist=CHECKLIST,
            expected_version=1,
        )

    desktops.run(
        lambda: record(other_desktop, admin, "decline", "theirs"),
        lambda: record(db, consultant, ACCEPT_FOR_SPD, "mine"),
    )
    assert isinstance(desktops.second_error(), meetings.OutcomeConflict), repr(desktops.second_error())
    with db.read() as session:
        stored = session.execute(sa.text("SELECT outcome, rationale, version FROM meeting_case")).one()
    assert tuple(stored) == ("decline", "theirs", 2)


@pytest.mark.hazard("H16")
def test_accepting_for_spd_while_an_edit_lapses_the_decision_is_refused(
    db: Database,
    other_desktop: Database,
    desktops: TwoDesktops,
    admin: Actor,
    coordinator: Actor,
    consultant: Actor,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    referral_id, meeting_id = listed_referral(db, admin, coordinator, consultant, rules)
    detail = get_referral(db, referral_id=referral_id)
    # the edit waits at its first audit event, inside its transaction; the lapse follows in the same transaction
    pause_first_at(monkeypatch, referral_services, "audit", desktops)
    desktops.run(
        lambda: update_referral(
            other_desktop,
            actor=admin,
            referral_id=referral_id,
            expected_version=detail.row.version,
            referral=replace(detail.referral, severity=NO_SEVERITY),
            rules=rules,
            as_of=AS_OF,
        ),
        lambda: meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome=ACCEPT_FOR_SPD,
            rationale="mine",
            today=MEETING_DAY,
            checklist=CHECKLIST,
        ),
    )
    refused = desktops.second_error()
    assert isinstance(refused, ServiceError) and "standing consultant decision" in str(refused), repr(refused)
    assert get_referral(db, referral_id=referral_id).row.decided_outcome is None  # the edit lapsed it
    with db.read() as session:
        assert session.execute(sa.text("SELECT outcome FROM meeting_case")).scalar_one() is None


@pytest.mark.hazard("H08")
def test_two_coordinators_add_cases_to_one_meeting(
    db: Database,
    other_desktop: Database,
    desktops: TwoDesktops,
    admin: Actor,
    coordinator: Actor,
    consultant: Actor,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SQLite's BEGIN IMMEDIATE runs the two one after the other; on PostgreSQL the meeting's row lock does
    first, second = (ready_referral(db, admin, consultant, rules, serial) for serial in (1, 2))
    meeting_id = new_meeting(db, coordinator)
    # the first coordinator's case waits at its audit event: numbered and stored, not yet committed
    pause_first_at(monkeypatch, meetings, "audit", desktops)
    waited = desktops.run(
        lambda: meetings.add_case(other_desktop, actor=coordinator, meeting_id=meeting_id, referral_id=first),
        lambda: meetings.add_case(db, actor=coordinator, meeting_id=meeting_id, referral_id=second),
        must_wait=False,  # checked last, so the bug shows as the positions it gives
    )
    assert not desktops.errors, desktops.errors
    with db.read() as session:
        positions = session.execute(sa.text("SELECT position FROM meeting_case ORDER BY position")).scalars().all()
    assert positions == [1, 2]
    assert waited, "the second coordinator's transaction did not wait for the first's"


@pytest.mark.hazard("H02")
def test_two_coordinators_list_the_same_referral_on_two_meetings(
    db: Database,
    other_desktop: Database,
    desktops: TwoDesktops,
    admin: Actor,
    coordinator: Actor,
    consultant: Actor,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    referral_id = ready_referral(db, admin, consultant, rules, serial=1)
    first, second = new_meeting(db, coordinator), new_meeting(db, coordinator, date(2026, 12, 10))
    # the first listing waits at its audit event: the referral is listed, not yet committed
    pause_first_at(monkeypatch, meetings, "audit", desktops)
    desktops.run(
        lambda: meetings.add_case(other_desktop, actor=coordinator, meeting_id=first, referral_id=referral_id),
        lambda: meetings.add_case(db, actor=coordinator, meeting_id=second, referral_id=referral_id),
    )
    refused = desktops.second_error()
    assert isinstance(refused, ServiceError) and "already on the meeting of 03-Dec-2026" in str(refused), repr(refused)
    with db.read() as session:
        assert session.execute(sa.text("SELECT meeting_id FROM meeting_case")).scalars().all() == [first]


def _sort_nulls_as_postgresql(
    _conn: sa.Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    """Spell out PostgreSQL's NULL placement (highest) in each ORDER BY term; SQLite places NULL lowest."""
    head, found, order = statement.partition(" ORDER BY ")
    if not found:
        return statement, parameters
    assert " LIMIT " not in order and "(" not in order, f"cannot rewrite this ORDER BY: {order}"
    terms = [f"{term} NULLS {'FIRST' if term.endswith(' DESC') else 'LAST'}" for term in order.split(", ")]
    return f"{head} ORDER BY {', '.join(terms)}", parameters


@pytest.mark.hazard("H02")
def test_a_referral_without_a_received_date_is_not_the_newest(
    db: Database, other_desktop: Database, admin: Actor, rules: Rules
) -> None:
    """referrals_for_patient says where NULL goes, so a desktop on PostgreSQL finds the same newest referral."""
    old = register_referral(db, actor=admin, referral=referral(4, received_on="2026-10-01"), rules=rules, as_of=AS_OF)
    new = register_referral(
        db,
        actor=admin,
        referral=referral(4, received_on="2026-10-20"),
        rules=rules,
        as_of=AS_OF,
        second_referral_reason="second opinion",
    )
    with db.write() as session:  # stored before the identity minimum: no received date
        session.execute(sa.text("UPDATE referral SET received_on = NULL WHERE id = :i"), {"i": old.referral_id})
    # the other desktop's database places NULL as PostgreSQL does
    sa.event.listen(other_desktop.engine, "before_cursor_execute", _sort_nulls_as_postgresql, retval=True)
    nhs_number = referral(4).patient.nhs_number
    assert nhs_number is not None
    for desktop in (db, other_desktop):
        with desktop.read() as session:
            found = repo.referrals_for_patient(session, nhs_number=nhs_number)
        assert [r.referral_id for r in found] == [new.referral_id, old.referral_id]


@pytest.mark.hazard("H08")
def test_a_case_taken_off_while_another_is_added_leaves_the_list_numbered_1_to_n(
    db: Database,
    other_desktop: Database,
    desktops: TwoDesktops,
    admin: Actor,
    coordinator: Actor,
    consultant: Actor,
    rules: Rules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed, kept, added = (ready_referral(db, admin, consultant, rules, serial) for serial in (1, 2, 3))
    meeting_id = new_meeting(db, coordinator)
    for referral_id in (listed, kept):
        meetings.add_case(db, actor=coordinator, meeting_id=meeting_id, referral_id=referral_id)
    # the first coordinator's removal waits at its audit event: renumbered, not yet committed
    pause_first_at(monkeypatch, meetings, "audit", desktops)
    waited = desktops.run(
        lambda: meetings.remove_case(other_desktop, actor=coordinator, meeting_id=meeting_id, referral_id=listed),
        lambda: meetings.add_case(db, actor=coordinator, meeting_id=meeting_id, referral_id=added),
        must_wait=False,
    )
    assert not desktops.errors, desktops.errors
    with db.read() as session:
        rows = session.execute(sa.text("SELECT position, referral_id FROM meeting_case ORDER BY position")).all()
    assert [tuple(r) for r in rows] == [(1, kept), (2, added)]
    assert waited, "the second coordinator's transaction did not wait for the first's"
