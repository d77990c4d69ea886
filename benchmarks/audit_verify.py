"""Benchmark: `audit verify` over a large trail: the chain, the checkpoint and every referral's state.

Builds (once per run, in a temporary folder) a database of --referrals demo referrals, each then edited once
through the app's own `update_referral` for the first --edited of them, and padded with settings events up to
--events audit events; then times `verify_audit_trail`, best of --repeat runs, against a baseline taken in the
same run: raw sqlite3 reading every event and hashing each row's text once with SHA-256 (the least any chain check
does). Target: a few seconds for 100,000 events and 10,000 referrals, within 10x of the baseline (the app also
checks the checkpoint, the triggers and every referral's state).

    python benchmarks/audit_verify.py [--events 100000] [--referrals 10000] [--edited 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triage_app.config import default_rules_path
from triage_app.domain.rules import load_rules
from triage_app.services.audit import backup_audit_check, verify_audit_trail
from triage_app.services.demo import load_demo
from triage_app.services.referrals import get_referral, update_referral
from triage_app.services.users import sign_in
from triage_app.storage.audit import record_event
from triage_app.storage.audit_checkpoint import set_checkpoint_path
from triage_app.storage.backup import take_backup
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate

AS_OF = date(2026, 11, 2)


def main() -> None:
    """Print the build and verify times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--referrals", type=int, default=10_000)
    parser.add_argument("--edited", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "triage.sqlite3"
        db = Database(parse_database_url(sqlite_url(path)))
        migrate(db, backup_dir=None)
        set_checkpoint_path(db.engine, Path(folder) / "audit-checkpoint.json", database=db.location.describe())
        rules = load_rules(default_rules_path())
        admin = sign_in(db, login="bench-admin", display_name="Bench Admin")
        started = time.perf_counter()
        load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=args.referrals)
        for referral_id in range(1, min(args.edited, args.referrals) + 1):
            shown = get_referral(db, referral_id=referral_id)
            edited = replace(shown.referral, clinical_question="Edited once")
            update_referral(
                db,
                actor=admin,
                referral_id=referral_id,
                expected_version=shown.row.version,
                referral=edited,
                rules=rules,
                as_of=AS_OF,
            )
        with db.write() as session:
            count = session.connection().exec_driver_sql("SELECT count(*) FROM audit_event").scalar_one()
            for serial in range(max(0, args.events - int(count))):
                record_event(
                    session,
                    user_login="bench-admin",
                    action="update",
                    entity="setting",
                    entity_id="bench",
                    changes={"value": [serial, serial + 1]},
                )
        built = time.perf_counter() - started
        times = []
        report = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = verify_audit_trail(db)
            times.append(time.perf_counter() - start)
        assert report is not None
        baseline = min(_raw_hash_all(path) for _ in range(args.repeat))
        print(f"built in {built:.1f} s: {report.summary()}")
        print(f"audit verify: best {min(times):.2f} s of {args.repeat} (all: {', '.join(f'{t:.2f}' for t in times)})")
        print(
            f"baseline (raw sqlite3 read + one SHA-256 per event): {baseline:.2f} s; ratio {min(times) / baseline:.1f}x"
        )
        if not report.intact:
            print("NOT INTACT:", report.problems[:3])
        # A backup verifies the audit trail too (services.audit.backup_audit_check): its cost beside the backup's.
        backups = Path(folder) / "backups"
        start = time.perf_counter()
        take_backup(path, backups, reason="manual")
        plain = time.perf_counter() - start
        start = time.perf_counter()
        made = take_backup(path, backups, reason="manual", audit_check=backup_audit_check(db, log_dir=None))
        checked = time.perf_counter() - start
        print(f"backup: {plain:.2f} s; with the audit trail verified: {checked:.2f} s ({made.entry.describe_audit()})")
        db.dispose()


def _raw_hash_all(path: Path) -> float:
    """Seconds for raw sqlite3 to read every audit event and hash its text once: the baseline."""
    start = time.perf_counter()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for row in connection.execute(
            "SELECT id, occurred_at, user_login, action, entity, entity_id, changes, prev_hash FROM audit_event ORDER BY id"
        ):
            hashlib.sha256(repr(row).encode("utf-8")).hexdigest()
    finally:
        connection.close()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
