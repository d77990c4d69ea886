"""Demo data is an administrator's action, and never goes into a database that holds real referrals.

Invented patients among a unit's real ones would be triaged, listed and written to as if they were patients. A
referral counts as the demo loader's only when its id lies in a demo batch recorded in the audit trail.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services import demo, queue
from triage_app.services.demo import RealReferralsPresent, load_demo
from triage_app.services.errors import PermissionDenied
from triage_app.services.referrals import register_referral
from triage_app.services.users import Actor
from triage_app.storage.engine import Database


def demo_events(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(sa.text("SELECT count(*) FROM audit_event WHERE action = 'demo_load'")).scalar_one())


@pytest.mark.hazard("H15")
def test_demo_data_loads_into_an_empty_database_and_again_into_a_demo_one(
    db: Database, admin: Actor, rules: Rules
) -> None:
    assert load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=3).added == 3
    assert load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=2).added == 2  # still only invented patients
    assert queue.counts(db).total == 5
    with db.read() as session:
        assert demo.referrals_not_from_demo(session) == (0, None)


@pytest.mark.hazard("H15", "H01")
def test_demo_data_is_refused_where_a_real_referral_is_stored(
    db: Database, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    register_referral(db, actor=coordinator, referral=referral(777), rules=rules, as_of=AS_OF)
    with pytest.raises(
        RealReferralsPresent,
        match=r"holds 1 referral not made by the demo loader \(the first is "
        r"referral 1\).*must not mix with real ones.*--data-dir",
    ):
        load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=3)
    assert queue.counts(db).total == 1 and demo_events(db) == 0


@pytest.mark.hazard("H15", "H01")
def test_a_real_referral_after_demo_data_stops_more_demo_data(
    db: Database, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=2)
    real = register_referral(db, actor=coordinator, referral=referral(777), rules=rules, as_of=AS_OF).referral_id
    with db.read() as session:
        assert demo.referrals_not_from_demo(session) == (1, real)
    with pytest.raises(RealReferralsPresent, match=f"the first is referral {real}"):
        load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=2)
    assert queue.counts(db).total == 3 and demo_events(db) == 1


@pytest.mark.hazard("H15", "H01")
def test_a_referral_entered_at_another_desk_between_batches_stops_the_load(
    db: Database, admin: Actor, coordinator: Actor, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "BATCH", 2)
    entered: list[int] = []

    def another_desk(done: int, total: int) -> None:
        if not entered:  # after the first batch, a coordinator elsewhere enters a real referral
            saved = register_referral(db, actor=coordinator, referral=referral(777), rules=rules, as_of=AS_OF)
            entered.append(saved.referral_id)

    with pytest.raises(RealReferralsPresent, match="holds 1 referral not made by the demo loader"):
        load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=6, progress=another_desk)
    assert queue.counts(db).total == 2 + 1  # the first batch, and the real referral: no demo batch after it


@pytest.mark.hazard("H15")
def test_only_an_administrator_loads_demo_data_even_into_an_empty_database(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    for user in (coordinator, consultant):
        with pytest.raises(PermissionDenied, match=r"cannot load demo data .*: it needs the admin role"):
            load_demo(db, actor=user, rules=rules, as_of=AS_OF, count=1)
    assert queue.counts(db).total == 0
