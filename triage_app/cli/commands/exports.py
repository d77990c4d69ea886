"""`triage-app agenda|outcomes MEETING`: export a meeting's agenda or outcome summary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    id_number,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    for name, text in (
        ("agenda", "export a meeting's agenda"),
        ("outcomes", "export a meeting's outcome summary"),
    ):
        sub = add(name, text)
        sub.add_argument("meeting", type=id_number, metavar="MEETING")
        sub.add_argument("--format", required=True, choices=("pdf", "docx", "csv", "html"))
        sub.add_argument("--out", required=True, metavar="FILE")
        sub.add_argument(
            "--pseudonymised",
            action="store_true",
            help="initials and last four NHS digits only",
        )
        sub.set_defaults(run=cmd_export)


def cmd_export(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app agenda|outcomes MEETING --format F --out FILE [--pseudonymised]`."""
    from triage_app.services.exports import export_agenda_file

    target = export_agenda_file(
        session.db,
        actor=session.actor,
        meeting_id=args.meeting,
        fmt=args.format,
        out=Path(args.out),
        pseudonymised=args.pseudonymised,
        outcomes=args.command == "outcomes",
    )
    print(f"wrote {target}", file=out)
    return EXIT_OK
