"""The queue reads the 18-week clock for the day it is shown, in SQL: the RTT view and count, its lines' cautions,
and the "breaches first" order, around the thresholds (11/12 weeks with the shipped warning week, 17/18 weeks).

Every referral here was scored on the day it arrived, so no stored assessment carries `rtt_breach_risk`: what the
queue shows is worked out from the received date on the day it is read. Runs on PostgreSQL too (see
tests/services/test_two_desktops.py for the plugin that gives the `db` fixture a PostgreSQL database).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.factories import referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import RTT_FLAG, RttClock
from triage_app.services.referrals import register_referral
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.referrals import QueueFilter

TODAY = date(2026, 11, 2)

#: name -> (days waiting today, TWSTRS total): the severity sets the priority within each band.
WAITING = {
    "eleven": (12 * 7 - 1, 80),  # 11 weeks 6 days: below the warning week
    "twelve": (12 * 7, 20),  # the warning week's first day
    "seventeen": (18 * 7 - 1, 60),  # 17 weeks 6 days: a warning, not a breach
    "eighteen": (18 * 7, 10),  # 18 whole weeks: a breach
    "thirty": (30 * 7, 50),
    "new": (0, 85),
}


@pytest.fixture
def waiting(db: Database, admin: Actor, rules: Rules) -> dict[str, int]:
    """One referral per WAITING entry, each scored on the day it was received (no RTT flag stored)."""
    ids = {}
    for serial, (name, (days, severity)) in enumerate(WAITING.items(), start=1):
        received = TODAY - timedelta(days=days)
        saved = register_referral(
            db,
            actor=admin,
            referral=referral(
                serial, as_of=received, received_on=received.isoformat(), severity__twstrs_total=severity
            ),
            rules=rules,
            as_of=received,
        )
        assert RTT_FLAG not in saved.assessment.flags
        ids[name] = saved.referral_id
    return ids


def clock(rules: Rules, day: date = TODAY) -> RttClock:
    return RttClock.of(rules, day)


@pytest.mark.hazard("H07")
def test_the_rtt_view_and_count_are_todays(db: Database, rules: Rules, waiting: dict[str, int]) -> None:
    at_risk = {waiting[n] for n in ("twelve", "seventeen", "eighteen", "thirty")}
    view = QueueFilter(flag=RTT_FLAG, clock=clock(rules))
    with db.read() as session:
        assert set(repo.queue_ids(session, queue_filter=view)) == at_risk
        assert repo.queue_count(session, view) == 4
        assert repo.flag_counts(session, clock=clock(rules))[RTT_FLAG] == 4
        assert repo.flag_counts(session, clock=clock(rules))["head_tremor"] == 6  # other flags as stored
        # A week later the eleven-week referral has reached the warning week too.
        assert repo.flag_counts(session, clock=clock(rules, TODAY + timedelta(days=1)))[RTT_FLAG] == 5
        # Counts within a view: only the open ones of a status, say.
        received = QueueFilter(status="ready_for_mdt")
        assert repo.flag_counts(session, received, clock=clock(rules))[RTT_FLAG] == 0
        # Without a clock, only what was stored at scoring: none of them.
        assert RTT_FLAG not in repo.flag_counts(session)
        assert repo.queue_ids(session, queue_filter=QueueFilter(flag=RTT_FLAG)) == []


@pytest.mark.hazard("H07")
def test_queue_lines_carry_todays_rtt_caution(db: Database, rules: Rules, waiting: dict[str, int]) -> None:
    with db.read() as session:
        today = repo.queue_rows(session, list(waiting.values()), clock=clock(rules))
        stored = repo.queue_rows(session, list(waiting.values()))
    flagged = {name for name, rid in waiting.items() if RTT_FLAG in today[rid].flags}
    assert flagged == {"twelve", "seventeen", "eighteen", "thirty"}
    assert all(RTT_FLAG not in row.flags for row in stored.values())
    assert all(list(row.flags) == sorted(row.flags) for row in today.values())  # sorted by name, as scored


@pytest.mark.hazard("H07", "H08")
def test_breaches_first_then_warnings_then_the_rest_each_by_priority(
    db: Database, rules: Rules, waiting: dict[str, int]
) -> None:
    view = QueueFilter(clock=clock(rules))
    with db.read() as session:
        first = repo.queue_ids(session, queue_filter=view, sort=repo.SORT_BREACHES)
        paged = repo.queue_ids(session, queue_filter=view, sort=repo.SORT_BREACHES, limit=2, offset=2)
        reverse = repo.queue_ids(session, queue_filter=view, sort=repo.SORT_BREACHES, descending=False)
        priorities = {rid: row.priority for rid, row in repo.queue_rows(session, first).items()}
    names = {rid: name for name, rid in waiting.items()}
    breaches, warnings, rest = first[:2], first[2:4], first[4:]
    assert {names[i] for i in breaches} == {"eighteen", "thirty"}
    assert {names[i] for i in warnings} == {"twelve", "seventeen"}
    assert {names[i] for i in rest} == {"eleven", "new"}
    for band in (breaches, warnings, rest):
        assert [priorities[i] for i in band] == sorted((priorities[i] for i in band), reverse=True)
    assert paged == first[2:4] and reverse == first[::-1]
    # Read a day later, the 17-week referral has breached and the eleven-week one reached the warning week.
    later = QueueFilter(clock=clock(rules, TODAY + timedelta(days=1)))
    with db.read() as session:
        moved = repo.queue_ids(session, queue_filter=later, sort=repo.SORT_BREACHES)
    assert [{names[i] for i in band} for band in (moved[:3], moved[3:5], moved[5:])] == [
        {"eighteen", "thirty", "seventeen"},
        {"eleven", "twelve"},
        {"new"},
    ]


def test_breaches_first_needs_a_clock_and_sorts_are_named(db: Database) -> None:
    with db.read() as session:
        with pytest.raises(ValueError, match="needs the day the 18-week clock is read for"):
            repo.queue_ids(session, queue_filter=QueueFilter(), sort=repo.SORT_BREACHES)
        with pytest.raises(ValueError, match="'shoe_size' is not a queue order"):
            repo.queue_ids(session, queue_filter=QueueFilter(), sort="shoe_size")
    assert repo.SORT_BREACHES in repo.QUEUE_SORTS and "priority" in repo.QUEUE_SORTS
