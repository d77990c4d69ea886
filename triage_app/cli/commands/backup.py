"""`triage-app backup`: an online backup now."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    session_paths,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    backup = add("backup", "back up the database now (SQLite online backup)")
    backup.add_argument(
        "--out",
        metavar="FILE",
        help="write the backup here instead of the backups folder",
    )
    backup.set_defaults(run=cmd_backup)


def cmd_backup(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app backup`: an online backup now."""
    from triage_app.services.audit import backup_now

    target = backup_now(
        session.db,
        actor=session.actor,
        out=Path(args.out) if args.out else None,
        backup_dir=session_paths(args).backup_dir,
    )
    print(f"backed up to {target}", file=out)
    return EXIT_OK
