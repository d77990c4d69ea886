"""What every command shares: exit statuses, the error that ends a command, the common options, reading a JSON
file, dates and counts in words, and opening the database.

No Qt here. Exit status 0 on success, 2 for bad input (a file, an argument, a record), 1 when the database or the
environment stops the command; every failure prints one clear message to standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from triage_app.config import (
    ENV_RULES,
    AppPaths,
    ConfigError,
    ensure_data_dir,
    resolve_paths,
    url_has_password,
)
from triage_app.domain.formats import parse_user_date
from triage_app.domain.json_input import JsonTextError, json_document
from triage_app.domain.parsing import FieldError, parse_as_of

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class AddCommand(Protocol):
    """Adds one command to the command line (with the shared options) and returns its parser.

    `only_reads`: the command changes nothing in the database, so it may run on one opened read-only.
    """

    def __call__(
        self, name: str, help_text: str, *, rules_help: str | None = None, only_reads: bool = False
    ) -> argparse.ArgumentParser: ...


def add_action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    *,
    only_reads: bool = False,
) -> argparse.ArgumentParser:
    """One action of a command (`meeting add`, `referral show`): the shared options come from the one parent
    parser, as they do for the command itself, so `--data-dir` may be given before or after the action."""
    sub = actions.add_parser(name, help=help_text, description=help_text, parents=[shared_options()])
    sub.set_defaults(only_reads=only_reads, prog=sub.prog)  # `triage-app meeting add`: what messages are led by
    return sub


def command_label(args: argparse.Namespace) -> str:
    """What a message about the command is led by, as argparse's own are: `triage-app meeting add`."""
    return str(getattr(args, "prog", None) or f"triage-app {args.command}")


def argument_value(name: str, parse: Callable[[str], T], text: str) -> T:
    """`parse(text)` for the argument `name`; a refusal (a `ServiceError` or `ValueError` saying what is wrong)
    becomes a `CommandError` led by the argument's name: `--time: '25:99' is not a time: ...`."""
    from triage_app.services.errors import ServiceError

    try:
        return parse(text)
    except (ServiceError, ValueError) as exc:
        raise CommandError(f"{name}: {exc}", argument=name) from None


def command_only_reads(args: argparse.Namespace) -> bool:
    """True when the parsed command changes nothing in the database: its parser said so (`only_reads`), and a
    command that only reads may then run on a database that can only be read (damaged, read-only, disk full)."""
    return bool(getattr(args, "only_reads", False))


class CommandError(Exception):
    """A command cannot go on; `status` is the exit status, `argument` the argument at fault (`--time`,
    `REFERRAL`), else read from the message's first word where it names one (see `error_argument`)."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.argument = argument if argument is not None else error_argument(message)


#: A message led by an argument's name: `--time: ...`, `--action due date '...'`, `NHS_NUMBER: ...`, `FILE x: ...`.
_LED_BY_ARGUMENT = re.compile(r"(?:argument )?(--[a-z][a-z0-9-]*|[A-Z][A-Z_]+)(?=[:\s/]|$)")


def error_argument(message: str) -> str | None:
    """The argument a refusal names first (`--caution` in argparse's `argument --caution: invalid choice ...`, or
    `--version` in `the following arguments are required: --version`), else None."""
    text = message.removeprefix("the following arguments are required: ")
    match = _LED_BY_ARGUMENT.match(text)
    return match.group(1) if match else None


def json_error(out: TextIO, message: str, argument: str | None) -> None:
    """Under `--json`, the refusal as one JSON object on standard output too (`{"error": ..., "argument": ...}`),
    so a script reading standard output learns why there is no answer; the exit status stays the command's."""
    print_json(out, {"error": message, "argument": argument})


def today() -> date:
    """Today's date where the app runs (the default assessment date)."""
    from triage_app.services.app import (
        local_today,  # lazily: keeps sqlalchemy out of the GUI's start-up
    )

    return local_today()


RULES_IN_DATABASE = (
    "the rules are approved in the database, not taken from a file: every command and desktop uses the rules in "
    "force (see `triage-app rules show`). To change them, an administrator runs `triage-app rules approve FILE`."
)


