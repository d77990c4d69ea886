"""`triage-app letters MEETING`: outcome letters to each referrer.

Never into the data folder; a folder that does not exist is created (owner-only) when the folder it goes in
exists; if any letter's file exists the whole batch is refused, naming them, unless `--force`; the letters and
their audit events stand or fall together (services.exports).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    count_of,
    export_meeting,
    id_number,
    json_option,
    print_json,
    today,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    letters = add("letters", "write one outcome letter per decided case, to each referrer", only_reads=True)
    letters.add_argument("meeting", type=id_number, metavar="MEETING")
    letters.add_argument("--format", required=True, choices=("docx", "pdf"))
    letters.add_argument(
        "--out-dir",
        required=True,
        metavar="DIR",
        help="the folder to write them in (created, owner-only, if missing; never inside the app's data folder)",
    )
    letters.add_argument("--template", metavar="FILE", help="a unit's own Word (.docx) letter template")
    letters.add_argument("--merged", action="store_true", help="also one PDF of every letter, to print")
    letters.add_argument("--unit-name", default="specialist neurosurgical unit")
    letters.add_argument("--force", action="store_true", help="replace letters already written in DIR")
    json_option(letters, "the letters written")
    letters.set_defaults(run=cmd_letters)


def cmd_letters(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app letters MEETING --format F --out-dir DIR [--force]`."""
    from triage_app.services.exports import export_letters, notes_suffix

    written, notes = export_meeting(
        args,
        session,
        export_letters,
        out_dir=Path(args.out_dir),
        unit_name=args.unit_name,
        template=Path(args.template) if args.template else None,
        merged=args.merged,
        today=today(),
    )
    if args.json:
        print_json(out, {"meeting_id": args.meeting, "letters": [str(p) for p in written], "notes": notes})
        return EXIT_OK
    for path in written:
        print(f"wrote {path}", file=out)
    merged = [path for path in written if path.suffix == ".pdf" and path.stem.endswith("(to print)")]
    said = count_of(len(written) - len(merged), "letter") + (", and one PDF of them to print" if merged else "")
    print(said + notes_suffix(notes), file=out)
    return EXIT_OK
