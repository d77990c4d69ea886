"""Build (once) a benchmark database of N synthetic referrals, cached in benchmarks/out/."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triage_app.config import default_rules_path
from triage_app.domain.rules import load_rules
from triage_app.services.demo import load_demo
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate

OUT = Path(__file__).resolve().parent / "out"
AS_OF = date(2026, 11, 2)


def benchmark_db(count: int) -> Path:
    """The path of a migrated database holding `count` demo referrals (built on first use)."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"queue-{count}.sqlite3"
    ready = path.with_suffix(".ready")
    if path.exists() and ready.exists():
        return path
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    database = Database(parse_database_url(sqlite_url(path)))
    migrate(database, backup_dir=None)
    actor = sign_in(database, login="benchmark")

    def progress(done: int, total: int) -> None:
        if done % 100_000 == 0 or done == total:
            print(f"  built {done:,} of {total:,} referrals ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    load_demo(
        database, actor=actor, rules=load_rules(default_rules_path()), as_of=AS_OF, count=count, progress=progress
    )
    with database.write() as session:
        session.connection().exec_driver_sql("ANALYZE")
    database.dispose()
    ready.touch()
    return path


if __name__ == "__main__":
    print(benchmark_db(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
