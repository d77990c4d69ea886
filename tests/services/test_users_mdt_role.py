"""A user's MDT role is one the domain knows (issue-11 trial, finding 6): a letter is signed with it."""

from __future__ import annotations

import pytest

from triage_app.domain.mdt import MDT_ROLES
from triage_app.services.errors import ServiceError
from triage_app.services.users import Actor, add_user, check_mdt_role, list_users
from triage_app.storage.engine import Database


@pytest.mark.hazard("H15")
def test_an_unknown_mdt_role_is_refused_naming_the_known_ones(db: Database, admin: Actor) -> None:
    with pytest.raises(ServiceError, match="unknown MDT role 'astronaut': the MDT roles are functional_neurosurgeon"):
        add_user(db, actor=admin, login="x3", display_name="X Three", roles=["consultant"], mdt_role="astronaut")
    assert "x3" not in [user.login for user, _ in list_users(db)]  # nothing stored
    add_user(db, actor=admin, login="x4", display_name="X Four", roles=["consultant"], mdt_role=" specialist_nurse ")
    stored = {user.login: user.mdt_role for user, _ in list_users(db)}
    assert stored["x4"] == "specialist_nurse"


def test_every_known_mdt_role_and_none_pass() -> None:
    assert [check_mdt_role(role) for role in MDT_ROLES] == list(MDT_ROLES)
    assert check_mdt_role(None) is None and check_mdt_role("  ") is None
