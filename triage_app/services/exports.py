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

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlmodel import col

from triage_app.config import ConfigError, resource_path, settings_letter_template
from triage_app.domain.formats import format_date
from triage_app.domain.letters import (
    ADDRESS_NOT_ON_FILE,
    PLACEHOLDERS,
    REQUIRED_PLACEHOLDERS,
    Letter,
    Signatory,
    TemplateError,
    check_template,
    fill_letter,
    letter_fields,
    letter_stem,
    missing_addresses,
    needs_letter,
    signatory_role,
    too_early,
    unique_names,
)
from triage_app.domain.meetings import Agenda, CaseInput, MeetingInfo, build_agenda
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules_changes import approval_line
from triage_app.exporters.agenda import FORMATS, export_agenda
from triage_app.exporters.letter_template import (
    WordTemplate,
    check_placeholders,
    letters_pdf,
    load_word_template,
    render_docx,
)
from triage_app.exporters.letters import LETTER_FORMATS, export_letter
from triage_app.services.app import local_today
from triage_app.services.errors import ServiceError

# Split by concern, every name importable from here as before: where an export may go
# (services.export_destinations) and how a file and its audit event are written (services.export_files).
from triage_app.services.export_destinations import DATABASE_COMPANIONS as DATABASE_COMPANIONS
from triage_app.services.export_destinations import DEFAULT_UNIT_NAME as DEFAULT_UNIT_NAME
from triage_app.services.export_destinations import FOLDER_MODE as FOLDER_MODE
from triage_app.services.export_destinations import ExportNotWritten as ExportNotWritten
from triage_app.services.export_destinations import ExportRefused as ExportRefused
from triage_app.services.export_destinations import ExportWouldOverwrite as ExportWouldOverwrite
from triage_app.services.export_destinations import check_export_destination as check_export_destination
from triage_app.services.export_destinations import check_letters_folder as check_letters_folder
from triage_app.services.export_files import publish
from triage_app.services.export_files import write_atomically as write_atomically
from triage_app.services.meetings import agenda_inputs
from triage_app.services.permissions import EXPORT_AGENDA, EXPORT_LETTERS, EXPORT_OUTCOMES, authorize
from triage_app.services.rules import rules_in_force
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.models import AppUser, MeetingCaseRow, utc_now

log = logging.getLogger(__name__)

T = TypeVar("T")


def export_noting(export: Callable[..., T], db: Database, *, actor: Actor, **options: Any) -> tuple[T, list[str]]:
    """Run `export_agenda_file` or `export_letters` with a list for its notes; return what it wrote and the notes
    (where its audit events went, on a read-only database), which the desktop and the command line both show."""
    notes: list[str] = []
    return export(db, actor=actor, notes=notes, **options), notes


def notes_suffix(notes: Sequence[str]) -> str:
    """An export's notes as they follow its message: `; note` each."""
    return "".join(f"; {note}" for note in notes)


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
    today: date | None = None,
) -> Agenda:
    """The agenda (or outcome summary) of a meeting, as every exporter and the print preview show it, naming the
    rules in force and who approved them.

    Given the `actor` (the print preview gives it), checks they may export it: printing takes it out of the app.
    The outcome summary, like the letters, is refused before the meeting's date (`today`: the local date when not
    given); the agenda is not.
    """
    if actor is not None:
        authorize(actor, EXPORT_OUTCOMES if outcomes else EXPORT_AGENDA, db=db)
    # The database's approval, read now: another desktop may have approved newer rules since this one started.
    in_force = rules_in_force(db)
    info, cases = agenda_inputs(db, meeting_id=meeting_id)
    if outcomes:
        _refuse_summary_before(info, today or local_today())
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


