"""Benchmark: the queue window on a million referrals on PostgreSQL, beside raw psycopg queries for the same page.

Makes a database of its own on the server (`bench_xxxxxxxx`, dropped at the end unless --keep), copies the demo
loader's referrals into it (benchmarks/queue_db.py: built once into a SQLite file, then COPY), and measures in one
run on one machine, as benchmarks/queue_gui.py does on SQLite:
  * first paint of the queue, an outcome filter and a name search on the real table view and model, from the
    request to the table painted ("painted"), the app's own read of the same count and page ("app query":
    services.queue.snapshot, the code the worker runs), and the raw psycopg queries that fetch the same count and
    page ("raw psycopg"). Targets: painted within 100 ms, the app's query within 3x raw.
  * then the rest of the queue on the server: every sort, both ways; the caution filter; search by NHS number and
    by name in upper, lower and mixed case. Each view's first page from the app must equal the raw query's (same
    ids in the same order), and each is timed against it.

    python benchmarks/queue_server.py [--url postgresql+psycopg://postgres@127.0.0.1:55432/postgres]
                                      [--count 1000000] [--repeat 5] [--keep] [--reuse NAME]
                                      [--load quiet|loaded|both]

--url names a role that may create databases (a superuser: the copy switches triggers off while it runs).
--reuse NAME measures a database kept by an earlier run (--keep) instead of copying a new one (7 minutes).
--load: quiet, while a child process of the benchmark's own spins one CPU (loaded), or both (the default).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication
from sqlalchemy import make_url

from benchmarks.queue_db import AS_OF, benchmark_db, copy_to_server, driver_url, server_database
from benchmarks.queue_gui import SEARCH, Loader, compare_views, load_modes, open_queue, raw_page
from triage_app.domain.scoring import RttClock
from triage_app.services.queue import QueueFilter, snapshot
from triage_app.storage.engine import Database
from triage_app.ui.app import tune_interpreter
from triage_app.ui.queue_model import PAGE_SIZE

DEFAULT_URL = os.environ.get("TRIAGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:55432/postgres")

#: The queue's sort keys (storage.queue.SORT_COLUMNS) as the raw queries name their columns.
RAW_SORTS = {
    "priority": "priority",
    "nhs_number": "nhs_number",
    "name": "family_name_key",
    "date_of_birth": "date_of_birth",
    "received_on": "received_on",
    "outcome": "queue_outcome",
    "status": "status",
    "id": "id",
}
CAUTION = "dysphagia"
HIGH = "\U0010ffff"


def other_views(clock: RttClock) -> list[tuple[str, QueueFilter, str, str, tuple[Any, ...]]]:
    """(name, filter, sort, raw WHERE, raw params) of the rest of the queue's views, each sorted by priority
    unless its name says otherwise; the raw WHERE marks parameters %s."""
    key = SEARCH
    name_where = (
        "WHERE (family_name_key >= %s AND family_name_key < %s) OR (given_name_key >= %s AND given_name_key < %s) "
        "OR hospital_number = %s OR hospital_number = %s"
    )
    views: list[tuple[str, QueueFilter, str, str, tuple[Any, ...]]] = []
    for typed in (SEARCH, SEARCH.lower(), SEARCH.title()):
        views.append(
            (
                f"search '{typed}'",
                QueueFilter(search=typed),
                "priority",
                name_where,
                (key, key + HIGH) * 2 + (typed, key),
            )
        )
    nhs = "999 000 12"
    digits = nhs.replace(" ", "")
    views.append(
        (
            f"search NHS '{nhs}'",
            QueueFilter(search=nhs),
            "priority",
            f"{name_where} OR (nhs_number >= %s AND nhs_number < %s)",
            (nhs.upper(), nhs.upper() + HIGH) * 2 + (nhs, nhs.upper(), digits, digits + HIGH),
        )
    )
    views.append(
        (
            f"caution '{CAUTION}'",
            QueueFilter(flag=CAUTION, clock=clock),
            "priority",
            "WHERE current_assessment_id IN (SELECT assessment_id FROM assessment_flag WHERE flag = %s)",
            (CAUTION,),
        )
    )
    views.append(
        (
            "caution 'rtt_breach_risk'",
            QueueFilter(flag="rtt_breach_risk", clock=clock),
            "priority",
            "WHERE current_assessment_id IS NOT NULL AND received_on <= %s",
            (clock.warning_cutoff,),
        )
    )
    for sort in RAW_SORTS:
        for descending in (True, False):
            views.append((f"sort {sort} {'desc' if descending else 'asc'}", QueueFilter(), sort, "", ()))
    views.append(("sort breaches desc", QueueFilter(clock=clock), "breaches", "", ()))
    return views


def raw_order(sort: str, descending: bool, clock: RttClock) -> tuple[str, tuple[Any, ...]]:
    """The raw query's ORDER BY for a queue sort (storage.queue.queue_order), and its parameters."""
    way = "DESC" if descending else "ASC"
    if sort == "breaches":
        band = "CASE WHEN received_on <= %s THEN 2 WHEN received_on <= %s THEN 1 ELSE 0 END"
        order = f"{band} {way}, (priority IS NOT NULL) {way}, priority {way}, id {way}"
        return order, (clock.breach_cutoff, clock.warning_cutoff)
    return f"{RAW_SORTS[sort]} {way}, id {way}", ()


