"""Demo data: a working queue for newcomers and a large one for benchmarks (test-range NHS numbers only)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import date

from triage_app.domain.demo import synthetic_referral
from triage_app.domain.parsing import parse_referral
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import assess
from triage_app.domain.workflow import ADMIN
from triage_app.services.users import Actor
from triage_app.storage.audit import record_event
from triage_app.storage.bulk import bulk_insert
from triage_app.storage.engine import Database
from triage_app.storage.models import ReferralRow

log = logging.getLogger(__name__)

BATCH = 5_000


def load_demo(
    db: Database,
    *,
    actor: Actor,
    rules: Rules,
    as_of: date,
    count: int,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Add `count` synthetic referrals, scored on `as_of`, in batches; one audit event per batch.

    Serial numbers continue after the referrals already stored, so loading twice adds new patients. Invented
    patients in a unit's queue are an administrator's decision (safety.md, "Who is signed in").
    """
    actor.require(ADMIN, "load demo data")
    if count < 0:
        raise ValueError("the number of demo referrals cannot be negative")
    rng = random.Random(seed)
    with db.read() as session:
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
            ids = bulk_insert(session, items=items, user_id=actor.user_id)
            record_event(
                session,
                user_login=actor.login,
                action="demo_load",
                entity="referral",
                entity_id=None,
                changes={"count": [None, len(ids)], "first_id": [None, ids[0]], "last_id": [None, ids[-1]]},
            )
        added += size
        if progress is not None:
            progress(added, count)
    log.info("loaded %d demo referrals", added)
    return added
