"""`triage-app audit verify`: check the audit trail."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    AddCommand,
    add_action,
    count_of,
    json_option,
    print_json,
    session_paths,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    audit = add("audit", "check the audit trail")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = add_action(
        actions,
        "verify",
        "check the audit trail: every link of the hash chain, the chain's head against the checkpoint kept in "
        "the backups folder and against every head the app logged in the logs folder, every referral against its "
        "last audit event, and the append-only triggers. Exit status 0: intact; 1: broken (the first problem and "
        "how many others)",
        only_reads=True,
    )
    json_option(verify, "what was checked and every problem")
    verify.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app audit verify`: 0 when the trail is intact; 1 with the first problem and a count of the others."""
    from triage_app.services.audit import verify_audit_trail

    report = verify_audit_trail(session.db, log_dir=session_paths(args).log_dir)
    if args.json:
        print_json(
            out,
            {
                "intact": report.intact,
                "events_checked": report.checked,
                "first_broken": report.first_broken,
                "checkpoint": report.checkpoint,
                "logged": report.logged,
                "referrals_checked": report.referrals_checked,
                "referrals_not_covered": report.referrals_not_covered,
                "problems": list(report.problems),
            },
        )
        return EXIT_OK if report.intact else EXIT_FAILURE
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
