"""`triage-app rules show|diff|approve`: the clinical rules in force, under an administrator's approval."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    CommandError,
    common_options,
    count_of,
    today,
)
from triage_app.domain.rules import RulesFileError


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    rules = add(
        "rules",
        "the clinical rules in force: show them, compare a file with them, approve one (admin)",
    )
    rules_commands = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    rules_show = rules_commands.add_parser(
        "show",
        help="version, SHA-256, approver and time of the rules in force, and a shipped proposal if any",
    )
    common_options(rules_show, suppress=True)
    rules_diff = rules_commands.add_parser("diff", help="what a rules file would change, criterion by criterion")
    common_options(rules_diff, suppress=True)
    rules_diff.add_argument("file", metavar="FILE", help="a rules file (TOML)")
    rules_approve = rules_commands.add_parser(
        "approve",
        help="approve a rules file for every desktop (admin); reassesses referrals not yet at an MDT",
    )
    common_options(rules_approve, suppress=True)
    rules_approve.add_argument("file", metavar="FILE", help="a rules file (TOML)")
    rules.set_defaults(run=cmd_rules)


def _when(moment: Any) -> str:
    """An approval's time in words, in UTC: 21-Nov-2026 15:57 UTC."""
    from datetime import UTC

    from triage_app.domain.formats import format_date

    utc = moment.astimezone(UTC)
    return f"{format_date(utc.date())} {utc:%H:%M} UTC"


def _read_rules_argument(name: str) -> Any:
    from triage_app.domain.rules import read_rules_file

    try:
        return read_rules_file(Path(name).expanduser())
    except RulesFileError as exc:
        raise CommandError(f"rules file refused, the rules in force are unchanged: {exc}") from None


def cmd_rules(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app rules show|diff FILE|approve FILE`: the rules in force, under an administrator's approval."""
    from triage_app.domain.rules_changes import sha_prefix
    from triage_app.services import rules as rules_service

    in_force = session.approval
    if args.rules_command == "show":
        from triage_app.services.permissions import VIEW_RULES, authorize

        authorize(session.actor, VIEW_RULES, db=session.db)
        print(f"rules in force: {in_force.version}", file=out)
        print(f"SHA-256: {in_force.sha256}", file=out)
        print(
            f"approved by: {in_force.approved_by} ({in_force.approved_by_login}) on {_when(in_force.approved_at)}",
            file=out,
        )
        proposal = session.proposal
        if proposal is None:
            print(
                "shipped proposal: none (the rules shipped with this version of the app were approved here)",
                file=out,
            )
            return EXIT_OK
        print(f"shipped proposal: {proposal.notice()}", file=out)
        print(f"  file: {proposal.proposed.source}", file=out)
        for line in proposal.changes:
            print(f"  {line}", file=out)
        if proposal.refusal is None:
            print(
                f"  to approve it: triage-app rules approve {proposal.proposed.source}",
                file=out,
            )
        return EXIT_OK
    proposed = _read_rules_argument(args.file)
    if args.rules_command == "diff":
        preview = rules_service.preview_rules(session.db, actor=session.actor, proposed=proposed)
        print(
            f"rules in force: {in_force.version} (SHA-256 {in_force.sha_prefix}), approved by {in_force.approved_by} "
            f"on {_when(in_force.approved_at)}",
            file=out,
        )
        print(
            f"this file: {proposed.version} (SHA-256 {sha_prefix(proposed.sha256)}), {proposed.source}",
            file=out,
        )
        for line in preview.changes:
            print(f"  {line}", file=out)
        if preview.refusal is not None:
            print(f"cannot be approved: {preview.refusal}", file=out)
        elif not preview.same_as_in_force:
            print(
                f"approving it would reassess {count_of(preview.to_reassess, 'open referral')} not yet at an MDT "
                "(listed, discussed and closed referrals keep their assessment)",
                file=out,
            )
        return EXIT_OK
    result = rules_service.approve_rules(session.db, actor=session.actor, proposed=proposed, as_of=today())
    if not result.already_in_force:
        print(f"rules {in_force.version} -> {proposed.version}:", file=out)
        for line in result.changes:
            print(f"  {line}", file=out)
    print(result.summary(), file=out)
    return EXIT_OK
