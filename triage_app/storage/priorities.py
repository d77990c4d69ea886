"""The queue's priorities brought up to a day: the waiting term grows as a referral waits (schema 0012's index).

Every start brings them up to today before the queue shows. The waiting term is a function of whole weeks waiting
(`domain.scoring.waiting_term`), capped at its weight, so only referrals below the cap can move, and a referral's
term is right today exactly when its received date lies in the range of dates that give its stored term today.
The search asks, for each stored term below the cap, for the referrals *outside* that range: index ranges on
(priority_waiting, received_on) that read nothing when nothing is due (a restart on the same day), and about a
seventh of the recent referrals on a new day. Reading every referral below the cap instead cost 0.4-0.7 s of each
start at 100,000 referrals. The domain's own `waiting_term` then decides each row found, so the SQL only narrows
the search: a row it leaves out has, by construction, the term the domain gives it today.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select, update
from sqlmodel import Session

from triage_app.domain.rules import Rules
from triage_app.domain.scoring import waiting_term, weeks_waiting
from triage_app.storage.models import ReferralRow


def term_dates(as_of: date, rules: Rules) -> dict[int, tuple[date, date]]:
    """{waiting term below the cap: (earliest, latest) received date that gives it on `as_of`}.

    The term never falls as weeks grow, so each term's dates form one range; a term no week gives is absent (no
    received date gives it). Dates after `as_of` (a received date in the future) are in no range.
    """
    ranges: dict[int, tuple[date, date]] = {}
    weeks = 0
    while (term := waiting_term(weeks, rules)) < rules.waiting_weight:
        latest, earliest = as_of - timedelta(days=7 * weeks), as_of - timedelta(days=7 * weeks + 6)
        first, last = ranges.get(term, (earliest, latest))
        ranges[term] = (min(first, earliest), max(last, latest))
        weeks += 1
    return ranges


def _due_query(as_of: date, rules: Rules) -> sa.Executable:
    """Open referrals whose stored waiting term is not the one `as_of` gives their received date (a superset).

    One arm per index range (a term's referrals received before its dates, and those after them; any term below
    0), joined by UNION ALL: each arm is planned on its own as an index range. Asked as one OR, SQLite's planner,
    knowing how many referrals hold each term but not how few lie outside its dates, read the whole table.
    """
    referral: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
    waiting, received = referral.c.priority_waiting, referral.c.received_on
    ranges = term_dates(as_of, rules)

    def arm(*conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return select(referral.c.id, received, referral.c.priority, waiting).where(
            *conditions, received.is_not(None), referral.c.status != "closed"
        )

    arms = [arm(waiting < 0)]
    for term in range(rules.waiting_weight):
        if term not in ranges:  # no received date gives it today: every referral holding it is due
            arms.append(arm(waiting == term))
            continue
        earliest, latest = ranges[term]
        arms += [arm(waiting == term, received < earliest), arm(waiting == term, received > latest)]
    return sa.union_all(*arms)


def refresh_priorities(session: Session, *, as_of: date, rules: Rules, apply: bool = True) -> int:
    """Bring the queue's priorities up to `as_of`: the waiting term grows as referrals wait.

    Only open referrals whose waiting term is below its cap and has moved are read (see the module's note).
    Stored assessments keep their own date. Returns the number of referrals whose priority changed (with
    `apply=False`: would change; nothing is written, so a start can read first and write only when one moved).
    """
    query = _due_query(as_of, rules)
    changed = []
    for referral_id, received_on, priority, waiting in session.execute(query):
        term = waiting_term(weeks_waiting(received_on, as_of), rules)
        if term != waiting and priority is not None and waiting is not None:
            changed.append({"rid": referral_id, "p": priority - waiting + term, "w": term})
    if changed and apply:
        table: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]  # Core executemany: one statement
        session.connection().execute(
            update(table)
            .where(table.c.id == sa.bindparam("rid"))
            .values(priority=sa.bindparam("p"), priority_waiting=sa.bindparam("w")),
            changed,
        )
    return len(changed)
