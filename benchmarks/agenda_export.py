"""Benchmark: a 40-case MDT agenda in PDF, Word, CSV and HTML, then the outcome letters of those 40 cases in
Word and PDF, with the time of each.

Each file is exported through the app's own path (read from the database, build, write atomically, audit),
best of --repeat runs; the raw read of the same 40 cases with sqlite3 is printed beside them as the baseline
taken in the same run. Targets: under one second per agenda format; 40 letters under two seconds per format.
The CPU time of each is printed beside it: on a shared, loaded machine the wall time says more about the load.

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
from triage_app.domain.meetings import CaseAction
from triage_app.domain.rules import load_rules, read_rules_file, shipped_rules_path
from triage_app.services import meetings
from triage_app.services.demo import load_demo
from triage_app.services.exports import export_agenda_file, export_letters
from triage_app.services.queue import QueueFilter
from triage_app.services.referrals import list_queue
from triage_app.services.rules import ensure_rules_approved
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate

AS_OF = date(2026, 11, 2)
MEETING_DAY = date(2026, 12, 3)


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
        ensure_rules_approved(database, signed_in=actor, shipped=read_rules_file(shipped_rules_path()), as_of=AS_OF)
        load_demo(database, actor=actor, rules=rules, as_of=AS_OF, count=args.cases * 8, seed=5)
        ready = list_queue(database, queue_filter=QueueFilter(outcome="ready_for_mdt"), limit=args.cases)
        for row in ready:
            decide_triage(database, actor=actor, referral_id=row.id or 0, expected_version=row.version)
        meetings.set_capacity(database, actor=actor, cases=args.cases)
        meeting_id = meetings.create_meeting(
            database, actor=actor, meeting_date=MEETING_DAY, meeting_time="13:30", today=AS_OF
        ).meeting_id
        added = meetings.fill_to_capacity(database, actor=actor, meeting_id=meeting_id).added
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
            times, cpu = [], []
            for _ in range(args.repeat):
                start, started = time.perf_counter(), time.process_time()
                out = export_agenda_file(
                    database,
                    actor=actor,
                    meeting_id=meeting_id,
                    fmt=fmt,
                    out=Path(folder) / f"agenda.{fmt}",
                    overwrite=True,
                )
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - started)
            best = min(times)
            verdict = "ok" if best < 1.0 else "OVER 1 s"
            print(
                f"{fmt:>5}: {best * 1000:7.1f} ms  (CPU {min(cpu) * 1000:.0f} ms; {out.stat().st_size / 1024:,.0f} KB)  "
                f"{verdict}"
            )
        for number, referral_id in enumerate(added):
            meetings.record_outcome(
                database,
                actor=actor,
                meeting_id=meeting_id,
                referral_id=referral_id,
                outcome=("decline", "more_information_needed", "continue_best_medical_treatment")[number % 3],
                rationale="Benchmark rationale: toxin response still partial.",
                today=MEETING_DAY,
                actions=[CaseAction("Write to the referrer", "MDT coordinator", date(2026, 12, 17))],
            )
        for fmt in ("docx", "pdf"):
            times, cpu, count = [], [], 0
            for run in range(args.repeat):
                folder_out = Path(folder) / f"letters-{fmt}-{run}"
                folder_out.mkdir()
                start, started = time.perf_counter(), time.process_time()
                written = export_letters(
                    database, actor=actor, meeting_id=meeting_id, fmt=fmt, out_dir=folder_out, today=MEETING_DAY
                )
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - started)
                count = len(written)
            best = min(times)
            verdict = "ok" if best < 2.0 else "OVER 2 s"
            print(f"{count} letters {fmt:>4}: {best * 1000:7.1f} ms  (CPU {min(cpu) * 1000:.0f} ms)  {verdict}")
        database.dispose()


if __name__ == "__main__":
    main()
