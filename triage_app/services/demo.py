"""Demo data: a working queue for newcomers and a large one for benchmarks (test-range NHS numbers only).

Loading it is an administrator's action, and only into a database that holds no referral the demo loader did not
make: invented patients must never mix with a unit's real ones.

How a referral is known to be the loader's: each batch is inserted with consecutive explicit ids in one write
transaction (storage.bulk), and its audit event ("demo_load") records the batch's first and last id. The audit
trail is append-only and hash-chained, so that record cannot be rewritten to pass real referrals off as demo
ones, and nothing else stores referrals in bulk: every referral entered, edited in or imported goes through
`register_referral`, one at a time. A referral whose id lies in no demo batch was made by someone, not by the
loader. The check runs inside each batch's write transaction, so a referral entered at another desk between two
batches stops the load there.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session, col

from triage_app.domain.demo import synthetic_referral
from triage_app.domain.parsing import parse_referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import assess
from triage_app.services.auditing import audit
from triage_app.services.changes import EVERYTHING, NOTHING, Changes
from triage_app.services.errors import ServiceError
from triage_app.services.permissions import LOAD_DEMO, authorize
from triage_app.services.users import Actor
from triage_app.storage.bulk import bulk_insert
from triage_app.storage.engine import Database
from triage_app.storage.models import AuditEventRow, ReferralRow

log = logging.getLogger(__name__)

BATCH = 5_000
DEMO_EVENT = "demo_load"


class RealReferralsPresent(ServiceError):
    """The database holds referrals the demo loader did not make: demo data is not mixed in with them."""


def demo_batches(session: Session) -> list[tuple[int, int]]:
    """The id ranges (first, last) of every demo batch, from the audit trail, merged where they touch."""
    ranges = []
    for text in session.execute(
        select(col(AuditEventRow.changes)).where(
            col(AuditEventRow.action) == DEMO_EVENT, col(AuditEventRow.entity) == "referral"
        )
    ).scalars():
        changes = json.loads(text)
        first, last = changes.get("first_id", [None, None])[1], changes.get("last_id", [None, None])[1]
        if isinstance(first, int) and isinstance(last, int) and first <= last:
            ranges.append((first, last))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def referrals_not_from_demo(session: Session) -> tuple[int, int | None]:
    """How many stored referrals the demo loader did not make, and the lowest id of one (None if there are none).

    A query per demo batch range rather than one long condition: the ranges are few (consecutive batches merge),
    and each is an index range on the primary key.
    """
    ids = col(ReferralRow.id)
    batches = demo_batches(session)
    total = int(session.execute(select(func.count()).select_from(ReferralRow)).scalar_one())
    from_demo = sum(
        int(session.execute(select(func.count()).where(ids.between(first, last))).scalar_one())
        for first, last in batches
    )
    if total == from_demo:
        return 0, None
    below = 0  # the lowest id in a gap between demo batches (or before the first, or after the last)
    for first, last in [*batches, (None, None)]:
        gap = ids > below if first is None else (ids > below) & (ids < first)
        lowest = session.execute(select(func.min(ids)).where(gap)).scalar_one()
        if lowest is not None:
            return total - from_demo, int(lowest)
        below = last if last is not None else below
    return total - from_demo, None


def _refuse_real_referrals(session: Session) -> None:
    count, lowest = referrals_not_from_demo(session)
    if count:
        which = "referral" if count == 1 else "referrals"
        raise RealReferralsPresent(
            f"demo data was not loaded: this database holds {count} {which} not made by the demo loader (the "
            f"first is referral {lowest}), and invented patients must not mix with real ones. Load demo data into "
            "a database of its own (triage-app --data-dir FOLDER demo)."
        )


@dataclass(frozen=True, slots=True)
class DemoLoaded:
    """How many invented referrals were added, and what changed (a whole queue of them: every view reloads)."""

    added: int
    changes: Changes


def load_demo(
    db: Database,
    *,
    actor: Actor,
    rules: Rules,
    as_of: date,
    count: int,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> DemoLoaded:
    """Add `count` synthetic referrals, scored on `as_of`, in batches; one audit event per batch.

    Serial numbers continue after the referrals already stored, so loading twice adds new patients. Invented
    patients in a unit's queue are an administrator's decision (safety.md, "Who is signed in"), and only into a
    database with no real referrals (`RealReferralsPresent` says how many there are).
    """
    authorize(actor, LOAD_DEMO, db=db)
    if count < 0:
        raise ValueError("the number of demo referrals cannot be negative")
    rng = random.Random(seed)
    with db.read() as session:
        _refuse_real_referrals(session)  # before the scoring: a refusal comes at once, whatever the count
        start = int(
            session.connection().exec_driver_sql(f"SELECT count(*) FROM {ReferralRow.__tablename__}").scalar_one()
        )
    added = 0
    while added < count:
        size = min(BATCH, count - added)
        items = []
        for serial in range(start + added, start + added + size):
            referral = parse_referral(synthetic_referral(serial, rng, as_of), as_of=as_of)
            items.append((referral, assess(referral, rules, as_of)))
        with db.write() as session:
            authorize(actor, LOAD_DEMO, session=session)
            _refuse_real_referrals(session)  # again, in the transaction that inserts: nothing entered since
            ids = bulk_insert(session, items=items, user_id=actor.user_id)
            audit(
                session,
                actor,
                DEMO_EVENT,
                "referral",
                None,
                {"count": [None, len(ids)], "first_id": [None, ids[0]], "last_id": [None, ids[-1]]},
            )
        added += size
        if progress is not None:
            progress(added, count)
    log.info("loaded %d demo referrals", added)
    return DemoLoaded(added, EVERYTHING if added else NOTHING)
