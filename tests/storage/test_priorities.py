"""A start's refresh of the queue's waiting terms (storage.priorities) finds every referral whose term moved, and
only those, although it reads only the index ranges outside each term's dates (schema 0012): checked against an
exhaustive reading of every open referral, day after day, across gaps, a clock set back and a closed referral."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import referral
from triage_app.domain.rtt import weeks_waiting
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import waiting_term
from triage_app.services.referrals import refresh_queue_priorities, register_referral
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.priorities import refresh_priorities, term_dates

START = date(2026, 3, 1)


def _stored(db: Database) -> list[tuple[int, date, str, int, int]]:
    with db.read() as session:
        rows = session.execute(
            sa.text("SELECT id, received_on, status, priority, priority_waiting FROM referral ORDER BY id")
        )
        return [
            (int(i), r if isinstance(r, date) else date.fromisoformat(str(r)), str(s), int(p), int(w))
            for i, r, s, p, w in rows
        ]


def _due(db: Database, rules: Rules, as_of: date) -> set[int]:
    """The exhaustive answer: every open referral below the cap whose stored term is not the one `as_of` gives it.

    A term at its cap stays there (time runs forward: a start with its clock set back does not lower it)."""
    return {
        i
        for i, received, status, _p, waiting in _stored(db)
        if status != "closed"
        and waiting < rules.waiting_weight
        and waiting_term(weeks_waiting(received, as_of), rules) != waiting
    }


@pytest.mark.hazard("H07", "H08")
def test_the_refresh_finds_exactly_the_terms_that_moved_day_after_day(db: Database, admin: Actor, rules: Rules) -> None:
    # Referrals received every third day over 30 weeks, each registered on its own day (waiting 0 weeks then).
    ids = []
    for serial in range(1, 71):
        received = START + timedelta(days=3 * serial)
        saved = register_referral(
            db,
            actor=admin,
            referral=referral(serial, as_of=received, received_on=received.isoformat()),
            rules=rules,
            as_of=received,
        )
        ids.append(saved.referral_id)
    with db.write() as session:  # one closed referral: its priority is history, never refreshed
        session.execute(sa.text("UPDATE referral SET status = 'closed' WHERE id = :id"), {"id": ids[5]})
    closed_before = [row for row in _stored(db) if row[0] == ids[5]]
    base = {i: p - w for i, _r, _s, p, w in _stored(db)}

    last = START + timedelta(days=3 * 70)
    # Daily starts, a week's gap, a start with the clock set back a fortnight (received dates in its future),
    # then forward again, and a start long after every term reached its cap.
    days = [last + timedelta(days=d) for d in (0, 1, 2, 3, 10, 11, -14, 12, 12, 400)]
    for as_of in days:
        due = _due(db, rules, as_of)
        with db.read() as session:
            assert refresh_priorities(session, as_of=as_of, rules=rules, apply=False) == len(due), as_of
        assert refresh_queue_priorities(db, rules=rules, as_of=as_of) == len(due), as_of
        assert _due(db, rules, as_of) == set(), as_of  # every open referral's term is today's
        for i, received, status, priority, waiting in _stored(db):
            if status != "closed":
                assert priority == base[i] + waiting
                if waiting < rules.waiting_weight:
                    assert waiting == waiting_term(weeks_waiting(received, as_of), rules)
    assert [row for row in _stored(db) if row[0] == ids[5]] == closed_before
    assert refresh_queue_priorities(db, rules=rules, as_of=days[-1]) == 0  # a second start that day: nothing due


def test_each_term_has_one_range_of_received_dates(rules: Rules) -> None:
    as_of = date(2026, 11, 22)
    ranges = term_dates(as_of, rules)
    assert ranges[0][1] == as_of  # received today: 0 weeks
    for received in (as_of - timedelta(days=d) for d in range(0, 7 * 30)):
        term = waiting_term(weeks_waiting(received, as_of), rules)
        if term < rules.waiting_weight:
            first, last = ranges[term]
            assert first <= received <= last
            assert [t for t, (a, b) in ranges.items() if a <= received <= b] == [term]
        else:
            assert not any(a <= received <= b for a, b in ranges.values())
