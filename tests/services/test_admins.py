"""There is always at least one active administrator (safety.md, "Who is signed in").

The check counts active users only and runs in the same write transaction as the change, so two admins who
deactivate each other at the same moment cannot leave the database with none.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.users import (
    Actor,
    active_admins_query,
    add_user,
    list_users,
    set_active,
    set_roles,
    sign_in,
)
from triage_app.storage.engine import Database, parse_database_url
from triage_app.storage.models import AppUser

ALL_ROLES = ["coordinator", "consultant", "admin"]


def same_database(db: Database) -> str:
    """The URL of the `db` fixture's database, for a second desktop on it (SQLite, or PostgreSQL with the plugin
    named in test_two_desktops.py)."""
    return db.location.url.render_as_string(hide_password=False)


def active_admins(db: Database) -> list[str]:
    return [user.login for user, roles in list_users(db) if user.is_active and "admin" in roles]


@pytest.fixture
def second_admin(db: Database, admin: Actor) -> Actor:
    return add_user(db, actor=admin, login="admin-two", display_name="Bea Backup", roles=ALL_ROLES)


def test_last_active_admin_cannot_lose_the_role(db: Database, admin: Actor) -> None:
    with pytest.raises(ServiceError, match=r"Ada Admin \('admin-test'\).*Make someone else an active admin first"):
        set_roles(db, actor=admin, login="admin-test", roles=["consultant"])
    assert active_admins(db) == ["admin-test"]


@pytest.mark.hazard("H15")
def test_last_active_admin_cannot_be_deactivated_by_another_user(db: Database, admin: Actor) -> None:
    # Nobody can deactivate themselves, so this takes another user still signed in as an admin: one who lost the
    # role after signing in (their Actor says admin). They are checked as stored now, so they are refused as not
    # an admin, and the last active admin stays active whoever asks.
    helper = add_user(db, actor=admin, login="helper", display_name="Hal Helper", roles=ALL_ROLES)
    set_roles(db, actor=admin, login="helper", roles=["coordinator"])
    assert helper.has("admin")
    with pytest.raises(PermissionDenied, match=r"Hal Helper \(login 'helper', coordinator\) cannot manage users"):
        set_active(db, actor=helper, login="admin-test", active=False)
    assert active_admins(db) == ["admin-test"]


def test_a_deactivated_admin_does_not_count(db: Database, admin: Actor, second_admin: Actor) -> None:
    set_active(db, actor=admin, login="admin-two", active=False)
    assert active_admins(db) == ["admin-test"]
    # Two users hold the admin role, but only one is active: that one keeps it.
    with pytest.raises(ServiceError, match="only admin still active"):
        set_roles(db, actor=admin, login="admin-test", roles=["consultant"])
    # A deactivated admin can lose the role: it leaves the active admins as they were.
    set_roles(db, actor=admin, login="admin-two", roles=["coordinator"])
    assert active_admins(db) == ["admin-test"]


def test_with_two_active_admins_either_can_step_down(db: Database, admin: Actor, second_admin: Actor) -> None:
    set_roles(db, actor=second_admin, login="admin-test", roles=["consultant"])
    assert active_admins(db) == ["admin-two"]
    set_roles(db, actor=second_admin, login="admin-test", roles=ALL_ROLES)
    set_active(db, actor=second_admin, login="admin-test", active=False)
    assert active_admins(db) == ["admin-two"]


def test_deactivating_a_non_admin_is_not_checked(db: Database, admin: Actor, coordinator: Actor) -> None:
    set_active(db, actor=admin, login="coord-test", active=False)
    assert active_admins(db) == ["admin-test"]


def test_two_admins_deactivating_each_other_from_two_databases(db: Database, admin: Actor, second_admin: Actor) -> None:
    # Two desktops on the same file, each signed in before the other's change: their Actors are both admins.
    other_desk = Database(parse_database_url(same_database(db)))
    try:
        ada = sign_in(db, login="admin-test")
        bea = sign_in(other_desk, login="admin-two")
        set_active(db, actor=ada, login="admin-two", active=False)
        # Bea's desktop still holds her admin sign-in; she is checked as stored now: deactivated.
        with pytest.raises(PermissionDenied, match=r"Bea Backup has no active role \(login 'admin-two', deactivated\)"):
            set_active(other_desk, actor=bea, login="admin-test", active=False)
    finally:
        other_desk.dispose()
    assert active_admins(db) == ["admin-test"]


def test_two_admins_removing_each_others_role_from_two_databases(
    db: Database, admin: Actor, second_admin: Actor
) -> None:
    other_desk = Database(parse_database_url(same_database(db)))
    try:
        set_roles(db, actor=admin, login="admin-two", roles=["consultant"])
        with pytest.raises(PermissionDenied, match=r"Bea Backup \(login 'admin-two', consultant\) cannot manage"):
            set_roles(other_desk, actor=second_admin, login="admin-test", roles=["consultant"])
    finally:
        other_desk.dispose()
    assert active_admins(db) == ["admin-test"]


@pytest.mark.parametrize("change", ["deactivate", "remove the role"])
def test_two_admins_racing_to_remove_each_other_leave_one(
    db: Database, admin: Actor, second_admin: Actor, change: str
) -> None:
    # Each round both threads start together (a barrier), each with its own Database as two desktops would,
    # and each takes the other out. Exactly one wins; the other is refused; one active admin remains.
    desks = [Database(parse_database_url(same_database(db))) for _ in range(2)]
    actors = [admin, second_admin]
    targets = ["admin-two", "admin-test"]
    try:
        for _ in range(10):
            barrier = threading.Barrier(2)
            outcomes: list[str] = ["", ""]

            def take_out(i: int, barrier: threading.Barrier = barrier, outcomes: list[str] = outcomes) -> None:
                barrier.wait()
                try:
                    if change == "deactivate":
                        set_active(desks[i], actor=actors[i], login=targets[i], active=False)
                    else:
                        set_roles(desks[i], actor=actors[i], login=targets[i], roles=["consultant"])
                    outcomes[i] = "done"
                except ServiceError as exc:
                    outcomes[i] = f"refused: {exc}"

            threads = [threading.Thread(target=take_out, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(o.split(":")[0] for o in outcomes) == ["done", "refused"], outcomes
            # The loser is refused by the check in its own transaction: itself no longer an active admin (it
            # waited for the winner's commit), or, on a server, the last active admin by the locked count.
            refusal = "".join(outcomes)
            assert "cannot manage users" in refusal or "Make someone else an active admin first" in refusal
            remaining = active_admins(db)
            assert len(remaining) == 1, remaining
            # The one who remains puts the other back for the next round.
            survivor = next(a for a in actors if a.login == remaining[0])
            other = next(a.login for a in actors if a is not survivor)
            set_roles(db, actor=survivor, login=other, roles=ALL_ROLES)
            set_active(db, actor=survivor, login=other, active=True)
            assert sorted(active_admins(db)) == ["admin-test", "admin-two"]
    finally:
        for desk in desks:
            desk.dispose()


def test_the_admin_rows_are_locked_on_a_server_and_the_query_runs_on_sqlite(db: Database, admin: Actor) -> None:
    query = active_admins_query()
    assert "FOR UPDATE" in str(query.compile(dialect=postgresql.dialect()))
    assert "FOR UPDATE" not in str(query.compile(dialect=sqlite.dialect()))  # BEGIN IMMEDIATE serialises instead
    with db.write() as session:
        assert list(session.execute(query).scalars()) == [
            session.execute(select(col(AppUser.id)).where(col(AppUser.login) == "admin-test")).scalar_one()
        ]
