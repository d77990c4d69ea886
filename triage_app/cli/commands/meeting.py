"""`triage-app meeting ...`: the MDT meetings window from the command line.

Planning (the window's left screen): create, list, show, fill, add, remove, move, circulate, cancel, capacity.
The in-meeting screen's Record outcome is `meeting outcome` (cli.commands.meeting_outcome). The meeting window's
Edit meeting…, Attendance… and Close meeting… are `meeting edit`, `meeting attendance` and `meeting close`: each
takes the `--version` that `meeting show` printed, and is refused, writing nothing, when the meeting changed since.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.commands import meeting_outcome
from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    CommandError,
    add_action,
    argument_value,
    capacity_number,
    count_of,
    date_argument,
    id_number,
    json_option,
    print_json,
    today,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    meeting = add("meeting", "plan MDT meetings and record their outcomes")
    actions = meeting.add_subparsers(dest="meeting_command", metavar="ACTION", required=True)

    create = add_action(actions, "create", "create a meeting; prints its id")
    create.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    create.add_argument("--time", required=True, metavar="HH:MM")
    create.add_argument("--place", metavar="PLACE")
    create.add_argument("--video-link", metavar="URL", help="an https:// link")
    create.add_argument(
        "--allow-same-time",
        action="store_true",
        help="create it even though another meeting is already at this date and time",
    )
    create.add_argument("--chair", metavar="NAME")
    create.add_argument(
        "--attendee", action="append", default=[], metavar="NAME:ROLE", help="expected attendee and MDT role; repeat"
    )
    json_option(create, "the new meeting's id")
    create.set_defaults(run=cmd_meeting_create)

    listing = add_action(actions, "list", "list meetings", only_reads=True)
    json_option(listing, "every meeting: id, date, time, place, status, cases, quorate")
    listing.set_defaults(run=cmd_meeting_list)

    show = add_action(actions, "show", "the meeting's details and its cases in order", only_reads=True)
    show.add_argument("meeting", type=id_number, metavar="MEETING")
    json_option(show, "the meeting, attendees and cases (referral ids, no patient names)")
    show.set_defaults(run=cmd_meeting_show)

    for name, text, run in (
        ("fill", "add the highest-priority ready referrals up to the meeting's capacity", cmd_meeting_fill),
        ("circulate", "mark the agenda as circulated (later additions are marked late)", cmd_meeting_circulate),
        ("cancel", "cancel a meeting; its cases move to the next meeting", cmd_meeting_cancel),
    ):
        sub = add_action(actions, name, text)
        sub.add_argument("meeting", type=id_number, metavar="MEETING")
        json_option(sub)
        sub.set_defaults(run=run)

    for name, text, run in (
        ("add", "put a ready referral on the meeting's list (Add →)", cmd_meeting_add),
        ("remove", "take a referral off the meeting's list; it is ready for MDT again (← Remove)", cmd_meeting_remove),
    ):
        sub = add_action(actions, name, text)
        sub.add_argument("meeting", type=id_number, metavar="MEETING")
        sub.add_argument("referral", type=id_number, metavar="REFERRAL")
        json_option(sub, "the meeting's cases in order")
        sub.set_defaults(run=run)

    move = add_action(actions, "move", "move a case to another place in the meeting's order (Move up / Move down)")
    move.add_argument("meeting", type=id_number, metavar="MEETING")
    move.add_argument("referral", type=id_number, metavar="REFERRAL")
    move.add_argument("--position", type=id_number, required=True, metavar="N", help="its new place, 1 = first")
    json_option(move, "the meeting's cases in order")
    move.set_defaults(run=cmd_meeting_move)

    edit = add_action(actions, "edit", "change a meeting's date, time, place, video link, chair or attendees")
    edit.add_argument("meeting", type=id_number, metavar="MEETING")
    edit.add_argument("--version", type=id_number, metavar="N", help="the version `meeting show` printed")
    edit.add_argument("--date", metavar="YYYY-MM-DD")
    edit.add_argument("--time", metavar="HH:MM")
    edit.add_argument("--place", metavar="PLACE", help="'' clears it")
    edit.add_argument("--video-link", metavar="URL", help="an https:// link; '' clears it")
    edit.add_argument("--chair", metavar="NAME", help="'' clears it")
    edit.add_argument(
        "--attendee",
        action="append",
        default=None,
        metavar="NAME:ROLE",
        help="the expected attendees in place of those listed; repeat (not given: kept)",
    )
    edit.add_argument(
        "--allow-same-time", action="store_true", help="move it even though another meeting is at that date and time"
    )
    json_option(edit, "the meeting as `meeting show --json` gives it")
    edit.set_defaults(run=cmd_meeting_edit)

    attendance = add_action(actions, "attendance", "record who was at the meeting, each in their MDT role on the day")
    attendance.add_argument("meeting", type=id_number, metavar="MEETING")
    attendance.add_argument("--version", type=id_number, metavar="N", help="the version `meeting show` printed")
    attendance.add_argument(
        "--present",
        action="append",
        default=[],
        required=True,
        metavar="NAME:ROLE",
        help="someone there and their MDT role; repeat (the expected attendees not given are marked absent)",
    )
    json_option(attendance, "the meeting as `meeting show --json` gives it")
    attendance.set_defaults(run=cmd_meeting_attendance)

    close = add_action(actions, "close", "close a held meeting (a consultant, the chair): outcomes are then final")
    close.add_argument("meeting", type=id_number, metavar="MEETING")
    close.add_argument("--version", type=id_number, metavar="N", help="the version `meeting show` printed")
    close.add_argument(
        "--not-quorate-reason",
        metavar="TEXT",
        help="why the outcomes stand although those present were not quorate (needed to close such a meeting)",
    )
    json_option(close, "the meeting as `meeting show --json` gives it")
    close.set_defaults(run=cmd_meeting_close)

    capacity = add_action(actions, "capacity", "show or set (admin) the cases per meeting")
    capacity.add_argument("cases", type=capacity_number, nargs="?", metavar="N")
    json_option(capacity, "the cases per meeting")
    capacity.set_defaults(run=cmd_meeting_capacity)

    meeting_outcome.register(actions)


def cmd_meeting_create(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting create --date D --time T ...`: prints the new meeting's id."""
    from triage_app.services import meetings

    meeting_date = date_argument(args.date, "--date")
    argument_value("--date", lambda _text: meetings.check_meeting_date(meeting_date, today()), args.date)
    video_link = (
        None if args.video_link is None else argument_value("--video-link", meetings.check_video_link, args.video_link)
    )
    try:
        meeting_id = meetings.create_meeting(
            session.db,
            actor=session.actor,
            meeting_date=meeting_date,
            meeting_time=argument_value("--time", meetings.parse_time, args.time),
            place=args.place,
            video_link=video_link,
            chair=args.chair,
            attendees=[argument_value("--attendee", meetings.parse_attendee, a) for a in args.attendee],
            allow_same_time=args.allow_same_time,
        ).meeting_id
    except meetings.SameTimeMeeting as exc:
        raise CommandError(f"{exc}: give --allow-same-time to create it anyway", argument="--date") from None
    if args.json:
        print_json(out, {"meeting_id": meeting_id})
    else:
        print(meeting_id, file=out)
    return EXIT_OK