def common_options(parser: argparse.ArgumentParser, *, suppress: bool, rules_help: str | None = None) -> None:
    """Add `--data-dir`, `--db` and the hidden `--rules` to `parser`. Commands get them from `shared_options()`,
    the one parent parser; the top-level parser has them with real defaults (a command's are suppressed, so that
    an option given before the command is not overwritten by the command's default)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=default,
        help="data folder (env TRIAGE_APP_DATA_DIR)",
    )
    parser.add_argument("--db", metavar="URL", default=default, help="database URL (env TRIAGE_APP_DB)")
    # Only `score` takes a rules file. Everywhere else the option is parsed (hidden) so that it can be refused
    # with a message that says where the rules come from, instead of argparse's "unrecognized arguments".
    parser.add_argument("--rules", metavar="FILE", default=default, help=rules_help or argparse.SUPPRESS)


@functools.cache
def shared_options(*, suppress: bool = True, rules_help: str | None = None) -> argparse.ArgumentParser:
    """The one parent parser of every command and action (argparse `parents=`): `--data-dir`, `--db`, `--rules`."""
    parent = argparse.ArgumentParser(add_help=False)
    common_options(parent, suppress=suppress, rules_help=rules_help)
    return parent


def json_option(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    """`--json`: the command's answer as one JSON document with stable keys, for a script to read."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON (stable keys), for scripts")


def print_json(out: TextIO, payload: Any) -> None:
    """Write one JSON document (UTF-8 kept as it is, indented) and a newline."""
    out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def bounded_count(text: str) -> int:
    """A count of 1 to 5,000,000 (demo data; adding none is no command), or argparse's message naming what is
    wrong (argparse leads it with the argument: `argument --count: 0 is out of range: choose 1 to 5,000,000`)."""
    return _whole_number(text, 1, 5_000_000)


#: The largest id or version a command takes: a signed 32-bit integer, as every database stores ids.
MAX_ID = 2**31 - 1
_WHOLE = re.compile(r"[+-]?\d{1,15}")


