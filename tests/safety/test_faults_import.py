"""Faults during an import, done for real (issue 10, finding 6): a lock taken by another connection after
record N is committed, a database that fills up (SQLite's own "database or disk is full", and a real full
tmpfs when the tests run as root), a record the database itself refuses. In each, what the import printed is
exactly what is stored, nothing acknowledged is lost, the last message says which records were stored and which
were not tried (never "nothing was changed"), and running the same file again completes it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event

from tests.factories import AS_OF, referral_json
from triage_app.cli.commands.importing import cmd_import
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.rules import Rules
from triage_app.services.referrals import ADDED, DUPLICATE, RecordResult, import_referrals
from triage_app.services.users import Actor
from triage_app.storage.engine import Database, parse_database_url, sqlite_url


def stored_nhs(db_path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        return [row[0] for row in connection.execute("SELECT nhs_number FROM referral ORDER BY id")]


#: How each line names a factory record: by its external_id, which `referral_json` gives as T-001.
T001 = " (external_id T-001)"


def nhs_of(serials: range | list[int]) -> list[str]:
    return [make_test_nhs_number(serial) for serial in serials]


@contextlib.contextmanager
def short_wait(db_path: Path, busy_timeout_ms: int = 150) -> Iterator[Database]:
    """The app's Database on the same file, giving up on a lock after `busy_timeout_ms` (10 s by default)."""
    database = Database(parse_database_url(sqlite_url(db_path)), busy_timeout_ms=busy_timeout_ms)
    try:
        yield database
    finally:
        database.dispose()


@pytest.mark.hazard("H03", "H17")
def test_a_lock_taken_after_record_2_stops_the_import_and_the_summary_names_exactly_the_stored_records(
    db_path: Path, admin: Actor, rules: Rules
) -> None:
    records = [referral_json(serial) for serial in range(1, 7)]
    holder = sqlite3.connect(db_path, isolation_level=None)  # another program, holding the write lock
    lines: list[str] = []

    def acknowledged(result: RecordResult) -> None:
        lines.append(result.line())
        if result.index == 2:
            holder.execute("BEGIN IMMEDIATE")

    try:
        with short_wait(db_path) as db:
            report = import_referrals(
                db, actor=admin, records=records, rules=rules, as_of=AS_OF, on_result=acknowledged
            )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Records are numbered from 1 and named by the file's reference (every factory record's is T-001).
    assert lines == [f"record {i}{T001}: added as referral {i} (ready_for_mdt)" for i in range(1, 4)]
    assert report.stopped_at == 3 and not report.ok  # the fourth record, from 0
    summary = report.summary()
    assert re.fullmatch(
        r"stopped at record 4 of 6: the database \S+ is in use by another program and stayed locked for 0\.15 "
        r"seconds\. Try again in a moment\. Records 1-3 were tried, each listed above \(3 stored: 3 added, 0 "
        r"duplicate, 0 possible duplicate, 0 refused\); record 4 \(external_id T-001\) was not stored \(its "
        r"transaction was rolled back\), records 5-6 were not tried\. Run the import again with the same file: records already stored "
        r"are reported as duplicates and the rest are added\.",
        summary,
    ), summary
    assert "nothing was changed" not in summary.lower()
    assert stored_nhs(db_path) == nhs_of(range(1, 4))  # exactly the records the summary says

    # "Run the import again with the same file": true. The stored ones are duplicates, the rest are added.
    with short_wait(db_path) as db:
        again = import_referrals(db, actor=admin, records=records, rules=rules, as_of=AS_OF)
    assert [r.kind for r in again.results] == [DUPLICATE] * 3 + [ADDED] * 3 and again.ok
    assert stored_nhs(db_path) == nhs_of(range(1, 7))


