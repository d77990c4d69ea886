"""`triage-app chase` and `triage-app actions`: the coordinator's chase list and the MDT's actions across meetings.

- `chase list [--overdue]`: referrals awaiting information, overdue (and those with no chase date) first;
- `chase await REFERRAL [--chase-on DATE] [--awaited TEXT]`: move one to awaiting information with a chase date
  (default 14 days from today) and what is awaited (default: its missing fields in words);
- `chase date REFERRAL DATE`, `chase chased REFERRAL [--next DATE]`: a new chase date; chased today;
- `chase request REFERRAL --format F --out-dir DIR`: the request to the referrer, named by patient and date;
- `chase back REFERRAL`: the information came, back to received;
- `actions list [--owner NAME] [--overdue] [--all]`, `actions done ACTION`.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    add_action,
    count_of,
    current_version,
    export_refusals,
    id_number,
    json_option,
    print_json,
    session_paths,
    today,
    version_number,
)
from triage_app.domain.formats import format_date, parse_user_date
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.requests import default_chase_date


def _date(text: str) -> date:
    try:
        return parse_user_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(add: AddCommand) -> None:
    """Add `chase` and `actions` to the command line."""
    chase = add("chase", "the coordinator's chase list: referrals awaiting information and their chase dates")
    steps = chase.add_subparsers(dest="chase_command", metavar="ACTION", required=True)
    listing = add_action(steps, "list", "referrals awaiting information, overdue first", only_reads=True)
    listing.add_argument("--overdue", action="store_true", help="only those whose chase date has passed")
    json_option(listing, "the chase list")
    listing.set_defaults(run=cmd_chase_list)
    awaiting = add_action(steps, "await", "move a referral to awaiting information, with a chase date")
    awaiting.add_argument("--chase-on", type=_date, metavar="DATE", help="default: 14 days from today")
    awaiting.add_argument("--awaited", metavar="TEXT", help="what is awaited (default: its missing fields)")
    back = add_action(steps, "back", "the information came: back to received, off the chase list")
    for sub in (awaiting, back):
        sub.add_argument("referral", type=id_number, metavar="REFERRAL")
        sub.add_argument("--version", type=version_number, metavar="N", help="the version you read")
        json_option(sub, "the referral's status and version")
        sub.set_defaults(run=cmd_chase_move)
    dated = add_action(steps, "date", "a new chase date for a referral awaiting information")
    dated.add_argument("referral", type=id_number, metavar="REFERRAL")
    dated.add_argument("chase_on", type=_date, metavar="DATE")
    chased = add_action(steps, "chased", "record it was chased today, with the next chase date")
    chased.add_argument("referral", type=id_number, metavar="REFERRAL")
    chased.add_argument("--next", type=_date, metavar="DATE", help="default: 14 days from today")
    for sub in (dated, chased):
        json_option(sub, "the new chase date")
        sub.set_defaults(run=cmd_chase_date)
    request = add_action(steps, "request", "write the request for the missing information to the referrer")
    request.add_argument("referral", type=id_number, metavar="REFERRAL")
    request.add_argument("--format", required=True, choices=("docx", "pdf"))
    request.add_argument("--out-dir", required=True, metavar="DIR")
    request.add_argument("--unit-name", default="specialist neurosurgical unit")
    request.add_argument("--force", action="store_true", help="replace a request of the same name")
    json_option(request, "the file written")
    request.set_defaults(run=cmd_chase_request)

    actions = add("actions", "the MDT's actions across meetings, by owner and due date")
    verbs = actions.add_subparsers(dest="actions_command", metavar="ACTION", required=True)
    shown = add_action(verbs, "list", "open actions by due date (overdue first)", only_reads=True)
    shown.add_argument("--owner", metavar="NAME", help="one owner's, as entered at the meeting")
    shown.add_argument("--overdue", action="store_true", help="only open actions past their due date")
    shown.add_argument("--all", action="store_true", help="done actions too, after the open ones")
    json_option(shown, "the actions")
    shown.set_defaults(run=cmd_actions_list)
    done = add_action(verbs, "done", "tick an action off as done (by you, now)")
    done.add_argument("action", type=id_number, metavar="ACTION")
    json_option(done, "the action ticked off")
    done.set_defaults(run=cmd_actions_done)


def _nhs(value: str | None) -> str:
    return format_nhs_number(value) if value else "(no NHS number)"


def cmd_chase_list(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app chase list [--overdue]`."""
    from triage_app.services.chase import chase_list

    lines = chase_list(session.db, actor=session.actor, today=today(), overdue_only=args.overdue)
    if args.json:
        print_json(
            out,
            [
                {
                    "referral_id": line.referral_id,
                    "patient": line.patient,
                    "nhs_number": line.nhs_number,
                    "date_of_birth": line.date_of_birth.isoformat() if line.date_of_birth else None,
                    "awaited": line.awaited,
                    "chase_on": line.chase_on.isoformat() if line.chase_on else None,
                    "chased_on": line.chased_on.isoformat() if line.chased_on else None,
                    "overdue": line.overdue,
                }
                for line in lines
            ],
        )
        return EXIT_OK
    for line in lines:
        when = f"chase {format_date(line.chase_on)}" if line.chase_on else "no chase date"
        mark = "OVERDUE " if line.overdue else ""
        print(
            f"{line.referral_id}\t{mark}{when}\t{line.patient}\t{_nhs(line.nhs_number)}\t"
            f"{format_date(line.date_of_birth)}\t{line.awaited or ''}",
            file=out,
        )
    print(count_of(len(lines), "referral") + " awaiting information", file=out)
    return EXIT_OK


