"""`triage-app score FILE`: score referrals from a file with a rules file; stores nothing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    AddCommand,
    CommandError,
    as_of_date,
    print_errors,
    read_json_file,
    records_of,
)
from triage_app.config import AppPaths, default_rules_path
from triage_app.domain.parsing import ReferralInputError, parse_referral
from triage_app.domain.record_names import describe_record
from triage_app.domain.rules import Rules, RulesFileError, load_rules
from triage_app.domain.scoring import (
    assess,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    score = add(
        "score",
        "score referrals in a JSON file and print the results as JSON (stores nothing); it reads a rules file, "
        "not a database, so its results may differ from the queue's (see `rules show` for the rules in force)",
        rules_help="rules file to score with (default: the rules shipped with the app, which may not be the rules "
        "approved in your database); score stores nothing",
    )
    score.add_argument(
        "file",
        metavar="FILE",
        help="a referral (JSON object) or several (JSON array); - for stdin",
    )
    score.add_argument("--as-of", metavar="YYYY-MM-DD", help="assessment date (default: today)")
    score.set_defaults(run=cmd_score, needs_database=False)


def _rules(args: argparse.Namespace) -> Rules:
    """The rules `score` uses: the file given with --rules, else the one shipped with the app."""
    path = Path(args.rules).expanduser() if args.rules else default_rules_path()
    try:
        return load_rules(path)
    except RulesFileError as exc:
        raise CommandError(f"rules file: {exc}") from None


def cmd_score(args: argparse.Namespace, paths: AppPaths, out: TextIO, err: TextIO) -> int:
    """`triage-app score FILE`: the spec's scoring command."""
    as_of = as_of_date(args.as_of)
    rules = _rules(args)
    document = read_json_file(args.file)
    records, is_array = records_of(document)
    results: list[dict[str, Any]] = []
    failed = False
    for index, record in enumerate(records):
        try:
            referral = parse_referral(record, as_of=as_of)
        except ReferralInputError as exc:
            failed = True
            results.append({"errors": [e.to_json() for e in exc.errors]})
            print_errors(describe_record(index, record) if is_array else None, exc.errors, err)
            continue
        results.append(assess(referral, rules, as_of).to_json())
    if is_array:
        out.write(
            "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in results) + "\n]\n" if results else "[]\n"
        )
    else:
        out.write(json.dumps(results[0], ensure_ascii=False, indent=2) + "\n")
    return EXIT_BAD_INPUT if failed else EXIT_OK