@pytest.mark.hazard("H03", "H17")
def test_the_command_prints_each_line_before_the_lock_and_ends_with_exit_1(
    tmp_path: Path, db_path: Path, admin: Actor, rules: Rules
) -> None:
    """`triage-app import` itself (its run function, on a database with a short busy timeout): each record's
    line is on standard output, flushed, before the next record is tried."""
    holder = sqlite3.connect(db_path, isolation_level=None)

    class Terminal(io.StringIO):
        """Standard output; the other program takes the lock once it has shown record 2's line."""

        def flush(self) -> None:
            if "record 2 (external_id T-001): added" in self.getvalue() and not holder.in_transaction:
                holder.execute("BEGIN IMMEDIATE")

    source = tmp_path / "batch.json"
    source.write_text(json.dumps([referral_json(serial) for serial in range(1, 5)]), encoding="utf-8")
    out, err = Terminal(), io.StringIO()
    args = SimpleNamespace(file=str(source), as_of=AS_OF.isoformat(), second_referral_reason=None)
    try:
        with short_wait(db_path) as db:
            status = cmd_import(args, SimpleNamespace(db=db, actor=admin, rules=rules), out, err)  # type: ignore[arg-type]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 1
    assert out.getvalue().splitlines() == [
        "record 1 (external_id T-001): added as referral 1 (ready_for_mdt)",
        "record 2 (external_id T-001): added as referral 2 (ready_for_mdt)",
    ]
    message = err.getvalue()
    assert message.startswith("triage-app import: stopped at record 3 of 4: the database ")
    assert (
        "Records 1-2 were tried, each listed above (2 stored: 2 added, 0 duplicate, 0 possible duplicate, 0 "
        "refused); record 3 (external_id T-001) was not stored (its transaction was rolled back), record 4 was not "
        "tried." in message
    )
    assert "nothing was changed" not in message.lower()
    assert stored_nhs(db_path) == nhs_of(range(1, 3))


@pytest.mark.hazard("H03", "H17")
def test_a_database_that_fills_up_mid_import_reports_exactly_what_it_stored(
    db_path: Path, admin: Actor, rules: Rules
) -> None:
    """SQLite's own full-database error (SQLITE_FULL, "database or disk is full"), from a page limit set on the
    import's connections: the same error a full disk gives, on any machine."""
    records = [referral_json(serial, clinical_question="Q" * 3_900) for serial in range(1, 41)]
    lines: list[str] = []
    with short_wait(db_path) as db:

        @event.listens_for(db.engine, "connect")
        def cap(connection: sqlite3.Connection, _record: Any) -> None:
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            connection.execute(f"PRAGMA max_page_count = {pages + 12}")

        report = import_referrals(
            db, actor=admin, records=records, rules=rules, as_of=AS_OF, on_result=lambda r: lines.append(r.line())
        )
    assert report.stopped_at is not None and 0 < report.stopped_at < 40
    at = report.stopped_at  # from 0: records 1 to `at` were stored, record `at + 1` stopped the import
    assert lines == [f"record {i}{T001}: added as referral {i} (ready_for_mdt)" for i in range(1, at + 1)]
    summary = report.summary()
    assert summary.startswith(f"stopped at record {at + 1} of 40: ")
    assert "full" in summary.split(". Records")[0]
    assert (
        f"record {at + 1}{T001} was not stored (its transaction was rolled back), records {at + 2}-40 were not tried"
        in summary
    )
    assert "nothing was changed" not in summary.lower()
    assert stored_nhs(db_path) == nhs_of(range(1, at + 1))
    with short_wait(db_path) as db:  # space again: the same file completes the import
        again = import_referrals(db, actor=admin, records=records, rules=rules, as_of=AS_OF)
    assert [r.kind for r in again.results] == [DUPLICATE] * at + [ADDED] * (40 - at)
    assert stored_nhs(db_path) == nhs_of(range(1, 41))