def cmd_chase_move(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app chase await|back REFERRAL`."""
    from triage_app.services.chase import await_information, back_to_queue

    version = current_version(session, args.referral, args.version)
    day = today()
    if args.chase_command == "await":
        chase_on = args.chase_on or default_chase_date(day)
        result = await_information(
            session.db,
            actor=session.actor,
            referral_id=args.referral,
            expected_version=version,
            chase_on=chase_on,
            today=day,
            awaited=args.awaited,
        )
        said = f"awaiting information, chase on {format_date(chase_on)}"
    else:
        result = back_to_queue(session.db, actor=session.actor, referral_id=args.referral, expected_version=version)
        said = "received (off the chase list)"
    if args.json:
        print_json(out, {"referral_id": args.referral, "status": result.status, "version": result.version})
        return EXIT_OK
    print(f"referral {args.referral}: {said} (version {result.version})", file=out)
    return EXIT_OK


def cmd_chase_date(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app chase date REFERRAL DATE`, `triage-app chase chased REFERRAL [--next DATE]`."""
    from triage_app.services.chase import set_chase_date

    day = today()
    chased = args.chase_command == "chased"
    chase_on = (args.next or default_chase_date(day)) if chased else args.chase_on
    set_chase_date(
        session.db, actor=session.actor, referral_id=args.referral, chase_on=chase_on, today=day, chased=chased
    )
    if args.json:
        print_json(out, {"referral_id": args.referral, "chase_on": chase_on.isoformat(), "chased_today": chased})
        return EXIT_OK
    print(f"referral {args.referral}: {'chased today; ' if chased else ''}next chase {format_date(chase_on)}", file=out)
    return EXIT_OK


def cmd_chase_request(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app chase request REFERRAL --format F --out-dir DIR [--force]`."""
    from triage_app.services.chase import write_request

    with export_refusals():
        written = write_request(
            session.db,
            actor=session.actor,
            referral_id=args.referral,
            fmt=args.format,
            out_dir=Path(args.out_dir),
            today=today(),
            unit_name=args.unit_name,
            data_dir=session_paths(args).data_dir,
            overwrite=args.force,
        )
    if args.json:
        print_json(out, {"referral_id": args.referral, "file": str(written)})
        return EXIT_OK
    print(f"wrote {written}", file=out)
    return EXIT_OK


def cmd_actions_list(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app actions list [--owner NAME] [--overdue] [--all]`."""
    from triage_app.services.chase import list_actions

    lines = list_actions(
        session.db,
        actor=session.actor,
        today=today(),
        owner=args.owner,
        overdue_only=args.overdue,
        include_done=args.all,
    )
    if args.json:
        print_json(
            out,
            [
                {
                    "action_id": line.action_id,
                    "description": line.description,
                    "owner": line.owner,
                    "due_date": line.due_date.isoformat() if line.due_date else None,
                    "overdue": line.overdue,
                    "done_at": line.done_at.isoformat() if line.done_at else None,
                    "done_by": line.done_by,
                    "referral_id": line.referral_id,
                    "patient": line.patient,
                    "nhs_number": line.nhs_number,
                    "meeting_id": line.meeting_id,
                    "meeting_date": line.meeting_date.isoformat(),
                }
                for line in lines
            ],
        )
        return EXIT_OK
    for line in lines:
        if line.done_at is not None:
            state = f"done {format_date(line.done_at.date())} by {line.done_by or 'unknown'}"
        else:
            state = ("OVERDUE " if line.overdue else "") + (
                f"due {format_date(line.due_date)}" if line.due_date else "no due date"
            )
        print(
            f"{line.action_id}\t{state}\t{line.owner or '(no owner)'}\t{line.description}\t{line.patient}\t"
            f"{_nhs(line.nhs_number)}\tMDT {format_date(line.meeting_date)}",
            file=out,
        )
    print(count_of(len(lines), "action"), file=out)
    return EXIT_OK


def cmd_actions_done(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app actions done ACTION`."""
    from triage_app.services.chase import complete_action

    line, _changes = complete_action(session.db, actor=session.actor, action_id=args.action, today=today())
    if args.json:
        print_json(
            out,
            {
                "action_id": line.action_id,
                "done_by": line.done_by,
                "done_at": line.done_at.isoformat() if line.done_at else None,
                "referral_id": line.referral_id,
            },
        )
        return EXIT_OK
    print(f"action {line.action_id} ({line.description}, {line.patient}): done by {line.done_by}", file=out)
    return EXIT_OK
