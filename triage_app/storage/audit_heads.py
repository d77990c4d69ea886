"""The chain's head as kept outside the database: the checkpoint file and the `audit head` lines of the app
log, compared with the database by `audit verify`. Part of storage.audit (which re-exports these names).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session

from triage_app.storage.audit_chain import DATABASE_ID_PATTERN, ID_CHUNK
from triage_app.storage.audit_checkpoint import (
    Checkpoint,
    CheckpointError,
    read_checkpoint,
)
from triage_app.storage.audit_verify import ChainReport, describe_event_range
from triage_app.storage.models import (
    AuditEventRow,
)

#: The audit's own logger (storage.audit's, which writes the head lines): the restart lines are named by it too,
#: and `audit verify` reads only its lines.
AUDIT_LOGGER = "triage_app.storage.audit"

log = logging.getLogger(AUDIT_LOGGER)


def _same_place(recorded: str, where: str | None) -> bool:
    """True when a checkpoint an older version named by a path (or URL) names the database at `where`."""
    if where is None:
        return False
    if recorded == where:
        return True
    if "://" in recorded or "://" in where:
        return False
    try:
        return Path(recorded).resolve() == Path(where).resolve()
    except (OSError, RuntimeError):
        return False


def checkpoint_names_this(recorded: str | None, *, database: str | None, where: str | None) -> bool:
    """True when a checkpoint naming `recorded` is this database's: its id (`database`), or, for a checkpoint an
    older version named by the path, this database's path (`where`). A checkpoint naming nothing is anyone's."""
    if recorded is None:
        return True
    if database is not None and recorded == database:
        return True
    return _same_place(recorded, where)


def compare_checkpoint(
    session: Session,
    chain: ChainReport,
    path: Path | None,
    *,
    database: str | None,
    where: str | None = None,
    read: Callable[[Path], Checkpoint | None] = read_checkpoint,
) -> tuple[str, str | None]:
    """The database's chain against the checkpoint file: (what was compared, in words; the problem or None).

    `database` is the database's id (None when it has none yet), `where` its path or URL: a checkpoint names
    the database by its id, or (written by an older version) by its path. One that names another database is a
    problem: the database in this folder was replaced, or the folder was moved while the checkpoint still named
    the path. `read` reads the file: a caller comparing a snapshot read while others commit reads it before the
    snapshot (`verify_audit_trail`), so a commit in between leaves the checkpoint behind, never ahead.
    """
    if path is None:
        return "checkpoint not compared (no checkpoint file is kept for this database)", None
    try:
        checkpoint: Checkpoint | None = read(path)
    except CheckpointError as exc:
        return f"checkpoint {path} unreadable", f"{exc}: the head outside the database cannot be compared"
    if checkpoint is None:
        if chain.checked == 0:
            return f"checkpoint not compared (no checkpoint file at {path}: a new install)", None
        return f"no checkpoint file at {path}", checkpoint_missing(path, chain.checked)
    if not checkpoint_names_this(checkpoint.database, database=database, where=where):
        this = f"id {database}" if database is not None else str(where)
        return (
            f"checkpoint not compared ({path} records another database, {checkpoint.database})",
            f"the checkpoint {path} records another database ({checkpoint.database}), not this one ({this}): the "
            "database here was replaced by another, or the data folder was moved while the checkpoint still named "
            f"the database by its path. The head outside the database cannot be compared: if the folder was moved "
            f"on purpose, compare the head_id and head_hash in that file (event {checkpoint.head_id}) with this "
            "database's event of that id, then move the file aside and keep it with the old logs/ folder as the "
            "record of the move; the next change recorded in the trail writes a new checkpoint",
        )
    where = f"the checkpoint ({path}, written {checkpoint.at})"
    if chain.checked == 0 and checkpoint.head_id > 0:
        return (
            f"checkpoint at event {checkpoint.head_id}",
            f"the database holds no audit events, but {where} records event {checkpoint.head_id}: all events "
            "(and the head) were deleted",
        )
    if checkpoint.head_id > chain.last_id:
        return (
            f"checkpoint at event {checkpoint.head_id}",
            f"the database's chain ends at event {chain.last_id}, but {where} records event {checkpoint.head_id}: "
            f"{describe_event_range(chain.last_id + 1, checkpoint.head_id)} deleted and the head moved back",
        )
    if checkpoint.head_id == 0:
        return "checkpoint at event 0 (matches)", None
    table: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
    stored = session.connection().execute(select(table.c.hash).where(table.c.id == checkpoint.head_id)).scalar()
    if stored != checkpoint.head_hash:
        return (
            f"checkpoint at event {checkpoint.head_id}",
            f"event {checkpoint.head_id} differs from {where} (hash {str(stored)[:12]}..., checkpoint "
            f"{checkpoint.head_hash[:12]}...): the chain was rewritten",
        )
    behind = "" if checkpoint.head_id == chain.last_id else f", database at event {chain.last_id}"
    return f"checkpoint at event {checkpoint.head_id} matches{behind}", None


def checkpoint_missing(path: Path, events: int) -> str:
    """The problem of a checkpoint file gone while the database holds events, and what to do if that is legitimate."""
    return (
        f"the checkpoint file {path} is missing though the trail has {events} events: it was removed, or the "
        "database was moved here from another data folder. If it was moved on purpose: compare the head_id and "
        "head_hash in the old data folder's backups/audit-checkpoint.json with this database's event of that id, "
        "and keep that file and the old logs/ folder as the record of the move; the next change recorded in the "
        "trail writes a new checkpoint here"
    )


# --- the head in the app log ---------------------------------------------------------------------------------

#: Words a restore's reason carries when an administrator accepted a backup whose audit trail did not verify.
ACCEPTED_MARK = "accepting an audit problem"

#: Which logger writes the head and restart lines: `audit verify` reads only this logger's lines, so a problem it
#: logs itself (which may quote an id and hash) is never read back as a head.
_LOGGER_MARK = f" {AUDIT_LOGGER}: "
_HEAD_LINE = re.compile(
    re.escape(_LOGGER_MARK) + r"audit head (?P<id>\d+) (?P<hash>[0-9a-f]{64}) db=(?P<db>[0-9a-f]{32})\s*$"
)
_RESTART_LINE = re.compile(
    re.escape(_LOGGER_MARK)
    + r"audit chain restarted at (?P<id>\d+) (?P<hash>[0-9a-f]{64}) \((?P<reason>.*)\) db=(?P<db>[0-9a-f]{32})\s*$"
)


@functools.lru_cache(maxsize=32)
def _key_of(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]


def database_key(url: sa.URL | str) -> str:
    """The key an older version gave a database in the log lines (32 hex digits of a SHA-256 of where it is);
    `audit verify` still reads lines so keyed for a database at that place. Lines are now keyed by the
    database's own id (`read_database_id`), which moves with the file.

    A SQLite file is keyed by its resolved path, so the URL given on the command line, the engine's and the
    restore's all agree; a server by its URL without the password. Give the database's location URL, never a
    read-only engine's (whose URL names no file).
    """
    parsed = sa.make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return _key_of("sqlite:" + _resolved(parsed.database))
    return _key_of(parsed.render_as_string(hide_password=True))


@functools.lru_cache(maxsize=32)
def _resolved(path: str) -> str:
    return Path(path).resolve().as_posix()


def log_chain_restart(head_id: int, head_hash: str, *, reason: str, database: sa.URL | str) -> None:
    """Log that the chain restarts at this head (a restore put an older database in place): `audit verify`
    ignores the heads logged for this database before the newest such line. `reason` names the backup file and
    who restored it (and an audit problem accepted), never a path. `database`: the database's id, else its URL."""
    key = database if isinstance(database, str) and DATABASE_ID_PATTERN.match(database) else database_key(database)
    log.warning("audit chain restarted at %d %s (%s) db=%s", head_id, head_hash, reason, key)


