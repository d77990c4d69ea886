"""Schema 0004 -> 0005 (an append-only audit trail): the upgrade keeps every event and referral, adds the triggers,
and the trail verifies; referrals stored before it are "not covered" until their next audited change."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from triage_app.services.app import open_session
from triage_app.services.audit import verify_audit_trail
from triage_app.services.triage import change_status
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import current_revision, head_revision, migrate

REPO = Path(__file__).resolve().parents[2]
FIXTURE_0004 = REPO / "db" / "fixtures" / "schema-0004.sqlite3"


@pytest.fixture
def upgraded(tmp_path: Path) -> Path:
    path = tmp_path / "triage.sqlite3"
    shutil.copyfile(FIXTURE_0004, path)
    database = Database(parse_database_url(sqlite_url(path)))
    assert current_revision(database) == "0004"
    report = migrate(database, backup_dir=tmp_path / "backups")
    assert (report.before, report.after) == ("0004", head_revision())
    database.dispose()
    return path


def _counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as connection:
        events = connection.execute("SELECT count(*) FROM audit_event").fetchone()[0]
        referrals = connection.execute("SELECT count(*) FROM referral").fetchone()[0]
    return events, referrals


@pytest.mark.hazard("H17")
def test_the_upgrade_adds_the_triggers_and_keeps_the_trail(upgraded: Path) -> None:
    assert _counts(upgraded) == _counts(FIXTURE_0004)
    with sqlite3.connect(upgraded) as connection:
        triggers = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert len(triggers) == 6
        with pytest.raises(sqlite3.IntegrityError, match="audit trail is append-only"):
            connection.execute("DELETE FROM audit_event WHERE id = 1")
    database = Database(parse_database_url(sqlite_url(upgraded)))
    try:
        report = verify_audit_trail(database)
    finally:
        database.dispose()
    assert report.intact, report.problems
    assert (report.referrals_checked, report.referrals_not_covered) == (3, 3)


def test_an_older_referral_is_covered_from_its_next_change(upgraded: Path) -> None:
    session = open_session(sqlite_url(upgraded), backup_dir=None, login="fixture-admin", today=date(2026, 12, 10))
    try:
        with sqlite3.connect(upgraded) as connection:
            row_version = int(connection.execute("SELECT version FROM referral WHERE id = 2").fetchone()[0])
        change_status(
            session.db, actor=session.actor, referral_id=2, expected_version=row_version, status="awaiting_information"
        )
        report = verify_audit_trail(session.db)
        assert report.intact, report.problems
        assert report.referrals_not_covered < 3
        with sqlite3.connect(upgraded) as connection:
            connection.execute("UPDATE referral SET family_name = 'Otherperson' WHERE id = 2")
        assert verify_audit_trail(session.db).problem == (
            f"referral 2: content differs from its last audit event (event {report.checked}, version {row_version + 1})"
        )
    finally:
        session.close()


@pytest.mark.hazard("H17")
def test_opening_a_database_upgraded_to_0005_starts_its_checkpoint_so_verify_passes(tmp_path: Path) -> None:
    """An app before 0005 kept no checkpoint: the upgrade starts it at the trail's head, so the first `audit verify`
    after an upgrade compares it instead of reporting it missing."""
    data = tmp_path / "data"
    data.mkdir()
    path = data / "triage.sqlite3"
    shutil.copyfile(FIXTURE_0004, path)
    backups = data / "backups"
    session = open_session(sqlite_url(path), backup_dir=backups, login="fixture-admin", today=date(2026, 12, 10))
    try:
        checkpoint = backups / "audit-checkpoint.json"
        assert checkpoint.is_file()
        report = verify_audit_trail(session.db, checkpoint=checkpoint)
        assert report.intact, report.problems
        assert "matches" in report.summary()
    finally:
        session.close()
