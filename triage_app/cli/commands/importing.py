"""`triage-app import FILE`: add referrals to the queue, each whole or not at all, each reported as committed.

`--batch N` commits N records a transaction (a migration of many thousands): each record's line is printed once
its batch is committed; a refused record does not spoil its batch; a database error rolls the batch back, and the
last message names the records that were not stored.

`--json` prints JSON Lines: one object a record as soon as it is committed (or refused), then one `summary`
object, so a script reading line by line knows exactly what is stored even if the database stops the import.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    AddCommand,
    as_of_date,
    bounded_int,
    json_option,
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
    imp.add_argument(
        "--batch",
        metavar="N",
        type=bounded_int(1, 10_000, "batch"),
        default=1,
        help="records committed a transaction, 1-10,000 (default 1: each its own); a line is printed once its "
        "batch is committed",
    )
    json_option(imp, "one JSON object a record as it is committed (JSON Lines), then a summary object")
    imp.set_defaults(run=cmd_import)


def _record_json(result: Any) -> dict[str, Any]:
    """One record's result: numbered from 1 as the text lines number it; never the file's own reference (it may be
    the NHS number as given)."""
    return {
        "record": result.index + 1,
        "result": result.kind,
        "referral_id": result.referral_id,
        "outcome": result.outcome,
        "errors": [e.to_json() for e in result.errors],
        "problem": result.problem,
    }


def cmd_import(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app import FILE`: register referrals, each whole or not at all, printing each record's line as
    soon as it is committed (so what was printed is stored, whatever happens next).

    Exit 0 when every record was added or already stored, 2 when some were refused, 1 when the database stopped
    the import: the last message then says exactly which records were stored and which were not tried.
    """
    from triage_app.services.referrals import REFUSED, RecordResult, import_referrals

    as_of = as_of_date(args.as_of)
    as_json = bool(getattr(args, "json", False))  # callers that build their own namespace may leave it out
    records, _ = records_of(read_json_file(args.file))

    def report_one(result: RecordResult) -> None:
        if as_json:
            print(json.dumps(_record_json(result), ensure_ascii=False), file=out, flush=True)
            return
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
        batch_size=int(getattr(args, "batch", 1) or 1),  # callers that build their own namespace may leave it out
    )
    if as_json:
        summary = {
            "summary": {
                "records": report.total,
                "added": len(report.added),
                "duplicates": len(report.duplicates),
                "possible_duplicates": len(report.possible_duplicates),
                "refused": len(report.refused),
                "failed": len(report.failed),
                "stopped_at_record": None if report.stopped_at is None else report.stopped_at + 1,
                "stop_reason": report.stop_reason,
                "not_stored_records": [index + 1 for index in report.not_tried],
            }
        }
        print(json.dumps(summary, ensure_ascii=False), file=out, flush=True)
    if report.stopped_at is not None:
        print(f"triage-app import: {report.summary()}", file=err, flush=True)
        return EXIT_FAILURE
    if not as_json:
        print(report.summary(), file=out, flush=True)
    return EXIT_OK if report.ok else EXIT_BAD_INPUT
