"""`triage-app audit verify`: check the audit trail."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    AddCommand,
    common_options,
    count_of,
    session_paths,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    audit = add("audit", "check the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the audit trail: every link of the hash chain, the chain's head against the checkpoint kept in "
        "the backups folder and against every head the app logged in the logs folder, every referral against its last audit event, and the append-only triggers. Exit "
        "status 0: intact; 1: broken (the first problem and how many others)",
    )
    common_options(verify, suppress=True)
    audit.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app audit verify`: 0 when the trail is intact; 1 with the first problem and a count of the others."""
    from triage_app.services.audit import verify_audit_trail

    report = verify_audit_trail(session.db, log_dir=session_paths(args).log_dir)
    if report.intact:
        print(f"audit trail intact: {report.summary()}", file=out)
        return EXIT_OK
    where = f" at event {report.first_broken}" if report.first_broken is not None else ""
    print(f"audit trail BROKEN{where}: {report.problem}", file=err)
    others = len(report.problems) - 1
    if others:
        print(f"and {count_of(others, 'other problem')} (the app log lists them all)", file=err)
    print(f"{report.checked} events checked; {report.checkpoint}; {report.logged}", file=out)
    return EXIT_FAILURE
