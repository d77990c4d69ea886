"""`triage-app audit verify`: check the audit trail."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    AddCommand,
    common_options,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    audit = add("audit", "check the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser("verify", help="check every link of the audit hash chain")
    common_options(verify, suppress=True)
    audit.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app audit verify`: report the first broken link of the hash chain."""
    from triage_app.services.audit import verify_audit_trail

    report = verify_audit_trail(session.db)
    if report.intact:
        print(f"audit trail intact: {report.checked} events checked", file=out)
        return EXIT_OK
    print(f"audit trail BROKEN at event {report.first_broken}: {report.problem}", file=err)
    print(f"{report.checked} events checked before the break", file=out)
    return EXIT_FAILURE
