"""`triage-app migrate`: bring the schema up to date."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    add(
        "migrate",
        "bring the database schema up to date (the app also does this on start)",
    ).set_defaults(run=cmd_migrate)


def cmd_migrate(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app migrate`: report the schema (opening the session already migrated it)."""
    report = session.migration
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
