"""No lost updates: a save against an older version is refused, naming who changed it and when."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import pytest

from tests.factories import AS_OF, referral
from triage_app.domain.referral import Severity
from triage_app.domain.rules import Rules
from triage_app.services.errors import ConflictError
from triage_app.services.referrals import get_referral, register_referral, update_referral
from triage_app.services.triage import change_status
from triage_app.services.users import Actor
from triage_app.storage.engine import Database, parse_database_url


def _other_user_saves(db_url: str, referral_id: int, version: int, total: int) -> None:
    """Runs in a separate process: another coordinator opens the same database (file or server) and saves."""
    from triage_app.config import default_rules_path
    from triage_app.domain.rules import load_rules
    from triage_app.services.referrals import get_referral, update_referral
    from triage_app.services.users import sign_in

    database = Database(parse_database_url(db_url))
    actor = sign_in(database, login="coord-test")
    detail = get_referral(database, referral_id=referral_id)
    changed = replace(detail.referral, severity=replace(detail.referral.severity, twstrs_total=total))
    update_referral(
        database,
        actor=actor,
        referral_id=referral_id,
        expected_version=version,
        referral=changed,
        rules=load_rules(default_rules_path()),
        as_of=AS_OF,
    )
    database.dispose()


@pytest.mark.hazard("H03")
def test_save_after_another_process_saved_is_refused(
    db: Database, db_url: str, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    loaded = get_referral(db, referral_id=saved.referral_id)  # the form is opened at version 1
    assert loaded.row.version == 1

    process = multiprocessing.get_context("spawn").Process(
        target=_other_user_saves, args=(db_url, saved.referral_id, 1, 60)
    )
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0

    mine = replace(loaded.referral, severity=Severity(twstrs_total=20, twstrs_pain=5, tsui=3))
    with pytest.raises(ConflictError) as refused:
        update_referral(
            db,
            actor=admin,
            referral_id=saved.referral_id,
            expected_version=loaded.row.version,
            referral=mine,
            rules=rules,
            as_of=AS_OF,
        )
    message = str(refused.value)
    assert "Cora Ordinator" in message and "UTC" in message and "version 2" in message
    assert refused.value.changed_by == "Cora Ordinator"
    stored = get_referral(db, referral_id=saved.referral_id)
    assert stored.row.version == 2
    assert stored.referral.severity.twstrs_total == 60  # the other user's save stands, nothing overwritten


@pytest.mark.hazard("H03")
def test_save_at_the_current_version_succeeds_and_bumps_it(db: Database, admin: Actor, rules: Rules) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    changed = replace(referral(1), clinical_question="Updated question")
    result = update_referral(
        db, actor=admin, referral_id=saved.referral_id, expected_version=1, referral=changed, rules=rules, as_of=AS_OF
    )
    assert result.version == 2
    with pytest.raises(ConflictError):  # the same stale version again
        update_referral(
            db,
            actor=admin,
            referral_id=saved.referral_id,
            expected_version=1,
            referral=changed,
            rules=rules,
            as_of=AS_OF,
        )


@pytest.mark.hazard("H03")
def test_status_change_against_a_stale_version_is_refused(
    db: Database, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    change_status(
        db, actor=coordinator, referral_id=saved.referral_id, expected_version=1, status="awaiting_information"
    )
    with pytest.raises(ConflictError, match="Cora Ordinator"):
        change_status(
            db, actor=admin, referral_id=saved.referral_id, expected_version=1, status="closed", note="Duplicate"
        )
    assert get_referral(db, referral_id=saved.referral_id).row.status == "awaiting_information"
