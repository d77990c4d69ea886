"""`triage-app import FILE`: add referrals to the queue, each whole or not at all, each reported as committed."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
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
    """`triage-app import FILE`: register referrals, each whole or not at all, printing each record's line as
    soon as it is committed (so what was printed is stored, whatever happens next).

    Exit 0 when every record was added or already stored, 2 when some were refused, 1 when the database stopped
    the import: the last message then says exactly which records were stored and which were not tried.
    """
    from triage_app.services.referrals import REFUSED, RecordResult, import_referrals

    as_of = as_of_date(args.as_of)
    records, _ = records_of(read_json_file(args.file))

    def report_one(result: RecordResult) -> None:
        print(result.line(), file=out, flush=True)
        if result.kind == REFUSED:
            print_errors(result.where, result.errors, err)
            err.flush()

    report = import_referrals(
        session.db,
        actor=session.actor,
        records=records,
        rules=session.rules,
        as_of=as_of,
        second_referral_reason=args.second_referral_reason,
        on_result=report_one,
    )
    if report.stopped_at is not None:
        print(f"triage-app import: {report.summary()}", file=err, flush=True)
        return EXIT_FAILURE
    print(report.summary(), file=out, flush=True)
    return EXIT_OK if report.ok else EXIT_BAD_INPUT
