"""Users and roles: first run makes an admin; consultant actions are enforced in the service layer."""

from __future__ import annotations

import pytest

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services.errors import InvalidTransition, PermissionDenied, ServiceError
from triage_app.services.referrals import get_referral, register_referral
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor, UnknownUser, add_user, list_users, set_active, set_roles, sign_in
from triage_app.storage.engine import Database


def test_first_login_becomes_admin_with_every_role(db: Database) -> None:
    actor = sign_in(db, login="first-user")
    assert actor.roles == {"coordinator", "consultant", "admin"}


@pytest.mark.hazard("H12")
def test_unconfigured_login_is_refused_once_users_exist(db: Database, admin: Actor) -> None:
    with pytest.raises(UnknownUser, match="not a user of this triage database"):
        sign_in(db, login="stranger")


def test_coordinator_cannot_confirm_triage(db: Database, coordinator: Actor, rules: Rules) -> None:
    saved = register_referral(db, actor=coordinator, referral=referral(1), rules=rules, as_of=AS_OF)
    with pytest.raises(PermissionDenied, match="needs the consultant role"):
        decide_triage(db, actor=coordinator, referral_id=saved.referral_id, expected_version=1)
    with pytest.raises(PermissionDenied):
        decide_triage(
            db,
            actor=coordinator,
            referral_id=saved.referral_id,
            expected_version=1,
            override_outcome="needs_information",
            reason="I think so",
        )
    detail = get_referral(db, referral_id=saved.referral_id)
    assert detail.row.status == "received" and detail.decisions == ()


def test_coordinator_cannot_make_a_triage_move_by_status_change(db: Database, coordinator: Actor, rules: Rules) -> None:
    saved = register_referral(db, actor=coordinator, referral=referral(1), rules=rules, as_of=AS_OF)
    with pytest.raises(InvalidTransition, match="records a triage decision"):
        change_status(db, actor=coordinator, referral_id=saved.referral_id, expected_version=1, status="ready_for_mdt")
    with pytest.raises(PermissionDenied, match="consultant"):
        change_status(
            db, actor=coordinator, referral_id=saved.referral_id, expected_version=1, status="closed", note="Duplicate"
        )
    assert get_referral(db, referral_id=saved.referral_id).row.status == "received"


def test_coordinator_moves_a_referral_to_awaiting_information_and_back(
    db: Database, coordinator: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=coordinator, referral=referral(1), rules=rules, as_of=AS_OF)
    paused = change_status(
        db, actor=coordinator, referral_id=saved.referral_id, expected_version=1, status="awaiting_information"
    )
    back = change_status(
        db, actor=coordinator, referral_id=saved.referral_id, expected_version=paused.version, status="received"
    )
    assert back.status == "received"


def test_closing_an_undiscussed_referral_needs_a_consultant_and_a_reason(
    db: Database, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=coordinator, referral=referral(1), rules=rules, as_of=AS_OF)
    with pytest.raises(ServiceError, match="needs a written reason"):
        change_status(db, actor=consultant, referral_id=saved.referral_id, expected_version=1, status="closed")
    closed = change_status(
        db, actor=consultant, referral_id=saved.referral_id, expected_version=1, status="closed", note="Moved away"
    )
    assert closed.status == "closed"


def test_consultant_confirms_and_overrides_with_reason(
    db: Database, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=coordinator, referral=referral(1), rules=rules, as_of=AS_OF)
    confirmed = decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=1)
    assert confirmed.status == "ready_for_mdt"
    with pytest.raises(ServiceError, match="needs a written reason"):
        decide_triage(
            db,
            actor=consultant,
            referral_id=saved.referral_id,
            expected_version=confirmed.version,
            override_outcome="needs_information",
        )
    overridden = decide_triage(
        db,
        actor=consultant,
        referral_id=saved.referral_id,
        expected_version=confirmed.version,
        override_outcome="needs_information",
        reason="Awaiting videofluoroscopy report",
    )
    assert overridden.status == "awaiting_information"
    detail = get_referral(db, referral_id=saved.referral_id)
    assert [d.decision for d in detail.decisions] == ["confirmed", "overridden"]
    assert detail.decisions[1].reason == "Awaiting videofluoroscopy report"
    assert detail.user_names[detail.decisions[1].decided_by] == "Dr Con Sultant"
    assert [h.to_status for h in detail.history] == ["received", "ready_for_mdt", "awaiting_information"]


def test_only_admin_manages_users(db: Database, admin: Actor, coordinator: Actor) -> None:
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        add_user(db, actor=coordinator, login="x", display_name="X", roles=["consultant"])
    with pytest.raises(PermissionDenied):
        set_roles(db, actor=coordinator, login="coord-test", roles=["admin"])
    changed = set_roles(db, actor=admin, login="coord-test", roles=["coordinator", "consultant"])
    assert changed.roles == {"coordinator", "consultant"}


def test_last_admin_keeps_the_role(db: Database, admin: Actor) -> None:
    with pytest.raises(ServiceError, match="only admin"):
        set_roles(db, actor=admin, login="admin-test", roles=["consultant"])


@pytest.mark.hazard("H12")
def test_deactivated_user_cannot_sign_in(db: Database, admin: Actor, coordinator: Actor) -> None:
    set_active(db, actor=admin, login="coord-test", active=False)
    with pytest.raises(UnknownUser, match="deactivated"):
        sign_in(db, login="coord-test")
    assert [u.login for u, _ in list_users(db)] == ["admin-test", "coord-test"]


def test_unknown_role_is_named(db: Database, admin: Actor) -> None:
    with pytest.raises(ServiceError, match="unknown role.*surgeon"):
        add_user(db, actor=admin, login="y", display_name="Y", roles=["surgeon"])