@pytest.mark.hazard("H03", "H17")
def test_a_record_the_database_refuses_is_reported_and_every_other_record_is_tried(
    db: Database, db_path: Path, admin: Actor, rules: Rules
) -> None:
    """An unexpected error on one record (here the database's own refusal, from a trigger) is that record's
    line; the import goes on with the rest."""
    refused = make_test_nhs_number(2)
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        connection.execute(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON referral "
            f"WHEN NEW.nhs_number = '{refused}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )
        connection.commit()
    lines: list[str] = []
    report = import_referrals(
        db,
        actor=admin,
        records=[referral_json(serial) for serial in range(1, 5)],
        rules=rules,
        as_of=AS_OF,
        on_result=lambda r: lines.append(r.line()),
    )
    assert lines == [
        "record 1 (external_id T-001): added as referral 1 (ready_for_mdt)",
        "record 2 (external_id T-001): not stored: IntegrityError: injected fault",
        "record 3 (external_id T-001): added as referral 2 (ready_for_mdt)",
        "record 4 (external_id T-001): added as referral 3 (ready_for_mdt)",
    ]
    assert (
        report.summary()
        == "3 added, 0 duplicate, 0 possible duplicate, 0 refused, 1 not stored after an error of 4 records"
    )
    assert not report.ok and report.stopped_at is None
    assert stored_nhs(db_path) == nhs_of([1, 3, 4])


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=False)
    return done.returncode == 0


@pytest.mark.hazard("H03", "H17")
@pytest.mark.sqlite_only(
    "SQLite's own full-disk error and a full tmpfs under the file; a server's disk is the server's"
)
def test_a_full_disk_stops_triage_app_import_and_every_printed_record_is_stored(tmp_path: Path) -> None:
    """A real full disk: the data folder on a 600 KB tmpfs (root only; skipped elsewhere), `triage-app import` as
    a coordinator runs it. What it printed is what is stored; made bigger, the same file completes."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "600k"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        source = tmp_path / "batch.json"
        records = [referral_json(serial, clinical_question="Q" * 3_900) for serial in range(1, 61)]
        source.write_text(json.dumps(records), encoding="utf-8")
        command = [sys.executable, "-m", "triage_app", "--data-dir", str(disk / "data"), "import", str(source)]
        command += ["--as-of", AS_OF.isoformat()]
        first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert "Traceback" not in first.stderr
        assert first.returncode == 1, first.stderr
        printed = first.stdout.splitlines()
        at = len(printed)
        assert 0 < at < 60
        assert printed == [f"record {i}{T001}: added as referral {i} (ready_for_mdt)" for i in range(1, at + 1)]
        assert f"triage-app import: stopped at record {at + 1} of 60: the " in first.stderr
        assert "full" in first.stderr
        assert (
            f"record {at + 1}{T001} was not stored (its transaction was rolled back), records {at + 2}-60 were not "
            "tried" in first.stderr
        )
        assert "nothing was changed" not in first.stderr.lower()
        assert stored_nhs(disk / "data" / "triage.sqlite3") == nhs_of(range(1, at + 1))

        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 0, second.stderr
        lines = second.stdout.splitlines()
        assert lines[:at] == [
            f"record {i}{T001}: duplicate of referral {i} (same NHS number and received date); not added"
            for i in range(1, at + 1)
        ]
        assert lines[-1] == f"{60 - at} added, {at} duplicate, 0 possible duplicate, 0 refused of 60 records"
        assert stored_nhs(disk / "data" / "triage.sqlite3") == nhs_of(range(1, 61))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.hazard("H03", "H17")
def test_the_crash_harness_loses_nothing_acknowledged_over_a_few_rounds(tmp_path: Path) -> None:
    """scripts/crash_harness.py for two rounds: importers killed with SIGKILL at random, then integrity_check,
    audit verify and every acknowledged record against the database (its README figures come from ~100 rounds)."""
    harness = Path(__file__).resolve().parents[2] / "scripts" / "crash_harness.py"
    options = ["--rounds", "2", "--processes", "2", "--batch", "4", "--seed", "7", "--data-dir", str(tmp_path / "w")]
    done = subprocess.run(
        [sys.executable, str(harness), *options],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^rounds=2 processes=2 kills=\d+ finished=\d+", done.stdout, re.MULTILINE)
    assert re.search(r"^acknowledged=\d+ stored=\d+ lost=0 duplicated=0 mismatched=0$", done.stdout, re.MULTILINE)
    assert "integrity ok" in done.stdout and "audit intact: audit trail intact" in done.stdout
    assert done.stdout.rstrip().endswith("PASS")
