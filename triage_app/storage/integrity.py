"""Checking a SQLite database file without changing it: quick and full integrity checks, row counts, schema.

Every function here opens the file through a read-only URI (`file:PATH?mode=ro`) on a connection of its own
and never sets a journal mode, so it writes nothing to the database and never switches another program's file
to WAL. A crash-left -wal beside the file is read (its committed transactions are part of the database) but
never checkpointed or deleted.

SQLite only: the PRAGMAs are SQLite's. A PostgreSQL server checks its own pages (see the README's backups
section: pg_dump, and amcheck for a full check).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: At most this many problems are listed (a badly damaged file can report thousands of lines).
MAX_PROBLEMS = 50


class IntegrityError(Exception):
    """The file cannot be read well enough to answer (it is missing, not a database, or damaged)."""


@dataclass(frozen=True, slots=True)
class IntegrityResult:
    """What SQLite's check said: `ok`, or the problems it listed (at most `MAX_PROBLEMS`), in its words."""

    ok: bool
    problems: tuple[str, ...]

    def summary(self) -> str:
        """One line: `integrity ok`, or the first problem in SQLite's words and how many more."""
        if self.ok:
            return "integrity ok"
        first = self.problems[0] if self.problems else "unknown problem"
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else "")


def readonly_uri(path: Path) -> str:
    """The read-only URI of a database file (percent-encoded, so '?' or '#' in a folder name is safe)."""
    return "file:" + quote(path.resolve().as_posix(), safe="/:") + "?mode=ro"


@contextlib.contextmanager
def open_readonly(path: Path, *, busy_timeout_ms: int = 10_000) -> Iterator[sqlite3.Connection]:
    """A read-only connection to `path`; `IntegrityError` when the file is missing or cannot be opened."""
    if not path.is_file():
        raise IntegrityError(f"{path} does not exist or is not a file")
    try:
        connection = sqlite3.connect(readonly_uri(path), uri=True, timeout=busy_timeout_ms / 1000)
    except sqlite3.Error as exc:
        raise IntegrityError(f"{path} cannot be opened: {exc}") from exc
    try:
        yield connection
    finally:
        connection.close()


def _run_check(path: Path, pragma: str) -> IntegrityResult:
    try:
        with open_readonly(path) as connection:
            rows = connection.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})").fetchall()
            # A row can hold several lines, headed "*** in database main ***": one problem a line, no headers.
            problems = tuple(
                line.strip()
                for row in rows
                if row and row[0] != "ok"
                for line in str(row[0]).splitlines()
                if line.strip() and not line.startswith("*** in database")
            )
            if pragma == "integrity_check" and not problems:
                broken = connection.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    tables = sorted({str(row[0]) for row in broken})
                    problems = (
                        f"{len(broken)} record(s) link to records that do not exist (tables: {', '.join(tables)})",
                    )
    except IntegrityError as exc:
        return IntegrityResult(False, (str(exc),))
    except sqlite3.Error as exc:  # "file is not a database", "database disk image is malformed", ...
        return IntegrityResult(False, (f"{exc}",))
    return IntegrityResult(not problems, problems)


def quick_check(path: Path) -> IntegrityResult:
    """SQLite's `PRAGMA quick_check` (pages, records, but not index contents): for every start and backup."""
    return _run_check(path, "quick_check")


def integrity_check(path: Path) -> IntegrityResult:
    """SQLite's full `PRAGMA integrity_check`, then `PRAGMA foreign_key_check`: for `triage-app check`.

    When the full check stops on an error of its own ("database disk image is malformed"), the quick check's
    list is added: it often names the damaged page.
    """
    result = _run_check(path, "integrity_check")
    if result.ok or len(result.problems) > 1:
        return result
    quick = _run_check(path, "quick_check")
    extra = tuple(p for p in quick.problems if p not in result.problems)
    return IntegrityResult(False, (result.problems + extra)[:MAX_PROBLEMS])


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_names(connection: sqlite3.Connection) -> list[str]:
    """The database's own tables (not SQLite's internal ones), by name."""
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    return [str(name) for (name,) in rows]


def row_counts(path: Path) -> dict[str, int]:
    """How many rows each table of the database holds; `IntegrityError` when they cannot be counted."""
    try:
        with open_readonly(path) as connection:
            return {
                name: int(connection.execute(f"SELECT count(*) FROM {_quote_identifier(name)}").fetchone()[0])
                for name in table_names(connection)
            }
    except sqlite3.Error as exc:
        raise IntegrityError(f"the rows of {path} cannot be counted: {exc}") from exc


def schema_revision(path: Path) -> str | None:
    """The database's schema revision (Alembic's), or None when it has none (new, or another program's)."""
    try:
        with open_readonly(path) as connection:
            if "alembic_version" not in table_names(connection):
                return None
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        raise IntegrityError(f"the schema revision of {path} cannot be read: {exc}") from exc
    return str(row[0]) if row else None


#: How the counts are named in messages, for the tables people ask about; others are named by table.
COUNT_WORDS: dict[str, tuple[str, str]] = {
    "referral": ("referral", "referrals"),
    "audit_event": ("audit event", "audit events"),
    "meeting": ("meeting", "meetings"),
    "app_user": ("user", "users"),
}


def describe_counts(counts: dict[str, int], *, tables: tuple[str, ...] = ("referral", "audit_event")) -> str:
    """`312 referrals, 1204 audit events`: the counts of `tables`, in words."""
    parts = []
    for table in tables:
        if table in counts:
            one, many = COUNT_WORDS.get(table, (table, table))
            parts.append(f"{counts[table]} {one if counts[table] == 1 else many}")
    return ", ".join(parts)
