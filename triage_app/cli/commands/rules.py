"""`triage-app rules show|diff|approve`: the clinical rules in force, under an administrator's approval."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    CommandError,
    add_action,
    count_of,
    json_option,
    print_json,
    today,
)
from triage_app.domain.rules import RulesFileError


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    rules = add(
        "rules",
        "the clinical rules in force: show them, compare a file with them, approve one (admin)",
    )
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    show = add_action(
        actions,
        "show",
        "version, SHA-256, approver and time of the rules in force, and a shipped proposal if any",
        only_reads=True,
    )
    json_option(show, "the rules in force and the proposal")
    show.set_defaults(run=cmd_rules_show)
    diff = add_action(actions, "diff", "what a rules file would change, criterion by criterion", only_reads=True)
    diff.add_argument("file", metavar="FILE", help="a rules file (TOML)")
    json_option(diff, "the changes")
    diff.set_defaults(run=cmd_rules_diff)
    approve = add_action(
        actions, "approve", "approve a rules file for every desktop (admin); reassesses referrals not yet at an MDT"
    )
    approve.add_argument("file", metavar="FILE", help="a rules file (TOML)")
    json_option(approve, "the approval, its changes and the referrals reassessed")
    approve.set_defaults(run=cmd_rules_approve)


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


def _approval_json(approval: Any) -> dict[str, Any]:
    return {
        "version": approval.version,
        "sha256": approval.sha256,
        "approved_by": approval.approved_by,
        "approved_by_login": approval.approved_by_login,
        "approved_at": approval.approved_at.isoformat(),
    }


def cmd_rules_show(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app rules show`: the rules in force, and the shipped proposal if any."""
    from triage_app.services.permissions import VIEW_RULES, authorize

    authorize(session.actor, VIEW_RULES, db=session.db)
    in_force, proposal = session.approval, session.proposal
    if args.json:
        print_json(
            out,
            {
                "in_force": _approval_json(in_force),
                "proposal": None
                if proposal is None
                else {
                    "version": proposal.proposed.version,
                    "sha256": proposal.proposed.sha256,
                    "file": str(proposal.proposed.source),
                    "changes": list(proposal.changes),
                    "refusal": proposal.refusal,
                },
            },
        )
        return EXIT_OK
    print(f"rules in force: {in_force.version}", file=out)
    print(f"SHA-256: {in_force.sha256}", file=out)
    print(
        f"approved by: {in_force.approved_by} ({in_force.approved_by_login}) on {_when(in_force.approved_at)}", file=out
    )
    if proposal is None:
        print("shipped proposal: none (the rules shipped with this version of the app were approved here)", file=out)
        return EXIT_OK
    print(f"shipped proposal: {proposal.notice()}", file=out)
    print(f"  file: {proposal.proposed.source}", file=out)
    for line in proposal.changes:
        print(f"  {line}", file=out)
    if proposal.refusal is None:
        print(f"  to approve it: triage-app rules approve {proposal.proposed.source}", file=out)
    return EXIT_OK


def cmd_rules_diff(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app rules diff FILE`: what approving the file would change; nothing is stored."""
    from triage_app.domain.rules_changes import sha_prefix
    from triage_app.services import rules as rules_service

    in_force = session.approval
    proposed = _read_rules_argument(args.file)
    preview = rules_service.preview_rules(session.db, actor=session.actor, proposed=proposed)
    if args.json:
        print_json(
            out,
            {
                "in_force": _approval_json(in_force),
                "file": {"version": proposed.version, "sha256": proposed.sha256, "path": str(proposed.source)},
                "changes": list(preview.changes),
                "same_as_in_force": preview.same_as_in_force,
                "refusal": preview.refusal,
                "to_reassess": preview.to_reassess,
            },
        )
        return EXIT_OK
    print(
        f"rules in force: {in_force.version} (SHA-256 {in_force.sha_prefix}), approved by {in_force.approved_by} "
        f"on {_when(in_force.approved_at)}",
        file=out,
    )
    print(f"this file: {proposed.version} (SHA-256 {sha_prefix(proposed.sha256)}), {proposed.source}", file=out)
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


def cmd_rules_approve(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app rules approve FILE`: an administrator approves the file for every desktop."""
    from triage_app.services import rules as rules_service

    in_force = session.approval
    proposed = _read_rules_argument(args.file)
    result = rules_service.approve_rules(session.db, actor=session.actor, proposed=proposed, as_of=today())
    if args.json:
        print_json(
            out,
            {
                "approved": _approval_json(result.approval),
                "previous_version": in_force.version,
                "already_in_force": result.already_in_force,
                "changes": list(result.rule_changes),
                "reassessed": list(result.reassessed),
                "lapsed": list(result.lapsed),
            },
        )
        return EXIT_OK
    if not result.already_in_force:
        print(f"rules {in_force.version} -> {proposed.version}:", file=out)
        for line in result.rule_changes:
            print(f"  {line}", file=out)
    print(result.summary(), file=out)
    return EXIT_OK
