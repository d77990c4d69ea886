"""A daily backup stopped part-way (the window closing) leaves nothing that looks like a good backup: no backup
file, no partial file, no manifest entry, so neither the daily clock nor a restore counts it (issue 14)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.factories import AS_OF
from triage_app.domain.rules import Rules
from triage_app.services.app import restore_offer
from triage_app.services.demo import load_demo
from triage_app.services.users import sign_in
from triage_app.storage.backup import (
    backup_due,
    daily_backup_if_due,
    list_backups,
    newest_verified_backup,
    read_manifest,
    take_backup,
)
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.stopping import Stopped, StopSignal

pytestmark = pytest.mark.sqlite_only("backups of a SQLite file")


@pytest.fixture
def source(db_path: Path, rules: Rules) -> Path:
    """A SQLite database with a few hundred referrals (many pages to copy one at a time)."""
    database = Database(parse_database_url(sqlite_url(db_path)))
    try:
        load_demo(database, actor=sign_in(database, login="admin-test"), rules=rules, as_of=AS_OF, count=200)
    finally:
        database.dispose()
    return db_path


def assert_nothing_counts(backup_dir: Path, source: Path) -> None:
    """No file or manifest entry a restore or the daily clock would take for a backup."""
    assert read_manifest(backup_dir) == []
    assert list_backups(backup_dir, source.stem) == []
    assert newest_verified_backup(backup_dir, source.stem) is None
    assert backup_due(backup_dir, source.stem)  # tomorrow's (or the next) start takes it again
    assert sorted(p.name for p in backup_dir.iterdir()) == [".backup.lock"]  # no partial file either
    offer = restore_offer(sqlite_url(source), backup_dir=backup_dir, login="admin-test")
    assert offer.backup is None and not offer.may_restore


@pytest.mark.hazard("H03")
def test_a_backup_stopped_during_its_copy_leaves_nothing_that_counts(source: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    stop = StopSignal()
    steps: list[int] = []

    def progress(done: int, total: int) -> None:
        steps.append(done)
        if done >= total // 2:
            stop.stop()  # the window closes half-way through the copy

    with pytest.raises(Stopped):
        take_backup(source, backups, reason="daily", pages=4, progress=progress, stop=stop)
    assert 0 < steps[-1] < max(1, steps[-1]) * 3  # it stopped part-way, at a step boundary
    assert_nothing_counts(backups, source)


@pytest.mark.hazard("H03")
def test_a_backup_stopped_during_its_quick_check_leaves_nothing_that_counts(source: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    stop = StopSignal()
    stop.stop()  # already closing when the check starts: the check is interrupted, never read as "damaged"
    with pytest.raises(Stopped, match="check"):
        daily_backup_if_due(source, backups, stop=stop)
    assert_nothing_counts(backups, source)


@pytest.mark.hazard("H03")
def test_a_backup_stopped_during_its_audit_check_stops_at_once_and_leaves_nothing(source: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    stop = StopSignal()
    finish_verifying = threading.Event()

    def slow_audit_check(_copy: Path) -> str:
        stop.stop()  # the window closes while the audit trail of the copy is being verified
        finish_verifying.wait(30)  # a verification that lasts until the test lets it end: the backup must not wait
        return "intact"

    started = time.perf_counter()
    try:
        with pytest.raises(Stopped):
            take_backup(source, backups, reason="daily", audit_check=slow_audit_check, stop=stop)
        assert time.perf_counter() - started < 1.0
        assert_nothing_counts(backups, source)
    finally:
        finish_verifying.set()


@pytest.mark.hazard("H03")
def test_a_backup_nobody_stops_is_taken_and_verified_as_before(source: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    made = daily_backup_if_due(source, backups, stop=StopSignal())
    assert made is not None and newest_verified_backup(backups, source.stem) == made
