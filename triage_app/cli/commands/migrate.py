"""`triage-app migrate`: bring the schema up to date.

On SQLite every start also does this (one desktop owns its file, and a backup is taken first). On a PostgreSQL
server only this command does, run by an administrator who is a member of the database's owner role: the schema
is changed as that role, and `--grant-to ROLE` gives the users' group role the app's privileges in the same
transaction (storage.server_grants; docs/deploy-postgresql.md). An ordinary login is refused, nothing changed.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    CommandError,
    json_option,
    open_session_for,
    print_json,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    migrate = add(
        "migrate",
        "bring the database schema up to date (on SQLite the app also does this on start; on a database server "
        "only an administrator does, with this command)",
    )
    migrate.add_argument(
        "--grant-to",
        metavar="ROLE",
        help="database server only: give this group role of the app's users (e.g. triage_user) exactly the "
        "privileges the app needs, after the upgrade, in the same transaction",
    )
    json_option(migrate, "the schema before and after")
    migrate.set_defaults(run=cmd_migrate, needs_database=False)


def cmd_migrate(args: argparse.Namespace, paths: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app migrate`: upgrade (a server explicitly, as its owner role; a SQLite file by opening it), then
    open the session as any command does (the first login of a new database becomes its administrator)."""
    from triage_app.services.app import migrate_server
    from triage_app.storage.engine import parse_database_url

    location = parse_database_url(paths.db_url)
    report = None
    if location.is_sqlite:
        if args.grant_to is not None:
            raise CommandError(
                "--grant-to: a SQLite database file has no database roles; it is for a PostgreSQL server",
                argument="--grant-to",
            )
    else:
        report = migrate_server(paths.db_url, grant_to=args.grant_to)
    session = open_session_for(paths)
    try:
        for line in session.warnings:
            print(f"triage-app migrate: {line}", file=err)
        return _print_report(args, report or session.migration, out)
    finally:
        session.close()


def _print_report(args: argparse.Namespace, report: Any, out: TextIO) -> int:
    if args.json:
        print_json(
            out,
            {
                "upgraded": bool(report.upgraded),
                "before": report.before,
                "after": report.after,
                "backup": None if report.backup is None else str(report.backup),
                "granted_to": args.grant_to,
            },
        )
        return EXIT_OK
    if report.upgraded:
        print(
            f"database upgraded from schema {report.before or '(new)'} to {report.after}",
            file=out,
        )
        if report.backup is not None:
            print(f"backup taken first: {report.backup}", file=out)
    else:
        print(f"database schema {report.after} is up to date", file=out)
    if args.grant_to is not None:
        print(f"the role {args.grant_to} has the app's privileges (and no more) on every table", file=out)
    return EXIT_OK