def check_other_views(database: Database, connection: Any, repeat: int) -> list[str]:
    """Time each of `other_views` against raw psycopg and check its first page is the raw query's; return the
    views whose page or count differs."""
    clock = RttClock(AS_OF, 12)
    wrong = []
    print(f"\n{'view':34} {'app query (ms)':>15} {'raw psycopg (ms)':>17} {'query/raw':>10}")
    for name, queue_filter, sort, where, params in other_views(clock):
        descending = not name.endswith(" asc")
        order, order_params = raw_order(sort, descending, clock)
        queried, raw_times = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            result = snapshot(
                database, queue_filter=queue_filter, sort=sort, descending=descending, page_size=PAGE_SIZE
            )
            queried.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            with connection.transaction():
                total = connection.execute(f"SELECT count(*) FROM referral {where}", params).fetchone()[0]
                ids = [
                    row[0]
                    for row in connection.execute(
                        f"SELECT id FROM referral {where} ORDER BY {order} LIMIT {PAGE_SIZE}", params + order_params
                    )
                ]
                raw_page_rows(connection, ids)
            raw_times.append((time.perf_counter() - start) * 1000)
        same = result.total == total and result.first_ids == ids and set(result.rows) == set(ids)
        if not same:
            wrong.append(name)
        query_ms, raw_ms = statistics.median(queried), statistics.median(raw_times)
        print(
            f"{name:34} {query_ms:15.1f} {raw_ms:17.1f} {query_ms / raw_ms:9.2f}x   ({total:,} rows)"
            + ("" if same else "   PAGE DIFFERS FROM RAW")
        )
    return wrong


def raw_page_rows(connection: Any, ids: list[int]) -> None:
    """The page's rows and flags, as raw_page reads them."""
    if not ids:
        return
    marks = ",".join(["%s"] * len(ids))
    rows = connection.execute(
        "SELECT id, version, priority, nhs_number, family_name, given_name, date_of_birth, hospital_number, "
        f"received_on, outcome, status, current_assessment_id FROM referral WHERE id IN ({marks})",
        ids,
    ).fetchall()
    assessments = [row[-1] for row in rows if row[-1] is not None]
    if assessments:
        connection.execute(
            "SELECT assessment_id, flag FROM assessment_flag WHERE assessment_id IN "
            f"({','.join(['%s'] * len(assessments))}) ORDER BY flag",
            assessments,
        ).fetchall()


def measure(app: QApplication, url: str, args: Any) -> list[str]:
    """First paint, filter and search (quiet and loaded, as --load says), then the other views; returns the
    views whose page differs from the raw query's."""
    import psycopg

    model, view, worker, database = open_queue(url)
    wrong: list[str] = []
    with psycopg.connect(driver_url(url)) as connection:
        version = connection.execute("SHOW server_version").fetchone()
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        print(
            f"queue of {args.count:,} referrals on PostgreSQL {version[0] if version else '?'} "
            f"({(size[0] if size else 0) / 1e6:,.0f} MB); {date.today()}; load: {os.getloadavg()[0]:.2f}"
        )

        def raw(where: str, params: tuple[Any, ...], count: bool = True) -> int:
            with connection.transaction():  # one transaction for the page, as the app's read session
                return raw_page(connection, where, params, count=count)

        for number, mode in enumerate(load_modes(args.load)):
            print(f"\n{mode}" + (": a child process spins one of the CPUs" if mode == "loaded" else ""))
            cold = number == 0  # the run's first paint, printed as the cold start-up view
            if mode == "loaded":
                with Loader():
                    compare_views(app, model, view, database, raw, args.repeat, raw_name="raw psycopg", cold=cold)
            else:
                compare_views(app, model, view, database, raw, args.repeat, raw_name="raw psycopg", cold=cold)
        if not args.first_only:
            wrong = check_other_views(database, connection, args.repeat)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    worker.shutdown()
    database.dispose()
    return wrong


def main() -> None:
    """Build the server database, print first paint, filter and search against raw psycopg, then the other views."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="an administrator's URL on the server (default %(default)s)")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database (its name is printed)")
    parser.add_argument("--reuse", metavar="NAME", help="measure this kept benchmark database (no copy)")
    parser.add_argument("--load", choices=("quiet", "loaded", "both"), default="both")
    parser.add_argument("--first-only", action="store_true", help="first paint, filter and search only")
    args = parser.parse_args()
    tune_interpreter()  # as triage_app.ui.app.run_gui does: the lock's switch interval, the collector's thresholds
    app = QApplication([])

    if args.reuse:
        url = make_url(args.url).set(database=args.reuse).render_as_string(hide_password=False)
        wrong = measure(app, url, args)
    else:
        source = benchmark_db(args.count)
        with server_database(args.url, keep=args.keep) as url:
            copy_to_server(source, url)
            wrong = measure(app, url, args)
    if wrong:
        raise SystemExit(f"the app's page differs from the raw query's for: {', '.join(wrong)}")


if __name__ == "__main__":
    main()
