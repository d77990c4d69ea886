"""The headless commands: score, import, queue, reassess, rules, audit verify, user, backup, migrate.

Every command on the database uses the rules approved in it; only `score`, which stores nothing, takes a rules
file (`--rules FILE`). A stateful command given `--rules` is refused: rules change by `triage-app rules approve`.

No Qt here. Exit status 0 on success, 2 for bad input (a file, an argument, a record), 1 when the database or
the environment stops the command; every failure prints one clear message to standard error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from triage_app import __version__
from triage_app.config import ENV_RULES, AppPaths, ConfigError, default_rules_path, ensure_data_dir, resolve_paths
from triage_app.domain.formats import format_name
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, MEETING_OUTCOMES, SPD_CHECKLIST, triage_text
from triage_app.domain.parsing import FieldError, ReferralInputError, parse_as_of, parse_referral
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules import Rules, RulesFileError, load_rules
from triage_app.domain.scoring import FLAGS, OUTCOMES, RTT_BREACHED, RTT_WARNING, RttClock, assess
from triage_app.domain.workflow import ROLES, STATUS_LABELS, STATUSES

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class CommandError(Exception):
    """A command cannot go on; `status` is the exit status."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


def today() -> date:
    """Today's date where the app runs (the default assessment date)."""
    from triage_app.services.app import local_today  # lazily: keeps sqlalchemy out of the GUI's start-up

    return local_today()


# --- argument parsing ------------------------------------------------------------------------------------


