"""`triage-app user ...`: users and roles."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    common_options,
)
from triage_app.domain.workflow import ROLES


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    user = add("user", "manage users and roles (admin)")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    listing = user_commands.add_parser("list", help="list users and their roles")
    common_options(listing, suppress=True)
    adding = user_commands.add_parser("add", help="add a user (their operating-system login)")
    common_options(adding, suppress=True)
    adding.add_argument("login")
    adding.add_argument("--name", required=True, help="name as shown in the app")
    adding.add_argument(
        "--role",
        action="append",
        choices=ROLES,
        required=True,
        help="repeat for several roles",
    )
    adding.add_argument("--mdt-role", help="MDT role, e.g. functional_neurosurgeon")
    roles = user_commands.add_parser("roles", help="replace a user's roles")
    common_options(roles, suppress=True)
    roles.add_argument("login")
    roles.add_argument("--role", action="append", choices=ROLES, required=True)
    rename = user_commands.add_parser("name", help="set the name shown in the app and on letters (admin, or yourself)")
    common_options(rename, suppress=True)
    rename.add_argument("login")
    rename.add_argument("--name", required=True, help='e.g. "Dr R Example"')
    for name, text in (
        ("deactivate", "stop a user signing in"),
        ("activate", "let a deactivated user sign in"),
    ):
        sub = user_commands.add_parser(name, help=text)
        common_options(sub, suppress=True)
        sub.add_argument("login")
    user.set_defaults(run=cmd_user)


def cmd_user(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user ...`: admin manages users and roles."""
    from triage_app.services import users

    if args.user_command == "list":
        for user, roles in users.list_users(session.db):
            state = "" if user.is_active else " (deactivated)"
            print(
                f"{user.login:<20} {user.display_name:<30} {', '.join(r for r in ROLES if r in roles)}{state}",
                file=out,
            )
        return EXIT_OK
    if args.user_command == "add":
        added = users.add_user(
            session.db,
            actor=session.actor,
            login=args.login,
            display_name=args.name,
            roles=args.role,
            mdt_role=args.mdt_role,
        )
        print(f"added {added.login} ({added.describe_roles()})", file=out)
        return EXIT_OK
    if args.user_command == "name":
        users.set_display_name(session.db, actor=session.actor, login=args.login, display_name=args.name)
        print(f"{args.login} is now shown as {args.name.strip()}", file=out)
        return EXIT_OK
    if args.user_command == "roles":
        changed = users.set_roles(session.db, actor=session.actor, login=args.login, roles=args.role)
        print(f"{changed.login} now has: {changed.describe_roles()}", file=out)
        return EXIT_OK
    active = args.user_command == "activate"
    users.set_active(session.db, actor=session.actor, login=args.login, active=active)
    print(f"{args.login} {'activated' if active else 'deactivated'}", file=out)
    return EXIT_OK
