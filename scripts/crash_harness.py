"""Crash harness: several `triage-app import` processes at once, killed at random, and nothing acknowledged lost.

Each round starts N importers (default 3) on one data folder, each importing a small batch of new referrals
through the app's own command (`triage-app import`, which prints each record's line as soon as it is
committed), and kills each at a random moment with SIGKILL (some finish first). A line read before the kill is
an acknowledgement: that record is stored, as that referral. Some rounds import a batch a killed process left
half done again, as a coordinator would ("run the import again with the same file"), so stored records must
come back as duplicates, never twice.

After the rounds: `PRAGMA integrity_check` (read-only), `triage-app audit verify`, and every acknowledged record
against the database. Prints the figures and exits 1 on any loss, duplicate, damage or broken audit trail.

    python3 scripts/crash_harness.py --rounds 100
    python3 scripts/crash_harness.py --rounds 5 --processes 2 --data-dir /tmp/harness --keep

SQLite only (the data folder's file; a server would be killed the same way but checked with its own tools).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.factories import AS_OF, referral_json  # noqa: E402  (test data: test-range NHS numbers only)

#: A record's line: `record 3 (external_id T-001): added as referral 7 (...)`, records numbered from 1 and named by
#: what the file calls them (nothing, when nothing in the record can be shown).
ACK = re.compile(r"^record (\d+)(?: \(.*?\))?: (?:added as|duplicate of) referral (\d+)\b")


@dataclass
class Figures:
    """What the harness saw."""

    rounds: int = 0
    processes: int = 0
    kills: int = 0
    finished: int = 0
    retried_batches: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # NHS number -> referral id it was stored as
    stored: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    integrity: str = "not checked"
    audit: str = "not checked"
    mismatched: list[str] = field(default_factory=list)  # an acknowledgement naming another referral

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not self.duplicated
            and not self.mismatched
            and self.integrity == "ok"
            and self.audit.startswith("intact")
        )

    def lines(self) -> list[str]:
        return [
            f"rounds={self.rounds} processes={self.processes} kills={self.kills} finished={self.finished} "
            f"retried_batches={self.retried_batches}",
            f"acknowledged={len(self.acknowledged)} stored={self.stored} lost={len(self.lost)} "
            f"duplicated={len(self.duplicated)} mismatched={len(self.mismatched)}",
            f"integrity {self.integrity}",
            f"audit {self.audit}",
        ]


def app(data_dir: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "triage_app", "--data-dir", str(data_dir), *argv]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_APP_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Importer:
    """One `triage-app import` process and the acknowledgements read from its standard output."""

    def __init__(self, data_dir: Path, batch: Path, records: list[dict[str, Any]], import_batch: int = 1) -> None:
        self.batch = batch
        self.records = records
        self.acks: list[tuple[str, int]] = []  # (NHS number, referral id)
        self.process = subprocess.Popen(
            app(data_dir, "import", str(batch), "--as-of", AS_OF.isoformat(), "--batch", str(import_batch)),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=_environment(),
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not line.endswith("\n"):  # cut by the kill: not an acknowledgement
                break
            match = ACK.match(line)
            if match:
                number, referral_id = int(match.group(1)), int(match.group(2))
                self.acks.append((self.records[number - 1]["patient"]["nhs_number"], referral_id))

    def kill(self) -> bool:
        """SIGKILL, unless it already ended; True when it was killed."""
        if self.process.poll() is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return True

    def join(self) -> None:
        self.process.wait()
        self.reader.join(timeout=10)


def run(
    data_dir: Path,
    *,
    rounds: int,
    processes: int,
    batch_size: int,
    seed: int,
    max_delay: float | None,
    out: Any,
    import_batch: int = 1,
) -> Figures:
    """Run the rounds on `data_dir` and check the result."""
    chance = random.Random(seed)
    figures = Figures(processes=processes)
    clock = time.monotonic()
    started = subprocess.run(app(data_dir, "queue"), cwd=ROOT, env=_environment(), capture_output=True, text=True)
    if started.returncode != 0:
        raise SystemExit(f"crash harness: the first start failed: {started.stderr.strip()}")
    # The kill window, from how long this machine takes to start a command: from half a start-up to a start-up
    # and the batch's records (about 0.1 s each with three writers), so kills land before, among and after commits.
    startup = time.monotonic() - clock
    window = (0.5 * startup, max_delay if max_delay else 1.3 * startup + 0.12 * batch_size * processes)
    print(f"start-up {startup:.1f} s: kills between {window[0]:.1f} and {window[1]:.1f} s", file=out, flush=True)
    batches = data_dir.parent / "batches"
    batches.mkdir(exist_ok=True)
    serial = 0
    unfinished: list[tuple[Path, list[dict[str, Any]]]] = []  # batches a kill cut short
    for round_number in range(1, rounds + 1):
        importers: list[Importer] = []
        for slot in range(processes):
            if unfinished and chance.random() < 0.3:  # run a cut-short batch again, as the summary advises
                path, records = unfinished.pop(chance.randrange(len(unfinished)))
                figures.retried_batches += 1
            else:
                records = [referral_json(serial + i + 1) for i in range(batch_size)]
                serial += batch_size
                path = batches / f"round{round_number:04d}-{slot}.json"
                path.write_text(json.dumps(records), encoding="utf-8")
            importers.append(Importer(data_dir, path, records, import_batch))
        # Each is killed at its own random moment: before its first record, during its records, or (if late
        # enough) not at all because it has finished.
        launched = time.monotonic()
        for when, importer in sorted(((chance.uniform(*window), i) for i in importers), key=lambda p: p[0]):
            time.sleep(max(0.0, launched + when - time.monotonic()))
            if importer.kill():
                figures.kills += 1
                unfinished.append((importer.batch, importer.records))
            else:
                figures.finished += 1
        for importer in importers:
            importer.join()
            for nhs, referral_id in importer.acks:
                before = figures.acknowledged.setdefault(nhs, referral_id)
                if before != referral_id:
                    figures.mismatched.append(f"{nhs}: acknowledged as {before} and as {referral_id}")
        figures.rounds = round_number
        if round_number % 10 == 0 or round_number == rounds:
            print(
                f"round {round_number}: kills={figures.kills} acknowledged={len(figures.acknowledged)}",
                file=out,
                flush=True,
            )
    _check(data_dir, figures)
    return figures


def _check(data_dir: Path, figures: Figures) -> None:
    database = data_dir / "triage.sqlite3"
    # The last importer may have been killed with its -wal unmerged: the next open reads it, as the app does.
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as connection:
        result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        figures.integrity = "ok" if result == ["ok"] else "; ".join(result[:5])
        rows = connection.execute("SELECT id, nhs_number FROM referral").fetchall()
    figures.stored = len(rows)
    by_nhs: dict[str, list[int]] = {}
    for referral_id, nhs in rows:
        by_nhs.setdefault(nhs, []).append(referral_id)
    figures.duplicated = sorted(nhs for nhs, ids in by_nhs.items() if len(ids) > 1)
    for nhs, referral_id in figures.acknowledged.items():
        if referral_id not in by_nhs.get(nhs, []):
            figures.lost.append(f"{nhs} (acknowledged as referral {referral_id})")
    verify = subprocess.run(
        app(data_dir, "audit", "verify"), cwd=ROOT, env=_environment(), capture_output=True, text=True
    )
    text = " ".join((verify.stdout + verify.stderr).split())
    figures.audit = ("intact: " if verify.returncode == 0 else f"BROKEN (exit {verify.returncode}): ") + text[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50, help="rounds of concurrent imports (default 50)")
    parser.add_argument("--processes", type=int, default=3, help="importers per round (default 3)")
    parser.add_argument("--batch", type=int, default=6, help="records per importer (default 6)")
    parser.add_argument(
        "--max-delay", type=float, default=None, help="latest kill, seconds after launch (default: from start-up time)"
    )
    parser.add_argument(
        "--import-batch", type=int, default=1, help="records a transaction (`triage-app import --batch N`, default 1)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time-based, printed)")
    parser.add_argument("--data-dir", type=Path, help="work folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 10_000 or not 1 <= args.processes <= 16 or not 1 <= args.batch <= 1_000:
        parser.error("choose 1-10,000 rounds, 1-16 processes and 1-1,000 records per batch")
    if not 1 <= args.import_batch <= 10_000:
        parser.error("choose 1-10,000 records a transaction (--import-batch)")
    seed = args.seed if args.seed is not None else int(time.time())
    work = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="crash-harness-"))
    data_dir = work / "data"
    print(f"crash harness: {args.rounds} rounds of {args.processes} importers, seed {seed}, in {work}", flush=True)
    print(f"records a transaction: {args.import_batch}", flush=True)
    started = time.monotonic()
    figures = run(
        data_dir,
        rounds=args.rounds,
        processes=args.processes,
        batch_size=args.batch,
        seed=seed,
        max_delay=args.max_delay,
        out=sys.stdout,
        import_batch=args.import_batch,
    )
    for line in figures.lines():
        print(line)
    for problem in (figures.lost + figures.duplicated + figures.mismatched)[:20]:
        print(f"  problem: {problem}")
    print(f"took {time.monotonic() - started:.0f} s; {'PASS' if figures.ok else 'FAIL'}")
    if not args.keep and not args.data_dir and figures.ok:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
