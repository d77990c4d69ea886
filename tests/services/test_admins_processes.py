"""Two administrators, each in their own process (as two desktops are), take each other out at the same moment:
exactly one succeeds and one active administrator always remains (safety.md, "Who is signed in").

The check counts active users only and runs inside the write transaction of the change; the acting administrator
is checked again in that transaction, as stored then.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from triage_app.services.errors import ServiceError
from triage_app.services.users import Actor, add_user, list_users, set_active, set_roles, sign_in
from triage_app.storage.engine import Database, parse_database_url

ALL_ROLES = ["coordinator", "consultant", "admin"]
ROUNDS = 3


def desk(db_url: str, login: str, target: str, change: str, start: Barrier, end: Barrier, results: Any) -> None:
    """One desktop's process: sign in, then each round take `target` out when both desks are ready."""
    database = Database(parse_database_url(db_url))
    try:
        actor = sign_in(database, login=login)
        for _ in range(ROUNDS):
            start.wait(timeout=60)
            try:
                if change == "deactivate":
                    set_active(database, actor=actor, login=target, active=False)
                else:
                    set_roles(database, actor=actor, login=target, roles=["consultant"])
                results.put((login, "done"))
            except ServiceError as exc:
                results.put((login, f"refused: {exc}"))
            end.wait(timeout=60)  # the parent puts both back before the next round
    finally:
        database.dispose()


def active_admins(db: Database) -> list[str]:
    return sorted(user.login for user, roles in list_users(db) if user.is_active and "admin" in roles)


@pytest.mark.hazard("H15")
@pytest.mark.parametrize("change", ["deactivate", "remove the role"])
def test_two_admins_in_two_processes_taking_each_other_out_leave_one(db: Database, admin: Actor, change: str) -> None:
    add_user(db, actor=admin, login="admin-two", display_name="Bea Backup", roles=ALL_ROLES)
    url = db.location.url.render_as_string(hide_password=False)  # SQLite, or PostgreSQL with the test plugin
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: nothing shared but the file
    start, end = context.Barrier(3), context.Barrier(3)
    results = context.Queue()
    desks = [
        context.Process(target=desk, args=(url, login, target, change, start, end, results), name=f"desk-{login}")
        for login, target in (("admin-test", "admin-two"), ("admin-two", "admin-test"))
    ]
    for process in desks:
        process.start()
    try:
        for _ in range(ROUNDS):
            start.wait(timeout=120)  # both desks go at once
            outcomes = dict(results.get(timeout=60) for _ in desks)
            assert sorted(o.split(":")[0] for o in outcomes.values()) == ["done", "refused"], outcomes
            remaining = active_admins(db)
            assert len(remaining) == 1, (remaining, outcomes)
            survivor = sign_in(db, login=remaining[0])
            other = "admin-two" if survivor.login == "admin-test" else "admin-test"
            set_roles(db, actor=survivor, login=other, roles=ALL_ROLES)
            set_active(db, actor=survivor, login=other, active=True)
            assert active_admins(db) == ["admin-test", "admin-two"]
            end.wait(timeout=60)
    finally:
        for process in desks:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in desks] == [0, 0]
