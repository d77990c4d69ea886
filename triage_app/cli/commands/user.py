"""`triage-app user list|add|roles|mdt-role|name|deactivate|activate`: users and roles (the desktop's Users and roles…)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    add_action,
    argument_value,
    json_option,
    print_json,
)
from triage_app.domain.mdt import MDT_ROLES, role_label
from triage_app.domain.workflow import ROLES


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    user = add("user", "manage users and roles (admin)")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    listing = add_action(actions, "list", "list users and their roles", only_reads=True)
    json_option(listing, "every user: login, name, roles, MDT role, active")
    listing.set_defaults(run=cmd_user_list)
    adding = add_action(actions, "add", "add a user (their operating-system login)")
    adding.add_argument("login")
    adding.add_argument("--name", required=True, help="name as shown in the app")
    adding.add_argument("--role", action="append", choices=ROLES, required=True, help="repeat for several roles")
    adding.add_argument("--mdt-role", help=f"MDT role, one of: {', '.join(MDT_ROLES)}")
    json_option(adding, "the user added")
    adding.set_defaults(run=cmd_user_add)
    roles = add_action(actions, "roles", "replace a user's roles")
    roles.add_argument("login")
    roles.add_argument("--role", action="append", choices=ROLES, required=True, help="repeat for several roles")
    json_option(roles, "the user's roles now")
    roles.set_defaults(run=cmd_user_roles)
    mdt = add_action(actions, "mdt-role", "set a user's MDT role: the quorum counts it, letters are signed in it")
    mdt.add_argument("login")
    mdt.add_argument("mdt_role", metavar="MDT_ROLE", help=f"one of: {', '.join(MDT_ROLES)}; or none")
    json_option(mdt, "the user's MDT role now")
    mdt.set_defaults(run=cmd_user_mdt_role)
    rename = add_action(actions, "name", "set the name shown in the app and on letters (admin, or yourself)")
    rename.add_argument("login")
    rename.add_argument("--name", required=True, help='e.g. "Dr R Example"')
    json_option(rename, "the name now shown")
    rename.set_defaults(run=cmd_user_name)
    for name, text in (("deactivate", "stop a user signing in"), ("activate", "let a deactivated user sign in")):
        sub = add_action(actions, name, text)
        sub.add_argument("login")
        json_option(sub, "whether the user is active now")
        sub.set_defaults(run=cmd_user_active)


def _user_json(
    login: str, name: str, roles: Any, *, active: bool = True, mdt_role: str | None = None
) -> dict[str, Any]:
    return {
        "login": login,
        "name": name,
        "roles": [r for r in ROLES if r in roles],
        "mdt_role": mdt_role,
        "active": active,
    }


def cmd_user_list(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user list`: every user, their roles, and whether they may sign in."""
    from triage_app.services import users

    found = users.list_users(session.db)
    if args.json:
        print_json(
            out,
            [_user_json(u.login, u.display_name, roles, active=u.is_active, mdt_role=u.mdt_role) for u, roles in found],
        )
        return EXIT_OK
    for user, roles in found:
        state = "" if user.is_active else " (deactivated)"
        # The MDT role signs letters and counts towards quorum: shown by its label, when one is set.
        signs_as = f"  [{role_label(user.mdt_role)}]" if user.mdt_role else ""
        print(
            f"{user.login:<20} {user.display_name:<30} {', '.join(r for r in ROLES if r in roles)}{state}{signs_as}",
            file=out,
        )
    return EXIT_OK


def cmd_user_add(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user add LOGIN --name N --role R...`: an administrator adds a user."""
    from triage_app.services import users

    # Refused before anything is stored, naming the argument and the MDT roles the domain knows.
    mdt_role = argument_value("--mdt-role", users.check_mdt_role, args.mdt_role or "")
    added = users.add_user(
        session.db,
        actor=session.actor,
        login=args.login,
        display_name=args.name,
        roles=args.role,
        mdt_role=mdt_role,
    )
    if args.json:
        print_json(out, _user_json(added.login, added.display_name, added.roles, mdt_role=mdt_role))
    else:
        # The MDT role signs letters and counts towards quorum: echoed so a mistyped choice is seen at once.
        signs_as = f"; MDT role: {role_label(mdt_role)}" if mdt_role else ""
        print(f"added {added.login} ({added.describe_roles()}{signs_as})", file=out)
    return EXIT_OK


def cmd_user_roles(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user roles LOGIN --role R...`: replace a user's roles."""
    from triage_app.services import users

    changed = users.set_roles(session.db, actor=session.actor, login=args.login, roles=args.role)
    if args.json:
        print_json(out, {"login": changed.login, "roles": [r for r in ROLES if r in changed.roles]})
    else:
        print(f"{changed.login} now has: {changed.describe_roles()}", file=out)
    return EXIT_OK


def cmd_user_mdt_role(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user mdt-role LOGIN MDT_ROLE|none`: the role the quorum counts and letters are signed in."""
    from triage_app.services import users

    given = "" if args.mdt_role.strip().casefold() == "none" else args.mdt_role
    mdt_role = argument_value("MDT_ROLE", users.check_mdt_role, given)
    changes = users.set_mdt_role(session.db, actor=session.actor, login=args.login, mdt_role=mdt_role)
    if args.json:
        print_json(out, {"login": args.login, "mdt_role": mdt_role, "changed": bool(changes)})
    elif not changes:
        print(f"{args.login} already had that MDT role: nothing changed", file=out)
    else:
        print(f"{args.login} is now {role_label(mdt_role) if mdt_role else 'not in the MDT'}", file=out)
    return EXIT_OK


def cmd_user_name(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user name LOGIN --name N`: the name shown in the app and signing letters."""
    from triage_app.services import users

    users.set_display_name(session.db, actor=session.actor, login=args.login, display_name=args.name)
    if args.json:
        print_json(out, {"login": args.login, "name": args.name.strip()})
    else:
        print(f"{args.login} is now shown as {args.name.strip()}", file=out)
    return EXIT_OK


def cmd_user_active(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user deactivate|activate LOGIN`."""
    from triage_app.services import users

    active = args.user_command == "activate"
    from triage_app.services.permissions import MANAGE_USERS, authorize

    authorize(session.actor, MANAGE_USERS)  # a refusal for want of the role comes first, as it does for a change
    found = {u.login: u for u, _ in users.list_users(session.db, actor=session.actor)}
    user = found.get(args.login)
    if user is not None and user.is_active == active:  # nothing to change: said, and nothing is recorded
        if args.json:
            print_json(out, {"login": args.login, "active": active, "changed": False})
        else:
            print(f"{args.login} was already {'active' if active else 'deactivated'}: nothing changed", file=out)
        return EXIT_OK
    users.set_active(session.db, actor=session.actor, login=args.login, active=active)
    if args.json:
        print_json(out, {"login": args.login, "active": active, "changed": True})
    else:
        print(f"{args.login} {'activated' if active else 'deactivated'}", file=out)
    return EXIT_OK