@dataclass(frozen=True, slots=True)
class LoggedHead:
    """A head of this database's chain read from the app log, and where (file and time of the line)."""

    event_id: int
    hash: str
    where: str
    reason: str = ""  # a restart marker's reason (which backup, by whom, an audit problem accepted)


@dataclass(frozen=True, slots=True)
class LoggedHeads:
    """What the app log holds for one database: its heads since the newest restart marker."""

    files: tuple[Path, ...]  # the files read, oldest first
    heads: tuple[LoggedHead, ...]  # distinct (id, hash) pairs, each where first seen
    restart: LoggedHead | None  # the newest restart marker, if any
    unreadable: tuple[str, ...] = ()  # a sentence for each file that could not be read


def log_files(log_dir: Path, name: str) -> list[Path]:
    """The rotating log's files, oldest first: `name.5` ... `name.1`, then `name`."""
    rotated: list[tuple[int, Path]] = []
    for candidate in log_dir.glob(f"{glob.escape(name)}.*"):
        suffix = candidate.name[len(name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    files = [path for _, path in sorted(rotated, reverse=True)]
    current = log_dir / name
    if current.exists():
        files.append(current)
    return files


def read_logged_heads(files: Sequence[Path], key: str | Collection[str]) -> LoggedHeads:
    """The heads logged for the database `key` (its id, and the key an older version gave it by its path: see
    `database_key`) in `files` (oldest first), after the newest restart marker. Reads the lines of this module's
    logger only."""
    keys = {key} if isinstance(key, str) else set(key)
    heads: dict[tuple[int, str], LoggedHead] = {}
    restart: LoggedHead | None = None
    unreadable: list[str] = []
    read: list[Path] = []
    for path in files:
        try:
            with path.open(encoding="utf-8", errors="replace") as stream:
                for line in stream:
                    if _LOGGER_MARK not in line:
                        continue
                    match = _HEAD_LINE.search(line) or _RESTART_LINE.search(line)
                    if match is None or match["db"] not in keys:
                        continue
                    reason = match["reason"] if match.re is _RESTART_LINE else ""
                    found = LoggedHead(int(match["id"]), match["hash"], f"{path.name}, {line[:19]}", reason)
                    if match.re is _RESTART_LINE:
                        heads.clear()  # the chain restarted here: the heads before belong to the replaced file
                        restart = found
                    heads.setdefault((found.event_id, found.hash), found)
        except OSError as exc:
            unreadable.append(f"the app log {path} cannot be read ({exc.strerror or exc})")
            continue
        read.append(path)
    return LoggedHeads(tuple(read), tuple(heads.values()), restart, tuple(unreadable))


def compare_logged_heads(session: Session, chain: ChainReport, logged: LoggedHeads) -> tuple[str, list[str]]:
    """The database's chain against the heads the app logged: (what was compared, in words; the problems).

    A logged id beyond the chain's end means events were deleted and the head moved back; a logged id whose
    event has another hash means the chain was rewritten.
    """
    problems = [f"{sentence}: the heads logged there cannot be compared" for sentence in logged.unreadable]
    since = "" if logged.restart is None else f" since the restore at event {logged.restart.event_id}"
    if logged.restart is not None and ACCEPTED_MARK in logged.restart.reason:
        since += " (a restore that accepted a backup whose audit trail did not verify)"
    if not logged.heads:
        return f"app log: no head of this database logged{since} ({len(logged.files)} files read)", problems
    newest = max(logged.heads, key=lambda head: head.event_id)
    if newest.event_id > chain.last_id:
        if chain.checked == 0:
            problems.append(
                f"the database holds no audit events, but the app log ({newest.where}) records event "
                f"{newest.event_id} written: all events (and the head) were deleted"
            )
        else:
            problems.append(
                f"the database's chain ends at event {chain.last_id}, but the app log ({newest.where}) records "
                f"event {newest.event_id} written: {describe_event_range(chain.last_id + 1, newest.event_id)} deleted "
                "and the head moved back"
            )
    within = sorted((head for head in logged.heads if head.event_id <= chain.last_id), key=lambda h: h.event_id)
    table: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
    stored: dict[int, str] = {}
    wanted = sorted({head.event_id for head in within})
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = wanted[start : start + ID_CHUNK]
        for event_id, digest in session.connection().execute(
            select(table.c.id, table.c.hash).where(table.c.id.in_(chunk))
        ):
            stored[int(event_id)] = str(digest)
    differing = [head for head in within if stored.get(head.event_id) != head.hash]
    if differing:
        first = differing[0]
        more = "" if len(differing) == 1 else f" (and {len(differing) - 1} more logged heads differ)"
        problems.append(
            f"event {first.event_id} differs from the head the app log recorded ({first.where}: hash "
            f"{first.hash[:12]}..., database {str(stored.get(first.event_id))[:12]}...): the chain was "
            f"rewritten{more}"
        )
    if problems:
        return f"app log: {len(logged.heads)} heads compared{since}", problems
    return (
        f"app log: {len(logged.heads)} logged heads match{since} (up to event {newest.event_id}, "
        f"{len(logged.files)} files read)",
        problems,
    )
