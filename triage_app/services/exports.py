"""Exports that leave the app: agendas, outcome summaries and letters, written atomically and audited.

Patient data leaves the app only for a user whose role the matrix allows (services.permissions): agendas for
coordinators; outcome summaries and letters for coordinators and consultants. Letters are written once the
meeting has been held, one for each recorded outcome, and each is signed by the consultant who recorded that
outcome, whoever writes the files.

Where an export may go is checked in one place, `check_export_destination` (with `check_letters_folder`): never
the database or its -wal/-shm/-journal, never inside the app's data folder (backups, logs, window settings),
never over an existing file unless the user said to replace it, never over a SQLite database or anything that
is not an ordinary file. A file and its audit event stand or fall together: the file is written under a
temporary name beside the target; then, in one write transaction, the event is recorded and the file renamed
into place before the commit. If the event, the rename or the commit fails, the file is removed (a file it
replaced is put back) and the message says the file was not written. On a read-only database the event goes to
the app log instead, and the caller's `notes` say so (or that the log could not take it either).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

from triage_app.config import resource_path
from triage_app.domain.letters import (
    Letter,
    Signatory,
    TemplateError,
    check_template,
    fill_letter,
    letter_fields,
    needs_letter,
    signatory_role,
    too_early,
)
from triage_app.domain.meetings import Agenda, build_agenda
from triage_app.domain.rules_changes import approval_line
from triage_app.exporters.agenda import FORMATS, export_agenda
from triage_app.exporters.letters import LETTER_FORMATS, export_letter
from triage_app.services.errors import ServiceError
from triage_app.services.meetings import agenda_inputs, audit_export
from triage_app.services.permissions import EXPORT_AGENDA, EXPORT_LETTERS, EXPORT_OUTCOMES, authorize
from triage_app.services.rules import rules_in_force
from triage_app.services.users import Actor
from triage_app.storage.engine import SQLITE_HEADER, Database, DatabaseError, DatabaseLockedError
from triage_app.storage.models import AppUser, MeetingCaseRow, utc_now

DEFAULT_UNIT_NAME = "specialist neurosurgical unit"
#: Files SQLite keeps beside a database: replacing any of them damages it.
DATABASE_COMPANIONS = ("", "-wal", "-shm", "-journal")
#: A folder made for letters holds patient data: owner only, like the files written into it (mkstemp's 0600).
FOLDER_MODE = 0o700
#: Errors of os.link that mean "no hard links on this file system", not "the name exists".
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}

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


def _read_only_reason(db: Database) -> str | None:
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


def _log_exports(*, actor: Actor, meeting_id: int, what: str, names: Sequence[str], pseudonymised: bool) -> bool:
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
class _Staged:
    """A file written under a temporary name beside its target, waiting to be put in place."""

    target: Path
    temporary: Path
    aside: Path | None = None  # the file it replaced, kept until the commit so that a failure can put it back
    placed: bool = False


def _write_temporary(target: Path, data: bytes) -> Path:
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


def _place(staged: _Staged, *, overwrite: bool) -> None:
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
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(target):
            raise ExportWouldOverwrite(f"{target} already exists and was left as it is", existing=[target]) from None
        staged.temporary.replace(target)
    else:
        staged.temporary.unlink()
    staged.placed = True


def _undo(staged: Sequence[_Staged]) -> list[Path]:
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


def _why(db: Database, exc: BaseException) -> str:
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


def _publish(
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
    staged: list[_Staged] = []

    def place_all() -> None:
        for item in staged:
            _place(item, overwrite=overwrite)

    try:
        for target, data in files:
            staged.append(_Staged(target, _write_temporary(target, data)))
        reason = _read_only_reason(db)
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
            if _log_exports(actor=actor, meeting_id=meeting_id, what=what, names=names, pseudonymised=pseudonymised):
                said = f"recorded in the app log only, not in the audit trail, because the database is read-only ({reason})"
            else:
                said = (
                    f"NOT recorded: the database is read-only ({reason}) and the app log cannot be written either; "
                    f"keep your own record that {', '.join(names)} left the app"
                )
            if notes is not None:
                notes.append(said)
    except BaseException as exc:
        left = _undo(staged)
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
        raise ExportNotWritten(f"{failure}: {_why(db, exc)}.{still}") from exc
    for item in staged:
        if item.aside is not None:  # committed: the replaced file is no longer needed
            with contextlib.suppress(OSError):
                item.aside.unlink()
    return [item.target for item in staged]


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a failed write never leaves half a file.

    Neither checked nor audited: exports go through `check_export_destination` and `_publish` instead.
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


def font_dir() -> Path:
    """Fonts shipped for PDF exports."""
    return resource_path("fonts")


def make_agenda(
    db: Database,
    *,
    meeting_id: int,
    pseudonymised: bool = False,
    outcomes: bool = False,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> Agenda:
    """The agenda (or outcome summary) of a meeting, as every exporter and the print preview show it, naming the
    rules in force and who approved them.

    Given the `actor` (the print preview gives it), checks they may export it: printing takes it out of the app.
    """
    if actor is not None:
        authorize(actor, EXPORT_OUTCOMES if outcomes else EXPORT_AGENDA, db=db)
    # The database's approval, read now: another desktop may have approved newer rules since this one started.
    in_force = rules_in_force(db)
    info, cases = agenda_inputs(db, meeting_id=meeting_id)
    return build_agenda(
        info,
        cases,
        quorum_roles=in_force.rules.quorum_roles,
        generated_at=now or utc_now(),
        pseudonymised=pseudonymised,
        outcomes=outcomes,
        rtt_warning_weeks=in_force.rules.rtt_warning_weeks,  # the 18-week caution of the day the document is made
        rules_line=approval_line(in_force),
    )


def export_agenda_file(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    fmt: str,
    out: Path,
    pseudonymised: bool = False,
    outcomes: bool = False,
    now: datetime | None = None,
    data_dir: Path | None = None,
    overwrite: bool = False,
    notes: list[str] | None = None,
) -> Path:
    """Write the agenda (coordinators) or the outcome summary (coordinators, consultants) to `out` in `fmt`, and
    audit it: the file and its audit event stand or fall together.

    `out` is refused inside `data_dir` (the app's data folder), as the database or one of its files, and over an
    existing file unless `overwrite` (see `check_export_destination`). Raises `ExportRefused` before anything is
    written, or `ExportNotWritten` when the file was made but could not be put in place with its audit event.
    On a read-only database `notes` gets a sentence saying where the export was recorded, to show the user.
    """
    authorize(actor, EXPORT_OUTCOMES if outcomes else EXPORT_AGENDA, db=db)
    if fmt not in FORMATS:
        raise ServiceError(f"'{fmt}' is not an export format: choose {', '.join(FORMATS)}")
    check_export_destination(out, data_dir=data_dir, db_path=db.location.path, overwrite=overwrite)
    agenda = make_agenda(db, meeting_id=meeting_id, pseudonymised=pseudonymised, outcomes=outcomes, now=now)
    data = export_agenda(agenda, fmt, font_dir=font_dir())
    what = ("outcome summary" if outcomes else "agenda") + f" ({fmt})"
    _publish(
        db,
        actor=actor,
        meeting_id=meeting_id,
        what=what,
        files=[(out, data)],
        pseudonymised=pseudonymised,
        overwrite=overwrite,
        failure=f"the file {out} was not written",
        notes=notes,
    )
    return out


def _signatories(db: Database, *, meeting_id: int) -> dict[int, tuple[str | None, str | None, Signatory | None]]:
    """Per referral on the meeting: its recorded outcome and rationale as stored now, and the consultant who
    recorded it (None when no one is on record)."""
    with db.read() as session:
        rows = session.execute(
            select(
                col(MeetingCaseRow.referral_id),
                col(MeetingCaseRow.outcome),
                col(MeetingCaseRow.rationale),
                col(AppUser.display_name),
                col(AppUser.mdt_role),
            )
            .select_from(MeetingCaseRow)
            .outerjoin(AppUser, col(AppUser.id) == col(MeetingCaseRow.decided_by))
            .where(col(MeetingCaseRow.meeting_id) == meeting_id)
        ).all()
    return {
        referral_id: (outcome, rationale, None if name is None else Signatory(name, signatory_role(role)))
        for referral_id, outcome, rationale, name, role in rows
    }


def export_letters(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    fmt: str,
    out_dir: Path,
    today: date,
    unit_name: str = DEFAULT_UNIT_NAME,
    template: Path | None = None,
    data_dir: Path | None = None,
    overwrite: bool = False,
    notes: list[str] | None = None,
) -> list[Path]:
    """One outcome letter per recorded outcome (none for a case not discussed or not yet decided), named by
    meeting and referral, dated `today` and signed by the consultant who recorded the outcome.

    Coordinators and consultants only; refused before the meeting's date. Every letter is made before any is
    written, so a case that cannot be signed (or a template that cannot be used) writes none. The batch stands
    or falls as one: refused before any is written when `out_dir` is inside `data_dir` or when any letter's file
    exists (`ExportWouldOverwrite` names them all) unless `overwrite`; all audit events and all renames in one
    transaction, every letter removed if it fails. A missing `out_dir` is created, owner-only, when the folder
    it goes in exists (and removed again if nothing could be written). On a read-only database `notes` gets a
    sentence saying where the letters were recorded, to show the user.
    """
    authorize(actor, EXPORT_LETTERS, db=db)
    if fmt not in LETTER_FORMATS:
        raise ServiceError(f"'{fmt}' is not a letter format: choose {', '.join(LETTER_FORMATS)}")
    db_path = db.location.path
    create_folder = check_letters_folder(out_dir, data_dir=data_dir, db_path=db_path)
    source = template or resource_path("templates", "outcome_letter.txt")
    try:
        template_text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServiceError(f"cannot read the letter template {source}: {exc}") from exc
    try:
        check_template(template_text)
    except TemplateError as exc:
        raise ServiceError(f"{source}: {exc}") from exc
    in_force = rules_in_force(db)
    info, cases = agenda_inputs(db, meeting_id=meeting_id)
    early = too_early(info, today)
    if early is not None:
        raise ServiceError(f"no letters written: {early}")
    recorded = _signatories(db, meeting_id=meeting_id)
    letters: list[Letter] = []
    for case in cases:
        if not needs_letter(case):
            continue
        outcome, rationale, signatory = recorded.get(case.referral_id, (None, None, None))
        if (outcome, rationale) != (case.outcome, case.rationale):
            raise ServiceError(
                f"the outcome for referral {case.referral_id} changed while the letters were being made; no letters "
                "were written. Write them again."
            )
        if signatory is None:
            raise ServiceError(
                f"the outcome for referral {case.referral_id} has no consultant on record as recording it, so its "
                "letter cannot be signed; no letters were written. A consultant records the outcome again (amending "
                "it with a reason) to sign it."
            )
        fields = letter_fields(
            case, info, unit_name=unit_name, signatory=signatory, today=today, rules_line=approval_line(in_force)
        )
        try:
            letters.append(fill_letter(template_text, fields, case.referral_id))
        except TemplateError as exc:
            raise ServiceError(f"{source}: {exc}") from exc
    targets = [
        (out_dir / f"outcome-letter-{info.meeting_date.isoformat()}-referral-{letter.referral_id}.{fmt}", letter)
        for letter in letters
    ]
    if not targets:
        return []
    existing: list[Path] = []
    for path, _letter in [] if create_folder else targets:  # a folder still to be made holds no file yet
        try:
            check_export_destination(path, data_dir=data_dir, db_path=db_path, overwrite=overwrite)
        except ExportWouldOverwrite:
            existing.append(path)
    if existing:
        names = ", ".join(path.name for path in existing)
        raise ExportWouldOverwrite(
            f"{len(existing)} of the {len(targets)} letters already exist in {out_dir} ({names}); no letters were "
            "written. Choose another folder, or say to replace them.",
            existing=existing,
        )
    files = [(path, export_letter(letter, fmt, font_dir=font_dir())) for path, letter in targets]
    if create_folder:
        try:
            out_dir.mkdir(mode=FOLDER_MODE)
            out_dir.chmod(FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened: make sure
        except OSError as exc:
            raise ExportNotWritten(
                f"no letters were written: the folder {out_dir} could not be created ({exc.strerror or exc})"
            ) from exc
    return _publish(
        db,
        actor=actor,
        meeting_id=meeting_id,
        what=f"outcome letter ({fmt})",
        files=files,
        pseudonymised=False,
        overwrite=overwrite,
        failure=f"no letters were written to {out_dir}"
        + (" (the folder made for them was removed again)" if create_folder else ""),
        created_folder=out_dir if create_folder else None,
        notes=notes,
    )
