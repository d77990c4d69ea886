"""`triage-app referral show|find|export|edit|status`: one referral, as the triage panel and the form show it.

`show` is the triage panel; `find` is the form's look-up of a patient's other referrals by NHS number; `export`
writes the referral as `import` reads it (audited: it carries patient data); `edit` is the form's Save (from a
JSON file, compare-and-swap on the version read); `status` is the panel's Move (a reason where one is needed).
"""

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
    current_version,
    export_refusals,
    id_number,
    json_option,
    print_errors,
    print_json,
    read_json_file,
    session_paths,
    today,
    version_number,
)
from triage_app.domain.workflow import STATUS_LABELS, STATUSES


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    referral = add("referral", "show, find, export, edit or move one referral")
    actions = referral.add_subparsers(dest="referral_command", metavar="ACTION", required=True)

    show = add_action(
        actions,
        "show",
        "the triage panel: the referral, its triage and the consultant's decision (who, when, why), the priority's "
        "terms, criteria with reasons, cautions, missing fields and the workflow history",
        only_reads=True,
    )
    show.add_argument("referral", type=id_number, metavar="REFERRAL")
    json_option(show, "the panel (referral_id, version, status, triage, standing_decision, criteria, ... referral)")
    show.set_defaults(run=cmd_referral_show)

    find = add_action(
        actions,
        "find",
        "the referrals stored for a patient, by NHS number (as the form looks them up)",
        only_reads=True,
    )
    find.add_argument("nhs_number", metavar="NHS_NUMBER", help="ten digits, spaces allowed")
    json_option(find, "each referral's id, date received and status")
    find.set_defaults(run=cmd_referral_find)

    export = add_action(
        actions,
        "export",
        "the referral as JSON, exactly as `import` and `referral edit` read it (recorded in the audit trail)",
        only_reads=True,  # as the other exports: on a read-only database the export is recorded in the app log
    )
    export.add_argument("referral", type=id_number, metavar="REFERRAL")
    export.add_argument(
        "--out", metavar="FILE", help="write it to FILE (never inside the data folder); default: standard output"
    )
    export.add_argument("--force", action="store_true", help="replace FILE if it exists (never a database)")
    export.set_defaults(run=cmd_referral_export)

    edit = add_action(actions, "edit", "replace the referral's data (compare-and-swap on its version)")
    edit.add_argument("referral", type=id_number, metavar="REFERRAL")
    edit.add_argument("file", metavar="FILE", help="the referral in the interchange format (JSON object); - for stdin")
    edit.add_argument(
        "--version", type=version_number, required=True, metavar="N", help="the version you read (referral show)"
    )
    edit.add_argument(
        "--demographics-changed",
        action="store_true",
        help="confirm that the patient's NHS number, name or date of birth changed, having checked both",
    )
    edit.add_argument("--second-referral-reason", metavar="TEXT", help="why this patient has a second open referral")
    json_option(edit, "the referral's new version and triage")
    edit.set_defaults(run=cmd_referral_edit)

    move = add_action(actions, "status", "move the referral along the workflow")
    move.add_argument("referral", type=id_number, metavar="REFERRAL")
    move.add_argument("status", nargs="?", choices=STATUSES, help="the status to move to (or --to STATUS)")
    move.add_argument("--to", dest="to_status", choices=STATUSES, metavar="STATUS", help="the status to move to")
    move.add_argument(
        "--reason",
        "--note",
        dest="note",
        metavar="TEXT",
        help="why (needed to close a referral the MDT never discussed)",
    )
    move.add_argument(
        "--version", type=version_number, metavar="N", help="the version you read (default: the current one)"
    )
    json_option(move, "the referral's new status and version")
    move.set_defaults(run=cmd_referral_status)


