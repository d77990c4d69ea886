"""Where an export may go, checked in one place (`check_export_destination`, `check_letters_folder`): never the
database or its side files, never inside the app's data folder, never over an existing file unless the user
said to replace it, never over a SQLite database or anything that is not an ordinary file. Part of
services.exports (importable from there).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from triage_app.services.errors import ServiceError
from triage_app.storage.engine import SQLITE_HEADER

DEFAULT_UNIT_NAME = "specialist neurosurgical unit"
#: Files SQLite keeps beside a database: replacing any of them damages it.
DATABASE_COMPANIONS = ("", "-wal", "-shm", "-journal")
#: A folder made for letters holds patient data: owner only, like the files written into it (mkstemp's 0600).
FOLDER_MODE = 0o700
#: Errors of os.link that mean "no hard links on this file system", not "the name exists".
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}

log = logging.getLogger(__name__)


class ExportRefused(ServiceError):
    """The destination is not one an export may write to; nothing was written."""


class ExportWouldOverwrite(ExportRefused):
    """The destination exists: the export replaces it only when the user says so (`overwrite=True`).

    `existing` names every file that would be replaced (for letters, all of them), so that a caller can ask.
    """

    def __init__(self, message: str, *, existing: Sequence[Path]) -> None:
        super().__init__(message)
        self.existing = tuple(existing)


class ExportNotWritten(ServiceError):
    """The files were made but could not be put in place with their audit event; none was left behind (or the
    message names the ones that could not be removed)."""


# --- where an export may go ----------------------------------------------------------------------------------


def _real(path: Path) -> Path:
    """`path` with `~`, `..` and every symlink resolved, whether or not it exists."""
    return Path(os.path.realpath(path.expanduser()))


def _same_file(first: Path, second: Path) -> bool:
    """True when both name one existing file or folder (hard links, case-insensitive file systems)."""
    try:
        return first.samefile(second)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    """True when `path` is `folder` or lies beneath it, after resolving symlinks and `..`; an existing ancestor
    that is the same folder under another spelling (letter case, a bind mount) counts too."""
    real_path, real_folder = _real(path), _real(folder)
    norm_path, norm_folder = os.path.normcase(str(real_path)), os.path.normcase(str(real_folder))
    if norm_path == norm_folder or norm_path.startswith(norm_folder.rstrip(os.sep) + os.sep):
        return True
    if not real_folder.is_dir():
        return False
    return any(_same_file(ancestor, real_folder) for ancestor in (real_path, *real_path.parents) if ancestor.exists())


def _protected_file(path: Path, *, db_path: Path | None) -> str | None:
    """Which of the database's own files `path` is ("the app's database", "the database's -wal file"), or None."""
    if db_path is None:
        return None
    real = _real(path)
    for suffix in DATABASE_COMPANIONS:
        companion = db_path.with_name(db_path.name + suffix)
        if os.path.normcase(str(real)) == os.path.normcase(str(_real(companion))) or _same_file(real, companion):
            return f"the database's {suffix} file" if suffix else "the app's database"
    return None


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def check_export_destination(path: Path, *, data_dir: Path | None, db_path: Path | None, overwrite: bool) -> Path:
    """Return `path` when an export may be written there; otherwise raise `ExportRefused` with a message naming
    the path and what to do.

    Refused always: the database file and its -wal/-shm/-journal (`db_path`, compared after resolving symlinks,
    and as the same file for hard links); anything inside the data folder `data_dir` (the database, backups,
    logs, window settings), through symlinks and `..`; a folder; a path in a folder that does not exist; an
    existing SQLite database (a backup copied elsewhere, another program's data) or anything that is not an
    ordinary file. Refused unless `overwrite` (the user said to replace it: `--force`, or the file dialog's own
    question): an existing ordinary file, as `ExportWouldOverwrite`.
    """
    if not str(path).strip():
        raise ExportRefused("no file name was given for the export: name the file to write")
    what = _protected_file(path, db_path=db_path)
    if what is not None:
        raise ExportRefused(
            f"{path} is {what}: an export never replaces it, and nothing was written. Choose a file in another "
            "folder, outside the app's data folder."
        )
    if data_dir is not None and _inside(path, data_dir):
        raise ExportRefused(
            f"{path} is inside the app's data folder {data_dir}, which holds the database, its backups and the "
            "logs: exports are never written there, and nothing was written. Choose a file in another folder."
        )
    real = _real(path)
    if real.is_dir():
        raise ExportRefused(f"{path} is a folder: give the name of the file to write in it; nothing was written")
    if not real.parent.is_dir():
        raise ExportRefused(
            f"the folder {path.parent} does not exist, so {path.name} was not written: create the folder first or "
            "choose another"
        )
    if os.path.lexists(path):
        if not real.is_file() or not stat.S_ISREG(real.stat().st_mode):
            raise ExportRefused(
                f"{path} exists and is not an ordinary file (a link to nothing, a device or a pipe): exports write "
                "only ordinary files, and nothing was written"
            )
        if _is_sqlite_file(real):
            raise ExportRefused(
                f"{path} is a SQLite database (a backup, or another program's data): an export never replaces a "
                "database, even when told to, and nothing was written. Choose another name."
            )
        if not overwrite:
            raise ExportWouldOverwrite(
                f"{path} already exists and was left as it is: choose another name, or say to replace it",
                existing=[path],
            )
    return path


def check_letters_folder(folder: Path, *, data_dir: Path | None, db_path: Path | None) -> bool:
    """Refuse a folder letters must not go to (the data folder or inside it, a file, a folder whose own folder
    does not exist either); return True when the folder does not exist yet and will be created, owner-only."""
    if not str(folder).strip():
        raise ExportRefused("no folder was given for the letters: name the folder to write them in")
    if _protected_file(folder, db_path=db_path) is not None or (data_dir is not None and _inside(folder, data_dir)):
        where = "the app's data folder" if data_dir is None else f"the app's data folder {data_dir}"
        raise ExportRefused(
            f"{folder} is inside {where}, which holds the database, its backups and the logs: letters are never "
            "written there, and none was written. Choose another folder."
        )
    real = _real(folder)
    if real.is_dir():
        return False
    if os.path.lexists(folder):
        raise ExportRefused(f"{folder} is a file, not a folder: choose a folder for the letters; none was written")
    if not real.parent.is_dir():
        raise ExportRefused(
            f"neither the folder {folder} nor the folder it would go in ({folder.parent}) exists: create it first "
            "or choose another; no letters were written"
        )
    return True
