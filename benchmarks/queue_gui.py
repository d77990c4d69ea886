"""Benchmark: the queue window on a million referrals, beside raw sqlite3 queries for the same page.

Measures, in one run on one machine, quiet and then while a child process of its own spins a CPU (--load):
  * first paint of the queue, applying an outcome filter, and a name search, each from the request to the end of
    the table viewport's first paint event with the new view's rows (the paint the event loop delivers, as in the
    app: the model's count and ids wait for it), against the raw sqlite3 queries that fetch the same count and
    page ("raw") and the same page alone ("raw page");
  * "counted": from the request to the view's count shown (the window says "Counting…" until then);
  * the longest GUI-thread stall while 100,000 referrals load, filter and sort (a 1 ms timer on the GUI thread
    records the largest gap between its ticks).
"app query" is the app's own read of the same first page (the code the worker runs before the first paint).
Targets: painted within 100 ms and within 3x raw; GUI stall under 100 ms.

    python benchmarks/queue_gui.py [--count 1000000] [--stall-count 100000] [--repeat 5] [--load quiet|loaded|both]
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QApplication, QTableView

from benchmarks.queue_db import AS_OF, benchmark_db
from triage_app.services.queue import QueueFilter, first_page
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.ui.app import tune_interpreter
from triage_app.ui.queue_model import COL_NAME, PAGE_SIZE, QueueTableModel, QueueView
from triage_app.ui.queue_pane import set_up_table
from triage_app.ui.worker import DbWorker

SEARCH = "ASHWORTH"

RAW_PAGE = """
SELECT id, version, priority, nhs_number, family_name, given_name, date_of_birth, hospital_number, received_on,
       outcome, status, decided_outcome, decision_kind, current_assessment_id,
       (SELECT m.meeting_date || ' ' || m.meeting_time FROM meeting AS m WHERE m.id = referral.meeting_id),
       (SELECT a.rules_version FROM assessment AS a WHERE a.id = referral.current_assessment_id)