def _refuse_summary_before(info: MeetingInfo, today: date) -> None:
    """An outcome summary is made on or after the meeting's date, as the letters are (`too_early`)."""
    if today < info.meeting_date:
        raise ServiceError(
            f"no outcome summary written: the meeting is on {format_date(info.meeting_date)}: the outcome summary "
            f"is made on or after that date, once the MDT has recorded its outcomes (today is {format_date(today)})"
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
    today: date | None = None,
) -> Path:
    """Write the agenda (coordinators) or the outcome summary (coordinators, consultants) to `out` in `fmt`, and
    audit it: the file and its audit event stand or fall together.

    `out` is refused inside `data_dir` (the app's data folder), as the database or one of its files, and over an
    existing file unless `overwrite` (see `check_export_destination`). Raises `ExportRefused` before anything is
    written, or `ExportNotWritten` when the file was made but could not be put in place with its audit event.
    On a read-only database `notes` gets a sentence saying where the export was recorded, to show the user.
    The outcome summary is refused before the meeting's date (`today`, the local date when not given).
    """
    authorize(actor, EXPORT_OUTCOMES if outcomes else EXPORT_AGENDA, db=db)
    if fmt not in FORMATS:
        raise ServiceError(f"'{fmt}' is not an export format: choose {', '.join(FORMATS)}")
    check_export_destination(out, data_dir=data_dir, db_path=db.location.path, overwrite=overwrite)
    agenda = make_agenda(
        db, meeting_id=meeting_id, pseudonymised=pseudonymised, outcomes=outcomes, now=now, today=today
    )
    data = export_agenda(agenda, fmt, font_dir=font_dir())
    what = ("outcome summary" if outcomes else "agenda") + f" ({fmt})"
    publish(
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


def merged_letters_name(meeting_date: date) -> str:
    """`MDT outcome letters 22-Nov-2026 (to print).pdf`: every letter of the meeting in one PDF."""
    return f"MDT outcome letters {format_date(meeting_date)} (to print).pdf"


def letter_template_path(template: Path | None, data_dir: Path | None) -> Path:
    """The letter template to use: the one given (`--template`), else the data folder's setting
    (`[letters] template` in settings.ini), else the shipped example (resources/templates/outcome_letter.docx)."""
    if template is not None:
        return template
    if data_dir is not None:
        try:
            chosen = settings_letter_template(data_dir)
        except ConfigError as exc:
            raise ServiceError(str(exc)) from exc
        if chosen is not None:
            return chosen
    return resource_path("templates", "outcome_letter.docx")


def check_letter_template(path: Path) -> WordTemplate | str:
    """The letter template at `path` checked, ready to fill: a Word template, or the text of a plain-text one
    (`.txt`, the older kind, still read). `ServiceError` naming the file and what is wrong (not a .docx, missing
    placeholders, a placeholder misspelt) otherwise."""
    if path.suffix.lower() == ".txt":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ServiceError(f"cannot read the letter template {path}: {exc}") from exc
        try:
            check_template(text)
        except TemplateError as exc:
            raise ServiceError(f"{path}: {exc}") from exc
        return text
    try:
        template = load_word_template(path)
        check_placeholders(template, REQUIRED_PLACEHOLDERS, PLACEHOLDERS)
    except TemplateError as exc:
        raise ServiceError(str(exc)) from exc
    return template


def letter_context(fields: dict[str, str], template: WordTemplate) -> dict[str, str]:
    """A letter's fields for a Word template: the rules line follows the intended-use statement where the
    template does not place it itself (as in text templates)."""
    values = dict(fields)
    if values.get("rules_line") and "rules_line" not in template.variables:
        values["intended_use"] = f"{values.get('intended_use', '')} {values['rules_line']}".strip()
    return values


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
    merged: bool = False,
) -> list[Path]:
    """One outcome letter per recorded outcome (none for a case not discussed or not yet decided), named by
    patient and meeting date (`QUINNELL Marguerite 999 123 4567 MDT outcome 22-Nov-2026.docx`, never an internal
    id; a second letter of the same name numbered), dated `today` and signed by the consultant who recorded the
    outcome. With `merged`, also one PDF of every letter for printing (`merged_letters_name`), each letter's
    pages numbered from 1.

    The template is `template`, else the data folder's setting, else the shipped Word example
    (`letter_template_path`); a Word template is filled with autoescaping, so nothing in a referral runs. A
    letter whose referrer's address (or, copied to the GP, the GP's) is not on file still prints ("Address not
    on file"), and `notes` says which letters lack it.

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
    source = letter_template_path(template, data_dir)
    checked = check_letter_template(source)
    in_force = rules_in_force(db)
    info, cases = agenda_inputs(db, meeting_id=meeting_id)
    early = too_early(info, today)
    if early is not None:
        raise ServiceError(f"no letters written: {early}")
    recorded = _signatories(db, meeting_id=meeting_id)
    made: list[tuple[CaseInput, bytes | Letter]] = []
    unaddressed: list[str] = []
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
            if isinstance(checked, str):
                made.append((case, fill_letter(checked, fields, case.referral_id)))
            else:
                made.append((case, render_docx(checked, letter_context(fields, checked))))
        except TemplateError as exc:
            raise ServiceError(f"{source}: {exc}") from exc
        missing = missing_addresses(case)
        if missing:
            unaddressed.append(f"{case_label(case)}: {' and '.join(missing)}")
    if not made:
        return []
    names = unique_names([letter_stem(case, info.meeting_date, "MDT outcome") for case, _ in made], fmt)
    targets = [(out_dir / name, letter) for name, (_case, letter) in zip(names, made, strict=True)]
    merged_path = out_dir / merged_letters_name(info.meeting_date) if merged else None
    existing: list[Path] = []
    every_path = [path for path, _ in targets] + ([merged_path] if merged_path is not None else [])
    for path in [] if create_folder else every_path:  # a folder still to be made holds no file yet
        try:
            check_export_destination(path, data_dir=data_dir, db_path=db_path, overwrite=overwrite)
        except ExportWouldOverwrite:
            existing.append(path)
    if existing:
        listed = ", ".join(path.name for path in existing)
        raise ExportWouldOverwrite(
            f"{len(existing)} of the {len(every_path)} letters already exist in {out_dir} ({listed}); no "
            "letters were written. Choose another folder, or say to replace them.",
            existing=existing,
        )
    files = [(path, _letter_bytes(letter, fmt)) for path, letter in targets]
    if merged_path is not None:
        files.append((merged_path, _merged_pdf([letter for _path, letter in targets], info)))
    if create_folder:
        try:
            out_dir.mkdir(mode=FOLDER_MODE)
            out_dir.chmod(FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened: make sure
        except OSError as exc:
            raise ExportNotWritten(
                f"no letters were written: the folder {out_dir} could not be created ({exc.strerror or exc})"
            ) from exc
    written = publish(
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
    if unaddressed and notes is not None:
        notes.append(
            f"{len(unaddressed)} of the letters lack an address (the letter says '{ADDRESS_NOT_ON_FILE}' or names "
            "the GP without one; add it on the referral's form and write the letters again): "
            + "; ".join(unaddressed[:NAMED_AT_MOST])
            + (f"; and {len(unaddressed) - NAMED_AT_MOST} more" if len(unaddressed) > NAMED_AT_MOST else "")
        )
    return written


#: Letters lacking an address named in the export's notes (a status bar line), the rest counted.
NAMED_AT_MOST = 8


def case_label(case: CaseInput) -> str:
    """A case as a message names it to the user: family name in capitals, given name, NHS number."""
    patient = case.referral.patient
    name = f"{(patient.family_name or '').upper()} {patient.given_name or ''}".strip() or "name not recorded"
    return f"{name} ({format_nhs_number(patient.nhs_number) or 'no NHS number'})"


def _letter_bytes(letter: bytes | Letter, fmt: str) -> bytes:
    """A made letter in `fmt`: a filled Word document as itself or drawn as a PDF; a text template's letter by
    its own exporter."""
    if isinstance(letter, Letter):
        return export_letter(letter, fmt, font_dir=font_dir())
    if fmt == "docx":
        return letter
    return letters_pdf([letter], font_dir=font_dir(), title="Outcome letter")


def _merged_pdf(letters: Sequence[bytes | Letter], info: MeetingInfo) -> bytes:
    """Every letter of the meeting in one PDF for printing, each starting on a new page, numbered from 1."""
    title = f"MDT outcome letters {format_date(info.meeting_date)}"
    documents = [letter for letter in letters if isinstance(letter, bytes)]
    if len(documents) != len(letters):
        raise ServiceError(
            "one PDF of every letter is made from a Word (.docx) letter template; this one is a text template"
        )
    return letters_pdf(documents, font_dir=font_dir(), title=title)
