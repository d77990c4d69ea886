"""`triage-app backup`: a verified backup now, saying what was verified."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import EXIT_FAILURE, EXIT_OK, AddCommand, json_option, print_json, session_paths


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    backup = add(
        "backup",
        "back up the database now: checked first (a damaged database is not backed up), copied online, the copy "
        "checked in full and counted, then recorded in the backups folder's manifest",
    )
    backup.add_argument(
        "--out",
        metavar="FILE",
        help="write the backup here instead of the backups folder (a new file; never rotated or listed)",
    )
    json_option(backup, "the backup's file and its manifest entry")
    backup.set_defaults(run=cmd_backup)


def cmd_backup(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app backup`: a verified backup now."""
    from triage_app.services.maintenance import take_verified_backup

    made = take_verified_backup(
        session.db,
        actor=session.actor,
        out=Path(args.out) if args.out else None,
        backup_dir=session_paths(args).backup_dir,
        log_dir=session_paths(args).log_dir,
    )
    if args.json:
        entry = made.entry
        print_json(
            out,
            {
                "path": str(made.path),
                "taken_at": entry.taken_at.isoformat(),
                "sha256": entry.sha256,
                "row_counts": entry.row_counts,
                "schema_revision": entry.schema_revision,
                "integrity": entry.integrity,
                "audit": entry.audit,
                "audit_problem": entry.audit_problem,
            },
        )
    else:
        print(f"backed up to {made.path}", file=out)
        print(f"verified: {made.describe_verification()}", file=out)
    if made.entry.audit_problem is not None:  # kept (never lose data), marked, and not offered for restore
        print(
            f"triage-app backup: the audit trail did not verify: {made.entry.audit_problem}; the backup was kept "
            "and marked (it is not offered for restore). Run `triage-app audit verify`",
            file=err,
        )
        return EXIT_FAILURE
    return EXIT_OK