def cmd_meeting_list(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting list [--json]`: every meeting, newest plans first as the window lists them."""
    from triage_app.domain.formats import format_date
    from triage_app.services import meetings

    found = meetings.list_meetings(session.db, rules=session.rules)
    if args.json:
        print_json(
            out,
            [
                {
                    "meeting_id": m.meeting_id,
                    "date": m.meeting_date.isoformat(),
                    "time": m.meeting_time,
                    "place": m.place,
                    "status": m.status,
                    "cases": m.cases,
                    "quorate": m.quorate,
                }
                for m in found
            ],
        )
        return EXIT_OK
    for m in found:
        quorate = "quorate" if m.quorate else "NOT quorate"
        print(
            f"{m.meeting_id:>4}  {format_date(m.meeting_date)} {m.meeting_time}  {m.status:<10} "
            f"{m.cases:>3} cases  {quorate:<11}  {m.place or ''}",
            file=out,
        )
    print(count_of(len(found), "meeting"), file=out)
    return EXIT_OK


def _cases_json(detail: Any) -> list[dict[str, Any]]:
    """The cases in order, by referral id: no names or NHS numbers (`meeting show` without --json has them)."""
    return [
        {
            "position": case.position,
            "referral_id": case.referral_id,
            "late_addition": case.late_addition,
            # the consultant's decision lapsed since the case was listed: it is reconfirmed before the MDT decides
            "triage_changed": case.row is not None and case.row.decided_outcome is None,
            "outcome": case.outcome,
            "decided_by": case.decided_by_name,
            "decided_at": None if case.decided_at is None else case.decided_at.isoformat(),
            "version": case.version,
        }
        for case in detail.cases
    ]


def _show_json(detail: Any) -> dict[str, Any]:
    shown = detail.meeting
    return {
        "meeting_id": shown.id,
        "date": shown.meeting_date.isoformat(),
        "time": shown.meeting_time,
        "place": shown.place,
        "video_link": shown.video_link,
        "chair": shown.chair,
        "status": shown.status,
        "circulated_at": None if shown.circulated_at is None else shown.circulated_at.isoformat(),
        "version": shown.version,
        "changed_since_circulated": shown.changed_since_circulated_at is not None,
        "attendees": [
            {"name": a.name, "mdt_role": a.mdt_role, "expected": a.invited, "present": a.attended}
            for a in detail.attendees
        ],
        "attendance_taken": detail.attendance_taken,
        "quorate": detail.quorate,
        "quorum": detail.quorum_text,
        "capacity": detail.capacity,
        "over_capacity": detail.over_capacity,
        "closed_at": None if shown.closed_at is None else shown.closed_at.isoformat(),
        "closed_by": detail.closed_by_name,
        "cases": _cases_json(detail),
    }


def cmd_meeting_show(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting show MEETING [--json]`: the meeting and its cases in order."""
    from triage_app.domain.formats import format_date, format_name
    from triage_app.domain.meetings import MEETING_OUTCOME_LABELS
    from triage_app.domain.referral import format_nhs_number
    from triage_app.services import meetings

    detail = meetings.get_meeting(session.db, meeting_id=args.meeting, rules=session.rules)
    if args.json:
        print_json(out, _show_json(detail))
        return EXIT_OK
    shown = detail.meeting
    print(
        f"meeting {shown.id}: {format_date(shown.meeting_date)} {shown.meeting_time} {shown.place or ''} "
        f"({shown.status})",
        file=out,
    )
    for line in _detail_lines(detail):
        print(line, file=out)
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


def _detail_lines(detail: Any) -> list[str]:
    """The lines under `meeting show`'s heading: version, chair, attendees and marks, quorum, capacity, closing."""
    from triage_app.domain.formats import format_date
    from triage_app.services.meeting_lifecycle import attendance_words

    shown = detail.meeting
    lines = [f"version {shown.version}; chair {shown.chair or 'not set'}"]
    if shown.changed_since_circulated_at is not None:
        lines.append("CHANGED SINCE CIRCULATED: the circulated agenda is out of date; send it again")
    lines += [f"  {words}" for words in attendance_words(detail.attendees)]
    lines.append(f"{detail.quorum_text}; {len(detail.cases)} of {detail.capacity} cases")
    if detail.over_capacity:
        lines.append(f"WARNING: {detail.over_capacity}")
    if shown.closed_at is not None:
        closed = shown.closed_at.astimezone()
        lines.append(f"closed by {detail.closed_by_name} on {format_date(closed.date())} {closed:%H:%M}")
    return lines


def _print_order(args: argparse.Namespace, session: Any, out: TextIO, said: str) -> int:
    """After a change to the list: `said` in words, or the meeting's cases in order as JSON."""
    from triage_app.services import meetings

    if args.json:
        detail = meetings.get_meeting(session.db, meeting_id=args.meeting, rules=session.rules)
        print_json(out, {"meeting_id": args.meeting, "cases": _cases_json(detail)})
    else:
        print(said, file=out)
    return EXIT_OK


def cmd_meeting_fill(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting fill MEETING`: the highest-priority ready referrals, up to capacity."""
    from triage_app.services import meetings

    added = list(meetings.fill_to_capacity(session.db, actor=session.actor, meeting_id=args.meeting).added)
    if args.json:
        print_json(out, {"meeting_id": args.meeting, "added": added})
        return EXIT_OK
    print(f"added {count_of(len(added), 'referral')}: {', '.join(map(str, added)) or 'none ready'}", file=out)
    return EXIT_OK


def cmd_meeting_add(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting add MEETING REFERRAL`: the window's Add →."""
    from triage_app.services import meetings

    meetings.add_case(session.db, actor=session.actor, meeting_id=args.meeting, referral_id=args.referral)
    detail = meetings.get_meeting(session.db, meeting_id=args.meeting, rules=session.rules)
    if detail.over_capacity:  # added all the same (the coordinator decides), but never silently
        print(f"WARNING: meeting {args.meeting}: {detail.over_capacity}", file=err)
    return _print_order(args, session, out, f"meeting {args.meeting}: referral {args.referral} added")


def cmd_meeting_remove(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting remove MEETING REFERRAL`: the window's ← Remove."""
    from triage_app.services import meetings

    meetings.remove_case(session.db, actor=session.actor, meeting_id=args.meeting, referral_id=args.referral)
    return _print_order(
        args, session, out, f"meeting {args.meeting}: referral {args.referral} removed; it is ready for MDT again"
    )


def cmd_meeting_move(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting move MEETING REFERRAL --position N`: the window's Move up / Move down, to any place."""
    from triage_app.services import meetings

    detail = meetings.get_meeting(session.db, meeting_id=args.meeting, rules=session.rules)
    order = [case.referral_id for case in sorted(detail.cases, key=lambda c: c.position)]
    if args.referral not in order:
        raise CommandError(f"REFERRAL: referral {args.referral} is not on meeting {args.meeting}")
    if args.position > len(order):
        raise CommandError(
            f"--position {args.position} is past the end: meeting {args.meeting} has {count_of(len(order), 'case')}"
        )
    order.remove(args.referral)
    order.insert(args.position - 1, args.referral)
    meetings.reorder(session.db, actor=session.actor, meeting_id=args.meeting, referral_ids=order)
    return _print_order(
        args, session, out, f"meeting {args.meeting}: referral {args.referral} is case {args.position} of {len(order)}"
    )


def cmd_meeting_circulate(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting circulate MEETING`: Mark agenda circulated."""
    from triage_app.services import meetings

    meetings.circulate(session.db, actor=session.actor, meeting_id=args.meeting)
    if args.json:
        print_json(out, {"meeting_id": args.meeting, "status": "circulated"})
        return EXIT_OK
    print(f"meeting {args.meeting}: agenda marked as circulated", file=out)
    return EXIT_OK


def cmd_meeting_cancel(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting cancel MEETING`: Cancel meeting; each case moves to the next meeting or back."""
    from triage_app.services import meetings

    moved = dict(meetings.cancel_meeting(session.db, actor=session.actor, meeting_id=args.meeting).moved)
    if args.json:
        print_json(
            out,
            {
                "meeting_id": args.meeting,
                "status": "cancelled",
                "moved": [{"referral_id": r, "to": where} for r, where in moved.items()],
            },
        )
        return EXIT_OK
    print(f"meeting {args.meeting} cancelled", file=out)
    for referral_id, where in moved.items():
        print(f"  referral {referral_id}: {where}", file=out)
    return EXIT_OK


def cmd_meeting_capacity(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting capacity [N]`: the cases per meeting; an administrator sets it."""
    from triage_app.services import meetings

    if args.cases is not None:
        meetings.set_capacity(session.db, actor=session.actor, cases=args.cases)
    cases = meetings.capacity(session.db)
    if args.json:
        print_json(out, {"cases_per_meeting": cases})
    else:
        print(f"{cases} cases per meeting", file=out)
    return EXIT_OK


def _blank_is_none(text: str | None, current: str | None) -> str | None:
    """An option not given keeps the current value; given as '' it clears it."""
    if text is None:
        return current
    return text.strip() or None


def _refused_as_conflict(exc: Exception) -> CommandError:
    return CommandError(f"{exc}", argument="--version")


def cmd_meeting_edit(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting edit MEETING --version N [--date D] [--time T] ...`: the window's Edit meeting…."""
    from triage_app.services import meetings

    shown = meetings.get_meeting(session.db, meeting_id=args.meeting, rules=session.rules)
    current = shown.meeting
    meeting_date = current.meeting_date if args.date is None else date_argument(args.date, "--date")
    meeting_time = (
        current.meeting_time if args.time is None else argument_value("--time", meetings.parse_time, args.time)
    )
    video_link = _blank_is_none(args.video_link, current.video_link)
    if args.video_link:
        video_link = argument_value("--video-link", meetings.check_video_link, args.video_link)
    attendees = (
        [(a.name, a.mdt_role) for a in shown.attendees if a.invited]
        if args.attendee is None
        else [argument_value("--attendee", meetings.parse_attendee, a) for a in args.attendee]
    )
    try:
        changes = meetings.edit_meeting(
            session.db,
            actor=session.actor,
            meeting_id=args.meeting,
            expected_version=args.version,
            meeting_date=meeting_date,
            meeting_time=meeting_time,
            place=_blank_is_none(args.place, current.place),
            video_link=video_link,
            chair=_blank_is_none(args.chair, current.chair),
            attendees=attendees,
            allow_same_time=args.allow_same_time,
            today=today(),
        )
    except meetings.SameTimeMeeting as exc:
        raise CommandError(f"{exc}: give --allow-same-time to move it anyway", argument="--date") from None
    except meetings.MeetingConflict as exc:
        raise _refused_as_conflict(exc) from None
    said = f"meeting {args.meeting}: details changed" if changes else f"meeting {args.meeting}: nothing to change"
    return _print_meeting(args, session, out, said)


def cmd_meeting_attendance(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting attendance MEETING --present NAME:ROLE ...`: the window's Attendance…."""
    from triage_app.services import meetings

    present = [argument_value("--present", meetings.parse_attendee, p) for p in args.present]
    try:
        meetings.take_attendance(
            session.db,
            actor=session.actor,
            meeting_id=args.meeting,
            expected_version=args.version,
            present=present,
            today=today(),
        )
    except meetings.MeetingConflict as exc:
        raise _refused_as_conflict(exc) from None
    return _print_meeting(args, session, out, f"meeting {args.meeting}: attendance recorded")


def cmd_meeting_close(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting close MEETING --version N`: the window's Close meeting… (a consultant)."""
    from triage_app.services import meetings

    try:
        meetings.close_meeting(
            session.db,
            actor=session.actor,
            meeting_id=args.meeting,
            expected_version=args.version,
            rules=session.rules,
            today=today(),
            not_quorate_reason=args.not_quorate_reason,
        )
    except meetings.MeetingConflict as exc:
        raise _refused_as_conflict(exc) from None
    return _print_meeting(args, session, out, f"meeting {args.meeting}: closed")


def _print_meeting(args: argparse.Namespace, session: Any, out: TextIO, said: str) -> int:
    """After editing, attendance or closing: `said` and the meeting's details, or the meeting as JSON."""
    from triage_app.services import meetings

    detail = meetings.get_meeting(session.db, meeting_id=args.meeting, rules=session.rules)
    if args.json:
        print_json(out, _show_json(detail))
        return EXIT_OK
    print(said, file=out)
    for line in _detail_lines(detail):
        print(line, file=out)
    return EXIT_OK
