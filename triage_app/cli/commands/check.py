"""`triage-app check`: the full integrity check of the database, its row counts, and its backups' hashes.

Opens no session: a damaged database is read only through read-only connections, never migrated or written.
Exit 0 when the database is intact, 1 when it is damaged (or not a triage database), 1 when the file is missing
(said as missing, not damaged: nothing is kept aside; put it back or restore), and 1 when it
could not be read because of the disk (full, read-only, an I/O error): that is said as such, and no restore is
advised, since nothing is known to be wrong with the file. The check is of the file; the audit trail (who changed
what) is checked by `triage-app audit verify`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from triage_app.cli.common import EXIT_FAILURE, EXIT_OK, AddCommand, json_option, print_json
from triage_app.config import AppPaths


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    check = add(
        "check",
        "check the database in full (SQLite's integrity check), count its rows, and check every backup's SHA-256; "
        "changes nothing, and works on a damaged database",
    )
    json_option(check, "what the check found")
    check.set_defaults(run=cmd_check, needs_database=False)


def _report_json(report: Any) -> dict[str, Any]:
    """The check's findings with stable keys; `result` is intact, damaged, missing or unreadable."""
    if report.ok:
        result = "intact"
    elif report.missing:
        result = "missing"
    elif report.unreadable is not None:
        result = "unreadable"
    else:
        result = "damaged"
    newest = report.newest_verified
    return {
        "database": report.database,
        "result": result,
        "problems": list(report.problems),
        "unreadable": report.unreadable,
        "schema_revision": report.schema_revision,
        "row_counts": report.row_counts,
        "backups": [
            {
                "file": b.entry.file,
                "taken_at": b.entry.taken_at.isoformat(),
                "problem": b.problem,
                "audit": b.entry.audit,
            }
            for b in report.backups
        ],
        "unlisted_backups": list(report.unlisted),
        "newest_verified_backup": None if newest is None else newest.file,
        "restore_command": report.restore_command(),
        "notes": list(report.notes),
    }


def _counts_line(counts: dict[str, int]) -> str:
    from triage_app.storage.integrity import describe_counts

    return describe_counts(counts, tables=("referral", "audit_event", "meeting", "app_user"))


def _work_after(backup_dir: Path | None, newest: Any) -> str:
    """What a restore of `newest` would not bring back, as the audit checkpoint kept beside the backups shows it."""
    from triage_app.storage.audit_checkpoint import CheckpointError, checkpoint_path, read_checkpoint

    if backup_dir is None:
        return ""
    try:
        checkpoint = read_checkpoint(checkpoint_path(backup_dir))
    except CheckpointError:
        return ""
    events = newest.row_counts.get("audit_event")
    if checkpoint is None or events is None:
        return ""
    # A manual backup records itself in the trail just after its copy was taken: that one event is not work.
    own_record = 1 if newest.reason == "manual" else 0
    later = checkpoint.head_id - events - own_record
    if later <= 0:
        return ""
    return (
        f". Before you do: the audit checkpoint shows the trail reached event {checkpoint.head_id} and this backup "
        f"holds {events} events, so {later} recorded change{'s' if later != 1 else ''} after it would not come back: "
        "look for the moved file first"
    )


