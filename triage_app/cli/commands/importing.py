"""`triage-app import FILE`: add referrals to the queue, each whole or not at all."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    AddCommand,
    as_of_date,
    print_errors,
    read_json_file,
    records_of,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    imp = add("import", "add referrals from a JSON file to the queue, scoring each")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--as-of", metavar="YYYY-MM-DD", help="assessment date (default: today)")
    imp.add_argument(
        "--second-referral-reason",
        metavar="TEXT",
        help="add records for patients who already have an open referral, recording this reason",
    )
    imp.set_defaults(run=cmd_import)


def cmd_import(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app import FILE`: register referrals, each whole or not at all."""
    from triage_app.services.referrals import import_referrals

    as_of = as_of_date(args.as_of)
    records, _ = records_of(read_json_file(args.file))
    report = import_referrals(
        session.db,
        actor=session.actor,
        records=records,
        rules=session.rules,
        as_of=as_of,
        second_referral_reason=args.second_referral_reason,
    )
    for index, referral_id, outcome in report.added:
        print(f"record {index}: added as referral {referral_id} ({outcome})", file=out)
    for index, existing in report.duplicates:
        print(
            f"record {index}: duplicate of referral {existing} (same NHS number and received date); not added",
            file=out,
        )
    for index, existing in report.possible_duplicates:
        print(
            f"record {index}: possible duplicate of referral {existing} (the patient already has an open referral); "
            "not added. Check it; to add a second referral, import it with --second-referral-reason TEXT",
            file=out,
        )
    for index, errors in report.refused:
        print(f"record {index}: refused", file=out)
        print_errors(index, errors, err)
    print(
        f"{len(report.added)} added, {len(report.duplicates)} duplicate, {len(report.possible_duplicates)} possible "
        f"duplicate, {len(report.refused)} refused of {len(records)} records",
        file=out,
    )
    return EXIT_OK if report.ok else EXIT_BAD_INPUT
