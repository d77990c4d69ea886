"""The command line on a real data folder: migrate, backup, audit verify, users, bad databases, logs."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import referral_json
from tests.stored import server_url
from triage_app.__main__ import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def opened_in(data_dir: Path) -> bool:
    """Whether the app used `data_dir`: its SQLite file is there, or (on a server) its log is."""
    if server_url() is None:
        return (data_dir / "triage.sqlite3").exists()
    return (data_dir / "logs" / "triage-app.log").exists()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.mark.sqlite_only("a new data folder's SQLite file, owner-only")
@pytest.mark.hazard("H11")
def test_migrate_creates_an_owner_only_database(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "migrate")
    assert code == 0 and "upgraded from schema (new)" in out
    database = data_dir / "triage.sqlite3"
    assert database.is_file()
    if sys.platform != "win32":
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "migrate")
    assert code == 0 and "up to date" in out


def test_options_after_the_command_work_too(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, _out, _ = run(capsys, "migrate", "--data-dir", str(data_dir))
    assert code == 0 and opened_in(data_dir)


def test_environment_variable_chooses_the_data_folder(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_APP_DATA_DIR", str(data_dir))
    code, _, _ = run(capsys, "migrate")
    assert code == 0 and opened_in(data_dir)


def test_db_option_chooses_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path) -> None:
    target = tmp_path / "elsewhere.sqlite3"
    code, _, _ = run(capsys, "--data-dir", str(data_dir), "--db", f"sqlite:///{target.as_posix()}", "migrate")
    assert code == 0 and target.exists() and not (data_dir / "triage.sqlite3").exists()


@pytest.mark.sqlite_only("the app's file backup (a server is backed up by its own tools)")
def test_backup_command_and_audit(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    run(capsys, "--data-dir", str(data_dir), "migrate")
    out_file = tmp_path / "copy.sqlite3"
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "backup", "--out", str(out_file))
    assert code == 0 and out_file.exists()
    with sqlite3.connect(out_file) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    code, _, err = run(capsys, "--data-dir", str(data_dir), "backup", "--out", str(out_file))
    assert code == 2 and "already exists" in err
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "audit", "verify")
    assert code == 0 and "intact" in out


@pytest.mark.sqlite_only("a forger dropping the SQLite file's trigger")
@pytest.mark.hazard("H03")
def test_audit_verify_reports_the_break(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    run(capsys, "--data-dir", str(data_dir), "migrate")
    run(capsys, "--data-dir", str(data_dir), "user", "add", "jo", "--name", "Jo Test", "--role", "coordinator")
    with sqlite3.connect(data_dir / "triage.sqlite3") as connection:
        connection.execute("DROP TRIGGER audit_event_no_update")  # as a forger must first (schema 0005)
        connection.execute("UPDATE audit_event SET action = 'delete' WHERE id = 1")
    code, _, err = run(capsys, "--data-dir", str(data_dir), "audit", "verify")
    assert code == 1 and "BROKEN at event 1" in err


def test_users_can_be_managed(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run(
        capsys, "--data-dir", str(data_dir), "user", "add", "jpatel", "--name", "J Patel", "--role", "coordinator"
    )
    assert code == 0 and "added jpatel (coordinator)" in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "user", "list")
    assert "jpatel" in out and "J Patel" in out
    code, _, err = run(capsys, "--data-dir", str(data_dir), "user", "add", "jpatel", "--name", "x", "--role", "admin")
    assert code == 2 and "already a user" in err


@pytest.mark.sqlite_only("a data folder's file that is not a SQLite database")
def test_not_a_database_is_refused_and_kept(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    data_dir.mkdir()
    target = data_dir / "triage.sqlite3"
    target.write_text("name,nhs\nnot a database\n")
    code, _, err = run(capsys, "--data-dir", str(data_dir), "queue")
    assert code == 1 and "not a SQLite database" in err
    assert target.read_text() == "name,nhs\nnot a database\n"


def test_unusable_data_folder_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "--data-dir", str(blocker), "queue")
    assert code == 1 and "is a file, not a folder" in err


def test_unknown_database_type_is_named(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, _, err = run(capsys, "--data-dir", str(data_dir), "--db", "oracle+nothing://x/y", "queue")
    assert code == 1 and "unknown database type" in err


@pytest.mark.hazard("H11")
def test_log_holds_no_patient_identifiers(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    record = referral_json(7)
    source = tmp_path / "in.json"
    source.write_text(json.dumps([record, {**record, "received_on": "2026-13-01"}]))
    code, _, _ = run(capsys, "--data-dir", str(data_dir), "import", str(source), "--as-of", "2026-11-02")
    assert code == 2
    log_text = (data_dir / "logs" / "triage-app.log").read_text(encoding="utf-8")
    assert "registered" in log_text  # the log is written...
    nhs = record["patient"]["nhs_number"]
    for identifier in (nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", "Quillfeather", "Morwenna", "K0043921", "1979-11-12"):
        assert identifier not in log_text  # ...and says nothing about who


@pytest.mark.hazard("H11")
def test_log_filter_masks_nhs_numbers() -> None:
    import logging

    from triage_app.logs import RedactNhsNumbers

    record = logging.LogRecord("triage_app", logging.INFO, __file__, 1, "number %s", ("999 000 0018",), None)
    RedactNhsNumbers().filter(record)
    assert record.getMessage() == "number [nhs-number]"


@pytest.mark.hazard("H11", "H17")
def test_log_filter_keeps_a_hash_whole_but_not_numbers_run_together() -> None:
    """The audit head's SHA-256 is logged as the trail's record outside the database: ten digits inside it are not
    an NHS number; an NHS number beside it is still masked."""
    import logging

    from triage_app.logs import RedactNhsNumbers

    digest = "ab" + "9990000018" + "c" * 52
    nearby = "999 000 0018"
    record = logging.LogRecord("triage_app", logging.INFO, __file__, 1, "audit head 7 %s; %s", (digest, nearby), None)
    RedactNhsNumbers().filter(record)
    assert record.getMessage() == f"audit head 7 {digest}; [nhs-number]"


def test_gui_smoke_start(tmp_path: Path) -> None:
    """`triage-app --smoke` starts the real window offscreen, opens the database and quits cleanly."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "triage_app", "--data-dir", str(tmp_path / "d"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "smoke: started and opened" in result.stdout
    assert opened_in(tmp_path / "d")


@pytest.mark.sqlite_only("a data folder's file that is not a SQLite database")
@pytest.mark.hazard("H03")
def test_gui_smoke_start_reports_a_bad_database(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "triage.sqlite3").write_text("garbage")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "triage_app", "--data-dir", str(data), "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "not a SQLite database" in result.stderr
    assert (data / "triage.sqlite3").read_text() == "garbage"
