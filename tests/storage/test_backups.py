"""Verified backups, their manifest, thinning by age, `check` and `restore`, on real SQLite files.

The faults (a killed backup, a flipped page, a crash-left -wal, a database held open) are in
tests/safety/test_faults_backups.py.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import AS_OF, referral
from triage_app.__main__ import main
from triage_app.domain.rules import Rules
from triage_app.services.errors import PermissionDenied
from triage_app.services.maintenance import (
    RestoreRefused,
    check_database,
    resolve_backup,
    restore_backup,
    take_verified_backup,
)
from triage_app.services.referrals import register_referral
from triage_app.services.users import Actor
from triage_app.storage.backup import (
    MANIFEST_NAME,
    backup_due,
    daily_backup_if_due,
    file_sha256,
    keep_by_age,
    list_backups,
    newest_verified_backup,
    read_manifest,
    rotate_backups,
    take_backup,
    verified_backups,
)
from triage_app.storage.engine import Database, DatabaseLocation, parse_database_url, sqlite_url
from triage_app.storage.integrity import integrity_check, quick_check, row_counts, schema_revision
from triage_app.storage.migrate import head_revision

pytestmark = pytest.mark.sqlite_only(
    "file backups of the SQLite database; on a server they are pg_dump and pg_restore (docs/deploy-postgresql.md)"
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _location(path: Path) -> DatabaseLocation:
    return parse_database_url(sqlite_url(path))


def _stored(db: Database, actor: Actor, rules: Rules, count: int) -> None:
    for n in range(count):
        register_referral(db, actor=actor, referral=referral(n + 1), rules=rules, as_of=AS_OF)


# --- thinning by age: a pure function on dates -------------------------------------------------------------------


def test_everything_younger_than_two_days_is_kept() -> None:
    taken = [NOW - timedelta(hours=h) for h in range(0, 47, 3)]
    assert keep_by_age(taken, now=NOW) == frozenset(range(len(taken)))


def test_older_backups_thin_to_one_a_day_a_week_a_month_and_the_oldest_of_each_stays() -> None:
    day = timedelta(days=1)
    taken = [
        NOW - 3 * day,  # 0: day bucket (3 days ago), the older of two that day
        NOW - 3 * day + timedelta(hours=5),  # 1: same day, newer: dropped
        NOW - 20 * day,  # 2: week bucket
        NOW - 20 * day + timedelta(hours=30),  # 3: a day later, same ISO week (2026-10-13 Tue / 14 Wed): dropped
        datetime(2026, 3, 3, tzinfo=UTC),  # 4: month bucket March
        datetime(2026, 3, 20, tzinfo=UTC),  # 5: March again: dropped
        datetime(2026, 4, 1, tzinfo=UTC),  # 6: April
        NOW - timedelta(hours=1),  # 7: within two days
    ]
    assert keep_by_age(taken, now=NOW) == {0, 2, 4, 6, 7}


def test_the_newest_is_kept_even_when_old() -> None:
    taken = [datetime(2025, 1, 5, tzinfo=UTC), datetime(2025, 1, 20, tzinfo=UTC)]
    assert keep_by_age(taken, now=NOW) == {0, 1}  # 0 is January's oldest; 1 is the newest of all
    assert keep_by_age([], now=NOW) == frozenset()


def test_a_backup_from_the_future_is_kept() -> None:  # a clock put back
    assert keep_by_age([NOW + timedelta(days=40), NOW - timedelta(days=40)], now=NOW) == {0, 1}


@pytest.mark.hazard("H17")
def test_a_year_of_daily_backups_thinned_every_day_keeps_each_month() -> None:
    """As the app does it: one backup a day, rotation after each; what remains covers every month."""
    start = datetime(2025, 11, 1, 7, 30, tzinfo=UTC)
    kept: list[datetime] = []
    for n in range(366):
        now = start + timedelta(days=n)
        kept.append(now)
        kept = [kept[i] for i in sorted(keep_by_age(kept, now=now))]
    now = start + timedelta(days=365)
    ages = [now - t for t in kept]
    assert kept[-1] == now
    assert sum(a < timedelta(days=2) for a in ages) == 2
    daily = [t for t, a in zip(kept, ages, strict=True) if timedelta(days=2) <= a < timedelta(days=14)]
    assert len(daily) == len({t.date() for t in daily}) == 12
    weekly = [t for t, a in zip(kept, ages, strict=True) if timedelta(days=14) <= a < timedelta(weeks=8)]
    assert len(weekly) == len({t.isocalendar()[:2] for t in weekly}) and 5 <= len(weekly) <= 7
    monthly = [t for t, a in zip(kept, ages, strict=True) if a >= timedelta(weeks=8)]
    months = {(t.year, t.month) for t in monthly}
    assert len(monthly) == len(months)
    first, last = min(months), max(months)
    span = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    assert len(months) == span  # no month without a backup
    assert len(kept) < 40


# --- taking a backup ----------------------------------------------------------------------------------------------


@pytest.mark.hazard("H17")
def test_a_backup_is_verified_counted_hashed_and_listed(
    db: Database, db_path: Path, admin: Actor, rules: Rules, tmp_path: Path
) -> None:
    _stored(db, admin, rules, 3)
    backups = tmp_path / "backups"
    made = take_backup(db_path, backups, reason="manual")
    assert made.path.parent == backups and made.path.name.endswith("-manual.sqlite3")
    assert made.integrity.ok and made.describe_verification().startswith("integrity ok, 3 referrals, ")
    assert made.entry.row_counts == row_counts(db_path) and made.entry.row_counts["referral"] == 3
    assert made.entry.schema_revision == head_revision() == schema_revision(made.path)
    assert made.entry.sha256 == file_sha256(made.path)
    [entry] = read_manifest(backups)
    assert entry == made.entry
    assert json.loads((backups / MANIFEST_NAME).read_text())["backups"][0]["sha256"] == made.entry.sha256
    assert integrity_check(made.path).ok
    with sqlite3.connect(made.path) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
    assert sorted(p.name for p in backups.iterdir()) == sorted([made.path.name, MANIFEST_NAME, ".backup.lock"])
    if sys.platform != "win32":
        assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
        assert stat.S_IMODE((backups / MANIFEST_NAME).stat().st_mode) == 0o600
        assert stat.S_IMODE(backups.stat().st_mode) == 0o700


def test_the_daily_backup_is_due_after_twenty_hours_of_verified_ones_only(db_path: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    first = daily_backup_if_due(db_path, backups, now=NOW)
    assert first is not None and first.name.endswith("-daily.sqlite3")
    assert daily_backup_if_due(db_path, backups, now=NOW + timedelta(hours=19)) is None
    # A file named like a newer backup, that the manifest does not list, resets nothing.
    (backups / f"{db_path.stem}-20991231T000000000000Z-daily.sqlite3").write_bytes(first.read_bytes())
    assert backup_due(backups, db_path.stem, now=NOW + timedelta(hours=21))
    second = daily_backup_if_due(db_path, backups, now=NOW + timedelta(hours=21))
    assert second is not None and newest_verified_backup(backups, db_path.stem) == second


def test_nothing_to_back_up_for_a_missing_or_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "new.sqlite3"
    assert daily_backup_if_due(empty, tmp_path / "backups") is None
    empty.touch()
    assert daily_backup_if_due(empty, tmp_path / "backups") is None


@pytest.mark.hazard("H17")
def test_a_backup_changed_after_it_was_taken_no_longer_counts_and_is_never_rotated(
    db_path: Path, admin: Actor, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    old = take_backup(db_path, backups, reason="daily", now=NOW - timedelta(days=30)).path
    changed = take_backup(db_path, backups, reason="daily", now=NOW - timedelta(days=29)).path
    content = bytearray(changed.read_bytes())
    content[-200:-100] = b"\xa5" * 100  # same size; the modification time moves
    changed.write_bytes(bytes(content))
    assert [p for p, _ in verified_backups(backups, db_path.stem)] == [old]
    newest = take_backup(db_path, backups, reason="daily", now=NOW).path
    # 29 and 30 days old fall in one ISO week (weekly zone): the changed one would have been thinned, but
    # rotation only thins intact backups: it stays for whoever investigates.
    assert changed.exists() and old.exists() and newest.exists()
    report = check_database(_location(db_path), backup_dir=backups, login="admin-test")
    assert report.ok
    assert [b.problem for b in report.backups if b.problem] == [
        f"{changed.name} has changed since it was taken (its SHA-256 differs from the manifest's)"
    ]


def test_rotation_thins_verified_backups_and_leaves_unlisted_files(db_path: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    made = [take_backup(db_path, backups, reason="daily", now=NOW - timedelta(days=d)).path for d in (40, 39, 38)]
    stray = backups / f"{db_path.stem}-20200101T000000000000Z-daily.sqlite3"  # from an older version of the app
    stray.write_bytes(made[0].read_bytes())
    assert set(list_backups(backups, db_path.stem)) == {*made, stray}
    deleted = rotate_backups(backups, db_path.stem, now=NOW)
    # 2026-09-23, 24 and 25: one ISO week in the weekly zone, whose oldest stays; the 25th is the newest of all
    assert deleted == [made[1]]
    assert made[0].exists() and stray.exists()
    assert {e.file for e in read_manifest(backups)} == {p.name for p in made if p.exists()}


def test_a_backup_out_to_a_chosen_file_is_verified_but_not_listed(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "copy.sqlite3"
    out.parent.mkdir()
    made = take_backup(db_path, tmp_path / "backups", reason="manual", out=out)
    assert made.path == out and integrity_check(out).ok and made.entry.sha256 == file_sha256(out)
    assert read_manifest(tmp_path / "backups") == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["copy.sqlite3"]


@pytest.mark.hazard("H11")
def test_backup_now_refuses_the_database_itself_and_an_existing_file(
    db: Database, db_path: Path, admin: Actor, tmp_path: Path
) -> None:
    from triage_app.services.errors import ServiceError

    before = db_path.read_bytes()
    with pytest.raises(ServiceError, match="already exists"):
        take_verified_backup(db, actor=admin, backup_dir=tmp_path / "backups", out=db_path)
    assert db_path.read_bytes() == before


# --- check --------------------------------------------------------------------------------------------------------


@pytest.mark.hazard("H17")
def test_check_reports_integrity_counts_schema_and_the_newest_verified_backup(
    db: Database, db_path: Path, admin: Actor, rules: Rules, tmp_path: Path
) -> None:
    _stored(db, admin, rules, 2)
    backups = tmp_path / "backups"
    made = take_verified_backup(db, actor=admin, backup_dir=backups)
    db.dispose()
    before = db_path.read_bytes()
    report = check_database(_location(db_path), backup_dir=backups, login="admin-test")
    assert report.ok and report.integrity is not None and report.integrity.ok
    assert report.row_counts is not None and report.row_counts["referral"] == 2
    assert report.schema_revision == head_revision()
    assert report.newest_verified == made.entry and report.restore_command() == f"triage-app restore {made.path.name}"
    assert db_path.read_bytes() == before  # a check writes nothing


@pytest.mark.hazard("H15")
def test_check_needs_an_active_role_when_the_users_can_be_read(db_path: Path, admin: Actor, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied, match="login 'stranger' is not a user of this database, so cannot check"):
        check_database(_location(db_path), backup_dir=tmp_path / "backups", login="stranger")


def test_check_of_a_missing_or_empty_file_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sqlite3"
    report = check_database(_location(missing), backup_dir=None, login="x")
    assert not report.ok and report.missing and report.problems == (f"no file at {missing}",)
    assert not missing.exists()
    missing.touch()
    report = check_database(_location(missing), backup_dir=None, login="x")
    assert report.problems == ("the file is empty (0 bytes): it holds no triage database",)
    assert missing.stat().st_size == 0


# --- restore ------------------------------------------------------------------------------------------------------


@pytest.mark.hazard("H17")
def test_restore_puts_the_backup_back_keeps_the_current_file_and_audits(
    db: Database, db_path: Path, admin: Actor, rules: Rules, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    _stored(db, admin, rules, 2)
    made = take_verified_backup(db, actor=admin, backup_dir=backups)
    _stored_more = register_referral(db, actor=admin, referral=referral(3), rules=rules, as_of=AS_OF)
    assert _stored_more.referral_id
    db.dispose()
    current = db_path.read_bytes()
    report = restore_backup(_location(db_path), made.path, login="admin-test", backup_dir=backups)
    assert report.listed and report.taken_at == made.entry.taken_at and report.row_counts == made.entry.row_counts
    assert report.authorized_in == "the current database"
    assert report.describe().startswith(f"restored {made.path.name} (taken ") and "2 referrals" in report.describe()
    assert report.replaced_dir.parent == backups and report.replaced_dir.name.startswith("replaced-")
    assert (report.replaced_dir / db_path.name).read_bytes() == current  # kept, byte for byte
    counts = row_counts(db_path)
    assert counts["referral"] == 2 and counts["audit_event"] == made.entry.row_counts["audit_event"] + 1
    assert integrity_check(db_path).ok
    if sys.platform != "win32":
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    with sqlite3.connect(db_path) as connection:
        action, who, changes = connection.execute(
            "SELECT action, user_login, changes FROM audit_event ORDER BY id DESC LIMIT 1"
        ).fetchone()
    recorded = json.loads(changes)
    assert (action, who) == ("restore", "admin-test")
    assert recorded["restored_from"] == [None, made.path.name]
    assert recorded["replaced_file_kept_in"] == [None, str(report.replaced_dir)]
    assert recorded["backup_row_counts"][1]["referral"] == 2
    assert not list(db_path.parent.glob(".*"))  # no staged copy or lock probe left behind


@pytest.mark.hazard("H15")
def test_only_an_administrator_restores(
    db: Database, db_path: Path, admin: Actor, coordinator: Actor, consultant: Actor, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    made = take_verified_backup(db, actor=admin, backup_dir=backups)
    db.dispose()
    before = db_path.read_bytes()
    for login, display, roles in (
        ("coord-test", "Cora Ordinator", "coordinator"),
        ("cons-test", "Dr Con Sultant", "consultant"),
    ):
        with pytest.raises(PermissionDenied) as refused:
            restore_backup(_location(db_path), made.path, login=login, backup_dir=backups)
        assert str(refused.value) == (
            f"only an administrator can restore a backup; {display} (login '{login}', {roles}) is not an "
            "administrator in the current database. Nothing was changed."
        )
    with pytest.raises(PermissionDenied) as refused:
        restore_backup(_location(db_path), made.path, login="stranger", backup_dir=backups)
    assert str(refused.value) == (
        "only an administrator can restore a backup; login 'stranger' is not a user of the current database. "
        "Nothing was changed."
    )
    assert db_path.read_bytes() == before and not list(backups.glob("replaced-*"))


@pytest.mark.hazard("H17")
def test_restore_refuses_a_damaged_changed_or_foreign_backup_and_changes_nothing(
    db: Database, db_path: Path, admin: Actor, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    made = take_verified_backup(db, actor=admin, backup_dir=backups)
    db.dispose()
    before = db_path.read_bytes()
    with sqlite3.connect(made.path) as connection:  # a valid database still, but not the one taken
        connection.execute("INSERT INTO app_setting (key, value) VALUES ('slipped-in', 'x')")
    with pytest.raises(RestoreRefused, match=r"has changed since it was taken .*: it is not restored; nothing was"):
        restore_backup(_location(db_path), made.path, login="admin-test", backup_dir=backups)
    foreign = tmp_path / "other.sqlite3"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY)")
    with pytest.raises(RestoreRefused, match="not a backup of a triage database"):
        restore_backup(_location(db_path), foreign, login="admin-test", backup_dir=backups)
    newer = tmp_path / "newer.sqlite3"
    newer.write_bytes(before)
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dcafe'")
    with pytest.raises(RestoreRefused, match="newer version of the triage app .*f00dcafe"):
        restore_backup(_location(db_path), newer, login="admin-test", backup_dir=backups)
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(RestoreRefused, match="is damaged"):
        restore_backup(_location(db_path), garbage, login="admin-test", backup_dir=backups)
    with pytest.raises(RestoreRefused, match="is the database itself"):
        restore_backup(_location(db_path), db_path, login="admin-test", backup_dir=backups)
    assert db_path.read_bytes() == before and not list(backups.glob("replaced-*"))


def test_a_backup_is_named_by_path_or_by_its_name_in_the_backups_folder(db_path: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    made = take_backup(db_path, backups, reason="manual").path
    assert resolve_backup(backups, made.name) == made.resolve()
    assert resolve_backup(backups, str(made)) == made.resolve()
    with pytest.raises(RestoreRefused, match="there is no backup 'nope.sqlite3'"):
        resolve_backup(backups, "nope.sqlite3")


def test_a_server_database_is_restored_with_its_own_tools(tmp_path: Path) -> None:
    location = parse_database_url("postgresql://localhost/triage")
    with pytest.raises(RestoreRefused, match="pg_restore"):
        restore_backup(location, tmp_path / "x", login="a", backup_dir=tmp_path)


# --- the commands -------------------------------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.hazard("H17")
def test_backup_check_and_restore_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out, err = _run(capsys, "--data-dir", str(data), "demo", "--count", "12")
    assert code == 0, err
    code, out, err = _run(capsys, "--data-dir", str(data), "backup")
    assert code == 0, err
    backup = list_backups(data / "backups", "triage")[-1]  # (the demo command took the day's backup before it)
    assert backup.name.endswith("-manual.sqlite3") and out.splitlines()[0] == f"backed up to {backup}"
    assert out.splitlines()[1].startswith("verified: integrity ok, 12 referrals, ")
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 0, err
    assert "integrity: ok" in out and "rows: 12 referrals, " in out and "result: the database is intact" in out
    assert f"backups: 2 verified (SHA-256 checked) in {data / 'backups'}; newest: {backup.name} (taken " in out
    code, out, err = _run(capsys, "--data-dir", str(data), "restore", backup.name)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"restored {backup.name} (taken ") and "): 12 referrals, " in lines[0]
    assert lines[1] == (
        f"verified: integrity ok; its SHA-256 matches the manifest; schema {head_revision()}; audit: intact"
    )
    assert lines[2].startswith(f"kept aside in {data / 'backups'}/replaced-") and ": triage.sqlite3" in lines[2]
    assert quick_check(data / "triage.sqlite3").ok
    code, out, err = _run(capsys, "--data-dir", str(data), "restore", "no-such.sqlite3")
    assert code == 2 and "there is no backup 'no-such.sqlite3'" in err


def test_check_exits_one_for_a_missing_database_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 1 and "there is no database file at" in err and "damaged" not in err
    assert out.splitlines()[0] == f"database: missing (no file at {data / 'triage.sqlite3'})"
    assert "DAMAGED" not in out and "kept aside" not in out
    assert "There is no verified backup to restore" in out
    assert not (data / "triage.sqlite3").exists()


def test_the_manifest_is_never_left_half_written(db_path: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    take_backup(db_path, backups, reason="manual")
    assert not [p.name for p in backups.iterdir() if p.name.endswith(".tmp")]
    (backups / MANIFEST_NAME).write_text("{ not json", encoding="utf-8")
    assert read_manifest(backups) == []  # moved aside, kept, and a new one begins
    assert len(list(backups.glob(f"{MANIFEST_NAME}.unreadable-*"))) == 1


@pytest.mark.hazard("H17")
def test_check_is_of_the_file_and_points_to_audit_verify_for_the_audit_trail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    code, _, err = _run(capsys, "--data-dir", str(data), "demo", "--count", "5")
    assert code == 0, err
    with sqlite3.connect(data / "triage.sqlite3") as connection:  # a name changed outside the app
        connection.execute("UPDATE referral SET family_name = 'Altered' WHERE id = 1")
    connection.close()
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-2] == "result: the database is intact"
    assert lines[-1] == (
        "audit trail: not checked here (this check is of the file); run `triage-app audit verify` to check that no "
        "record was changed outside the app"
    )
    code, out, err = _run(capsys, "--data-dir", str(data), "audit", "verify")
    assert code != 0  # the command the line names finds what the file check cannot


@pytest.mark.hazard("H17")
def test_check_of_a_missing_file_says_missing_names_the_backup_and_says_put_it_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The tester's defect 5: a missing file was reported as DAMAGED, its (absent) file "kept aside"."""
    data = tmp_path / "data"
    code, _out, err = _run(capsys, "--data-dir", str(data), "demo", "--count", "3")
    assert code == 0, err
    code, out, err = _run(capsys, "--data-dir", str(data), "backup")
    assert code == 0, err
    backup = list_backups(data / "backups", "triage")[-1]
    database = data / "triage.sqlite3"
    database.rename(tmp_path / "moved.sqlite3")
    before = sorted(p.name for p in data.iterdir())
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"database: missing (no file at {database})"
    assert lines[1] == "integrity: not checked: there is no database file"
    assert lines[-1].startswith(
        "result: the database file is MISSING (not damaged: there is no file to check). If the file was moved, put "
        f"it back. Otherwise an administrator (as the backup records them) can restore the newest verified backup, "
        f"{backup.name} (taken "
    )
    assert "3 referrals, " in lines[-1] and lines[-1].endswith(f"): triage-app restore {backup.name}")
    # Work recorded after the backup (a queue export is audited): check says a restore would not bring it back.
    (tmp_path / "moved.sqlite3").rename(database)
    code, _, err = _run(capsys, "--data-dir", str(data), "queue", "--json")
    assert code == 0, err
    database.rename(tmp_path / "moved.sqlite3")
    code, out, err = _run(capsys, "--data-dir", str(data), "check")
    assert out.splitlines()[-1].endswith(
        f"triage-app restore {backup.name}. Before you do: the audit checkpoint shows the trail reached event 6 and "
        "this backup holds 4 events, so 1 recorded change after it would not come back: look for the moved file first"
    )
    assert "DAMAGED" not in out and "kept aside" not in out and "problem" not in out
    assert err == f"triage-app check: there is no database file at {database}; see above\n"
    assert sorted(p.name for p in data.iterdir()) == before and not database.exists()