def cmd_check(args: argparse.Namespace, paths: AppPaths, out: TextIO, err: TextIO) -> int:
    """`triage-app check`: print what the check found; exit 1 for a damaged database."""
    from triage_app.services.app import os_login, server_login
    from triage_app.services.maintenance import check_database
    from triage_app.storage.engine import Database, parse_database_url

    location = parse_database_url(paths.db_url)
    if location.path is None:
        database = Database(location)
        try:
            report = check_database(location, backup_dir=paths.backup_dir, login=server_login(database), db=database)
        finally:
            database.dispose()
    else:
        report = check_database(location, backup_dir=paths.backup_dir, login=os_login())
    if args.json:
        print_json(out, _report_json(report))
        return EXIT_OK if report.ok else EXIT_FAILURE

    if report.missing:
        print(f"database: missing (no file at {report.database})", file=out)
    else:
        print(f"database: {report.database}", file=out)
    if report.missing:
        print("integrity: not checked: there is no database file", file=out)
    elif report.unreadable is not None:
        print(f"integrity: not checked: the database could not be read: {report.unreadable}", file=out)
    elif report.integrity is None and report.ok:
        print("integrity: not checked by the app (a database server)", file=out)
    elif report.ok:
        print("integrity: ok (PRAGMA integrity_check and foreign_key_check)", file=out)
    else:
        print(
            f"integrity: DAMAGED ({len(report.problems)} problem{'s' if len(report.problems) != 1 else ''})", file=out
        )
        for problem in report.problems:
            print(f"  - {problem}", file=out)
    if report.schema_revision is not None:
        print(f"schema: {report.schema_revision}", file=out)
    if report.row_counts is not None:
        print(f"rows: {_counts_line(report.row_counts)}", file=out)
    if report.backup_dir is not None and location.path is not None:
        intact = [b for b in report.backups if b.problem is None]
        marked = [b for b in intact if b.entry.audit_problem is not None]
        newest = report.newest_verified
        print(
            f"backups: {len(intact) - len(marked)} verified (SHA-256 checked)"
            + (f", {len(marked)} marked (their audit trail did not verify)" if marked else "")
            + f" in {report.backup_dir}"
            + (
                f"; newest: {newest.describe()}, {newest.describe_audit()}" if newest is not None else "; none verified"
            ),
            file=out,
        )
        for problem in report.backup_problems:
            print(f"  - backup problem: {problem}", file=out)
        for problem in report.backup_audit_problems:
            print(f"  - backup marked: {problem}", file=out)
        if report.unlisted:
            print(
                f"  - {len(report.unlisted)} file(s) named like backups are not in the manifest (older, or copied "
                f"in): not verified, never rotated: {', '.join(report.unlisted[:5])}"
                + (" ..." if len(report.unlisted) > 5 else ""),
                file=out,
            )
    for note in report.notes:
        print(f"note: {note}", file=out)
    if report.ok:
        print("result: the database is intact", file=out)
        if location.path is not None:
            print(
                "audit trail: not checked here (this check is of the file); run `triage-app audit verify` to check "
                "that no record was changed outside the app",
                file=out,
            )
        return EXIT_OK
    if report.unreadable is not None:
        print(
            "result: the database could not be read, so it was not checked. This is not a sign of damage: do not "
            "restore a backup. Put the disk right (free space, or make the folder writable) and run "
            "`triage-app check` again",
            file=out,
        )
        print(
            f"triage-app check: the database {report.database} could not be read: {report.unreadable}; it was not "
            "checked and nothing was changed",
            file=err,
        )
        return EXIT_FAILURE
    command = report.restore_command()
    if report.missing:
        newest = report.newest_verified
        print(
            "result: the database file is MISSING (not damaged: there is no file to check). If the file was moved, "
            "put it back. "
            + (
                f"Otherwise an administrator (as the backup records them) can restore the newest verified backup, "
                f"{newest.describe()}: {command}{_work_after(report.backup_dir, newest)}"
                if newest is not None and command is not None
                else "There is no verified backup to restore: ask the unit's IT contact before starting the app"
            ),
            file=out,
        )
        print(f"triage-app check: there is no database file at {report.database}; see above", file=err)
        return EXIT_FAILURE
    if command is not None:
        print(
            f"result: the database is DAMAGED. An administrator can restore the newest verified backup: {command} "
            "(the damaged file is kept aside)",
            file=out,
        )
    else:
        print("result: the database is DAMAGED, and there is no verified backup to restore", file=out)
    print(f"triage-app check: the database {report.database} is damaged; see above", file=err)
    return EXIT_FAILURE
