"""Benchmarks of issue 14's background work, each against a baseline taken in the same run on the same machine.

    python benchmarks/background_work.py startup  [--count 20000]    # start-up under a rules change
    python benchmarks/background_work.py firstday [--count 1000000]  # first start of a day (the backup due)
    python benchmarks/background_work.py reassess [--count 100000]   # reassess vs raw sqlite3's same writes

* startup: the real window opens a database whose open referrals were all assessed by other rules (an approval
  made elsewhere, reassessment left to the window) with the daily backup due. Time from creating the window to its
  queue showing rows ("usable", the target: within 1 s), against the baseline of the same start of a copy of the
  same database with no rules change pending and no backup due, in the same run; also when the file's quick check
  (after the first paint) answered, when the background work ended and the longest GUI-thread stall from the
  first page to then.
* firstday: the same start with the daily backup due, against the same start with none due; then the time the
  window takes to close with the backup under way.

`--load` runs each start twice, quiet and then with a child process spinning a CPU-bound loop (one of the
machine's cores busy), and prints both.
* reassess: `reassess_open` of every open referral, against raw sqlite3 doing the same reads and writes (per
  batch: the referrals' rows, medications and components read, as rescoring needs them; the old assessments
  marked not current, the new assessments, their criteria and flags, the referrals' queue columns, one audit
  event a referral) in transactions of the same size; and against that plus the domain's own scoring (`assess`
  of every referral, timed alone), the work any reassessment must do.

Each prints its ratio. The databases are copies of benchmarks/out's cached demo databases (queue_db.py), migrated.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.queue_db import AS_OF, benchmark_db
from triage_app.config import default_rules_path, resolve_paths
from triage_app.domain.rules import RulesText, parse_rules_text, read_rules_file
from triage_app.domain.workflow import TRIAGEABLE
from triage_app.services.app import local_today
from triage_app.services.reassessment import BATCH_SIZE, reassess_open, refresh_queue_priorities
from triage_app.services.rules import approve_rules, ensure_rules_approved
from triage_app.services.users import Actor, add_user, sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate

LOGIN = "bench-admin"


def newer_rules() -> RulesText:
    shipped = read_rules_file(default_rules_path())
    text = shipped.text.replace(f'version = "{shipped.version}"', 'version = "spd-2099.1"')
    return parse_rules_text(text, "spd-2099.1.toml")


def prepared(count: int, folder: Path, *, stale: bool) -> tuple[Path, Actor]:
    """A migrated copy of the cached demo database in `folder`/triage.sqlite3, the shipped rules approved, and
    (`stale`) newer rules approved with the referrals left to reassess."""
    target = folder / "triage.sqlite3"
    started = time.perf_counter()
    shutil.copyfile(benchmark_db(count), target)
    database = Database(parse_database_url(sqlite_url(target)))
    try:
        migrate(database, backup_dir=None)
        builder = sign_in(database, login="benchmark")
        add_user(database, actor=builder, login=LOGIN, display_name="Bench Admin", roles=["admin", "consultant"])
        admin = sign_in(database, login=LOGIN)
        shipped = read_rules_file(default_rules_path())  # the demo referrals were scored with these
        ensure_rules_approved(database, signed_in=admin, shipped=shipped, as_of=AS_OF, reassess=False)
        # Today's priorities brought up to date here: the benchmark measures the rules change, not the daily
        # priority refresh a start makes when the waiting terms moved on (services.app._refresh_priorities).
        refresh_queue_priorities(database, rules=shipped.rules, as_of=local_today())
        if stale:
            approve_rules(database, actor=admin, proposed=newer_rules(), as_of=AS_OF, reassess=False)
    finally:
        database.dispose()
    print(f"  prepared {count:,} referrals in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return target, admin


def load() -> str:
    return "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())


class Loader:
    """A child process spinning a CPU-bound loop while a measurement runs (`with Loader(on):`)."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.child: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Loader:
        if self.on:
            self.child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)  # spinning before the measurement begins
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.wait()


