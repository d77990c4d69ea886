"""`triage-app reassess`: rescore open referrals not yet at an MDT."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    as_of_date,
    json_option,
    print_json,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    reassess = add(
        "reassess",
        "rescore open referrals not yet at an MDT that were assessed with other rules than those in force",
    )
    reassess.add_argument(
        "--all",
        action="store_true",
        help="rescore every open referral not yet at an MDT",
    )
    reassess.add_argument("--as-of", metavar="YYYY-MM-DD")
    json_option(reassess, "the referrals reassessed")
    reassess.set_defaults(run=cmd_reassess)


def cmd_reassess(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app reassess`: rescore open referrals (stale ones, or all)."""
    from triage_app.services.referrals import reassess_open

    done = reassess_open(
        session.db,
        actor=session.actor,
        rules=session.rules,
        as_of=as_of_date(args.as_of),
        only_stale=not args.all,
    ).referral_ids
    total = len(done) + session.reassessed
    if args.json:
        # The ids this command reassessed; those the session's start reassessed are counted in `reassessed`.
        print_json(out, {"reassessed": total, "referral_ids": list(done), "rules_version": session.rules.version})
        return EXIT_OK
    print(
        f"{total} open referrals reassessed with rules {session.rules.version}",
        file=out,
    )
    return EXIT_OK
