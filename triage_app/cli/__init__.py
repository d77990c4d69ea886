"""The headless commands: score, import, referral, triage, queue, reassess, rules, audit, user, backup, check,
restore, migrate, meeting, agenda, outcomes, letters, demo: every action the desktop offers (see the README's table).

Each command lives in its own module in `triage_app.cli.commands` (listed in COMMANDS); this module builds the
command line from them and runs one, turning every expected failure into one message and an exit status.

Every command on the database uses the rules approved in it; only `score`, which stores nothing, takes a rules
file (`--rules FILE`). A stateful command given `--rules` is refused: rules change by `triage-app rules approve`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from triage_app import __version__
from triage_app.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    command_label,
    command_only_reads,
    error_argument,
    json_error,
    open_session_for,
    rules_option_refusal,
    session_paths,
    shared_options,
)
from triage_app.config import AppPaths, ConfigError
from triage_app.domain.rules import RulesFileError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "EXIT_OK",
    "CommandError",
    "build_parser",
    "command_only_reads",
    "rules_option_refusal",
    "run_command",
    "session_paths",
]

log = logging.getLogger(__name__)


class CommandLineParser(argparse.ArgumentParser):
    """argparse's parser, but a refusal of an argument given with `--json` is also one JSON object on standard
    output (`{"error": ..., "argument": ...}`), as every other refusal under `--json` is; usage, message and exit
    status 2 on standard error stay argparse's. Actions' parsers are of this class too (argparse makes them so)."""

    #: `--json` was on the command line being parsed (set by the top-level parse, read by any parser refusing).
    wants_json = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does, noting first whether `--json` was given (before any action's parser refuses)."""
        if getattr(self, "_top_level", False):
            CommandLineParser.wants_json = "--json" in (sys.argv[1:] if args is None else list(args))
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """argparse's refusal; under `--json` also the JSON error object naming the argument."""
        if CommandLineParser.wants_json:
            json_error(sys.stdout, message, error_argument(message))
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The `triage-app` command line; with no command the GUI opens.

    Every command and action takes the shared options from one parent parser (`common.shared_options`), and
    every one sets `run` on its own parser: `run_command` calls `args.run`, the one way a command is dispatched.
    """
    from triage_app.cli.commands import COMMANDS

    parser: argparse.ArgumentParser = CommandLineParser(
        prog="triage-app",
        description="SPD referral triage. With no command, opens the desktop app.",
        parents=[shared_options(suppress=False)],
    )
    parser._top_level = True  # type: ignore[attr-defined]
    parser.add_argument("--version", action="version", version=f"triage-app {__version__}")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="start the GUI, then quit at once (install check)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, help_text: str, *, rules_help: str | None = None, only_reads: bool = False
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, parents=[shared_options(rules_help=rules_help)]
        )
        sub.set_defaults(needs_database=True, only_reads=only_reads, prog=sub.prog)
        return sub

    for module in COMMANDS:
        module.register(add)
    return parser


#: Commands after which no daily backup is taken: they made one, put one back, or only look at the file.
NO_DAILY_BACKUP = frozenset({"backup", "restore", "check"})


def _daily_backup(session: Any, paths: AppPaths, command: str, err: TextIO) -> None:
    """The day's verified backup, if due, after the command's own work (so it never delays its answer).

    A backup that cannot be taken is a warning, not the command's failure: its work is already stored.
    """
    from triage_app.services.app import backup_audit_problem, daily_backup
    from triage_app.storage.engine import DatabaseError

    try:
        taken = daily_backup(session.db, paths.backup_dir)
    except (DatabaseError, OSError) as exc:
        print(f"triage-app {command}: warning: the daily backup was not taken: {exc}", file=err)
        log.warning("daily backup after %s failed: %s", command, type(exc).__name__)
        return
    problem = None if taken is None else backup_audit_problem(paths.backup_dir, taken)
    if taken is not None and problem is not None:
        print(
            f"triage-app {command}: WARNING: the audit trail did not verify when today's backup was taken: {problem}. "
            f"The backup {taken.name} was kept and marked. Run `triage-app audit verify` and tell the unit's "
            "administrator.",
            file=err,
        )


def run_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run a parsed headless command; turn every expected failure into a message and an exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    from triage_app.services.errors import ServiceError
    from triage_app.storage.engine import DatabaseError

    paths = session_paths(args)
    label = command_label(args)

    def refuse(message: str, status: int, argument: str | None = None) -> int:
        """One message on standard error; under `--json` the same as a JSON object on standard output."""
        print(f"{label}: {message}", file=err)
        if getattr(args, "json", False):
            json_error(out, message, argument)
        return status

    refusal = rules_option_refusal(args)
    if refusal is not None:
        return refuse(refusal, EXIT_BAD_INPUT, "--rules")
    try:
        if not args.needs_database:
            return int(args.run(args, paths, out, err))
        session = open_session_for(paths, only_reads=command_only_reads(args))
        for line in session.warnings:  # read-only mode: said first, before any output
            print(f"{label}: {line}", file=err)
        try:
            status = int(args.run(args, session, out, err))
            if args.command not in NO_DAILY_BACKUP:
                _daily_backup(session, paths, args.command, err)
            return status
        finally:
            session.close()
    except CommandError as exc:
        return refuse(str(exc), exc.status, exc.argument)
    except RulesFileError as exc:
        return refuse(f"rules file: {exc}", EXIT_BAD_INPUT, "--rules")
    except (DatabaseError, ConfigError) as exc:
        log.error("%s failed: %s", args.command, type(exc).__name__)
        return refuse(str(exc), EXIT_FAILURE)
    except ServiceError as exc:
        return refuse(str(exc), EXIT_BAD_INPUT)
    except BrokenPipeError:
        # The reader of standard output went away (`| head`): nothing more to say, and nowhere to say it.
        log.info("%s: standard output closed by its reader", args.command)
        _silence(out)
        return EXIT_FAILURE
    except OSError as exc:  # the last line of defence: a file the command could not read or write
        log.error("%s failed: %s (errno %s)", args.command, type(exc).__name__, exc.errno)
        return refuse(_os_error_message(exc), EXIT_FAILURE)


def _silence(out: TextIO) -> None:
    """Point a closed standard output at /dev/null, so the interpreter's last flush does not fail again."""
    if out is not sys.stdout:
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _os_error_message(exc: OSError) -> str:
    """One line naming the file and the system's reason, e.g. `the disk is full (No space left on device)`."""
    said = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        said = f"the disk is full ({said})"
    where = f"the file {exc.filename}" if exc.filename else "a file"
    return f"the command could not be completed: {where} could not be read or written: {said}"
