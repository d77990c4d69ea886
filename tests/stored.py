"""Reading what the app stored, on either backend, the way another program would (not through the app).

On SQLite the database is the data folder's file; on a server (the suite run with --backend=postgresql) it is the
test's own database, which the app finds through TRIAGE_APP_DB. Queries mark their parameters `?`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from triage_app.config import DATABASE_FILENAME
from triage_app.storage.engine import Database, parse_database_url, sqlite_url


def server_url() -> str | None:
    """The test's server database (TRIAGE_APP_DB, set by the suite on --backend=postgresql), or None on SQLite."""
    url = os.environ.get("TRIAGE_APP_DB")
    return url if url and url.startswith("postgresql") else None


def app_db_url(data_dir: Path) -> str:
    """The URL of the database the app opens for `data_dir`: the test's server, or the folder's SQLite file."""
    url = server_url()
    if url is not None:
        return url
    path = data_dir if data_dir.suffix == ".sqlite3" else data_dir / DATABASE_FILENAME
    return sqlite_url(path)


def app_database(data_dir: Path) -> Database:
    """The app's database for `data_dir`, opened as another program would (dispose() it after)."""
    return Database(parse_database_url(app_db_url(data_dir)))


def stored_rows(data_dir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of `sql` from the database the app uses for `data_dir` (its SQLite file, or the test's server)."""
    url = server_url()
    if url is None:
        path = data_dir if data_dir.suffix == ".sqlite3" else data_dir / DATABASE_FILENAME
        with contextlib.closing(sqlite3.connect(path)) as connection:
            return [tuple(row) for row in connection.execute(sql, params).fetchall()]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            result = connection.exec_driver_sql(sql.replace("?", "%s"), tuple(params))
            return [tuple(row) for row in result.fetchall()]
    finally:
        engine.dispose()


def stored_value(data_dir: Path, sql: str, *params: Any) -> Any:
    """The single value `sql` selects (see `stored_rows`)."""
    rows = stored_rows(data_dir, sql, *params)
    assert len(rows) == 1 and len(rows[0]) == 1, f"expected one value from {sql!r}, got {rows!r}"
    return rows[0][0]


def app_login(data_dir: Path | None = None) -> str:
    """Who the app signs in as for `data_dir`: the server's authenticated role on PostgreSQL (`current_user`),
    otherwise this process's operating-system account."""
    from triage_app.services.logins import os_login

    if server_url() is None:
        return os_login()
    return str(stored_value(data_dir or Path("."), "SELECT current_user"))
