"""A write that waits for another program's lock gives up after the busy timeout and says so, on either backend."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from triage_app.storage.engine import Database, DatabaseLockedError, parse_database_url


@pytest.mark.hazard("H17")
def test_a_write_blocked_by_another_programs_lock_gives_up_and_says_so(db: Database, db_url: str) -> None:
    impatient = Database(parse_database_url(db_url), busy_timeout_ms=300)
    other = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with other.connect() as holder:
            if holder.dialect.name == "sqlite":
                holder.exec_driver_sql("BEGIN IMMEDIATE")  # another program holds SQLite's write lock
            else:
                holder.begin()
                holder.execute(sa.text("LOCK TABLE app_setting IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            with (
                pytest.raises(DatabaseLockedError, match="in use by another program") as refused,
                impatient.write() as session,
            ):
                session.execute(sa.text("INSERT INTO app_setting (key, value) VALUES ('lock-test', 'x')"))
            waited = time.monotonic() - started
            holder.rollback()
        assert 0.2 <= waited < 5, f"waited {waited:.2f} s for a 0.3 s timeout"
        assert "nothing was changed" in str(refused.value)
        with db.read() as session:
            stored = session.execute(sa.text("SELECT count(*) FROM app_setting WHERE key = 'lock-test'")).scalar_one()
        assert stored == 0
    finally:
        impatient.dispose()
        other.dispose()
