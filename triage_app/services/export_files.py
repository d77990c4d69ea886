"""Writing an export: a temporary file beside the target, then, in one write transaction, the audit event and the
rename into place before the commit (a failure removes the file and puts back one it replaced). On a read-only
database the event goes to the app log instead. Part of services.exports.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from triage_app.services.errors import ServiceError
from triage_app.services.export_destinations import (
    NO_HARD_LINKS,
    ExportNotWritten,
    ExportRefused,
    ExportWouldOverwrite,
)
from triage_app.services.meetings import audit_export
from triage_app.services.users import Actor
from triage_app.storage.engine import Database, DatabaseError, DatabaseLockedError

#: The exports' logger, as before the split: an export recorded in the log only is found under this name.
log = logging.getLogger("triage_app.services.exports")


def read_only_reason(db: Database) -> str | None:
    """Why the database is open for reading only (Database.read_only), or None when it can be written."""
    reason = getattr(db, "read_only", None)
    return str(reason) if reason else None


def _log_file_states() -> dict[str, tuple[int, int] | None]:
    """Each log file the app writes to, with its (inode, size) now (None when it cannot be looked at)."""
    states: dict[str, tuple[int, int] | None] = {}
    for handler in (*logging.getLogger("triage_app").handlers, *logging.getLogger().handlers):
        if isinstance(handler, logging.FileHandler):
            try:
                info = os.stat(handler.baseFilename)  # noqa: PTH116  # a str path from logging
            except OSError:
                states[handler.baseFilename] = None
            else:
                states[handler.baseFilename] = (info.st_ino, info.st_size)
    return states


def log_exports(*, actor: Actor, meeting_id: int, what: str, names: Sequence[str], pseudonymised: bool) -> bool:
    """Record exports in the app log (ids and file names, no patient data) when the database cannot hold their
    audit events; True only when a log file is seen to have taken them (a full disk drops log records)."""
    before = _log_file_states()
    for name in names:
        log.warning(
            "export recorded in the log only (database read-only): user=%s meeting=%s what=%s file=%s pseudonymised=%s",
            actor.login,
            meeting_id,
            what,
            name,
            pseudonymised,
        )
    after = _log_file_states()
    return any(state is not None and state != before.get(path) for path, state in after.items())


# --- writing: a temporary file, then the audit event and the rename in one transaction ----------------------


@dataclass(slots=True)
class Staged:
    """A file written under a temporary name beside its target, waiting to be put in place."""

    target: Path
    temporary: Path
    aside: Path | None = None  # the file it replaced, kept until the commit so that a failure can put it back
    placed: bool = False


def write_temporary(target: Path, data: bytes) -> Path:
    """Write `data` (fsynced; owner-only, as mkstemp creates it) under a temporary name in the target's folder."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def place(staged: Staged, *, overwrite: bool) -> None:
    """Rename the temporary file into place.

    Without `overwrite`, never over a file that appeared since the check: a hard link fails when the name
    exists (where the file system has no hard links: check, then rename). With it, the replaced file is kept
    aside (a hard link) until the commit, so that a failure puts it back.
    """
    target = staged.target
    if overwrite:
        if os.path.lexists(target):
            aside = staged.temporary.with_suffix(".replaced")
            # A link to the link itself where the platform can (a replaced symlink comes back as one).
            follow = os.link not in os.supports_follow_symlinks
            with contextlib.suppress(OSError):  # no hard links here: the old file cannot be put back
                os.link(target, aside, follow_symlinks=follow)
                staged.aside = aside
        staged.temporary.replace(target)
        staged.placed = True
        return
    try:
        os.link(staged.temporary, target)
    except FileExistsError:
        raise ExportWouldOverwrite(
            f"{target} appeared while the export was being written and was left as it is: choose another name, or "
            "say to replace it",
            existing=[target],
        ) from None
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        if os.path.lexists(target):
            raise ExportWouldOverwrite(f"{target} already exists and was left as it is", existing=[target]) from None
        staged.temporary.replace(target)
    else:
        staged.temporary.unlink()
    staged.placed = True


