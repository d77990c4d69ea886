"""`triage-app letters MEETING`: outcome letters to each referrer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    count_of,
    id_number,
    today,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    letters = add("letters", "write one outcome letter per decided case, to each referrer")
    letters.add_argument("meeting", type=id_number, metavar="MEETING")
    letters.add_argument("--format", required=True, choices=("docx", "pdf"))
    letters.add_argument("--out-dir", required=True, metavar="DIR")
    letters.add_argument("--template", metavar="FILE", help="a unit's own letter template")
    letters.add_argument("--unit-name", default="specialist neurosurgical unit")
    letters.set_defaults(run=cmd_letters)


def cmd_letters(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app letters MEETING --format F --out-dir DIR`."""
    from triage_app.services.exports import export_letters

    written = export_letters(
        session.db,
        actor=session.actor,
        meeting_id=args.meeting,
        fmt=args.format,
        out_dir=Path(args.out_dir),
        unit_name=args.unit_name,
        template=Path(args.template) if args.template else None,
        today=today(),
    )
    for path in written:
        print(f"wrote {path}", file=out)
    print(count_of(len(written), "letter"), file=out)
    return EXIT_OK
