"""`triage-app referral show|edit|status`: one referral."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    CommandError,
    common_options,
    current_version,
    id_number,
    print_errors,
    read_json_file,
    today,
    version_number,
)
from triage_app.domain.formats import format_name
from triage_app.domain.meetings import (
    triage_text,
)
from triage_app.domain.parsing import ReferralInputError, parse_referral
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.scoring import (
    FLAGS,
    RttClock,
)
from triage_app.domain.workflow import STATUS_LABELS, STATUSES


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    referral = add("referral", "show, edit or move one referral")
    referral_commands = referral.add_subparsers(dest="referral_command", metavar="ACTION", required=True)
    show = referral_commands.add_parser("show", help="the referral, its status and standing decision")
    common_options(show, suppress=True)
    show.add_argument("referral", type=id_number, metavar="REFERRAL")
    show.add_argument(
        "--json",
        action="store_true",
        help="the interchange format with id, version, status, decision",
    )
    edit = referral_commands.add_parser("edit", help="replace the referral's data (compare-and-swap on its version)")
    common_options(edit, suppress=True)
    edit.add_argument("referral", type=id_number, metavar="REFERRAL")
    edit.add_argument(
        "file",
        metavar="FILE",
        help="the referral in the interchange format (JSON object)",
    )
    edit.add_argument(
        "--version",
        type=version_number,
        required=True,
        metavar="N",
        help="the version you read (referral show)",
    )
    edit.add_argument(
        "--demographics-changed",
        action="store_true",
        help="confirm that the patient's NHS number, name or date of birth changed, having checked both",
    )
    edit.add_argument(
        "--second-referral-reason",
        metavar="TEXT",
        help="why this patient has a second open referral",
    )
    move = referral_commands.add_parser("status", help="move the referral along the workflow")
    common_options(move, suppress=True)
    move.add_argument("referral", type=id_number, metavar="REFERRAL")
    move.add_argument(
        "status",
        nargs="?",
        choices=STATUSES,
        help="the status to move to (or --to STATUS)",
    )
    move.add_argument(
        "--to",
        dest="to_status",
        choices=STATUSES,
        metavar="STATUS",
        help="the status to move to",
    )
    move.add_argument(
        "--reason",
        "--note",
        dest="note",
        metavar="TEXT",
        help="why (needed to close a referral the MDT never discussed)",
    )
    move.add_argument(
        "--version",
        type=version_number,
        metavar="N",
        help="the version you read (default: the current one)",
    )
    referral.set_defaults(run=cmd_referral)


def _referral_json(detail: Any) -> dict[str, Any]:
    from triage_app.domain.referral import referral_to_json

    row = detail.row
    return {
        "id": row.id,
        "version": row.version,
        "status": row.status,
        "computed_outcome": row.outcome,
        "standing_decision": None
        if row.decided_outcome is None
        else {
            "outcome": row.decided_outcome,
            "kind": row.decision_kind,
            "made_on": row.decision_basis,
        },
        "meeting_id": row.meeting_id,
        "referral": referral_to_json(detail.referral),
    }


def cmd_referral(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app referral show|edit|status REFERRAL`."""
    from triage_app.domain.formats import format_date
    from triage_app.services import referrals, triage

    action = args.referral_command
    if action == "show":
        detail = referrals.get_referral(session.db, referral_id=args.referral)
        if args.json:
            out.write(json.dumps(_referral_json(detail), ensure_ascii=False, indent=2) + "\n")
            return EXIT_OK
        row, patient = detail.row, detail.referral.patient
        print(
            f"referral {row.id} (version {row.version}): {format_name(patient.family_name, patient.given_name)}, "
            f"NHS {format_nhs_number(patient.nhs_number)}, born {format_date(patient.date_of_birth)}",
            file=out,
        )
        print(f"status: {STATUS_LABELS.get(row.status, row.status)}", file=out)
        print(
            f"triage: {triage_text(row.outcome, row.decided_outcome, row.decision_kind)}",
            file=out,
        )
        clock = RttClock.of(session.rules, today())  # the 18-week clock of today, not of scoring
        print(
            f"waiting: {clock.describe(detail.referral.received_on)} (on {format_date(clock.as_of)})",
            file=out,
        )
        stored = detail.assessment.flags if detail.assessment is not None else ()
        shown = clock.flags(stored, detail.referral.received_on)
        print(
            f"cautions: {', '.join(FLAGS[f][0] if f in FLAGS else f for f in shown) or 'none'}",
            file=out,
        )
        return EXIT_OK
    if action == "edit":
        record = read_json_file(args.file)
        if not isinstance(record, dict):
            raise CommandError(f"{args.file}: expected one referral (a JSON object)")
        try:
            edited = parse_referral(record, as_of=today())
        except ReferralInputError as exc:
            print_errors(None, exc.errors, err)
            raise CommandError(f"{args.file}: the referral has input errors; nothing was changed") from None
        saved = referrals.update_referral(
            session.db,
            actor=session.actor,
            referral_id=args.referral,
            expected_version=args.version,
            referral=edited,
            rules=session.rules,
            as_of=today(),
            demographics_confirmed=args.demographics_changed,
            second_referral_reason=args.second_referral_reason,
        )
        print(
            f"referral {saved.referral_id} saved as version {saved.version} ({saved.assessment.outcome})",
            file=out,
        )
        return EXIT_OK
    if args.status and args.to_status and args.status != args.to_status:
        raise CommandError(f"two statuses given ({args.status} and --to {args.to_status}): give one")
    target = args.to_status or args.status
    if target is None:
        raise CommandError(f"say which status to move referral {args.referral} to: --to STATUS ({', '.join(STATUSES)})")
    result = triage.change_status(
        session.db,
        actor=session.actor,
        referral_id=args.referral,
        expected_version=current_version(session, args.referral, args.version),
        status=target,
        note=args.note,
    )
    print(
        f"referral {args.referral} is now {STATUS_LABELS[result.status].lower()} (version {result.version})",
        file=out,
    )
    return EXIT_OK
