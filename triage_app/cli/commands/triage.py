"""`triage-app triage confirm|override`: a consultant's triage decision (the triage panel's two buttons)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    add_action,
    current_version,
    id_number,
    json_option,
    print_json,
    version_number,
)
from triage_app.domain.scoring import OUTCOMES
from triage_app.domain.workflow import STATUS_LABELS


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    triage = add("triage", "a consultant confirms or overrides a referral's triage")
    actions = triage.add_subparsers(dest="triage_command", metavar="ACTION", required=True)
    confirm = add_action(actions, "confirm", "confirm the computed outcome")
    override = add_action(actions, "override", "record another outcome with a written reason")
    override.add_argument("--outcome", required=True, choices=OUTCOMES)
    override.add_argument("--reason", required=True, metavar="TEXT")
    for sub in (confirm, override):
        sub.add_argument("referral", type=id_number, metavar="REFERRAL")
        sub.add_argument(
            "--version",
            type=version_number,
            metavar="N",
            help="the version you read (default: the current one)",
        )
        json_option(sub, "the decision, the referral's status and version")
        sub.set_defaults(run=cmd_triage)


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
    if args.json:
        print_json(
            out,
            {
                "referral_id": args.referral,
                "decision": verb,
                "decision_id": result.decision_id,
                "status": result.status,
                "version": result.version,
            },
        )
        return EXIT_OK
    print(
        f"referral {args.referral}: triage {verb}; status {STATUS_LABELS[result.status].lower()} "
        f"(version {result.version})",
        file=out,
    )
    return EXIT_OK