# --- start-up ----------------------------------------------------------------------------------------------------


def start_window(data: Path, *, backup_due: bool, close_during: str | None = None) -> dict[str, float]:
    """Open the real window on `data`; times (ms) to the queue showing rows, to the background work ending."""
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    import triage_app.services.app as app_service
    from triage_app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    from triage_app.ui.app import tune_interpreter

    tune_interpreter()  # as run_gui
    saved = (app_service.daily_backup_due, app_service.daily_backup)
    if not backup_due:  # the same start with the day's backup already taken
        app_service.daily_backup_due = lambda *_a, **_k: False  # type: ignore[assignment]
        app_service.daily_backup = lambda *_a, **_k: None  # type: ignore[assignment]
    paths = resolve_paths(data_dir=str(data), environ={})
    settings = QSettings(str(data / "window.ini"), QSettings.Format.IniFormat)
    times: dict[str, float] = {}
    longest = [0.0]
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        if os.environ.get("BENCH_STALLS") and now - last[0] > 0.1 and "usable" in times:
            job = window.maintenance_actions.reassessment
            print(f"  stall {1000 * (now - last[0]):.0f} ms at {now - started:.1f} s: {job.state!r}", file=sys.stderr)
        longest[0] = max(longest[0], now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    ended = [False]
    started = time.perf_counter()
    window = MainWindow(paths, settings=settings, login=LOGIN)
    window.setProperty("smoke", True)
    window.maintenance_actions.reassessment.finished.connect(lambda: ended.__setitem__(0, True))
    import gc

    window.session_ready.connect(gc.freeze)  # as run_gui
    window.show()
    QTimer.singleShot(0, window.open_session)
    timer.start(5)
    try:
        deadline = started + 3600
        while time.perf_counter() < deadline:
            app.processEvents()
            if "usable" not in times and window.model.view is not None and window.model.rowCount() > 0:
                times["usable"] = (time.perf_counter() - started) * 1000
                if close_during == "early":
                    break
                longest[0] = 0.0  # the stall is measured from the first page on
            if close_during == "backup" and window.maintenance_actions.daily_state == "Backing up…":
                times["backup began"] = (time.perf_counter() - started) * 1000
                break
            job = window.maintenance_actions.reassessment
            daily = window.maintenance_actions.daily
            checker = window.maintenance_actions.page_check
            if "checked" not in times and checker.state not in ("", "checking"):
                times["checked"] = (time.perf_counter() - started) * 1000
            started_work = ended[0] and daily is not None  # both begin once the file's check has passed
            background = job.running or (daily is not None and daily.pending > 0)
            if "usable" in times and started_work and not background and window.worker.pending == 0:
                times["background done"] = (time.perf_counter() - started) * 1000
                break
            if checker.state == "damaged":
                raise RuntimeError("the benchmark's database was found damaged")
            time.sleep(0.001)
        times["longest stall"] = longest[0] * 1000
        if close_during == "backup" and "backup began" not in times:
            checker = window.maintenance_actions.page_check
            print(
                f"  no backup began: check {checker.state!r}, backup {window.maintenance_actions.daily_state!r}, "
                f"reassessment {window.maintenance_actions.reassessment.state!r}",
                file=sys.stderr,
            )
        if close_during:
            app.processEvents()
            time.sleep(0.5)  # part-way into the backup
            app.processEvents()
            closing = time.perf_counter()
            window.close()
            window.shutdown()
            times["close during backup"] = (time.perf_counter() - closing) * 1000
        else:
            window.close()
            window.shutdown()
    finally:
        timer.stop()
        app_service.daily_backup_due, app_service.daily_backup = saved  # type: ignore[assignment]
    return times


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _all(runs: list[dict[str, float]], key: str, scale: float = 1, *, digits: int = 0) -> str:
    """Each run's `key`, e.g. `412/398/455`."""
    return "/".join(f"{run.get(key, float('nan')) / scale:.{digits}f}" for run in runs)


def bench_startup(
    count: int, *, backup_due: bool = True, close_early: bool = False, loaded: bool = False, repeat: int = 3
) -> str:
    """`repeat` starts of each kind, alternating, after one warm-up start (the first window of a process pays for
    Qt's fonts and the imports); the medians compared, the longest stall of any run reported."""
    with tempfile.TemporaryDirectory(prefix="bench-start-", dir=str(Path(__file__).parent / "out")) as tmp:
        base, pending = Path(tmp) / "baseline", Path(tmp) / "pending.sqlite3"
        base.mkdir()
        prepared(count, base, stale=False)
        shutil.copyfile(base / "triage.sqlite3", pending)
        make_stale(pending)
        start_window(base, backup_due=False)  # warm-up, not counted
        lines = []
        for spinning in (False, True) if loaded else (False,):
            baselines: list[dict[str, float]] = []
            runs: list[dict[str, float]] = []
            with Loader(spinning):
                for attempt in range(repeat):
                    data = Path(tmp) / f"run-{'loaded' if spinning else 'quiet'}-{attempt}"  # nothing reassessed yet
                    data.mkdir()
                    shutil.copyfile(pending, data / "triage.sqlite3")
                    # The baseline: the same start, no rules change pending and no backup due; then the one measured.
                    baselines.append(start_window(base, backup_due=False))
                    runs.append(
                        start_window(data, backup_due=backup_due, close_during="early" if close_early else None)
                    )
                    shutil.rmtree(data)
            usable = _median([r["usable"] for r in runs])
            base_usable = _median([b["usable"] for b in baselines])
            after = (
                "closed {} ms after asking, 0.5 s into the background work".format(
                    "/".join(f"{r['close during backup']:.0f}" for r in runs)
                )
                if close_early
                else "background reassessment (and the daily backup) done at {} s".format(
                    "/".join(f"{r['background done'] / 1000:.1f}" for r in runs)
                )
            )
            verdict = "usable within 1 s" if max(r["usable"] for r in runs) <= 1000 else "NOT usable within 1 s"
            line = (
                f"start-up under a rules change{', backup due' if backup_due else ''}, {count:,} open referrals"
                f"{', loaded (a CPU-spinning child process)' if spinning else ', quiet'}: queue usable median "
                f"{usable:.0f} ms (runs {_all(runs, 'usable')}; {verdict}) vs the same start "
                f"with no rules change pending and no backup due {base_usable:.0f} ms = {usable / base_usable:.2f}x; "
                f"the file's quick check answered at {_all(runs, 'checked')}"
                f" ms; {after}; longest GUI stall after the first page "
                f"{_all(runs, 'longest stall')} ms (baseline starts "
                f"{_all(baselines, 'longest stall')} ms); load {load()}"
            )
            print(line, flush=True)
            lines.append(line)
    return "\n".join(lines)


def make_stale(path: Path) -> None:
    """Newer rules approved elsewhere (the approval only): every open referral left to reassess."""
    database = Database(parse_database_url(sqlite_url(path)))
    try:
        admin = sign_in(database, login=LOGIN)
        approve_rules(database, actor=admin, proposed=newer_rules(), as_of=AS_OF, reassess=False)
    finally:
        database.dispose()


def bench_firstday(count: int, *, loaded: bool = False, repeat: int = 2) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-day-", dir=str(Path(__file__).parent / "out")) as tmp:
        data = Path(tmp)
        prepared(count, data, stale=False)
        start_window(data, backup_due=False, close_during="early")  # warm-up, not counted
        lines = []
        for spinning in (False, True) if loaded else (False,):
            withouts: list[dict[str, float]] = []
            withs: list[dict[str, float]] = []
            with Loader(spinning):
                for _attempt in range(repeat):
                    withouts.append(start_window(data, backup_due=False, close_during="early"))
                    # The backup is stopped each time: nothing is recorded, so it is due again on the next start.
                    withs.append(start_window(data, backup_due=True, close_during="backup"))
            usable = _median([w["usable"] for w in withs])
            base_usable = _median([w["usable"] for w in withouts])
            verdict = "usable within 1 s" if max(w["usable"] for w in withs) <= 1000 else "NOT usable within 1 s"
            line = (
                f"first start of a day, {count:,} referrals{', loaded' if spinning else ', quiet'}: queue usable median "
                f"{usable:.0f} ms with the backup due (runs {_all(withs, 'usable')}; {verdict})"
                f" vs {base_usable:.0f} ms without = {usable / base_usable:.2f}x; the file's quick check answered and "
                f"the backup began at {_all(withs, 'backup began', 1000, digits=1)} s; closing 0.5 s "
                f"into the backup took {_all(withs, 'close during backup')} ms; longest GUI "
                f"stall from the first page to the backup {_all(withs, 'longest stall')} ms; "
                f"load {load()}"
            )
            print(line, flush=True)
            lines.append(line)
    return "\n".join(lines)


# --- reassess vs raw sqlite3 -------------------------------------------------------------------------------------


def raw_reassess(path: Path, batch: int) -> float:
    """The reads and writes `reassess_open` makes, in raw sqlite3, in transactions of `batch` referrals: seconds.

    Read: each referral's row, medications and components (what rescoring needs) and its current assessment with
    its criteria; written: the same rows the app writes, with the old values (no scoring: see `scoring_seconds`)."""
    connection = sqlite3.connect(path, isolation_level=None)
    statuses = sorted(TRIAGEABLE)
    ids = [
        r[0]
        for r in connection.execute(
            f"SELECT id FROM referral WHERE status IN ({','.join('?' * len(statuses))}) AND meeting_id IS NULL "
            "ORDER BY id",
            statuses,
        )
    ]
    columns = [r[1] for r in connection.execute("PRAGMA table_info(assessment)") if r[1] != "id"]
    started = time.perf_counter()
    head = connection.execute("SELECT last_event_id, last_hash FROM audit_chain_head").fetchone() or (0, "0" * 64)
    event_id, prev = int(head[0]), str(head[1])
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        marks = ",".join("?" * len(chunk))
        connection.execute("BEGIN IMMEDIATE")
        # What the app reads to rescore a referral: its row, its medications and its phenotype components.
        for table, key in (
            ("referral", "id"),
            ("oral_medication", "referral_id"),
            ("phenotype_component", "referral_id"),
        ):
            connection.execute(f"SELECT * FROM {table} WHERE {key} IN ({marks})", chunk).fetchall()
        current = connection.execute(
            f"SELECT id, {', '.join(columns)} FROM assessment WHERE referral_id IN ({marks}) AND is_current = 1",
            chunk,
        ).fetchall()
        criteria = {
            a: rows
            for a, rows in _group(
                connection.execute(
                    "SELECT assessment_id, criterion_id, status, reason FROM assessment_criterion WHERE assessment_id "
                    f"IN ({','.join('?' * len(current))})",
                    [r[0] for r in current],
                ).fetchall()
            ).items()
        }
        connection.execute(
            f"UPDATE assessment SET is_current = 0 WHERE referral_id IN ({marks}) AND is_current = 1", chunk
        )
        for row in current:
            values = list(row[1:])
            values[columns.index("rules_version")] = "spd-2099.1"
            cursor = connection.execute(
                f"INSERT INTO assessment ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})", values
            )
            new_id = cursor.lastrowid
            connection.executemany(
                "INSERT INTO assessment_criterion (assessment_id, criterion_id, status, reason) VALUES (?,?,?,?)",
                [(new_id, c, s, r) for c, s, r in criteria.get(row[0], [])],
            )
            referral_id = values[columns.index("referral_id")]
            connection.execute(
                "UPDATE referral SET current_assessment_id = ?, outcome = ?, priority = ? WHERE id = ?",
                (new_id, values[columns.index("outcome")], values[columns.index("priority")], referral_id),
            )
            event_id += 1
            changes = f'{{"outcome":[null,"{values[columns.index("outcome")]}"],"rules_version":[null,"spd-2099.1"]}}'
            digest = hashlib.sha256(f"{event_id}|{prev}|{changes}".encode()).hexdigest()
            connection.execute(
                "INSERT INTO audit_event (id, occurred_at, user_login, action, entity, entity_id, changes, prev_hash, "
                "hash) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    event_id,
                    "2026-11-22T00:00:00Z",
                    LOGIN,
                    "reassess",
                    "referral",
                    str(referral_id),
                    changes,
                    prev,
                    digest,
                ),
            )
            prev = digest
        connection.execute("UPDATE audit_chain_head SET last_event_id = ?, last_hash = ?", (event_id, prev))
        connection.execute("COMMIT")
    took = time.perf_counter() - started
    connection.close()
    return took


