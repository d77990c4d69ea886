"""`triage-app meeting ...`: plan MDT meetings and record outcomes."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    capacity_number,
    common_options,
    count_of,
    date_argument,
    id_number,
    today,
    version_number,
)
from triage_app.domain.formats import format_name
from triage_app.domain.meetings import (
    MEETING_OUTCOME_LABELS,
    MEETING_OUTCOMES,
    SPD_CHECKLIST,
)
from triage_app.domain.referral import format_nhs_number


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    meeting = add("meeting", "plan MDT meetings: create, fill, list, circulate, cancel")
    meeting_commands = meeting.add_subparsers(dest="meeting_command", metavar="ACTION", required=True)
    create = meeting_commands.add_parser("create", help="create a meeting; prints its id")
    common_options(create, suppress=True)
    create.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    create.add_argument("--time", required=True, metavar="HH:MM")
    create.add_argument("--place", metavar="PLACE")
    create.add_argument("--video-link", metavar="URL")
    create.add_argument("--chair", metavar="NAME")
    create.add_argument(
        "--attendee",
        action="append",
        default=[],
        metavar="NAME:ROLE",
        help="expected attendee and MDT role; repeat",
    )
    for name, text in (
        (
            "fill",
            "add the highest-priority ready referrals up to the meeting's capacity",
        ),
        (
            "circulate",
            "mark the agenda as circulated (later additions are marked late)",
        ),
        ("cancel", "cancel a meeting; its cases move to the next meeting"),
        ("show", "the meeting's details and its cases in order"),
    ):
        sub = meeting_commands.add_parser(name, help=text)
        common_options(sub, suppress=True)
        sub.add_argument("meeting", type=id_number, metavar="MEETING")
    outcome = meeting_commands.add_parser("outcome", help="record (or amend) the MDT outcome of a case (consultant)")
    common_options(outcome, suppress=True)
    outcome.add_argument("meeting", type=id_number, metavar="MEETING")
    outcome.add_argument("referral", type=id_number, metavar="REFERRAL")
    outcome.add_argument("--outcome", required=True, choices=MEETING_OUTCOMES)
    outcome.add_argument("--rationale", required=True, metavar="TEXT")
    outcome.add_argument(
        "--version",
        type=version_number,
        metavar="N",
        help="the case version you read, to amend an outcome",
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
        metavar="TEXT|OWNER|YYYY-MM-DD",
        help="an agreed action; repeat",
    )
    capacity = meeting_commands.add_parser("capacity", help="show or set (admin) the cases per meeting")
    common_options(capacity, suppress=True)
    capacity.add_argument("cases", type=capacity_number, nargs="?", metavar="N")
    listing = meeting_commands.add_parser("list", help="list meetings")
    common_options(listing, suppress=True)
    listing.add_argument("--json", action="store_true")
    meeting.set_defaults(run=cmd_meeting)


def _case_action(text: str) -> Any:
    from triage_app.domain.meetings import CaseAction

    description, _, rest = text.partition("|")
    owner, _, due = rest.partition("|")
    return CaseAction(
        description.strip(),
        owner.strip() or None,
        date_argument(due.strip(), "--action due date") if due.strip() else None,
    )


def cmd_meeting(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting ...`: create, fill, list, show, circulate, cancel."""
    from triage_app.domain.formats import format_date
    from triage_app.services import meetings

    db, actor, rules = session.db, session.actor, session.rules
    action = args.meeting_command
    if action == "create":
        meeting_id = meetings.create_meeting(
            db,
            actor=actor,
            meeting_date=date_argument(args.date, "--date"),
            meeting_time=args.time,
            place=args.place,
            video_link=args.video_link,
            chair=args.chair,
            attendees=[meetings.parse_attendee(a) for a in args.attendee],
        )
        print(meeting_id, file=out)
        return EXIT_OK
    if action == "list":
        found = meetings.list_meetings(db, rules=rules)
        if args.json:
            payload = [
                {
                    "id": m.meeting_id,
                    "date": m.meeting_date.isoformat(),
                    "time": m.meeting_time,
                    "place": m.place,
                    "status": m.status,
                    "cases": m.cases,
                    "quorate": m.quorate,
                }
                for m in found
            ]
            out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        else:
            for m in found:
                quorate = "quorate" if m.quorate else "NOT quorate"
                print(
                    f"{m.meeting_id:>4}  {format_date(m.meeting_date)} {m.meeting_time}  {m.status:<10} "
                    f"{m.cases:>3} cases  {quorate:<11}  {m.place or ''}",
                    file=out,
                )
            print(count_of(len(found), "meeting"), file=out)
        return EXIT_OK
    if action == "outcome":
        meetings.record_outcome(
            db,
            actor=actor,
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
        print(
            f"meeting {args.meeting}, referral {args.referral}: outcome recorded ({args.outcome})",
            file=out,
        )
        return EXIT_OK
    if action == "capacity":
        if args.cases is not None:
            meetings.set_capacity(db, actor=actor, cases=args.cases)
        print(f"{meetings.capacity(db)} cases per meeting", file=out)
        return EXIT_OK
    if action == "fill":
        added = meetings.fill_to_capacity(db, actor=actor, meeting_id=args.meeting)
        print(
            f"added {count_of(len(added), 'referral')}: {', '.join(map(str, added)) or 'none ready'}",
            file=out,
        )
        return EXIT_OK
    if action == "circulate":
        meetings.circulate(db, actor=actor, meeting_id=args.meeting)
        print(f"meeting {args.meeting}: agenda marked as circulated", file=out)
        return EXIT_OK
    if action == "cancel":
        moved = meetings.cancel_meeting(db, actor=actor, meeting_id=args.meeting)
        print(f"meeting {args.meeting} cancelled", file=out)
        for referral_id, where in moved.items():
            print(f"  referral {referral_id}: {where}", file=out)
        return EXIT_OK
    detail = meetings.get_meeting(db, meeting_id=args.meeting, rules=rules)
    shown = detail.meeting
    print(
        f"meeting {shown.id}: {format_date(shown.meeting_date)} {shown.meeting_time} {shown.place or ''} "
        f"({shown.status})",
        file=out,
    )
    print(
        f"{detail.quorum_text}; {len(detail.cases)} of {detail.capacity} cases",
        file=out,
    )
    for case in detail.cases:
        row = case.row
        late = " (late addition)" if case.late_addition else ""
        who = f"{format_name(row.family_name, row.given_name)}, NHS {format_nhs_number(row.nhs_number)}" if row else ""
        lapsed = "  TRIAGE CHANGED: RECONFIRM" if row is not None and row.decided_outcome is None else ""
        outcome = (
            f"  outcome: {MEETING_OUTCOME_LABELS.get(case.outcome, case.outcome)} by {case.decided_by_name}"
            if case.outcome
            else "  outcome not yet recorded"
        )
        print(
            f"  {case.position:>2}. referral {case.referral_id}: {who}{late}{lapsed}{outcome} "
            f"(case version {case.version})",
            file=out,
        )
    return EXIT_OK
