"""`triage-app meeting outcome MEETING REFERRAL ...`: the in-meeting screen's Record outcome (consultants).

An action of the `meeting` command (registered by cli.commands.meeting), in its own module because the in-meeting
screen is its own screen: the outcome, its rationale, the SPD checklist and the agreed actions.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    CommandError,
    add_action,
    date_argument,
    id_number,
    json_option,
    print_json,
    today,
    version_number,
)
from triage_app.domain.meetings import MEETING_OUTCOMES, SPD_CHECKLIST

#: How `--action` is written: what, who and by when, all three.
ACTION_FORMAT = "TEXT|OWNER|YYYY-MM-DD"


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `meeting outcome` to the meeting command's actions."""
    outcome = add_action(
        actions, "outcome", "record (or amend) the MDT outcome of a case, with its actions (consultant)"
    )
    outcome.add_argument("meeting", type=id_number, metavar="MEETING")
    outcome.add_argument("referral", type=id_number, metavar="REFERRAL")
    outcome.add_argument("--outcome", required=True, choices=MEETING_OUTCOMES)
    outcome.add_argument("--rationale", required=True, metavar="TEXT")
    outcome.add_argument(
        "--version", type=version_number, metavar="N", help="the case version you read, to amend an outcome"
    )
    outcome.add_argument("--amend-reason", metavar="TEXT", help="why a recorded outcome is amended")
    outcome.add_argument(
        "--checklist",
        action="append",
        default=[],
        choices=tuple(SPD_CHECKLIST),
        help="an SPD checklist item that is done (repeat; all three are needed to accept for SPD)",
    )
    outcome.add_argument(
        "--action",
        action="append",
        default=[],
        metavar=ACTION_FORMAT,
        help="an agreed action: what, who and by when (all three); repeat",
    )
    json_option(outcome, "the case as recorded: outcome, actions, version")
    outcome.set_defaults(run=cmd_meeting_outcome)


def _case_action(text: str) -> Any:
    """`TEXT|OWNER|YYYY-MM-DD` as a `CaseAction`. All three parts are needed: an action without an owner or a due
    date would reach the letter as 'owner not set, by date not set', so it is refused, naming `--action`."""
    from triage_app.domain.meetings import CaseAction

    parts = [part.strip() for part in text.split("|")]
    if len(parts) != 3 or not all(parts):
        missing = [
            name
            for name, part in zip(("the text", "the owner", "the due date"), [*parts, "", ""][:3], strict=True)
            if not part
        ]
        named = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
        verb = "are" if len(missing) > 1 else "is"
        said = f"{named} {verb} missing" if missing and len(parts) <= 3 else f"{len(parts)} parts, not 3"
        raise CommandError(f"--action '{text}': {said}; write it as {ACTION_FORMAT}", argument="--action")
    description, owner, due = parts
    return CaseAction(description, owner, date_argument(due, "--action due date"))


def cmd_meeting_outcome(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting outcome MEETING REFERRAL --outcome O --rationale TEXT [...]`."""
    from triage_app.services import meetings

    meetings.record_outcome(
        session.db,
        actor=session.actor,
        meeting_id=args.meeting,
        referral_id=args.referral,
        outcome=args.outcome,
        rationale=args.rationale,
        today=today(),
        checklist={item: True for item in args.checklist},
        actions=[_case_action(a) for a in args.action] or None,  # none given: an amendment keeps them
        expected_version=args.version,
        amend_reason=args.amend_reason,
    )
    if args.json:
        detail = meetings.get_meeting(session.db, meeting_id=args.meeting, rules=session.rules)
        case = next((c for c in detail.cases if c.referral_id == args.referral), None)
        if case is None:  # not discussed: the case rolled on to the next meeting (or back to the ready list)
            print_json(out, {"meeting_id": args.meeting, "referral_id": args.referral, "outcome": args.outcome})
            return EXIT_OK
        print_json(
            out,
            {
                "meeting_id": args.meeting,
                "referral_id": args.referral,
                "outcome": case.outcome,
                "checklist": dict(case.checklist),
                "actions": [
                    {
                        "description": a.description,
                        "owner": a.owner,
                        "due": None if a.due is None else a.due.isoformat(),
                    }
                    for a in case.actions
                ],
                "decided_by": case.decided_by_name,
                "version": case.version,
            },
        )
        return EXIT_OK
    print(f"meeting {args.meeting}, referral {args.referral}: outcome recorded ({args.outcome})", file=out)
    return EXIT_OK