def cmd_referral_show(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app referral show REFERRAL [--json]`: the triage panel (see cli.commands.referral_panel)."""
    from triage_app.cli.commands.referral_panel import panel_json, panel_lines
    from triage_app.domain.scoring import RttClock
    from triage_app.services import referrals

    detail = referrals.get_referral(session.db, referral_id=args.referral, actor=session.actor)
    clock = RttClock.of(session.rules, today())  # the 18-week clock of today, not of scoring
    in_force = getattr(session.rules, "version", None)
    if args.json:
        print_json(out, panel_json(detail, clock, in_force))
        return EXIT_OK
    for line in panel_lines(detail, clock, in_force):
        print(line, file=out)
    return EXIT_OK


def cmd_referral_find(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app referral find NHS_NUMBER [--json]`: the patient's referrals, newest first.

    Only ids, dates and statuses: the caller already holds the NHS number, and names are not repeated back.
    """
    from triage_app.domain.formats import format_date
    from triage_app.domain.nhs_number import nhs_number_problem, normalise_nhs_number
    from triage_app.services.referrals import patient_referrals

    problem = nhs_number_problem(args.nhs_number)
    if problem is not None:  # the number typed is not echoed back: it may be a patient's, mistyped
        raise CommandError(f"NHS_NUMBER: {problem}")
    nhs_number = normalise_nhs_number(args.nhs_number)
    found = patient_referrals(session.db, nhs_number=nhs_number, actor=session.actor)
    if args.json:
        print_json(
            out,
            [
                {
                    "referral_id": r.referral_id,
                    "received_on": None if r.received_on is None else r.received_on.isoformat(),
                    "status": r.status,
                }
                for r in found
            ],
        )
        return EXIT_OK
    for r in found:
        print(
            f"referral {r.referral_id}: received {format_date(r.received_on) or '?'}, "
            f"{STATUS_LABELS.get(r.status, r.status).lower()}",
            file=out,
        )
    print(count_of(len(found), "referral"), file=out)
    return EXIT_OK


def cmd_referral_export(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app referral export REFERRAL [--out FILE] [--force]`: the referral as `import` reads it."""
    from triage_app.services.referral_export import export_referral

    with export_refusals():
        made = export_referral(
            session.db,
            actor=session.actor,
            referral_id=args.referral,
            out=Path(args.out) if args.out else None,
            data_dir=session_paths(args).data_dir,
            overwrite=args.force,
        )
    if made.note is not None:
        print(f"triage-app referral export: this export is {made.note}", file=err)
    if made.written_to is None:
        print_json(out, made.document)
    else:
        print(f"wrote {made.written_to} (referral {made.referral_id}, version {made.version})", file=err)
    return EXIT_OK


def cmd_referral_edit(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app referral edit REFERRAL FILE --version N`: the form's Save."""
    from triage_app.domain.parsing import ReferralInputError, parse_referral
    from triage_app.services import referrals

    try:
        record = read_json_file(args.file)
    except CommandError as exc:  # led by the argument at fault, as the refusals below are
        raise CommandError(f"FILE {exc}", exc.status, argument="FILE") from None
    if not isinstance(record, dict):
        raise CommandError(f"FILE {args.file}: expected one referral (a JSON object)")
    try:
        edited = parse_referral(record, as_of=today())
    except ReferralInputError as exc:
        print_errors(None, exc.errors, err)
        raise CommandError(f"FILE {args.file}: the referral has input errors; nothing was changed") from None
    from triage_app.services.errors import DemographicsMismatch

    try:
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
    except DemographicsMismatch as exc:  # the service's words, with the flag that confirms named
        said = str(exc).replace("confirm the change to store it", "confirm it with --demographics-changed")
        raise CommandError(said, argument="--demographics-changed") from exc
    if args.json:
        print_json(
            out,
            {
                "referral_id": saved.referral_id,
                "version": saved.version,
                "outcome": saved.assessment.outcome,
                "priority": saved.assessment.priority,
            },
        )
        return EXIT_OK
    print(f"referral {saved.referral_id} saved as version {saved.version} ({saved.assessment.outcome})", file=out)
    return EXIT_OK


def cmd_referral_status(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app referral status REFERRAL --to STATUS [--reason TEXT]`: the panel's Move."""
    from triage_app.services import triage

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
    if args.json:
        print_json(out, {"referral_id": args.referral, "status": result.status, "version": result.version})
        return EXIT_OK
    print(
        f"referral {args.referral} is now {STATUS_LABELS[result.status].lower()} (version {result.version})", file=out
    )
    return EXIT_OK