@pytest.mark.hazard("H17")
def test_a_non_administrator_is_refused_the_restore_of_an_empty_file_in_plain_words(
    db: Database, db_path: Path, admin: Actor, coordinator: Actor, tmp_path: Path
) -> None:
    """The tester's defect 7: "... (the current file is kept aside): it needs the admin role (the backup (...))"."""
    backups = tmp_path / "backups"
    made = take_verified_backup(db, actor=admin, backup_dir=backups)
    db.dispose()
    db_path.write_bytes(b"")
    with pytest.raises(PermissionDenied) as refused:
        restore_backup(_location(db_path), made.path, login=coordinator.login, backup_dir=backups)
    assert str(refused.value) == (
        f"only an administrator can restore a backup; {coordinator.display_name} (login '{coordinator.login}', "
        f"coordinator) is not an administrator in the backup {made.path.name} (the current file's users cannot be "
        "read). Nothing was changed."
    )
    db_path.unlink()
    with pytest.raises(PermissionDenied) as refused:
        restore_backup(_location(db_path), made.path, login="stranger", backup_dir=backups)
    assert str(refused.value) == (
        f"only an administrator can restore a backup; login 'stranger' is not a user of the backup {made.path.name} "
        "(there is no current database file). Nothing was changed."
    )
    assert not db_path.exists() and not list(backups.glob("replaced-*"))