def _whole_number(text: str, low: int, high: int) -> int:
    """`text` as a whole number from `low` to `high`; else `argparse.ArgumentTypeError` saying why, so argparse
    prints a usage line and the message and exits 2, never a traceback (nor Python's 4,300-digit ValueError)."""
    value = text.strip()
    shown = value if len(value) <= 20 else f"{value[:19]}…"
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate from argv prints
    if not _WHOLE.fullmatch(value):
        if re.fullmatch(r"[+-]?\d+", value):
            raise argparse.ArgumentTypeError(
                f"'{shown}' is out of range ({len(value.lstrip('+-')):,} digits): choose {low:,} to {high:,}"
            )
        raise argparse.ArgumentTypeError(f"'{shown}' is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"{number:,} is out of range: choose {low:,} to {high:,}")
    return number


def bounded_int(low: int, high: int, name: str) -> Callable[[str], int]:
    """An argparse `type` taking whole numbers from `low` to `high` (`name` is what argparse calls it)."""

    def convert(text: str) -> int:
        return _whole_number(text, low, high)

    convert.__name__ = name
    return convert


#: A referral, meeting or case id, or a version: 1 to 2^31-1.
id_number = bounded_int(1, MAX_ID, "id")
version_number = bounded_int(1, MAX_ID, "version")
#: Cases per meeting.
capacity_number = bounded_int(1, 100, "capacity")


def read_json_file(name: str, stdin: TextIO | None = None) -> Any:
    """Parse a JSON file; `CommandError` says if it is missing, empty, not UTF-8 or not JSON."""
    if name == "-":
        raw = (stdin or sys.stdin).buffer.read() if hasattr(stdin or sys.stdin, "buffer") else b""
        label = "standard input"
    else:
        path = Path(name)
        label = str(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise CommandError(f"{label}: no such file") from None
        except IsADirectoryError:
            raise CommandError(f"{label}: is a folder, not a file") from None
        except OSError as exc:
            raise CommandError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    try:
        # Objects remember duplicate keys (a record giving one twice is refused, naming it) and integers too long
        # for any field are kept by size: neither is lost silently nor ends in a traceback.
        return json_document(raw, label)
    except JsonTextError as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # e.g. a number json cannot read; the message names no value
        raise CommandError(f"{label}: not valid JSON ({exc})") from None


def as_of_date(value: str | None) -> date:
    if value is None:
        return today()
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def rules_option_refusal(args: argparse.Namespace, environ: dict[str, str] | None = None) -> str | None:
    """Why the command line cannot run as given: a rules file offered to anything but `score`; else None."""
    env = os.environ if environ is None else environ
    if env.get(ENV_RULES):
        if args.command == "score":
            return f"{ENV_RULES} is no longer read; give score its rules file with --rules FILE (and unset {ENV_RULES})"
        return f"{ENV_RULES} is set, but {RULES_IN_DATABASE} Unset {ENV_RULES}."
    if getattr(args, "rules", None) is not None and args.command != "score":
        return f"--rules is not taken here: {RULES_IN_DATABASE}"
    return None


def records_of(document: Any) -> tuple[list[Any], bool]:
    if isinstance(document, list):
        return document, True
    return [document], False


def print_errors(where: str | None, errors: Sequence[FieldError], err: TextIO) -> None:
    """One line per field error, each led by `where` the record is when the file holds several: `record 250
    (external_id REF-250): patient.given_name: ...` (see `domain.record_names.describe_record`: numbered from 1,
    named as the file names it). These lines go to the user's terminal, never to the log."""
    prefix = "" if where is None else f"{where}: "
    for error in errors:
        print(f"{prefix}{error.field}: {error.message}", file=err)


def open_session_for(paths: AppPaths, *, only_reads: bool = False) -> Any:
    """Open the session; a command that `only_reads` may run on a database that can only be read (damaged,
    read-only, disk full), which is then opened read-only (its `warnings` say so); any other is refused."""
    from triage_app.services.app import open_session

    try:
        ensure_data_dir(paths.data_dir)
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from None
    return open_session(paths.db_url, backup_dir=paths.backup_dir, today=today(), allow_read_only=only_reads)


def date_argument(text: str, name: str) -> date:
    """A date given on the command line: YYYY-MM-DD, or as the app writes and the desktop takes it (22-Nov-2026)."""
    try:
        return parse_as_of(text)
    except ValueError:
        pass
    try:
        return parse_user_date(text)
    except ValueError:
        raise CommandError(f"{name} '{text}' is not a date: write it as YYYY-MM-DD or DD-MMM-YYYY") from None


def current_version(session: Any, referral_id: int, given: int | None) -> int:
    from triage_app.services.referrals import get_referral

    return given if given is not None else get_referral(session.db, referral_id=referral_id).row.version


def count_of(count: int, noun: str) -> str:
    """`1 referral`, `3 referrals`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def session_paths(args: argparse.Namespace) -> AppPaths:
    """Resolved paths for the parsed arguments.

    A password in `--db` is refused (`ConfigError`): a command line is visible to every account on the computer
    (`ps`) and kept in shell history. The password goes in the pgpass file or the keyring; an unattended script
    that must carry one gives the URL in TRIAGE_APP_DB (seen by its own account only). Either way the app
    never writes the password to a setting or a log (messages show the URL with `***`).
    """
    if args.db is not None and url_has_password(args.db):
        raise ConfigError(
            "--db: the database URL holds a password, which a command line shows to every account on this "
            "computer; nothing was opened. Put the password in the pgpass file or the keyring "
            "(docs/deploy-postgresql.md), or, for an unattended script, give the URL in TRIAGE_APP_DB."
        )
    # `triage-app connect` replaces the settings file, so it must not be stopped by a broken one.
    return resolve_paths(data_dir=args.data_dir, db=args.db, read_settings=getattr(args, "reads_settings", True))


@contextlib.contextmanager
def export_refusals() -> Iterator[None]:
    """An export's refusal as the command's error, in the service's words: a file that exists (exit 2; the message
    names `--force` where the service says to replace it), or a file not written (exit 1)."""
    from triage_app.services.exports import ExportNotWritten, ExportWouldOverwrite

    try:
        yield
    except ExportWouldOverwrite as exc:
        raise CommandError(str(exc).replace("say to replace", "add --force to replace")) from exc
    except ExportNotWritten as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from exc


def export_meeting(
    args: argparse.Namespace, session: Any, export: Callable[..., T], **options: Any
) -> tuple[T, list[str]]:
    """Run a meeting's export (`export_agenda_file`, `export_letters`) for `args`: its MEETING and `--format`, never
    into the data folder, replacing only with `--force`; return what it wrote and its notes (where it was recorded,
    on a read-only database)."""
    from triage_app.services.exports import export_noting

    with export_refusals():
        return export_noting(
            export,
            session.db,
            actor=session.actor,
            meeting_id=args.meeting,
            fmt=args.format,
            data_dir=session_paths(args).data_dir,
            overwrite=args.force,
            **options,
        )
