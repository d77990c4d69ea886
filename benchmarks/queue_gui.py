"""Benchmark: the queue window on a million referrals, beside raw sqlite3 queries for the same page.

Measures, in one run on one machine:
  * first paint of the queue, applying an outcome filter, and a name search, each from the request to the
    table painted, against the raw sqlite3 queries that fetch the same count and page;
  * the longest GUI-thread stall while 100,000 referrals load, filter and sort (a 1 ms timer on the GUI thread
    records the largest gap between its ticks).
"app query" is the app's own read of the same count and page (the code the worker runs), "painted" the whole
round trip from the request to the table painted on screen. Targets: painted within 100 ms, the app's query
within 3x the raw sqlite3 queries; GUI stall under 100 ms.

    python benchmarks/queue_gui.py [--count 1000000] [--stall-count 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QTableView

from benchmarks.queue_db import AS_OF, benchmark_db
from triage_app.services.queue import QueueFilter, snapshot
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.ui.queue_model import COL_NAME, PAGE_SIZE, QueueTableModel, QueueView
from triage_app.ui.worker import DbWorker

SEARCH = "ASHWORTH"

RAW_PAGE = """
SELECT id, version, priority, nhs_number, family_name, given_name, date_of_birth, hospital_number, received_on,
       outcome, status, current_assessment_id
