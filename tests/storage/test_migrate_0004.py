"""Schema 0003 -> 0004 (approved rules): the upgrade keeps everything, and the first start afterwards approves the
shipped rules in the name of the first active administrator, audited, reassessing only what has not reached an MDT."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from triage_app.config import default_rules_path
from triage_app.domain.rules import read_rules_file
from triage_app.services.app import open_session
from triage_app.services.rules import BASIS_UPGRADED
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import current_revision, head_revision, migrate

REPO = Path(__file__).resolve().parents[2]
FIXTURE_0003 = REPO / "db" / "fixtures" / "schema-0003.sqlite3"
TODAY = date(2026, 12, 10)


@pytest.fixture
def upgraded(tmp_path: Path) -> Path:
    path = tmp_path / "triage.sqlite3"
    shutil.copyfile(FIXTURE_0003, path)
    database = Database(parse_database_url(sqlite_url(path)))
    assert current_revision(database) == "0003"
    report = migrate(database, backup_dir=tmp_path / "backups")
    assert (report.before, report.after) == ("0003", head_revision())  # 0004 and any later schema
    database.dispose()
    return path


def test_the_upgrade_adds_an_empty_approved_rules_table(upgraded: Path) -> None:
    with sqlite3.connect(upgraded) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(approved_rules)")]
        assert columns == ["id", "version", "sha256", "content", "approved_by", "approved_at", "basis"]
        assert connection.execute("SELECT count(*) FROM approved_rules").fetchone() == (0,)


@pytest.mark.hazard("H05")
def test_the_first_start_after_the_upgrade_approves_the_shipped_rules_audited(upgraded: Path) -> None:
    with sqlite3.connect(upgraded) as connection:
        before = dict(connection.execute("SELECT id, current_assessment_id FROM referral").fetchall())
        statuses = dict(connection.execute("SELECT id, status FROM referral").fetchall())
    assert statuses == {1: "discussed", 2: "received", 3: "received"}

    # a consultant happens to start the app first: the approval is in the first active administrator's name
    session = open_session(sqlite_url(upgraded), backup_dir=None, login="fixture-consultant", today=TODAY)
    try:
        assert session.actor.login == "fixture-consultant"
        assert session.approval.approved_by_login == "fixture-admin" and session.approval.approved_by == "Fixture Admin"
        assert session.approval.sha256 == read_rules_file(default_rules_path()).sha256
        assert session.reassessed == 2
    finally:
        session.close()

    with sqlite3.connect(upgraded) as connection:
        after = dict(connection.execute("SELECT id, current_assessment_id FROM referral").fetchall())
        (basis,) = connection.execute("SELECT basis FROM approved_rules").fetchone()
        user, changes = connection.execute(
            "SELECT user_login, changes FROM audit_event WHERE entity = 'rules' AND action = 'approve'"
        ).fetchone()
    assert after[1] == before[1]  # discussed at the MDT: keeps the assessment the meeting saw
    assert after[2] != before[2] and after[3] != before[3]
    assert basis == BASIS_UPGRADED and user == "fixture-admin"
    recorded = json.loads(changes)
    assert recorded["started_by"] == [None, "fixture-consultant"] and recorded["basis"] == [None, BASIS_UPGRADED]

    again = open_session(sqlite_url(upgraded), backup_dir=None, login="fixture-admin", today=TODAY)
    try:
        assert again.reassessed == 0 and again.approval.approval_id == 1  # approved once, not on every start
    finally:
        again.close()