FROM referral WHERE id IN ({ids})
"""
RAW_FLAGS = "SELECT assessment_id, flag FROM assessment_flag WHERE assessment_id IN ({ids}) ORDER BY flag"
RAW_VIEWS = {
    "first paint": ("", ()),
    "filter (needs information)": ("WHERE queue_outcome = ?", ("needs_information",)),  # as the app filters
}
#: The warm-up view, painted once before the measured views and not measured (the app has painted its start-up
#: view before a user filters).
WARM_UP = QueueFilter(outcome="ready_for_mdt")
# The search's raw WHERE is the app's own condition (the search-key table's union), compiled with its values
# inlined for the backend at hand (`raw_where`): the same SQL, without SQLAlchemy, the model or Qt.
#: The warm-up view, painted once before the measured views and not measured (the app has painted its start-up view
#: before a user filters).
WARM_UP = QueueFilter(outcome="ready_for_mdt")
VIEWS = {
    "first paint": QueueFilter(),
    "filter (needs information)": QueueFilter(outcome="needs_information"),
    f"search ({SEARCH.lower()})": QueueFilter(search=SEARCH.lower()),
}


def raw_where(name: str, dialect_name: str) -> tuple[str, tuple[Any, ...]]:
    """The raw WHERE clause (parameters marked ?) and its parameters for the view `name` on a backend."""
    if name in RAW_VIEWS:
        return RAW_VIEWS[name]
    from sqlalchemy.dialects import postgresql, sqlite

    from triage_app.storage.queue import queue_conditions

    dialect = sqlite.dialect() if dialect_name == "sqlite" else postgresql.dialect()
    condition = queue_conditions(VIEWS[name])[0].compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return f"WHERE {condition}", ()


def raw_page(connection: Any, where: str, params: tuple[Any, ...], *, count: bool = True) -> int:
    """The first screen of a view as plain driver queries: count (unless `count` is false), page of ids, rows,
    flags. Returns the count (without it: the page's length).

    `connection` is a sqlite3 or a psycopg connection; `where` marks its parameters `?` (psycopg's are `%s`).
    """
    mark = "?" if isinstance(connection, sqlite3.Connection) else "%s"
    where = where.replace("?", mark)
    total = connection.execute(f"SELECT count(*) FROM referral {where}", params).fetchone()[0] if count else 0
    ids = [
        r[0]
        for r in connection.execute(
            f"SELECT id FROM referral {where} ORDER BY priority DESC, id DESC LIMIT {PAGE_SIZE}", params
        )
    ]
    rows = connection.execute(RAW_PAGE.format(ids=",".join([mark] * len(ids))), ids).fetchall() if ids else []
    assessments = [r[-3] for r in rows if r[-3] is not None]
    if assessments:
        connection.execute(RAW_FLAGS.format(ids=",".join([mark] * len(assessments))), assessments).fetchall()
    return int(total) if count else len(ids)


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


class PaintedView(QTableView):
    """The app's table view, noting when its viewport's paint event ends (one Python call per paint)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False  # the next paint is the first with a new view's rows
        self.painted_at: float | None = None
        self.painted_cpu = 0.0  # the GUI thread's CPU time (time.thread_time) when that paint ended
        self.paints = 0  # viewport paints so far

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        self.paints += 1
        if self.armed:
            self.armed = False
            self.painted_at = time.perf_counter()
            self.painted_cpu = time.thread_time()


def open_queue(url: str) -> tuple[QueueTableModel, PaintedView, DbWorker, Database]:
    """The queue window's table, model and worker on the database at `url`, shown (offscreen), wired as the
    queue pane wires them (the count and ids wait for the viewport's first paint)."""
    database = Database(parse_database_url(url))
    worker = DbWorker()
    model = QueueTableModel(worker, lambda: database, today=lambda: AS_OF, warning_weeks=lambda: 12)
    view = PaintedView()
    view.setModel(model)
    set_up_table(view)  # as the queue pane sets it up: one line per row, elided, the first start's widths
    view.resize(1200, 800)
    model.watch_paints(view.viewport())
    model.page_shown.connect(lambda: setattr(view, "armed", True))
    view.show()
    gc.freeze()  # as the app does once its session is open (ui.app): no full collections of the start-up's objects
    return model, view, worker, database


def timed_load(
    app: QApplication, model: QueueTableModel, view: PaintedView, queue_filter: QueueFilter
) -> tuple[float, float, float]:
    """(request to the first paint with the new view's rows, request to its count shown, the GUI thread's CPU time
    from the request to that paint), in milliseconds. The CPU time is the app's own cost on the GUI thread (the
    model's reset, the handover, the paint) whatever else runs on the machine; the wall time is what a user sees."""
    counted: list[float] = []

    def on_count(_total: int) -> None:
        counted.append(time.perf_counter())

    model.loaded.connect(on_count)
    view.painted_at = None
    start, start_cpu = time.perf_counter(), time.thread_time()
    model.load(QueueView(queue_filter))
    wait_for(app, lambda: view.painted_at is not None and bool(counted))
    wait_for(app, lambda: model.all_ids_known and model._worker.pending == 0)
    model.loaded.disconnect(on_count)
    assert view.painted_at is not None
    return (view.painted_at - start) * 1000, (counted[0] - start) * 1000, (view.painted_cpu - start_cpu) * 1000


class Loader:
    """A child process spinning one CPU, standing for another program loading the machine."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Loader:
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(1.0)  # let it reach the scheduler's steady state
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def load_modes(choice: str) -> list[str]:
    """The --load choice as the modes to run, in order."""
    return ["quiet", "loaded"] if choice == "both" else [choice]


def settle(app: QApplication, view: PaintedView, quiet_ms: int = 100) -> None:
    """Run the event loop until the view has not painted for `quiet_ms` (at most 2 s): the repaints a view's count
    and ids bring are done, as they are by the time a user has read the screen and types the next filter."""
    deadline = time.perf_counter() + 2.0
    while time.perf_counter() < deadline:
        paints = view.paints
        loop = QEventLoop()
        QTimer.singleShot(quiet_ms, loop.quit)
        loop.exec()
        if view.paints == paints:
            return


def compare_views(
    app: QApplication,
    model: QueueTableModel,
    view: PaintedView,
    database: Database,
    raw: Callable[..., int],
    repeat: int,
    raw_name: str = "raw sqlite3",
    cold: bool = False,
) -> dict[str, tuple[float, ...]]:
    """Time each of VIEWS painted and counted, the app's first-page query, and `raw` (the driver's queries for the
    same count and page, and for the page alone: RAW_VIEWS), the views taken in turn `repeat` times with the raw
    queries run beside each; print a line each (median and best) and return
    {view: (painted, counted, query, raw, raw page, GUI CPU to the paint, paints)} medians in ms.

    `cold`: first time the start-up view once and print it as such (the run's first paint: Qt's fonts, glyphs and
    style not yet warm). Then one warm-up paint of a view not measured (another filter), as the app has painted its
    start-up view before a user filters; a settle after each view lets its count's and ids' repaints finish."""
    if cold:
        paint_ms, count_ms, cpu_ms = timed_load(app, model, view, QueueFilter())
        print(
            f"start-up view, cold (the run's first paint: fonts, glyph caches and style not yet warm): painted "
            f"{paint_ms:.1f} ms, counted {count_ms:.1f} ms, GUI CPU {cpu_ms:.1f} ms"
        )
        settle(app, view)
    timed_load(app, model, view, WARM_UP)  # a view not measured: the paint a real app has already made
    settle(app, view)
    print(
        f"{'':28} {'painted':>8} {'counted':>8} {'app page':>9} {raw_name + ' (count+page)':>26} {'raw page':>9} "
        f"{'painted/raw':>12} {'painted/raw page':>17} {'GUI CPU':>8} {'paints':>7}   "
        f"(ms; load average {os.getloadavg()[0]:.2f})"
    )
    samples: dict[str, list[tuple[float, ...]]] = {name: [] for name in VIEWS}
    wheres = {name: raw_where(name, database.engine.dialect.name) for name in VIEWS}
    totals: dict[str, tuple[int, int]] = {}
    for _ in range(repeat):
        for name, queue_filter in VIEWS.items():  # the views in turn, raw beside each
            where, params = wheres[name]
            paints = view.paints
            paint_ms, count_ms, cpu_ms = timed_load(app, model, view, queue_filter)
            settle(app, view)
            paint_count = view.paints - paints
            start = time.perf_counter()
            first_page(database, queue_filter=queue_filter, sort="priority", descending=True, page_size=PAGE_SIZE)
            query_ms = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            raw_total = raw(where, params)
            raw_ms = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            raw(where, params, count=False)
            page_ms = (time.perf_counter() - start) * 1000
            totals[name] = (raw_total, model.total)
            samples[name].append((paint_ms, count_ms, query_ms, raw_ms, page_ms, cpu_ms, paint_count))
    results = {}
    for name, runs in samples.items():
        raw_total, total = totals[name]
        assert raw_total == total, (raw_total, total)
        medians = tuple(statistics.median(column) for column in zip(*runs, strict=True))
        ratios = sorted(run[0] / run[3] for run in runs)  # each turn's paint against the raw queries beside it
        results[name] = medians
        paint_ms, count_ms, query_ms, raw_ms, page_ms, cpu_ms, paint_count = medians
        best = min(runs, key=lambda run: run[0] / run[3])
        print(
            f"{name:28} {paint_ms:8.1f} {count_ms:8.1f} {query_ms:9.1f} {raw_ms:26.1f} {page_ms:9.1f} "
            f"{statistics.median(ratios):11.2f}x {paint_ms / page_ms:16.2f}x {cpu_ms:8.1f} {paint_count:7.0f}   "
            f"({total:,} rows; per turn painted/raw {' '.join(f'{r:.2f}' for r in ratios)}; best turn "
            f"{best[0]:.1f} vs {best[3]:.1f} ms)"
        )
    print(
        f"(medians of {repeat} turns of each view, the views in turn; painted/raw: the median of each turn's paint "
        "against the raw queries run beside it)"
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
    """Print first paint, filter and search times against raw sqlite3, quiet and loaded, and the GUI stall."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--stall-count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--load", choices=("quiet", "loaded", "both"), default="both")
    args = parser.parse_args()
    tune_interpreter()  # as triage_app.ui.app.run_gui does: the lock's switch interval, the collector's thresholds
    app = QApplication([])

    path = benchmark_db(args.count)
    model, view, worker, database = open_queue(sqlite_url(path))
    connection = sqlite3.connect(path)
    print(f"queue of {args.count:,} referrals ({path.stat().st_size / 1e6:,.0f} MB)")
    for number, mode in enumerate(load_modes(args.load)):
        print(f"\n{mode}" + (": a child process spins one of the CPUs" if mode == "loaded" else ""))
        with Loader() if mode == "loaded" else _quiet():
            compare_views(
                app,
                model,
                view,
                database,
                lambda *a, **k: raw_page(connection, *a, **k),
                args.repeat,
                cold=number == 0,
            )
    worker.shutdown()
    database.dispose()

    small = benchmark_db(args.stall_count)
    model, view, worker, database = open_queue(sqlite_url(small))
    # As the app does before it shows the queue: open the session on the worker (schema check, sign-in).
    opened: list[object] = []
    worker.submit(lambda: open_session_like(database), opened.append, opened.append)
    wait_for(app, lambda: bool(opened))
    for mode in load_modes(args.load):
        with Loader() if mode == "loaded" else _quiet():
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
            view.scrollToTop()
            print(
                f"{mode}: longest GUI-thread stall while {args.stall_count:,} referrals load, filter, sort and "
                f"scroll: {worst} ms"
            )
    worker.shutdown()
    database.dispose()


class _quiet:  # noqa: N801  # the loader's stand-in when nothing else runs
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