@pytest.mark.hazard("H17")
def test_restoring_a_missing_file_makes_no_empty_replaced_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The tester's defect 9 (the command line too): nothing to keep aside, so no replaced-* folder."""
    data = tmp_path / "data"
    code, _out, err = _run(capsys, "--data-dir", str(data), "demo", "--count", "2")
    assert code == 0, err
    backup = list_backups(data / "backups", "triage")[-1]
    (data / "triage.sqlite3").rename(tmp_path / "moved.sqlite3")
    code, out, err = _run(capsys, "--data-dir", str(data), "restore", backup.name)
    assert code == 0, err
    assert "kept aside: nothing (there was no database file)" in out.splitlines()
    assert not list((data / "backups").glob("replaced-*"))
    assert quick_check(data / "triage.sqlite3").ok


@pytest.mark.hazard("H17")
def test_a_backup_marked_with_an_audit_problem_is_kept_never_offered_nor_rotated(
    db_path: Path, admin: Actor, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    good = take_backup(db_path, backups, reason="daily", now=start, audit_check=lambda _copy: "intact").path
    problem = "the database's chain ends at event 3, but the app log (...) records event 4 written"
    marked = take_backup(
        db_path, backups, reason="manual", now=start + timedelta(hours=1), audit_check=lambda _copy: problem
    ).path
    entries = {e.file: e for e in read_manifest(backups)}
    assert entries[good.name].audit == "intact" and entries[marked.name].audit == problem
    assert entries[marked.name].describe_audit() == f"audit: did not verify: {problem}"
    assert newest_verified_backup(backups, "triage") == good  # what the messages and the desktop offer
    assert not backup_due(backups, "triage", now=start + timedelta(hours=2))  # no backup on every start
    rotate_backups(backups, "triage", now=start + timedelta(days=400))
    assert marked.exists()  # evidence: never rotated away
    report = check_database(
        DatabaseLocation(parse_database_url(sqlite_url(db_path)).url, db_path), backup_dir=backups, login="admin-test"
    )
    assert report.newest_verified is not None and report.newest_verified.file == good.name
    assert report.backup_audit_problems == (
        f"{marked.name}: the audit trail did not verify when it was taken ({problem}); it is not offered for restore",
    )
    with pytest.raises(RestoreRefused, match="--accept-audit-problem"):
        restore_backup(parse_database_url(sqlite_url(db_path)), marked, login="admin-test", backup_dir=backups)
    assert marked.exists() and quick_check(db_path).ok


@pytest.mark.hazard("H17")
def test_a_backup_verifies_the_audit_trail_and_a_check_that_fails_still_keeps_the_backup(
    db_path: Path, db: Database, admin: Actor, tmp_path: Path
) -> None:
    made = take_verified_backup(db, actor=admin, backup_dir=tmp_path / "backups")
    assert made.entry.audit == "intact"

    def broken(_copy: Path) -> str:
        raise OSError("the log folder cannot be read")

    kept = take_backup(db_path, tmp_path / "backups", reason="manual", audit_check=broken)
    assert kept.path.exists() and kept.entry.audit_problem == (
        "the audit trail could not be verified (OSError: the log folder cannot be read)"
    )
