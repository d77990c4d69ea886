"""`triage-app agenda|outcomes MEETING`: export a meeting's agenda or outcome summary.

Never into the data folder, never over the database or a backup, never over an existing file without `--force`;
the file and its audit event stand or fall together (services.exports).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    export_meeting,
    id_number,
    json_option,
    print_json,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    for name, text in (
        ("agenda", "export a meeting's agenda"),
        ("outcomes", "export a meeting's outcome summary"),
    ):
        # Exports to a chosen folder count as reads: on a read-only database their audit events go to the app log
        # (services.exports), so an agenda can still be printed from a damaged database.
        sub = add(name, text, only_reads=True)
        sub.add_argument("meeting", type=id_number, metavar="MEETING")
        sub.add_argument("--format", required=True, choices=("pdf", "docx", "csv", "html"))
        sub.add_argument(
            "--out", required=True, metavar="FILE", help="the file to write (never inside the app's data folder)"
        )
        sub.add_argument(
            "--pseudonymised",
            action="store_true",
            help="initials and last four NHS digits only",
        )
        sub.add_argument("--force", action="store_true", help="replace FILE if it exists (never a database)")
        json_option(sub, "the file written")
        sub.set_defaults(run=cmd_export)


def cmd_export(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app agenda|outcomes MEETING --format F --out FILE [--pseudonymised] [--force]`."""
    from triage_app.services.exports import export_agenda_file, notes_suffix

    target, notes = export_meeting(
        args,
        session,
        export_agenda_file,
        out=Path(args.out),
        pseudonymised=args.pseudonymised,
        outcomes=args.command == "outcomes",
    )
    if args.json:
        print_json(out, {"meeting_id": args.meeting, "file": str(target), "format": args.format, "notes": notes})
        return EXIT_OK
    print(f"wrote {target}" + notes_suffix(notes), file=out)
    return EXIT_OK
