"""Build (once) a benchmark database of N synthetic referrals, cached in benchmarks/out/; copy it to a server.

The referrals are made by the demo loader (services.demo, storage.bulk: parsed, scored, inserted in batches), once,
into a SQLite file. A PostgreSQL benchmark copies that file's rows into a fresh server database with COPY
(`copy_to_server`), so a million referrals reach the server in a few minutes rather than being scored again.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from uuid import uuid4

import sqlalchemy as sa
from sqlmodel import SQLModel

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
        _bring_up_to_date(path)
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


def _bring_up_to_date(path: Path) -> None:
    """Migrate a cached database made by an older schema (schema 0011 fills the search keys of every referral)."""
    from triage_app.storage.migrate import current_revision, head_revision

    database = Database(parse_database_url(sqlite_url(path)))
    try:
        if current_revision(database) != head_revision():
            started = time.perf_counter()
            migrate(database, backup_dir=None)
            with database.write() as session:
                session.connection().exec_driver_sql("ANALYZE")
            print(f"  migrated {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    finally:
        database.dispose()


#: What a copy leaves out: the schema's own rows (the migration makes them on the server) and the demo's audit trail
#: (its hash chain is of the SQLite file's rows; the queue never reads it).
NOT_COPIED = frozenset({"alembic_version", "audit_event", "audit_chain_head", "approved_rules", "app_setting"})


def driver_url(url: str) -> str:
    """A SQLAlchemy URL as libpq takes it (psycopg.connect): without the "+psycopg" driver name."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def server_database(admin_url: str, *, prefix: str = "bench", keep: bool = False) -> Iterator[str]:
    """A new, empty database on the server `admin_url` names (a role that may create databases), as a URL;
    dropped afterwards unless `keep`."""
    name = f"{prefix}_{uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def copy_to_server(path: Path, url: str) -> None:
    """Migrate the (empty) server database at `url` and copy the referrals of the SQLite file `path` into it.

    COPY, table by table in foreign-key order, with the server's triggers (foreign-key checks) off for the copy:
    the rows are a consistent database already. Needs a superuser (session_replication_role). Then every id
    sequence is moved past the ids copied, and the tables are analysed, as a server's autovacuum would.
    """
    import psycopg

    started = time.perf_counter()
    database = Database(parse_database_url(url))
    migrate(database, backup_dir=None)
    database.dispose()
    source = sqlite3.connect(path)
    with psycopg.connect(driver_url(url)) as server, server.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        for table in SQLModel.metadata.sorted_tables:
            if table.name in NOT_COPIED:
                continue
            cursor.execute(f"DELETE FROM {table.name}")  # the users a migration makes: the file's are copied
            stored = {row[1] for row in source.execute(f"PRAGMA table_info({table.name})")}
            columns = ", ".join(c.name for c in table.columns if c.name in stored)
            rows = source.execute(f"SELECT {columns} FROM {table.name}")
            with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                while batch := rows.fetchmany(10_000):
                    for row in batch:
                        copy.write_row(row)
            print(f"  copied {table.name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
            if "id" in table.columns:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table.name}), false)"
                )
        server.commit()
        server.autocommit = True
        cursor.execute("VACUUM ANALYZE")
    source.close()
    print(f"  copied to the server and analysed in {time.perf_counter() - started:.0f} s", file=sys.stderr)


#: The searches a coordinator types (schema 0011): a name part, both orders, the queue's own form, digits anywhere.
SEARCHES = ("ashworth", "abara", "Marguerite Quinnell", "QUINNELL, Marguerite", "Ashworth M", "4323", "999 000 12")


def search_timings(database: Database, repeat: int) -> dict[str, tuple[float, int]]:
    """Median ms of each SEARCHES view's count and first page (services.queue.snapshot, as the queue's worker
    reads it), with the view's size."""
    import statistics

    from triage_app.services.queue import QueueFilter, snapshot

    results = {}
    for typed in SEARCHES:
        times = []
        total = 0
        for _ in range(repeat):
            started = time.perf_counter()
            total = snapshot(
                database, queue_filter=QueueFilter(search=typed), sort="priority", descending=True, page_size=100
            ).total
            times.append((time.perf_counter() - started) * 1000)
        results[typed] = (statistics.median(times), total)
    return results


def main() -> None:
    """Build (or bring up to date) the benchmark database; with --search, time the queue's searches on it (and
    with --url, on a server copy too)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", nargs="?", type=int, default=1_000_000, help="referrals (default 1,000,000)")
    parser.add_argument("--search", action="store_true", help="time the queue's searches (target: 100 ms each)")
    parser.add_argument("--url", help="also copy to this PostgreSQL server (a superuser URL) and time them there")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = benchmark_db(args.count)
    print(path)
    if not args.search:
        return
    targets = [("SQLite", sqlite_url(path))]
    with server_database(args.url) if args.url else _nothing() as server_url:
        if server_url:
            copy_to_server(path, server_url)
            targets.append(("PostgreSQL", server_url))
        for backend, url in targets:
            database = Database(parse_database_url(url))
            try:
                for typed, (ms, total) in search_timings(database, args.repeat).items():
                    print(f"{backend:10} search {typed!r:24} {ms:8.1f} ms  ({total:,} found)")
            finally:
                database.dispose()


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


if __name__ == "__main__":
    main()
