"""Exports that leave the app: agendas, outcome summaries and letters, written atomically and audited.

Patient data leaves the app only for a user whose role the matrix allows (services.permissions): agendas for
coordinators; outcome summaries and letters for coordinators and consultants. Letters are written once the
meeting has been held, one for each recorded outcome, and each is signed by the consultant who recorded that
outcome, whoever writes the files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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
from triage_app.storage.engine import Database
from triage_app.storage.models import AppUser, MeetingCaseRow, utc_now

DEFAULT_UNIT_NAME = "specialist neurosurgical unit"


def font_dir() -> Path:
    """Fonts shipped for PDF exports."""
    return resource_path("fonts")


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a failed export never leaves half a file."""
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
) -> Path:
    """Write the agenda (coordinators) or the outcome summary (coordinators, consultants) to `out` in `fmt`, and
    audit it."""
    authorize(actor, EXPORT_OUTCOMES if outcomes else EXPORT_AGENDA, db=db)
    if fmt not in FORMATS:
        raise ServiceError(f"'{fmt}' is not an export format: choose {', '.join(FORMATS)}")
    agenda = make_agenda(db, meeting_id=meeting_id, pseudonymised=pseudonymised, outcomes=outcomes, now=now)
    write_atomically(out, export_agenda(agenda, fmt, font_dir=font_dir()))
    what = ("outcome summary" if outcomes else "agenda") + f" ({fmt})"
    audit_export(db, actor=actor, meeting_id=meeting_id, what=what, file_name=out.name, pseudonymised=pseudonymised)
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
) -> list[Path]:
    """One outcome letter per recorded outcome (none for a case not discussed or not yet decided), named by
    meeting and referral, dated `today` and signed by the consultant who recorded the outcome.

    Coordinators and consultants only; refused before the meeting's date. Every letter is made before any is
    written, so a case that cannot be signed (or a template that cannot be used) writes none.
    """
    authorize(actor, EXPORT_LETTERS, db=db)
    if fmt not in LETTER_FORMATS:
        raise ServiceError(f"'{fmt}' is not a letter format: choose {', '.join(LETTER_FORMATS)}")
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
    written = []
    for letter in letters:
        path = out_dir / f"outcome-letter-{info.meeting_date.isoformat()}-referral-{letter.referral_id}.{fmt}"
        write_atomically(path, export_letter(letter, fmt, font_dir=font_dir()))
        audit_export(
            db,
            actor=actor,
            meeting_id=meeting_id,
            what=f"outcome letter ({fmt})",
            file_name=path.name,
            pseudonymised=False,
        )
        written.append(path)
    return written