def scoring_seconds(path: Path, rules: Any) -> float:
    """The domain's own part of a reassessment: `assess` of every open referral (read untimed first), seconds."""
    from sqlalchemy import select
    from sqlmodel import col

    from triage_app.domain.scoring import assess
    from triage_app.storage.models import ReferralRow
    from triage_app.storage.reassess_batch import load_referrals

    database = Database(parse_database_url(sqlite_url(path)))
    try:
        with database.read() as session:
            ids = list(
                session.execute(select(col(ReferralRow.id)).where(col(ReferralRow.status).in_(TRIAGEABLE))).scalars()
            )
            referrals = [
                item.referral
                for start in range(0, len(ids), 500)
                for item in load_referrals(session, ids[start : start + 500])
            ]
    finally:
        database.dispose()
    started = time.perf_counter()
    for referral in referrals:
        assess(referral, rules, AS_OF)
    return time.perf_counter() - started


def _group(rows: list[Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(tuple(row[1:]))
    return grouped


def bench_reassess(count: int) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-reassess-", dir=str(Path(__file__).parent / "out")) as tmp:
        folder = Path(tmp)
        (folder / "app").mkdir()
        (folder / "raw").mkdir()
        path, admin = prepared(count, folder / "app", stale=True)
        raw_path = folder / "raw" / "triage.sqlite3"
        shutil.copyfile(path, raw_path)
        raw = raw_reassess(raw_path, BATCH_SIZE)
        scoring = scoring_seconds(raw_path, newer_rules().rules)
        database = Database(parse_database_url(sqlite_url(path)))
        try:
            rules = newer_rules().rules
            started = time.perf_counter()
            done = reassess_open(database, actor=admin, rules=rules, as_of=AS_OF)
            app = time.perf_counter() - started
        finally:
            database.dispose()
    line = (
        f"reassess {len(done.referral_ids):,} referrals (batches of {BATCH_SIZE}): app {app:.1f} s vs raw sqlite3 "
        f"doing the same reads and writes {raw:.1f} s = {app / raw:.1f}x; vs raw + the domain's scoring "
        f"({scoring:.1f} s) {raw + scoring:.1f} s = {app / (raw + scoring):.1f}x "
        f"({app / max(1, len(done.referral_ids)) * 1000:.2f} ms a referral, scoring included); load {load()}"
    )
    print(line)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["startup", "firstday", "reassess"])
    parser.add_argument("--count", type=int)
    parser.add_argument("--no-backup", action="store_true", help="startup: with the day's backup already taken")
    parser.add_argument("--close-early", action="store_true", help="startup: close 0.5 s after the queue shows")
    parser.add_argument("--load", action="store_true", help="also measure with a CPU-spinning child process")
    parser.add_argument("--repeat", type=int, default=3, help="startup/firstday: starts of each kind (medians)")
    args = parser.parse_args()
    print(f"load before: {load()}", flush=True)
    if args.which == "startup":
        bench_startup(
            args.count or 20_000,
            backup_due=not args.no_backup,
            close_early=args.close_early,
            loaded=args.load,
            repeat=args.repeat,
        )
    elif args.which == "firstday":
        bench_firstday(args.count or 1_000_000, loaded=args.load, repeat=args.repeat)
    else:
        bench_reassess(args.count or 100_000)


if __name__ == "__main__":
    main()
