"""A start that leaves the whole-file quick check for later (`open_session(defer_page_check=True)`, the desktop):
the cheap looks come first, every write waits for the check at a gate on the engine, and a damaged file is never
written: the write is refused in words, and `check_pages_late` turns the session read-only.

Real SQLite files (an index page of a closed copy overwritten to damage one), and the test server under
`--backend=postgresql`, where the app runs no such check (the server checks its own pages: data checksums,
amcheck, run by its administrator).
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from pathlib import Path

import pytest

from tests.factories import AS_OF, referral
from tests.storage.test_read_only import overwrite_index_page
from triage_app.domain.rules import Rules, read_rules_file, shipped_rules_path
from triage_app.services.app import check_pages_late, open_session
from triage_app.services.referrals import register_referral
from triage_app.services.rules import ensure_rules_approved
from triage_app.services.users import UnknownUser, add_user, sign_in
from triage_app.storage.engine import Database, DatabaseReadOnly, parse_database_url, sqlite_url
from triage_app.storage.preflight import PageCheck, ReadOnlyKind
from triage_app.storage.stopping import Stopped

BENCH_100K = Path(__file__).resolve().parents[2] / "benchmarks" / "out" / "queue-100000.sqlite3"


def _ready(url: str) -> None:
    """An administrator and a coordinator, the shipped rules approved: a start of either writes nothing."""
    database = Database(parse_database_url(url))
    try:
        admin = sign_in(database, login="admin-start")
        ensure_rules_approved(database, signed_in=admin, shipped=read_rules_file(shipped_rules_path()), as_of=AS_OF)
        add_user(database, actor=admin, login="coord-start", display_name="Cora Start", roles=["coordinator"])
    finally:
        database.dispose()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.hazard("H03")
def test_a_deferred_start_writes_only_once_the_check_has_passed(db_url: str, rules: Rules, backend: str) -> None:
    _ready(db_url)
    session = open_session(db_url, backup_dir=None, login="coord-start", today=AS_OF, defer_page_check=True)
    try:
        check = session.page_check
        if backend != "sqlite":
            assert check is None  # a server: no whole-file check by the app, nothing gated
        else:
            assert check is not None and not check.answered  # nothing has read the whole file yet
        saved = register_referral(session.db, actor=session.actor, referral=referral(7), rules=rules, as_of=AS_OF)
        assert saved.referral_id > 0
        if check is not None:
            assert check.passed and check.seconds is not None  # the write ran the check first, on its own thread
        assert check_pages_late(session, None) is None and session.read_only is None
    finally:
        session.close()


@pytest.fixture
def damaged_file(db_path: Path, rules: Rules) -> tuple[Path, str]:
    """A sound, closed database with two referrals, then one index page the start does not read overwritten."""
    url = sqlite_url(db_path)
    _ready(url)
    database = Database(parse_database_url(url))
    try:
        admin = sign_in(database, login="admin-start")
        for serial in (1, 2):
            register_referral(database, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF)
    finally:
        database.dispose()
    overwrite_index_page(db_path, "ix_case_action_case_id")
    return db_path, _sha(db_path)


@pytest.mark.sqlite_only("a damaged SQLite file")
@pytest.mark.hazard("H03")
def test_a_write_before_the_late_check_on_a_damaged_file_is_refused_and_the_session_turns_read_only(
    damaged_file: tuple[Path, str], rules: Rules
) -> None:
    path, before = damaged_file
    session = open_session(
        sqlite_url(path), backup_dir=None, login="coord-start", today=AS_OF, allow_read_only=True, defer_page_check=True
    )
    try:
        assert session.read_only is None and session.page_check is not None  # opened before the pages were read
        with pytest.raises(DatabaseReadOnly) as refused:
            register_referral(session.db, actor=session.actor, referral=referral(9), rules=rules, as_of=AS_OF)
        text = str(refused.value)
        assert "this change was refused and nothing was changed" in text and "is damaged (quick_check: " in text
        problem = check_pages_late(session, None)
        assert problem is not None and problem.kind is ReadOnlyKind.DAMAGED
        assert session.read_only == problem.reason and session.read_only_kind is ReadOnlyKind.DAMAGED
        with pytest.raises(DatabaseReadOnly):  # and every write from now on, before it begins
            register_referral(session.db, actor=session.actor, referral=referral(10), rules=rules, as_of=AS_OF)
    finally:
        session.close()
    assert _sha(path) == before  # not one byte of the damaged file written


@pytest.mark.sqlite_only("a damaged SQLite file")
@pytest.mark.hazard("H03")
def test_a_start_that_must_write_on_a_damaged_file_finds_the_damage_first_and_writes_nothing(
    damaged_file: tuple[Path, str],
) -> None:
    path, before = damaged_file
    # A login the database does not know: signing it in writes, so the start's write runs the check and is
    # refused; the start then opens the usual way, read-only, and says why no user can be added.
    with pytest.raises(UnknownUser) as refused:
        open_session(
            sqlite_url(path), backup_dir=None, login="walk-in", today=AS_OF, allow_read_only=True, defer_page_check=True
        )
    assert "open for reading only" in str(refused.value) and "is damaged" in str(refused.value)
    assert _sha(path) == before


@pytest.mark.sqlite_only("the pages of a SQLite file")
@pytest.mark.hazard("H03")
def test_stopping_the_late_check_interrupts_it_within_a_second_and_a_waiting_write_is_refused(tmp_path: Path) -> None:
    if not BENCH_100K.exists():
        pytest.skip("benchmarks/out has no cached 100,000-referral database (benchmarks/queue_db.py makes it)")
    copy = tmp_path / "triage.sqlite3"
    shutil.copyfile(BENCH_100K, copy)  # 300 MB: its quick check takes seconds
    check = PageCheck(copy)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            check.verdict()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert check.running.wait(5)  # the check is under way (its quick check of 300 MB takes seconds)
    assert not check.answered
    started = time.perf_counter()
    check.stop()
    thread.join(5)
    took = time.perf_counter() - started
    assert took < 1.0, f"the check took {took:.2f} s to stop"
    assert len(errors) == 1 and isinstance(errors[0], Stopped)
    assert check.answered and not check.passed and not check.damaged  # no verdict either way
    with pytest.raises(Stopped):
        check.verdict()  # whoever asks next hears it too (a write at the gate is refused, nothing written)


@pytest.mark.sqlite_only("the pages of a SQLite file")
def test_a_check_stopped_while_it_ran_gives_no_verdict_whatever_it_read(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the window mid-check: what the interrupted check read is never taken for damage (no false alarm)."""
    from triage_app.storage import preflight
    from triage_app.storage.integrity import IntegrityResult

    check = PageCheck(db_path, on_damage=lambda _result: pytest.fail("a stopped check called damage"))

    def stopped_midway(path: Path, *, stop: object = None) -> IntegrityResult:
        check.stop()  # the window closes while SQLite reads
        return IntegrityResult(False, ("Page 7: interrupted part-way",))

    monkeypatch.setattr(preflight, "quick_check", stopped_midway)
    with pytest.raises(Stopped):
        check.verdict()
    assert check.answered and not check.damaged and not check.passed
