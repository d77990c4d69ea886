"""`triage-app restore BACKUP`: put a verified backup in place of the database (administrators).

Opens no session: the database may be damaged; it is only read (read-only) and locked, then moved aside into
`backups/replaced-<UTC stamp>/`, never deleted, so no `--yes` is asked for (a missing file: nothing is kept aside,
and no folder is made). A refusal (not an administrator, the backup damaged, the database in use) changes nothing.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from triage_app.cli.common import EXIT_FAILURE, EXIT_OK, AddCommand, CommandError, json_option, print_json
from triage_app.config import AppPaths


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    restore = add(
        "restore",
        "put a backup in place of the database (administrators): the backup is verified first, the current file "
        "and its -wal/-shm are kept in the backups folder (replaced-<time>), and the restore is audited",
    )
    restore.add_argument(
        "backup",
        metavar="BACKUP",
        help="a file name in the backups folder (as `triage-app check` prints it) or a path to a backup",
    )
    restore.add_argument(
        "--accept-audit-problem",
        action="store_true",
        help="restore a backup marked because its audit trail did not verify when it was taken (refused without "
        "this); the restore records that it was accepted",
    )
    json_option(restore, "what was restored and where the old file went")
    restore.set_defaults(run=cmd_restore, needs_database=False)


def _audit_json(paths: AppPaths, report: Any) -> dict[str, Any]:
    """The backup's audit trail as `backup --json` and `check --json` give it: `audit` is the manifest's value
    (`"intact"`, the first problem found, or None when not checked), `audit_problem` the problem or None, and
    `audit_accepted` whether an administrator restored it despite the problem (--accept-audit-problem)."""
    from triage_app.storage.backup_manifest import read_manifest

    entry = None
    if report.listed:
        entry = next((e for e in reversed(read_manifest(paths.backup_dir)) if e.file == report.backup.name), None)
    problem = None if entry is None else entry.audit_problem
    return {
        "audit": None if entry is None else entry.audit,
        "audit_problem": problem,
        "audit_accepted": problem is not None,  # a marked backup is restored only when accepted
    }


def cmd_restore(args: argparse.Namespace, paths: AppPaths, out: TextIO, err: TextIO) -> int:
    """`triage-app restore BACKUP`: restore, then say what was restored and where the old file went."""
    from triage_app.services.app import os_login
    from triage_app.services.maintenance import DatabaseInUse, RestoreFailed, resolve_backup, restore_backup
    from triage_app.storage.engine import parse_database_url

    location = parse_database_url(paths.db_url)
    backup = resolve_backup(paths.backup_dir, args.backup)
    try:
        report = restore_backup(
            location,
            backup,
            login=os_login(),
            backup_dir=paths.backup_dir,
            accept_audit_problem=args.accept_audit_problem,
        )
    except (DatabaseInUse, RestoreFailed) as exc:  # not the user's input: exit 1, the message says what stands
        raise CommandError(str(exc), EXIT_FAILURE) from None
    if args.json:
        print_json(
            out,
            {
                "backup": report.backup.name,
                "taken_at": None if report.taken_at is None else report.taken_at.isoformat(),
                "sha256": report.sha256,
                "row_counts": report.row_counts,
                "schema_revision": report.schema_revision,
                "listed": report.listed,
                "kept_aside_in": None if report.replaced_dir is None else str(report.replaced_dir),
                "kept_aside": [p.name for p in report.moved],
                "authorized_in": report.authorized_in,
                **_audit_json(paths, report),
                "checkpoint": report.checkpoint,
            },
        )
        return EXIT_OK
    print(report.describe(), file=out)
    verified = "its SHA-256 matches the manifest" if report.listed else "not in the manifest: checked now"
    print(f"verified: integrity ok; {verified}; schema {report.schema_revision}; {report.audit}", file=out)
    if report.replaced_dir is not None:
        print(f"kept aside in {report.replaced_dir}: {', '.join(p.name for p in report.moved)}", file=out)
    else:
        print("kept aside: nothing (there was no database file)", file=out)
    print(f"administrator: checked in {report.authorized_in}", file=out)
    print(f"audit: the restore is recorded in the audit trail; {report.checkpoint}", file=out)
    return EXIT_OK