FROM referral WHERE id IN ({ids})
"""
RAW_FLAGS = "SELECT assessment_id, flag FROM assessment_flag WHERE assessment_id IN ({ids}) ORDER BY flag"
RAW_VIEWS = {
    "first paint": ("", ()),
    "filter (needs information)": ("WHERE queue_outcome = ?", ("needs_information",)),  # as the app filters
    f"search ({SEARCH.lower()})": (
        "WHERE (family_name_key >= ? AND family_name_key < ?) OR (given_name_key >= ? AND given_name_key < ?) "
        "OR hospital_number = ? OR hospital_number = ?",
        (SEARCH, SEARCH + "\U0010ffff", SEARCH, SEARCH + "\U0010ffff", SEARCH.lower(), SEARCH),
    ),
}
VIEWS = {
    "first paint": QueueFilter(),
    "filter (needs information)": QueueFilter(outcome="needs_information"),
    f"search ({SEARCH.lower()})": QueueFilter(search=SEARCH.lower()),
}


def raw_page(connection: Any, where: str, params: tuple[Any, ...]) -> int:
    """What the model does for its first screen, as plain driver queries: count, page of ids, rows, flags.

    `connection` is a sqlite3 or a psycopg connection; `where` marks its parameters `?` (psycopg's are `%s`).
    """
    mark = "?" if isinstance(connection, sqlite3.Connection) else "%s"
    where = where.replace("?", mark)
    total = connection.execute(f"SELECT count(*) FROM referral {where}", params).fetchone()[0]
    ids = [
        r[0]
        for r in connection.execute(
            f"SELECT id FROM referral {where} ORDER BY priority DESC, id DESC LIMIT {PAGE_SIZE}", params
        )
    ]
    rows = connection.execute(RAW_PAGE.format(ids=",".join([mark] * len(ids))), ids).fetchall() if ids else []
    assessments = [r[-1] for r in rows]
    if assessments:
        connection.execute(RAW_FLAGS.format(ids=",".join([mark] * len(assessments))), assessments).fetchall()
    return int(total)


def wait_for(app: QApplication, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Run the real event loop (as the app does) until `condition` holds."""
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(1)
    check.timeout.connect(lambda: loop.quit() if condition() else None)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    check.start()
    deadline.start(int(timeout * 1000))
    if not condition():
        loop.exec()
    check.stop()
    if not condition():
        raise SystemExit("timed out waiting for the queue")


class Stall:
    """Largest gap between ticks of a 1 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self.tick)
        self.worst = 0

    def start(self) -> None:
        self.worst = 0
        self.clock.start()
        self.timer.start()

    def tick(self) -> None:
        self.worst = max(self.worst, self.clock.restart())

    def stop(self) -> int:
        self.timer.stop()
        return self.worst


def open_queue(url: str) -> tuple[QueueTableModel, QTableView, DbWorker, Database]:
    """The queue window's table, model and worker on the database at `url`, shown (offscreen)."""
    database = Database(parse_database_url(url))
    worker = DbWorker()
    model = QueueTableModel(worker, lambda: database, today=lambda: AS_OF, warning_weeks=lambda: 12)
    view = QTableView()
    view.setModel(model)
    view.resize(1200, 800)
    view.show()
    return model, view, worker, database


def timed_load(app: QApplication, model: QueueTableModel, view: QTableView, queue_filter: QueueFilter) -> float:
    """Request to painted table, in milliseconds."""
    loop = QEventLoop()
    done: list[float] = []

    def painted(_total: int) -> None:
        view.viewport().repaint()
        done.append(time.perf_counter())
        loop.quit()

    model.loaded.connect(painted)
    start = time.perf_counter()
    model.load(QueueView(queue_filter))
    loop.exec()
    elapsed = (done[0] - start) * 1000
    model.loaded.disconnect(painted)
    wait_for(app, lambda: model.all_ids_known and model._worker.pending == 0)
    return elapsed


def compare_views(
    app: QApplication,
    model: QueueTableModel,
    view: QTableView,
    database: Database,
    raw: Callable[[str, tuple[Any, ...]], int],
    repeat: int,
    raw_name: str = "raw sqlite3",
) -> dict[str, tuple[float, float, float]]:
    """Time each of VIEWS painted, the app's own query, and `raw` (the driver's queries for the same count and
    page: RAW_VIEWS); print a line each and return {view: (painted, query, raw)} medians in ms."""
    print(
        f"{'':28} {'painted (ms)':>12} {'app query (ms)':>15} {raw_name + ' (ms)':>17} "
        f"{'query/raw':>10} {'painted/raw':>12}"
    )
    timed_load(app, model, view, QueueFilter())  # warm the caches once, for both sides alike
    results = {}
    for name, queue_filter in VIEWS.items():
        where, params = RAW_VIEWS[name]
        painted, queried, raw_times = [], [], []
        for _ in range(repeat):
            painted.append(timed_load(app, model, view, queue_filter))
            start = time.perf_counter()
            snapshot(database, queue_filter=queue_filter, sort="priority", descending=True, page_size=PAGE_SIZE)
            queried.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            raw_total = raw(where, params)
            raw_times.append((time.perf_counter() - start) * 1000)
        assert raw_total == model.total, (raw_total, model.total)
        paint_ms, query_ms, raw_ms = (statistics.median(t) for t in (painted, queried, raw_times))
        results[name] = (paint_ms, query_ms, raw_ms)
        print(
            f"{name:28} {paint_ms:12.1f} {query_ms:15.1f} {raw_ms:17.1f} {query_ms / raw_ms:9.2f}x "
            f"{paint_ms / raw_ms:11.2f}x   ({model.total:,} rows)"
        )
    return results


def open_session_like(database: Database) -> None:
    """The database work the app does on the worker before its first queue load."""
    from triage_app.services.queue import counts
    from triage_app.services.users import sign_in
    from triage_app.storage.migrate import current_revision

    current_revision(database)
    sign_in(database, login="benchmark")
    counts(database)


def main() -> None:
    """Print first paint, filter and search times against raw sqlite3, and the GUI stall."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--stall-count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.setswitchinterval(0.001)  # as triage_app.ui.app.run_gui does
    app = QApplication([])

    path = benchmark_db(args.count)
    model, view, worker, database = open_queue(sqlite_url(path))
    connection = sqlite3.connect(path)
    print(f"queue of {args.count:,} referrals ({path.stat().st_size / 1e6:,.0f} MB)")
    compare_views(app, model, view, database, lambda where, params: raw_page(connection, where, params), args.repeat)
    worker.shutdown()
    database.dispose()

    small = benchmark_db(args.stall_count)
    model, view, worker, database = open_queue(sqlite_url(small))
    # As the app does before it shows the queue: open the session on the worker (schema check, sign-in).
    opened: list[object] = []
    worker.submit(lambda: open_session_like(database), opened.append, opened.append)
    wait_for(app, lambda: bool(opened))
    stall = Stall()
    stall.start()
    timed_load(app, model, view, QueueFilter())
    timed_load(app, model, view, QueueFilter(outcome="ready_for_mdt"))
    timed_load(app, model, view, QueueFilter())
    view.sortByColumn(COL_NAME, view.horizontalHeader().sortIndicatorOrder())
    wait_for(app, lambda: model.all_ids_known and worker.pending == 0)
    view.scrollToBottom()
    wait_for(app, lambda: model.queue_row(model.rowCount() - 1) is not None)
    worst = stall.stop()
    print(f"longest GUI-thread stall while {args.stall_count:,} referrals load, filter, sort and scroll: {worst} ms")
    worker.shutdown()
    database.dispose()


if __name__ == "__main__":
    main()
