"""Checking a SQLite database file without changing it: quick and full integrity checks, row counts, schema.

Every function here opens the file through a read-only URI (`file:PATH?mode=ro`) on a connection of its own
and never sets a journal mode, so it writes nothing to the database and never switches another program's file
to WAL. A crash-left -wal beside the file is read (its committed transactions are part of the database) but
never checkpointed or deleted. The connection is the start-up code's (`engine.connect_read_only`): on a full
disk or in a folder that cannot be written, where SQLite cannot make the -shm index it needs, the file is read
`immutable` (provided no -wal holds changes), so a full disk does not read as a damaged file.

An error of the disk rather than the file (SQLite's SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, an OSError) is
not damage: the result says the file could not be read (`IntegrityResult.unreadable`), and why when the disk
says (`disk_state`: full, or read-only).

SQLite only: the PRAGMAs are SQLite's. A PostgreSQL server checks its own pages (see the README's backups
section: pg_dump, and amcheck for a full check).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from triage_app.storage.engine import connect_read_only
from triage_app.storage.stopping import Stopped, StopSignal

#: At most this many problems are listed (a badly damaged file can report thousands of lines).
MAX_PROBLEMS = 50


#: SQLite's primary result codes that are the disk's or the system's, not the file's: I/O error, out of memory,
#: full, cannot open, read-only, busy, locked. Extended codes carry the primary one in their low byte.
_NOT_DAMAGE_CODES = frozenset({10, 7, 13, 14, 8, 5, 6})
#: Less free space than this (bytes) reads as a full disk when saying why a file could not be read.
NEARLY_FULL_BYTES = 64 * 1024


class IntegrityError(Exception):
    """The file cannot be read well enough to answer (it is missing, not a database, or damaged)."""


class UnreadableError(IntegrityError):
    """The file could not be read because of the disk or the system (I/O error, full, cannot open), not damage."""


def is_io_error(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is the disk's or the system's error, not a damaged file."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return True
        code = getattr(seen, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _NOT_DAMAGE_CODES:
            return True
        seen = seen.__cause__
    return False


def disk_state(folder: Path) -> str | None:
    """Why a folder's files may not be readable, in words, found without writing anything; None when neither.

    `the disk is full (N bytes free)` or `the folder is on a read-only file system` / `the folder cannot be
    written`: SQLite needs to write a small index (-shm) beside a database even to read it.
    """
    try:
        free = shutil.disk_usage(folder).free
        if free < NEARLY_FULL_BYTES:
            return f"the disk holding {folder} is full ({os.strerror(errno.ENOSPC)}; {free} bytes free)"
        if hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"the folder {folder} is on a read-only file system"
        if not os.access(folder, os.W_OK):
            return f"the folder {folder} cannot be written ({os.strerror(errno.EACCES)})"
    except OSError as exc:
        return f"the folder {folder} cannot be looked at ({exc.strerror or exc})"
    return None


def unreadable_reason(path: Path, exc: BaseException) -> str:
    """`the disk is full (...): disk I/O error`: why `path` could not be read, the disk's state first."""
    said = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    state = disk_state(path.parent)
    return f"{state}: {said}" if state is not None else said


@dataclass(frozen=True, slots=True)
class IntegrityResult:
    """What SQLite's check said: `ok`, or the problems it listed (at most `MAX_PROBLEMS`), in its words.

    `unreadable` is set (why, in words) when the file could not be read because of the disk or the system: then
    `ok` is False but nothing is known to be wrong with the file, and `problems` holds that reason alone.
    """

    ok: bool
    problems: tuple[str, ...]
    unreadable: str | None = None

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
        # The start-up code's way: `mode=ro`, and `immutable` when the -shm cannot be made (a full disk).
        connection = connect_read_only(path, busy_timeout_ms=busy_timeout_ms)
    except (sqlite3.Error, OSError) as exc:
        if is_io_error(exc):
            raise UnreadableError(f"{path} cannot be read: {unreadable_reason(path, exc)}") from exc
        raise IntegrityError(f"{path} cannot be opened: {exc}") from exc
    try:
        yield connection
    finally:
        connection.close()


def _run_check(path: Path, pragma: str, stop: StopSignal | None = None) -> IntegrityResult:
    try:
        with open_readonly(path) as connection, stop.watch(connection) if stop else contextlib.nullcontext():
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
    except Stopped:
        raise
    except UnreadableError as exc:
        return IntegrityResult(False, (str(exc),), unreadable=str(exc))
    except IntegrityError as exc:
        return IntegrityResult(False, (str(exc),))
    except (sqlite3.Error, OSError) as exc:
        if stop is not None and stop.stopped:  # interrupted on purpose: no verdict at all, never "damaged"
            raise Stopped(f"the {pragma.replace('_', ' ')} of {path.name} was stopped") from None
        if is_io_error(exc):  # the disk's error, not the file's: it says nothing about damage
            reason = f"{path} cannot be read: {unreadable_reason(path, exc)}"
            return IntegrityResult(False, (reason,), unreadable=reason)
        return IntegrityResult(False, (f"{exc}",))  # "file is not a database", "database disk image is malformed"
    return IntegrityResult(not problems, problems)


def quick_check(path: Path, *, stop: StopSignal | None = None) -> IntegrityResult:
    """SQLite's `PRAGMA quick_check` (pages, records, but not index contents): for every start and backup.

    `stop` (a background check) interrupts it: `Stopped` is raised, never a result."""
    return _run_check(path, "quick_check", stop)


def integrity_check(path: Path, *, stop: StopSignal | None = None) -> IntegrityResult:
    """SQLite's full `PRAGMA integrity_check`, then `PRAGMA foreign_key_check`: for `triage-app check`.

    When the full check stops on an error of its own ("database disk image is malformed"), the quick check's
    list is added: it often names the damaged page.
    """
    result = _run_check(path, "integrity_check", stop)
    if result.ok or result.unreadable is not None or len(result.problems) > 1:
        return result
    quick = _run_check(path, "quick_check", stop)
    if quick.unreadable is not None:  # the disk failed on the second read: say so rather than guess
        return quick
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
    except (sqlite3.Error, OSError) as exc:
        if is_io_error(exc):
            raise UnreadableError(f"the rows of {path} cannot be counted: {unreadable_reason(path, exc)}") from exc
        raise IntegrityError(f"the rows of {path} cannot be counted: {exc}") from exc


def schema_revision(path: Path) -> str | None:
    """The database's schema revision (Alembic's), or None when it has none (new, or another program's)."""
    try:
        with open_readonly(path) as connection:
            if "alembic_version" not in table_names(connection):
                return None
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except (sqlite3.Error, OSError) as exc:
        if is_io_error(exc):
            raise UnreadableError(
                f"the schema revision of {path} cannot be read: {unreadable_reason(path, exc)}"
            ) from exc
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