RULES_IN_DATABASE = (
    "the rules are approved in the database, not taken from a file: every command and desktop uses the rules in "
    "force (see `triage-app rules show`). To change them, an administrator runs `triage-app rules approve FILE`."
)


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool, rules_help: str | None = None) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--data-dir", metavar="DIR", default=default, help="data folder (env TRIAGE_APP_DATA_DIR)")
    parser.add_argument("--db", metavar="URL", default=default, help="database URL (env TRIAGE_APP_DB)")
    # Only `score` takes a rules file. Everywhere else the option is parsed (hidden) so that it can be refused
    # with a message that says where the rules come from, instead of argparse's "unrecognized arguments".
    parser.add_argument("--rules", metavar="FILE", default=default, help=rules_help or argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    """The `triage-app` command line; with no command the GUI opens."""
    parser = argparse.ArgumentParser(
        prog="triage-app",
        description="SPD referral triage. With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"triage-app {__version__}")
    _common_options(parser, suppress=False)
    parser.add_argument("--smoke", action="store_true", help="start the GUI, then quit at once (install check)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, *, rules_help: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _common_options(sub, suppress=True, rules_help=rules_help)
        return sub

    score = command(
        "score",
        "score referrals in a JSON file and print the results as JSON (stores nothing); it reads a rules file, "
        "not a database, so its results may differ from the queue's (see `rules show` for the rules in force)",
        rules_help="rules file to score with (default: the rules shipped with the app, which may not be the rules "
        "approved in your database); score stores nothing",
    )
    score.add_argument("file", metavar="FILE", help="a referral (JSON object) or several (JSON array); - for stdin")
    score.add_argument("--as-of", metavar="YYYY-MM-DD", help="assessment date (default: today)")

    imp = command("import", "add referrals from a JSON file to the queue, scoring each")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--as-of", metavar="YYYY-MM-DD", help="assessment date (default: today)")
    imp.add_argument(
        "--second-referral-reason",
        metavar="TEXT",
        help="add records for patients who already have an open referral, recording this reason",
    )

    referral = command("referral", "show, edit or move one referral")
    referral_commands = referral.add_subparsers(dest="referral_command", metavar="ACTION", required=True)
    show = referral_commands.add_parser("show", help="the referral, its status and standing decision")
    _common_options(show, suppress=True)
    show.add_argument("referral", type=int, metavar="REFERRAL")
    show.add_argument("--json", action="store_true", help="the interchange format with id, version, status, decision")
    edit = referral_commands.add_parser("edit", help="replace the referral's data (compare-and-swap on its version)")
    _common_options(edit, suppress=True)
    edit.add_argument("referral", type=int, metavar="REFERRAL")
    edit.add_argument("file", metavar="FILE", help="the referral in the interchange format (JSON object)")
    edit.add_argument("--version", type=int, required=True, metavar="N", help="the version you read (referral show)")
    edit.add_argument(
        "--demographics-changed",
        action="store_true",
        help="confirm that the patient's NHS number, name or date of birth changed, having checked both",
    )
    edit.add_argument("--second-referral-reason", metavar="TEXT", help="why this patient has a second open referral")
    move = referral_commands.add_parser("status", help="move the referral along the workflow")
    _common_options(move, suppress=True)
    move.add_argument("referral", type=int, metavar="REFERRAL")
    move.add_argument("status", nargs="?", choices=STATUSES, help="the status to move to (or --to STATUS)")
    move.add_argument("--to", dest="to_status", choices=STATUSES, metavar="STATUS", help="the status to move to")
    move.add_argument(
        "--reason",
        "--note",
        dest="note",
        metavar="TEXT",
        help="why (needed to close a referral the MDT never discussed)",
    )
    move.add_argument("--version", type=int, metavar="N", help="the version you read (default: the current one)")

    triage = command("triage", "a consultant confirms or overrides a referral's triage")
    triage_commands = triage.add_subparsers(dest="triage_command", metavar="ACTION", required=True)
    confirm = triage_commands.add_parser("confirm", help="confirm the computed outcome")
    _common_options(confirm, suppress=True)
    confirm.add_argument("referral", type=int, metavar="REFERRAL")
    confirm.add_argument("--version", type=int, metavar="N", help="the version you read (default: the current one)")
    override = triage_commands.add_parser("override", help="record another outcome with a written reason")
    _common_options(override, suppress=True)
    override.add_argument("referral", type=int, metavar="REFERRAL")
    override.add_argument("--outcome", required=True, choices=OUTCOMES)
    override.add_argument("--reason", required=True, metavar="TEXT")
    override.add_argument("--version", type=int, metavar="N", help="the version you read (default: the current one)")

    queue = command("queue", "list the queue, highest priority first")
    queue.add_argument("--outcome", choices=OUTCOMES)
    queue.add_argument("--status", choices=STATUSES)
    queue.add_argument("--json", action="store_true", help="print JSON")
    queue.add_argument(
        "--sort",
        choices=("priority", "breaches"),
        default="priority",
        help="priority (highest first, the default) or breaches: 18 weeks or more, then the warning weeks, then the rest",
    )

    reassess = command(
        "reassess", "rescore open referrals not yet at an MDT that were assessed with other rules than those in force"
    )
    reassess.add_argument("--all", action="store_true", help="rescore every open referral not yet at an MDT")
    reassess.add_argument("--as-of", metavar="YYYY-MM-DD")

    rules = command("rules", "the clinical rules in force: show them, compare a file with them, approve one (admin)")
    rules_commands = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    rules_show = rules_commands.add_parser(
        "show", help="version, SHA-256, approver and time of the rules in force, and a shipped proposal if any"
    )
    _common_options(rules_show, suppress=True)
    rules_diff = rules_commands.add_parser("diff", help="what a rules file would change, criterion by criterion")
    _common_options(rules_diff, suppress=True)
    rules_diff.add_argument("file", metavar="FILE", help="a rules file (TOML)")
    rules_approve = rules_commands.add_parser(
        "approve", help="approve a rules file for every desktop (admin); reassesses referrals not yet at an MDT"
    )
    _common_options(rules_approve, suppress=True)
    rules_approve.add_argument("file", metavar="FILE", help="a rules file (TOML)")

    audit = command("audit", "check the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser("verify", help="check every link of the audit hash chain")
    _common_options(verify, suppress=True)

    user = command("user", "manage users and roles (admin)")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    listing = user_commands.add_parser("list", help="list users and their roles")
    _common_options(listing, suppress=True)
    add = user_commands.add_parser("add", help="add a user (their operating-system login)")
    _common_options(add, suppress=True)
    add.add_argument("login")
    add.add_argument("--name", required=True, help="name as shown in the app")
    add.add_argument("--role", action="append", choices=ROLES, required=True, help="repeat for several roles")
    add.add_argument("--mdt-role", help="MDT role, e.g. functional_neurosurgeon")
    roles = user_commands.add_parser("roles", help="replace a user's roles")
    _common_options(roles, suppress=True)
    roles.add_argument("login")
    roles.add_argument("--role", action="append", choices=ROLES, required=True)
    rename = user_commands.add_parser("name", help="set the name shown in the app and on letters (admin, or yourself)")
    _common_options(rename, suppress=True)
    rename.add_argument("login")
    rename.add_argument("--name", required=True, help='e.g. "Dr R Example"')
    for name, text in (("deactivate", "stop a user signing in"), ("activate", "let a deactivated user sign in")):
        sub = user_commands.add_parser(name, help=text)
        _common_options(sub, suppress=True)
        sub.add_argument("login")

    backup = command("backup", "back up the database now (SQLite online backup)")
    backup.add_argument("--out", metavar="FILE", help="write the backup here instead of the backups folder")

    command("migrate", "bring the database schema up to date (the app also does this on start)")

    meeting = command("meeting", "plan MDT meetings: create, fill, list, circulate, cancel")
    meeting_commands = meeting.add_subparsers(dest="meeting_command", metavar="ACTION", required=True)
    create = meeting_commands.add_parser("create", help="create a meeting; prints its id")
    _common_options(create, suppress=True)
    create.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    create.add_argument("--time", required=True, metavar="HH:MM")
    create.add_argument("--place", metavar="PLACE")
    create.add_argument("--video-link", metavar="URL")
    create.add_argument("--chair", metavar="NAME")
    create.add_argument(
        "--attendee", action="append", default=[], metavar="NAME:ROLE", help="expected attendee and MDT role; repeat"
    )
    for name, text in (
        ("fill", "add the highest-priority ready referrals up to the meeting's capacity"),
        ("circulate", "mark the agenda as circulated (later additions are marked late)"),
        ("cancel", "cancel a meeting; its cases move to the next meeting"),
        ("show", "the meeting's details and its cases in order"),
    ):
        sub = meeting_commands.add_parser(name, help=text)
        _common_options(sub, suppress=True)
        sub.add_argument("meeting", type=int, metavar="MEETING")
    outcome = meeting_commands.add_parser("outcome", help="record (or amend) the MDT outcome of a case (consultant)")
    _common_options(outcome, suppress=True)
    outcome.add_argument("meeting", type=int, metavar="MEETING")
    outcome.add_argument("referral", type=int, metavar="REFERRAL")
    outcome.add_argument("--outcome", required=True, choices=MEETING_OUTCOMES)
    outcome.add_argument("--rationale", required=True, metavar="TEXT")
    outcome.add_argument("--version", type=int, metavar="N", help="the case version you read, to amend an outcome")
    outcome.add_argument("--amend-reason", metavar="TEXT", help="why a recorded outcome is amended")
    outcome.add_argument(
        "--checklist",
        action="append",
        default=[],
        choices=tuple(SPD_CHECKLIST),
        help="an SPD checklist item that is done (repeat; all three are needed to accept for SPD)",
    )
    outcome.add_argument(
        "--action", action="append", default=[], metavar="TEXT|OWNER|YYYY-MM-DD", help="an agreed action; repeat"
    )
    capacity = meeting_commands.add_parser("capacity", help="show or set (admin) the cases per meeting")
    _common_options(capacity, suppress=True)
    capacity.add_argument("cases", type=int, nargs="?", metavar="N")
    listing = meeting_commands.add_parser("list", help="list meetings")
    _common_options(listing, suppress=True)
    listing.add_argument("--json", action="store_true")

    for name, text in (
        ("agenda", "export a meeting's agenda"),
        ("outcomes", "export a meeting's outcome summary"),
    ):
        sub = command(name, text)
        sub.add_argument("meeting", type=int, metavar="MEETING")
        sub.add_argument("--format", required=True, choices=("pdf", "docx", "csv", "html"))
        sub.add_argument("--out", required=True, metavar="FILE")
        sub.add_argument("--pseudonymised", action="store_true", help="initials and last four NHS digits only")
    letters = command("letters", "write one outcome letter per decided case, to each referrer")
    letters.add_argument("meeting", type=int, metavar="MEETING")
    letters.add_argument("--format", required=True, choices=("docx", "pdf"))
    letters.add_argument("--out-dir", required=True, metavar="DIR")
    letters.add_argument("--template", metavar="FILE", help="a unit's own letter template")
    letters.add_argument("--unit-name", default="specialist neurosurgical unit")

    demo = command("demo", "fill the database with synthetic referrals (test-range NHS numbers, invented names)")
    demo.add_argument("--count", type=_count, default=300, metavar="N", help="how many (default 300)")
    demo.add_argument("--seed", type=int, default=1, metavar="S", help="random seed, for a repeatable queue")
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 0 <= value <= 5_000_000:
        raise argparse.ArgumentTypeError(f"{value} is out of range: choose 0 to 5,000,000")
    return value


# --- helpers ---------------------------------------------------------------------------------------------


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
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{label}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again") from None
    if not text.strip():
        raise CommandError(f"{label}: the file is empty; expected a referral (JSON object) or a JSON array")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{label}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise CommandError(f"{label}: the JSON is nested too deeply") from None


def _as_of(value: str | None) -> date:
    if value is None:
        return today()
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _rules(args: argparse.Namespace) -> Rules:
    """The rules `score` uses: the file given with --rules, else the one shipped with the app."""
    path = Path(args.rules).expanduser() if args.rules else default_rules_path()
    try:
        return load_rules(path)
    except RulesFileError as exc:
        raise CommandError(f"rules file: {exc}") from None


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


def _records(document: Any) -> tuple[list[Any], bool]:
    if isinstance(document, list):
        return document, True
    return [document], False


def _print_errors(index: int | None, errors: Sequence[FieldError], err: TextIO) -> None:
    where = "" if index is None else f"record {index}: "
    for error in errors:
        print(f"{where}{error.field}: {error.message}", file=err)


# --- commands that need no database ----------------------------------------------------------------------


def cmd_score(args: argparse.Namespace, paths: AppPaths, out: TextIO, err: TextIO) -> int:
    """`triage-app score FILE`: the spec's scoring command."""
    as_of = _as_of(args.as_of)
    rules = _rules(args)
    document = read_json_file(args.file)
    records, is_array = _records(document)
    results: list[dict[str, Any]] = []
    failed = False
    for index, record in enumerate(records):
        try:
            referral = parse_referral(record, as_of=as_of)
        except ReferralInputError as exc:
            failed = True
            results.append({"errors": [e.to_json() for e in exc.errors]})
            _print_errors(index if is_array else None, exc.errors, err)
            continue
        results.append(assess(referral, rules, as_of).to_json())
    if is_array:
        out.write(
            "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in results) + "\n]\n" if results else "[]\n"
        )
    else:
        out.write(json.dumps(results[0], ensure_ascii=False, indent=2) + "\n")
    return EXIT_BAD_INPUT if failed else EXIT_OK


# --- commands on the database ----------------------------------------------------------------------------


def _open(paths: AppPaths) -> Any:
    from triage_app.services.app import open_session

    try:
        ensure_data_dir(paths.data_dir)
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from None
    return open_session(paths.db_url, backup_dir=paths.backup_dir, today=today())


def cmd_import(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app import FILE`: register referrals, each whole or not at all."""
    from triage_app.services.referrals import import_referrals

    as_of = _as_of(args.as_of)
    records, _ = _records(read_json_file(args.file))
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
            f"record {index}: duplicate of referral {existing} (same NHS number and received date); not added", file=out
        )
    for index, existing in report.possible_duplicates:
        print(
            f"record {index}: possible duplicate of referral {existing} (the patient already has an open referral); "
            "not added. Check it; to add a second referral, import it with --second-referral-reason TEXT",
            file=out,
        )
    for index, errors in report.refused:
        print(f"record {index}: refused", file=out)
        _print_errors(index, errors, err)
    print(
        f"{len(report.added)} added, {len(report.duplicates)} duplicate, {len(report.possible_duplicates)} possible "
        f"duplicate, {len(report.refused)} refused of {len(records)} records",
        file=out,
    )
    return EXIT_OK if report.ok else EXIT_BAD_INPUT


def cmd_queue(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app queue`: the queue, highest priority first."""
    from triage_app.services.referrals import current_flags, list_queue
    from triage_app.storage.referrals import QueueFilter

    clock = RttClock.of(session.rules, today())  # weeks and the RTT caution of today, not of scoring
    chosen = QueueFilter(outcome=args.outcome, status=args.status, clock=clock)
    rows = list_queue(session.db, queue_filter=chosen, sort=args.sort)
    stored = current_flags(session.db, referral_ids=[r.id for r in rows if r.id is not None])
    flags = {r.id or 0: clock.flags(stored.get(r.id or 0, ()), r.received_on) for r in rows}
    if args.json:
        payload = [
            {
                "id": r.id,
                "priority": r.priority,
                "nhs_number": r.nhs_number,
                "family_name": r.family_name,
                "given_name": r.given_name,
                "received_on": None if r.received_on is None else r.received_on.isoformat(),
                "weeks_waiting": clock.weeks(r.received_on),
                "rtt": clock.band(r.received_on),  # breached (18 weeks or more), warning, within; None: no date
                "outcome": r.queue_outcome,  # the standing decision, else the computed outcome
                "computed_outcome": r.outcome,
                "decided_outcome": r.decided_outcome,
                "triage": triage_text(r.outcome, r.decided_outcome, r.decision_kind),
                "status": r.status,
                "flags": list(flags.get(r.id or 0, ())),
                "version": r.version,
            }
            for r in rows
        ]
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    print(
        f"{'id':>6} {'pri':>3}  {'NHS number':<12}  {'name':<28} {'wks':>4}  {'triage':<44} {'status':<22} cautions",
        file=out,
    )
    for r in rows:
        name = f"{(r.family_name or '').upper()}, {r.given_name or ''}".strip(", ")
        # ‼ past the 18-week standard, ! from the rules' warning week: as the desktop's Wks column marks them
        mark = {RTT_BREACHED: "‼", RTT_WARNING: "!"}.get(clock.band(r.received_on) or "", "")
        weeks = "" if r.received_on is None else f"{clock.weeks(r.received_on)}{mark}"
        print(
            f"{r.id:>6} {r.priority if r.priority is not None else '':>3}  {format_nhs_number(r.nhs_number):<12}  "
            f"{name[:28]:<28} {weeks:>4}  {triage_text(r.outcome, r.decided_outcome, r.decision_kind):<44} "
            f"{STATUS_LABELS.get(r.status, r.status):<22} {', '.join(FLAGS[f][0] if f in FLAGS else f for f in flags.get(r.id or 0, ()))}",
            file=out,
        )
    print(_count_of(len(rows), "referral"), file=out)
    return EXIT_OK


def cmd_reassess(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app reassess`: rescore open referrals (stale ones, or all)."""
    from triage_app.services.referrals import reassess_open

    done = reassess_open(
        session.db, actor=session.actor, rules=session.rules, as_of=_as_of(args.as_of), only_stale=not args.all
    )
    total = len(done) + session.reassessed
    print(f"{total} open referrals reassessed with rules {session.rules.version}", file=out)
    return EXIT_OK


def _when(moment: Any) -> str:
    """An approval's time in words, in UTC: 21-Nov-2026 15:57 UTC."""
    from datetime import UTC

    from triage_app.domain.formats import format_date

    utc = moment.astimezone(UTC)
    return f"{format_date(utc.date())} {utc:%H:%M} UTC"


def _read_rules_argument(name: str) -> Any:
    from triage_app.domain.rules import read_rules_file

    try:
        return read_rules_file(Path(name).expanduser())
    except RulesFileError as exc:
        raise CommandError(f"rules file refused, the rules in force are unchanged: {exc}") from None


def cmd_rules(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app rules show|diff FILE|approve FILE`: the rules in force, under an administrator's approval."""
    from triage_app.domain.rules_changes import sha_prefix
    from triage_app.services import rules as rules_service

    in_force = session.approval
    if args.rules_command == "show":
        from triage_app.services.permissions import VIEW_RULES, authorize

        authorize(session.actor, VIEW_RULES, db=session.db)
        print(f"rules in force: {in_force.version}", file=out)
        print(f"SHA-256: {in_force.sha256}", file=out)
        print(
            f"approved by: {in_force.approved_by} ({in_force.approved_by_login}) on {_when(in_force.approved_at)}",
            file=out,
        )
        proposal = session.proposal
        if proposal is None:
            print(
                "shipped proposal: none (the rules shipped with this version of the app were approved here)", file=out
            )
            return EXIT_OK
        print(f"shipped proposal: {proposal.notice()}", file=out)
        print(f"  file: {proposal.proposed.source}", file=out)
        for line in proposal.changes:
            print(f"  {line}", file=out)
        if proposal.refusal is None:
            print(f"  to approve it: triage-app rules approve {proposal.proposed.source}", file=out)
        return EXIT_OK
    proposed = _read_rules_argument(args.file)
    if args.rules_command == "diff":
        preview = rules_service.preview_rules(session.db, actor=session.actor, proposed=proposed)
        print(
            f"rules in force: {in_force.version} (SHA-256 {in_force.sha_prefix}), approved by {in_force.approved_by} "
            f"on {_when(in_force.approved_at)}",
            file=out,
        )
        print(f"this file: {proposed.version} (SHA-256 {sha_prefix(proposed.sha256)}), {proposed.source}", file=out)
        for line in preview.changes:
            print(f"  {line}", file=out)
        if preview.refusal is not None:
            print(f"cannot be approved: {preview.refusal}", file=out)
        elif not preview.same_as_in_force:
            print(
                f"approving it would reassess {_count_of(preview.to_reassess, 'open referral')} not yet at an MDT "
                "(listed, discussed and closed referrals keep their assessment)",
                file=out,
            )
        return EXIT_OK
    result = rules_service.approve_rules(session.db, actor=session.actor, proposed=proposed, as_of=today())
    if not result.already_in_force:
        print(f"rules {in_force.version} -> {proposed.version}:", file=out)
        for line in result.changes:
            print(f"  {line}", file=out)
    print(result.summary(), file=out)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app audit verify`: report the first broken link of the hash chain."""
    from triage_app.services.audit import verify_audit_trail

    report = verify_audit_trail(session.db)
    if report.intact:
        print(f"audit trail intact: {report.checked} events checked", file=out)
        return EXIT_OK
    print(f"audit trail BROKEN at event {report.first_broken}: {report.problem}", file=err)
    print(f"{report.checked} events checked before the break", file=out)
    return EXIT_FAILURE


def cmd_user(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app user ...`: admin manages users and roles."""
    from triage_app.services import users

    if args.user_command == "list":
        for user, roles in users.list_users(session.db):
            state = "" if user.is_active else " (deactivated)"
            print(
                f"{user.login:<20} {user.display_name:<30} {', '.join(r for r in ROLES if r in roles)}{state}", file=out
            )
        return EXIT_OK
    if args.user_command == "add":
        added = users.add_user(
            session.db,
            actor=session.actor,
            login=args.login,
            display_name=args.name,
            roles=args.role,
            mdt_role=args.mdt_role,
        )
        print(f"added {added.login} ({added.describe_roles()})", file=out)
        return EXIT_OK
    if args.user_command == "name":
        users.set_display_name(session.db, actor=session.actor, login=args.login, display_name=args.name)
        print(f"{args.login} is now shown as {args.name.strip()}", file=out)
        return EXIT_OK
    if args.user_command == "roles":
        changed = users.set_roles(session.db, actor=session.actor, login=args.login, roles=args.role)
        print(f"{changed.login} now has: {changed.describe_roles()}", file=out)
        return EXIT_OK
    active = args.user_command == "activate"
    users.set_active(session.db, actor=session.actor, login=args.login, active=active)
    print(f"{args.login} {'activated' if active else 'deactivated'}", file=out)
    return EXIT_OK


def cmd_backup(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app backup`: an online backup now."""
    from triage_app.services.audit import backup_now

    target = backup_now(
        session.db,
        actor=session.actor,
        out=Path(args.out) if args.out else None,
        backup_dir=session_paths(args).backup_dir,
    )
    print(f"backed up to {target}", file=out)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app migrate`: report the schema (opening the session already migrated it)."""
    report = session.migration
    if report.upgraded:
        print(f"database upgraded from schema {report.before or '(new)'} to {report.after}", file=out)
        if report.backup is not None:
            print(f"backup taken first: {report.backup}", file=out)
    else:
        print(f"database schema {report.after} is up to date", file=out)
    return EXIT_OK


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
    )
    print(f"added {added:,} demo referrals (test-range NHS numbers, invented names)", file=out)
    return EXIT_OK


def _date_argument(text: str, name: str) -> date:
    try:
        return parse_as_of(text)
    except ValueError:
        raise CommandError(f"{name} '{text}' is not a date: write it as YYYY-MM-DD") from None


def cmd_meeting(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app meeting ...`: create, fill, list, show, circulate, cancel."""
    from triage_app.domain.formats import format_date
    from triage_app.services import meetings

    db, actor, rules = session.db, session.actor, session.rules
    action = args.meeting_command
    if action == "create":
        meeting_id = meetings.create_meeting(
            db,
            actor=actor,
            meeting_date=_date_argument(args.date, "--date"),
            meeting_time=args.time,
            place=args.place,
            video_link=args.video_link,
            chair=args.chair,
            attendees=[meetings.parse_attendee(a) for a in args.attendee],
        )
        print(meeting_id, file=out)
        return EXIT_OK
    if action == "list":
        found = meetings.list_meetings(db, rules=rules)
        if args.json:
            payload = [
                {
                    "id": m.meeting_id,
                    "date": m.meeting_date.isoformat(),
                    "time": m.meeting_time,
                    "place": m.place,
                    "status": m.status,
                    "cases": m.cases,
                    "quorate": m.quorate,
                }
                for m in found
            ]
            out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        else:
            for m in found:
                quorate = "quorate" if m.quorate else "NOT quorate"
                print(
                    f"{m.meeting_id:>4}  {format_date(m.meeting_date)} {m.meeting_time}  {m.status:<10} "
                    f"{m.cases:>3} cases  {quorate:<11}  {m.place or ''}",
                    file=out,
                )
            print(_count_of(len(found), "meeting"), file=out)
        return EXIT_OK
    if action == "outcome":
        meetings.record_outcome(
            db,
            actor=actor,
            meeting_id=args.meeting,
            referral_id=args.referral,
            outcome=args.outcome,
            rationale=args.rationale,
            today=today(),
            checklist={item: True for item in args.checklist},
            actions=[_case_action(a) for a in args.action] or None,  # none given: an amendment keeps them
            expected_version=args.version,
            amend_reason=args.amend_reason,
        )
        print(f"meeting {args.meeting}, referral {args.referral}: outcome recorded ({args.outcome})", file=out)
        return EXIT_OK
    if action == "capacity":
        if args.cases is not None:
            meetings.set_capacity(db, actor=actor, cases=args.cases)
        print(f"{meetings.capacity(db)} cases per meeting", file=out)
        return EXIT_OK
    if action == "fill":
        added = meetings.fill_to_capacity(db, actor=actor, meeting_id=args.meeting)
        print(f"added {_count_of(len(added), 'referral')}: {', '.join(map(str, added)) or 'none ready'}", file=out)
        return EXIT_OK
    if action == "circulate":
        meetings.circulate(db, actor=actor, meeting_id=args.meeting)
        print(f"meeting {args.meeting}: agenda marked as circulated", file=out)
        return EXIT_OK
    if action == "cancel":
        moved = meetings.cancel_meeting(db, actor=actor, meeting_id=args.meeting)
        print(f"meeting {args.meeting} cancelled", file=out)
        for referral_id, where in moved.items():
            print(f"  referral {referral_id}: {where}", file=out)
        return EXIT_OK
    detail = meetings.get_meeting(db, meeting_id=args.meeting, rules=rules)
    shown = detail.meeting
    print(
        f"meeting {shown.id}: {format_date(shown.meeting_date)} {shown.meeting_time} {shown.place or ''} "
        f"({shown.status})",
        file=out,
    )
    print(f"{detail.quorum_text}; {len(detail.cases)} of {detail.capacity} cases", file=out)
    for case in detail.cases:
        row = case.row
        late = " (late addition)" if case.late_addition else ""
        who = f"{format_name(row.family_name, row.given_name)}, NHS {format_nhs_number(row.nhs_number)}" if row else ""
        lapsed = "  TRIAGE CHANGED: RECONFIRM" if row is not None and row.decided_outcome is None else ""
        outcome = (
            f"  outcome: {MEETING_OUTCOME_LABELS.get(case.outcome, case.outcome)} by {case.decided_by_name}"
            if case.outcome
            else "  outcome not yet recorded"
        )
        print(
            f"  {case.position:>2}. referral {case.referral_id}: {who}{late}{lapsed}{outcome} "
            f"(case version {case.version})",
            file=out,
        )
    return EXIT_OK


def cmd_export(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app agenda|outcomes MEETING --format F --out FILE [--pseudonymised]`."""
    from triage_app.services.exports import export_agenda_file

    target = export_agenda_file(
        session.db,
        actor=session.actor,
        meeting_id=args.meeting,
        fmt=args.format,
        out=Path(args.out),
        pseudonymised=args.pseudonymised,
        outcomes=args.command == "outcomes",
    )
    print(f"wrote {target}", file=out)
    return EXIT_OK


def cmd_letters(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app letters MEETING --format F --out-dir DIR`."""
    from triage_app.services.exports import export_letters

    written = export_letters(
        session.db,
        actor=session.actor,
        meeting_id=args.meeting,
        fmt=args.format,
        out_dir=Path(args.out_dir),
        unit_name=args.unit_name,
        template=Path(args.template) if args.template else None,
        today=today(),
    )
    for path in written:
        print(f"wrote {path}", file=out)
    print(_count_of(len(written), "letter"), file=out)
    return EXIT_OK


def _current_version(session: Any, referral_id: int, given: int | None) -> int:
    from triage_app.services.referrals import get_referral

    return given if given is not None else get_referral(session.db, referral_id=referral_id).row.version


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
        else {"outcome": row.decided_outcome, "kind": row.decision_kind, "made_on": row.decision_basis},
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
        print(f"triage: {triage_text(row.outcome, row.decided_outcome, row.decision_kind)}", file=out)
        clock = RttClock.of(session.rules, today())  # the 18-week clock of today, not of scoring
        print(f"waiting: {clock.describe(detail.referral.received_on)} (on {format_date(clock.as_of)})", file=out)
        stored = detail.assessment.flags if detail.assessment is not None else ()
        shown = clock.flags(stored, detail.referral.received_on)
        print(f"cautions: {', '.join(FLAGS[f][0] if f in FLAGS else f for f in shown) or 'none'}", file=out)
        return EXIT_OK
    if action == "edit":
        record = read_json_file(args.file)
        if not isinstance(record, dict):
            raise CommandError(f"{args.file}: expected one referral (a JSON object)")
        try:
            edited = parse_referral(record, as_of=today())
        except ReferralInputError as exc:
            _print_errors(None, exc.errors, err)
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
        print(f"referral {saved.referral_id} saved as version {saved.version} ({saved.assessment.outcome})", file=out)
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
        expected_version=_current_version(session, args.referral, args.version),
        status=target,
        note=args.note,
    )
    print(
        f"referral {args.referral} is now {STATUS_LABELS[result.status].lower()} (version {result.version})", file=out
    )
    return EXIT_OK


def cmd_triage(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app triage confirm|override REFERRAL`: a consultant's triage decision."""
    from triage_app.services.triage import decide_triage

    overriding = args.triage_command == "override"
    result = decide_triage(
        session.db,
        actor=session.actor,
        referral_id=args.referral,
        expected_version=_current_version(session, args.referral, args.version),
        override_outcome=args.outcome if overriding else None,
        reason=args.reason if overriding else None,
    )
    verb = "overridden" if overriding else "confirmed"
    print(
        f"referral {args.referral}: triage {verb}; status {STATUS_LABELS[result.status].lower()} "
        f"(version {result.version})",
        file=out,
    )
    return EXIT_OK


def _case_action(text: str) -> Any:
    from triage_app.domain.meetings import CaseAction

    description, _, rest = text.partition("|")
    owner, _, due = rest.partition("|")
    return CaseAction(
        description.strip(),
        owner.strip() or None,
        _date_argument(due.strip(), "--action due date") if due.strip() else None,
    )


def _count_of(count: int, noun: str) -> str:
    """`1 referral`, `3 referrals`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def session_paths(args: argparse.Namespace) -> AppPaths:
    """Resolved paths for the parsed arguments."""
    return resolve_paths(data_dir=args.data_dir, db=args.db)


DB_COMMANDS: dict[str, Callable[[argparse.Namespace, Any, TextIO, TextIO], int]] = {
    "import": cmd_import,
    "referral": cmd_referral,
    "triage": cmd_triage,
    "queue": cmd_queue,
    "reassess": cmd_reassess,
    "rules": cmd_rules,
    "audit": cmd_audit,
    "user": cmd_user,
    "backup": cmd_backup,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "meeting": cmd_meeting,
    "agenda": cmd_export,
    "outcomes": cmd_export,
    "letters": cmd_letters,
}


def run_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run a parsed headless command; turn every expected failure into a message and an exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    from triage_app.services.errors import ServiceError
    from triage_app.storage.engine import DatabaseError

    paths = session_paths(args)
    refusal = rules_option_refusal(args)
    if refusal is not None:
        print(f"triage-app {args.command}: {refusal}", file=err)
        return EXIT_BAD_INPUT
    try:
        if args.command == "score":
            return cmd_score(args, paths, out, err)
        session = _open(paths)
        try:
            return DB_COMMANDS[args.command](args, session, out, err)
        finally:
            session.close()
    except CommandError as exc:
        print(f"triage-app {args.command}: {exc}", file=err)
        return exc.status
    except RulesFileError as exc:
        print(f"triage-app {args.command}: rules file: {exc}", file=err)
        return EXIT_BAD_INPUT
    except (DatabaseError, ConfigError) as exc:
        print(f"triage-app {args.command}: {exc}", file=err)
        log.error("%s failed: %s", args.command, type(exc).__name__)
        return EXIT_FAILURE
    except ServiceError as exc:
        print(f"triage-app {args.command}: {exc}", file=err)
        return EXIT_BAD_INPUT
