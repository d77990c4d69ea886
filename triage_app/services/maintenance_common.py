"""What the maintenance use cases share: the restore's refusals and why a step stopped, in words, and who is
asking, read from a database file without opening it for writing. Part of services.maintenance.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from triage_app.domain.workflow import ROLES
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.permissions import action
from triage_app.storage.engine import (
    DatabaseFull,
)
from triage_app.storage.integrity import (
    IntegrityError,
    disk_state,
    is_io_error,
    open_readonly,
)

log = logging.getLogger(__name__)

#: The files SQLite keeps beside a database, moved aside with it on a restore.
SIDE_FILES = ("-wal", "-shm", "-journal")
IN_USE = (
    "another program (perhaps the desktop app) has the database {path} open; close it and try again. "
    "Nothing was changed."
)


class RestoreRefused(ServiceError):
    """A restore that cannot go ahead; nothing was changed, and the message says why."""


class DatabaseInUse(RestoreRefused):
    """Another program has the database open."""


class RestoreFailed(RestoreRefused):
    """The restore stopped part-way (a full disk, a folder that cannot be written); the message says what was
    put back, and where the files are if they could not be."""


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def why_stopped(exc: BaseException, folder: Path) -> str:
    """Why a restore stopped, in words: `the disk is full (No space left on device)`, or the error's own words."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            said = seen.strerror or str(seen)
            if seen.errno in _FULL_ERRNOS:
                return f"the disk is full ({said})"
            if seen.errno in _READ_ONLY_ERRNOS:
                return f"the folder {folder} cannot be written ({said})"
            return said
        if isinstance(seen, DatabaseFull) or (getattr(seen, "sqlite_errorcode", 0) or 0) & 0xFF == 13:
            return "the disk is full (database or disk is full)"
        seen = seen.__cause__
    if is_io_error(exc) and (state := disk_state(folder)) is not None:
        return f"{state} ({exc})"
    return str(exc)


def not_completed(exc: BaseException, db_path: Path) -> RestoreFailed:
    log.error("restore not completed: %s; nothing was changed", type(exc).__name__)
    return RestoreFailed(
        f"the restore could not be completed: {why_stopped(exc, db_path.parent)}; nothing was changed: the current "
        f"database is where it was ({db_path})"
    )


# --- who is asking, read without opening the database for writing -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """A user as a database file records them: found, active, their name and roles."""

    exists: bool
    active: bool
    display_name: str
    roles: frozenset[str]

    def describe_roles(self) -> str:
        """Roles in the fixed order, or `no role`."""
        return ", ".join(r for r in ROLES if r in self.roles) or "no role"


def sqlite_standing(path: Path, login: str) -> Standing | None:
    """How `login` stands in the SQLite file at `path`, read-only; None when its user table cannot be read."""
    try:
        with open_readonly(path) as connection:
            row = connection.execute(
                "SELECT id, is_active, display_name FROM app_user WHERE login = ?", (login,)
            ).fetchone()
            if row is None:
                connection.execute("SELECT count(*) FROM user_role").fetchone()  # the table is readable
                return Standing(False, False, login, frozenset())
            roles = connection.execute("SELECT role FROM user_role WHERE user_id = ?", (row[0],)).fetchall()
    except (sqlite3.Error, IntegrityError):
        return None
    return Standing(True, bool(row[1]), str(row[2]), frozenset(str(r) for (r,) in roles))


def refusal(login: str, standing: Standing, name: str, where: str) -> PermissionDenied:
    wanted = action(name)
    needs = f"cannot {wanted.label}: it needs the {wanted.allowed()} role ({where})."
    if not standing.exists:
        return PermissionDenied(f"login '{login}' is not a user of {where.split(' (')[0]}, so {needs}")
    if not standing.active or not standing.roles:
        extra = ", deactivated" if not standing.active else ""
        return PermissionDenied(f"{standing.display_name} has no active role (login '{login}'{extra}), so {needs}")
    return PermissionDenied(f"{standing.display_name} (login '{login}', {standing.describe_roles()}) {needs}")


def permits(standing: Standing, name: str) -> bool:
    return standing.exists and standing.active and bool(action(name).roles & standing.roles)
