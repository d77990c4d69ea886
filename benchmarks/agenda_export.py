"""Benchmark: a 40-case MDT agenda in PDF, Word, CSV and HTML, with the time of each.

Each format is exported through the app's own path (read from the database, build, write atomically, audit),
best of --repeat runs; the raw read of the same 40 cases with sqlite3 is printed beside them as the baseline
taken in the same run. Target: under one second per format.

    python benchmarks/agenda_export.py [--cases 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triage_app.config import default_rules_path
from triage_app.domain.rules import load_rules
from triage_app.services import meetings
from triage_app.services.demo import load_demo
from triage_app.services.exports import export_agenda_file
from triage_app.services.queue import QueueFilter
from triage_app.services.referrals import list_queue
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate

AS_OF = date(2026, 11, 2)


def main() -> None:
    """Print the time of each format against the raw read."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rules = load_rules(default_rules_path())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "agenda.sqlite3"
        database = Database(parse_database_url(sqlite_url(path)))
        migrate(database, backup_dir=None)
        actor = sign_in(database, login="benchmark")
        load_demo(database, actor=actor, rules=rules, as_of=AS_OF, count=args.cases * 8, seed=5)
        ready = list_queue(database, queue_filter=QueueFilter(outcome="ready_for_mdt"), limit=args.cases)
        for row in ready:
            decide_triage(database, actor=actor, referral_id=row.id or 0, expected_version=row.version)
        meetings.set_capacity(database, actor=actor, cases=args.cases)
        meeting_id = meetings.create_meeting(
            database, actor=actor, meeting_date=date(2026, 12, 3), meeting_time="13:30"
        )
        added = meetings.fill_to_capacity(database, actor=actor, meeting_id=meeting_id)
        connection = sqlite3.connect(path)
        start = time.perf_counter()
        for _ in range(args.repeat):
            marks = ",".join("?" * len(added))
            connection.execute(f"SELECT * FROM referral WHERE id IN ({marks})", added).fetchall()
            connection.execute(f"SELECT * FROM oral_medication WHERE referral_id IN ({marks})", added).fetchall()
            connection.execute(
                "SELECT c.* FROM assessment_criterion c JOIN referral r ON r.current_assessment_id = c.assessment_id "
                f"WHERE r.id IN ({marks})",
                added,
            ).fetchall()
        raw_ms = (time.perf_counter() - start) / args.repeat * 1000
        print(f"agenda of {len(added)} cases; raw sqlite3 read of the same cases: {raw_ms:.1f} ms")
        for fmt in ("pdf", "docx", "csv", "html"):
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                out = export_agenda_file(
                    database,
                    actor=actor,
                    meeting_id=meeting_id,
                    fmt=fmt,
                    out=Path(folder) / f"agenda.{fmt}",
                    rules=rules,
                )
                times.append(time.perf_counter() - start)
            best = min(times)
            verdict = "ok" if best < 1.0 else "OVER 1 s"
            print(f"{fmt:>5}: {best * 1000:7.1f} ms  ({out.stat().st_size / 1024:,.0f} KB)  {verdict}")
        database.dispose()


if __name__ == "__main__":
    main()