def undo(staged: Sequence[Staged]) -> list[Path]:
    """Remove every file placed and every temporary file, putting back any file replaced; return the targets that
    could not be removed (they still hold the export)."""
    left: list[Path] = []
    for item in staged:
        if item.placed:
            try:
                if item.aside is not None:
                    item.aside.replace(item.target)
                else:
                    item.target.unlink(missing_ok=True)
            except OSError:
                left.append(item.target)
        elif item.aside is not None:
            with contextlib.suppress(OSError):
                item.aside.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            item.temporary.unlink(missing_ok=True)
    return left


def why_not_written(db: Database, exc: BaseException) -> str:
    """Why the files were not written, in words (never "nothing was changed": files were made, then removed)."""
    if isinstance(exc, DatabaseLockedError):
        return (
            f"the audit event could not be recorded because another program held the database "
            f"{db.location.describe()} locked for {db.busy_timeout_ms / 1000:g} seconds. Try again in a moment"
        )
    if isinstance(exc, DatabaseError):
        return f"the audit event could not be recorded: {exc}"
    if isinstance(exc, OSError):
        return f"the file could not be written or put in place ({exc.strerror or exc})"
    return f"the audit event could not be recorded: {exc}"


def publish(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    what: str,
    files: Sequence[tuple[Path, bytes]],
    pseudonymised: bool,
    overwrite: bool,
    failure: str,
    created_folder: Path | None = None,
    notes: list[str] | None = None,
) -> list[Path]:
    """Write each file under a temporary name, then record one audit event per file and rename the files into
    place in one write transaction (renames after the events, before the commit). On any failure remove them all
    (and `created_folder`, if it is empty) and raise `ExportNotWritten` starting with `failure`.

    On a read-only database the files are put in place and the events go to the app log; `notes` gets the
    sentence that says so (or that the log could not take them either)."""
    staged: list[Staged] = []

    def place_all() -> None:
        for item in staged:
            place(item, overwrite=overwrite)

    try:
        for target, data in files:
            staged.append(Staged(target, write_temporary(target, data)))
        reason = read_only_reason(db)
        if reason is None:
            audit_export(
                db,
                actor=actor,
                meeting_id=meeting_id,
                what=what,
                file_names=[item.target.name for item in staged],
                pseudonymised=pseudonymised,
                publish=place_all,
            )
        else:
            # Read-only database (the issue: the queue can still be exported to a chosen folder): the event cannot
            # go into it, so the app log takes it, and the user is told which, truthfully.
            place_all()
            names = [item.target.name for item in staged]
            if log_exports(actor=actor, meeting_id=meeting_id, what=what, names=names, pseudonymised=pseudonymised):
                said = f"recorded in the app log only, not in the audit trail, because the database is read-only ({reason})"
            else:
                said = (
                    f"NOT recorded: the database is read-only ({reason}) and the app log cannot be written either; "
                    f"keep your own record that {', '.join(names)} left the app"
                )
            if notes is not None:
                notes.append(said)
    except BaseException as exc:
        left = undo(staged)
        if created_folder is not None:
            with contextlib.suppress(OSError):
                created_folder.rmdir()  # ours, made for these letters; only removed when empty
        if isinstance(exc, ExportRefused) and not left:
            raise
        if not isinstance(exc, (DatabaseError, OSError, ServiceError)):
            raise
        log.error("export not written (meeting %s, %s): %s", meeting_id, what, type(exc).__name__)
        still = (
            f" {', '.join(map(str, left))} could not be removed and may hold patient data: delete it by hand."
            if left
            else ""
        )
        raise ExportNotWritten(f"{failure}: {why_not_written(db, exc)}.{still}") from exc
    for item in staged:
        if item.aside is not None:  # committed: the replaced file is no longer needed
            with contextlib.suppress(OSError):
                item.aside.unlink()
    return [item.target for item in staged]


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a failed write never leaves half a file.

    Neither checked nor audited: exports go through `check_export_destination` and `publish` instead.
    """
    folder = path.parent
    if not folder.is_dir():
        raise ServiceError(f"cannot export to {path}: the folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise ServiceError(f"cannot export to {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise ServiceError(f"cannot export to {path}: {exc.strerror or exc}") from exc
