"""`triage-app migrate`: bring the schema up to date."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    json_option,
    print_json,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    migrate = add("migrate", "bring the database schema up to date (the app also does this on start)")
    json_option(migrate, "the schema before and after")
    migrate.set_defaults(run=cmd_migrate)


def cmd_migrate(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app migrate`: report the schema (opening the session already migrated it)."""
    report = session.migration
    if args.json:
        print_json(
            out,
            {
                "upgraded": bool(report.upgraded),
                "before": report.before,
                "after": report.after,
                "backup": None if report.backup is None else str(report.backup),
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
    return EXIT_OK
