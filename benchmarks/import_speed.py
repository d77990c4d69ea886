"""Benchmark: `triage-app import` (the service, in-process, as the command opens it) against raw sqlite3 writing
the same rows, one commit a record, in the same run on the same machine (issue 14 item 3).

    python benchmarks/import_speed.py [--records 10000] [--batch 100] [--load] [--profile]

1. A fresh data folder is set up as the command line sets it up (`open_session`: migrated, rules approved, the
   audit checkpoint registered), then copied: one copy for the import, one for the baseline.
2. The import: `import_referrals` of N invented referrals (domain.demo) with one transaction a record (the
   default), each record's line written as the command prints it. SQLAlchemy's statement events count what one
   record runs through SQLAlchemy (printed once; the row inserts on the driver's cursor are not among them).
3. The baseline: plain `sqlite3` with the app's connection settings (WAL, synchronous FULL, foreign keys, BEGIN
   IMMEDIATE), inserting exactly the rows the import stored (read back from the import's copy, every table one
   record writes: referral, its medications, phenotype components, assessment, criteria, flags, missing fields,
   status change, search keys, the audit event, the chain head moved forward), one commit a record. It does no
   parsing, scoring, checks or hashing: the ratio is what all of that and SQLAlchemy cost over bare writes.
   A second baseline line adds parsing and scoring (domain only) to the raw writes, for reference.
4. With `--batch N`: the import again with N records a transaction (`triage-app import --batch N`).

Prints CPU (time.process_time, this process) and wall per record and the ratios; `--load` runs everything again
while a child process spins a CPU-bound loop, reporting quiet and loaded figures. `--profile` prints the
import's cProfile top 30.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import os
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from triage_app.config import ensure_data_dir, resolve_paths
from triage_app.domain.demo import synthetic_referral
from triage_app.domain.parsing import parse_referral
from triage_app.domain.scoring import assess
from triage_app.services.app import open_session
from triage_app.services.referrals import import_referrals

AS_OF = date(2026, 11, 2)
LOGIN = "bench-coordinator"

#: The tables one imported record writes, in an order the foreign keys accept, and the column naming its referral
#: (criteria, flags and missing fields by their assessment; the audit event by its entity id).
TABLES: list[tuple[str, str]] = [
    ("referral", "id"),
    ("oral_medication", "referral_id"),
    ("phenotype_component", "referral_id"),
    ("assessment", "referral_id"),
    ("assessment_criterion", "assessment_id"),
    ("assessment_flag", "assessment_id"),
    ("assessment_missing", "assessment_id"),
    ("status_change", "referral_id"),
    ("referral_search_key", "referral_id"),
    ("audit_event", "entity_id"),
]


def spin() -> None:  # the loader: a CPU-bound loop until killed
    n = 0
    while True:
        n += 1


@contextmanager
def loader(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    child = multiprocessing.Process(target=spin, daemon=True)
    child.start()
    try:
        yield
    finally:
        child.terminate()
        child.join()


def records(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20261122)
    return [synthetic_referral(serial, rng, AS_OF) for serial in range(1, count + 1)]


def data_folder(root: Path) -> Path:
    """A data folder as `triage-app` sets one up (migrated, the shipped rules approved, a coordinator)."""
    folder = root / "template"
    paths = resolve_paths(data_dir=str(folder), read_settings=False, environ={})
    ensure_data_dir(paths.data_dir)
    session = open_session(paths.db_url, backup_dir=paths.backup_dir, login=LOGIN, today=AS_OF)
    session.db.dispose()
    return folder


def copy_of(template: Path, root: Path, name: str) -> Path:
    target = root / name
    shutil.copytree(template, target)
    return target


def run_import(folder: Path, items: list[dict[str, Any]], batch: int, *, profile: bool = False) -> dict[str, Any]:
    paths = resolve_paths(data_dir=str(folder), read_settings=False, environ={})
    session = open_session(paths.db_url, backup_dir=paths.backup_dir, login=LOGIN, today=AS_OF)
    out = io.StringIO()
    statements: Counter[str] = Counter()
    counting = {"on": False}

    @sa.event.listens_for(session.db.engine, "before_cursor_execute")
    def count(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, _many: bool) -> None:
        if counting["on"]:
            statements[" ".join(statement.split()[:3])] += 1

    counting["on"] = True  # the first record alone, to count what one record runs
    first = import_referrals(
        session.db, actor=session.actor, records=items[:1], rules=session.rules, as_of=AS_OF, batch_size=1
    )
    counting["on"] = False
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = import_referrals(
        session.db,
        actor=session.actor,
        records=items[1:],
        rules=session.rules,
        as_of=AS_OF,
        batch_size=batch,
        on_result=lambda r: print(r.line(), file=out),
    )
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    session.db.dispose()
    assert len(first.added) == 1 and len(report.added) == len(items) - 1, report.summary()
    result = {"cpu": cpu, "wall": wall, "n": len(items) - 1, "statements": statements}
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        result["profile"] = text.getvalue()
    return result


def stored_rows(folder: Path, count: int) -> list[list[tuple[str, list[str], list[tuple[Any, ...]]]]]:
    """Per imported referral (ids 2..count: the first was the counted one), the rows of each table it wrote
    (each table read once and grouped here: the audit events have no index by entity)."""
    connection = sqlite3.connect(folder / "triage.sqlite3")
    grouped: dict[str, tuple[list[str], dict[int, list[tuple[Any, ...]]]]] = {}
    try:
        assessment_of = dict(connection.execute("SELECT id, referral_id FROM assessment").fetchall())
        for table, key in TABLES:
            where = " WHERE entity = 'referral' AND action = 'create'" if table == "audit_event" else ""
            cursor = connection.execute(f"SELECT * FROM {table}{where}")
            names = [d[0] for d in cursor.description]
            at = names.index(key)
            rows: dict[int, list[tuple[Any, ...]]] = {}
            for row in cursor:
                owner = int(row[at])
                rid = assessment_of[owner] if key == "assessment_id" else owner
                rows.setdefault(rid, []).append(row)
            grouped[table] = (names, rows)
    finally:
        connection.close()
    return [
        [(table, grouped[table][0], grouped[table][1].get(rid, [])) for table, _ in TABLES]
        for rid in range(2, count + 1)
    ]


def run_raw(folder: Path, per_record: list[Any], items: list[dict[str, Any]] | None, rules: Any) -> dict[str, Any]:
    """Raw sqlite3: the same rows, one transaction a record (with `items`: parsing and scoring each first)."""
    connection = sqlite3.connect(folder / "triage.sqlite3", isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA busy_timeout = 10000")
    sql = {
        table: f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        for table, names, _ in per_record[0]
    }
    cpu, wall = time.process_time(), time.perf_counter()
    for number, tables in enumerate(per_record):
        if items is not None:
            assess(parse_referral(items[number + 1], as_of=AS_OF), rules, AS_OF)
        connection.execute("BEGIN IMMEDIATE")
        last_event = None
        for table, _names, rows in tables:
            if rows:
                connection.executemany(sql[table], rows)
            if table == "audit_event":
                last_event = rows[-1]
        assert last_event is not None
        connection.execute(
            "UPDATE audit_chain_head SET last_event_id = ?, last_hash = ? WHERE id = 1", (last_event[0], last_event[-1])
        )
        connection.execute("COMMIT")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    connection.close()
    return {"cpu": cpu, "wall": wall, "n": len(per_record)}


def per_record(figures: dict[str, Any]) -> str:
    n = figures["n"]
    return f"CPU {figures['cpu'] / n * 1000:.2f} ms, wall {figures['wall'] / n * 1000:.2f} ms a record"


def one_run(args: argparse.Namespace, items: list[dict[str, Any]], template: Path, root: Path, label: str) -> None:
    from triage_app.config import default_rules_path
    from triage_app.domain.rules import load_rules

    rules = load_rules(default_rules_path())
    stamp = f"{label}-{time.monotonic_ns()}"
    imported = run_import(copy_of(template, root, f"import-{stamp}"), items, 1, profile=args.profile)
    rows = stored_rows(root / f"import-{stamp}", len(items))
    raw = run_raw(copy_of(template, root, f"raw-{stamp}"), rows, None, rules)
    raw_domain = run_raw(copy_of(template, root, f"rawd-{stamp}"), rows, items, rules)
    print(f"[{label}] load {os.getloadavg()[0]:.2f}", flush=True)
    if label == "quiet":
        statements = imported["statements"]
        print(
            f"  one record runs {sum(statements.values())} statements through SQLAlchemy (its row inserts and the audit "
            "event go on the driver's cursor, storage.plain_insert: not counted here):",
            flush=True,
        )
        for text, times in sorted(statements.items(), key=lambda item: -item[1]):
            print(f"    {times} x {text}")
    row_count = sum(len(rows) for _table, _names, rows in rows[0]) + 1
    print(f"  raw sqlite3, same rows ({row_count} row writes a record): {per_record(raw)}")
    print(f"  raw sqlite3 + parse and score:                    {per_record(raw_domain)}")
    print(f"  import, 1 record a transaction:                   {per_record(imported)}")
    print(
        f"  ratio import / raw: CPU {imported['cpu'] / raw['cpu']:.2f}x, wall {imported['wall'] / raw['wall']:.2f}x; "
        f"import / (raw + parse and score): CPU {imported['cpu'] / raw_domain['cpu']:.2f}x, "
        f"wall {imported['wall'] / raw_domain['wall']:.2f}x",
        flush=True,
    )
    if args.batch > 1:
        batched = run_import(copy_of(template, root, f"batch-{stamp}"), items, args.batch)
        print(f"  import --batch {args.batch}:  {per_record(batched)}")
        print(
            f"  ratio --batch {args.batch} / raw (1 commit a record): CPU {batched['cpu'] / raw['cpu']:.2f}x, "
            f"wall {batched['wall'] / raw['wall']:.2f}x",
            flush=True,
        )
    if args.profile and "profile" in imported:
        print(imported["profile"])
    for name in (f"import-{stamp}", f"raw-{stamp}", f"rawd-{stamp}", f"batch-{stamp}"):
        shutil.rmtree(root / name, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="records to import (default 10,000)")
    parser.add_argument("--batch", type=int, default=100, help="also import with N records a transaction (1: no)")
    parser.add_argument("--load", action="store_true", help="run again while a child process spins the CPU")
    parser.add_argument("--profile", action="store_true", help="print the import's cProfile top 30")
    args = parser.parse_args(argv)
    items = records(args.records + 1)
    with tempfile.TemporaryDirectory(prefix="import-speed-") as work:
        root = Path(work)
        template = data_folder(root)
        print(f"{args.records:,} records; {os.cpu_count()} CPUs", flush=True)
        one_run(args, items, template, root, "quiet")
        if args.load:
            with loader(True):
                one_run(args, items, template, root, "loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
