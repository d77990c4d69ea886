"""`triage-app demo`: synthetic referrals for a newcomer or a benchmark."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    bounded_count,
    json_option,
    print_json,
    today,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    demo = add(
        "demo",
        "fill the database with synthetic referrals (test-range NHS numbers, invented names)",
    )
    demo.add_argument(
        "--count",
        type=bounded_count,
        default=300,
        metavar="N",
        help="how many (default 300)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=1,
        metavar="S",
        help="random seed, for a repeatable queue",
    )
    json_option(demo, "how many were added")
    demo.set_defaults(run=cmd_demo)


def cmd_demo(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app demo`: synthetic referrals for a newcomer or a benchmark."""
    from triage_app.services.demo import load_demo

    def progress(done: int, total: int) -> None:
        if total >= 20_000:
            print(f"  {done:,} of {total:,}", file=err)

    added = load_demo(
        session.db,
        actor=session.actor,
        rules=session.rules,
        as_of=today(),
        count=args.count,
        seed=args.seed,
        progress=progress,
    ).added
    if args.json:
        print_json(out, {"added": added, "seed": args.seed})
        return EXIT_OK
    print(
        f"added {added:,} demo referrals (test-range NHS numbers, invented names)",
        file=out,
    )
    return EXIT_OK
