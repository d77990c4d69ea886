"""`triage-app triage confirm|override`: a consultant's triage decision."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    common_options,
    current_version,
    id_number,
    version_number,
)
from triage_app.domain.scoring import (
    OUTCOMES,
)
from triage_app.domain.workflow import STATUS_LABELS


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    triage = add("triage", "a consultant confirms or overrides a referral's triage")
    triage_commands = triage.add_subparsers(dest="triage_command", metavar="ACTION", required=True)
    confirm = triage_commands.add_parser("confirm", help="confirm the computed outcome")
    common_options(confirm, suppress=True)
    confirm.add_argument("referral", type=id_number, metavar="REFERRAL")
    confirm.add_argument(
        "--version",
        type=version_number,
        metavar="N",
        help="the version you read (default: the current one)",
    )
    override = triage_commands.add_parser("override", help="record another outcome with a written reason")
    common_options(override, suppress=True)
    override.add_argument("referral", type=id_number, metavar="REFERRAL")
    override.add_argument("--outcome", required=True, choices=OUTCOMES)
    override.add_argument("--reason", required=True, metavar="TEXT")
    override.add_argument(
        "--version",
        type=version_number,
        metavar="N",
        help="the version you read (default: the current one)",
    )
    triage.set_defaults(run=cmd_triage)


def cmd_triage(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app triage confirm|override REFERRAL`: a consultant's triage decision."""
    from triage_app.services.triage import decide_triage

    overriding = args.triage_command == "override"
    result = decide_triage(
        session.db,
        actor=session.actor,
        referral_id=args.referral,
        expected_version=current_version(session, args.referral, args.version),
        override_outcome=args.outcome if overriding else None,
        reason=args.reason if overriding else None,
    )
    verb = "overridden" if overriding else "confirmed"
    print(
        f"referral {args.referral}: triage {verb}; status {STATUS_LABELS[result.status].lower()} "
        f"(version {result.version})",
        file=out,
    )
    return EXIT_OK
