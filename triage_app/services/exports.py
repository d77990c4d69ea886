"""Exports that leave the app: agendas, outcome summaries and letters, written atomically and audited."""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import date, datetime
from pathlib import Path

from triage_app.config import resource_path
from triage_app.domain.letters import TemplateError, fill_letter, letter_fields
from triage_app.domain.meetings import NOT_DISCUSSED, Agenda, build_agenda
from triage_app.domain.rules import Rules
from triage_app.exporters.agenda import FORMATS, export_agenda
from triage_app.exporters.letters import LETTER_FORMATS, export_letter
from triage_app.services.app import local_today
from triage_app.services.errors import ServiceError
from triage_app.services.meetings import agenda_inputs, audit_export
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.models import utc_now

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
    rules: Rules,
    pseudonymised: bool = False,
    outcomes: bool = False,
    now: datetime | None = None,
) -> Agenda:
    """The agenda (or outcome summary) of a meeting, as every exporter and the print preview show it."""
    info, cases = agenda_inputs(db, meeting_id=meeting_id)
    return build_agenda(
        info,
        cases,
        quorum_roles=rules.quorum_roles,
        generated_at=now or utc_now(),
        pseudonymised=pseudonymised,
        outcomes=outcomes,
    )


def export_agenda_file(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    fmt: str,
    out: Path,
    rules: Rules,
    pseudonymised: bool = False,
    outcomes: bool = False,
    now: datetime | None = None,
) -> Path:
    """Write the agenda or the outcome summary to `out` in `fmt`, and audit it."""
    if fmt not in FORMATS:
        raise ServiceError(f"'{fmt}' is not an export format: choose {', '.join(FORMATS)}")
    agenda = make_agenda(
        db, meeting_id=meeting_id, rules=rules, pseudonymised=pseudonymised, outcomes=outcomes, now=now
    )
    write_atomically(out, export_agenda(agenda, fmt, font_dir=font_dir()))
    what = ("outcome summary" if outcomes else "agenda") + f" ({fmt})"
    audit_export(db, actor=actor, meeting_id=meeting_id, what=what, file_name=out.name, pseudonymised=pseudonymised)
    return out


def export_letters(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    fmt: str,
    out_dir: Path,
    unit_name: str = DEFAULT_UNIT_NAME,
    signatory: str | None = None,
    template: Path | None = None,
    today: date | None = None,
) -> list[Path]:
    """One outcome letter per decided case (not "not discussed"), named by meeting and referral."""
    if fmt not in LETTER_FORMATS:
        raise ServiceError(f"'{fmt}' is not a letter format: choose {', '.join(LETTER_FORMATS)}")
    source = template or resource_path("templates", "outcome_letter.txt")
    try:
        template_text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServiceError(f"cannot read the letter template {source}: {exc}") from exc
    info, cases = agenda_inputs(db, meeting_id=meeting_id)
    written = []
    for case in cases:
        if case.outcome is None or case.outcome == NOT_DISCUSSED:
            continue
        fields = letter_fields(
            case, info, unit_name=unit_name, signatory=signatory or actor.display_name, today=today or local_today()
        )
        try:
            letter = fill_letter(template_text, fields, case.referral_id)
        except TemplateError as exc:
            raise ServiceError(f"{source}: {exc}") from exc
        path = out_dir / f"outcome-letter-{info.meeting_date.isoformat()}-referral-{case.referral_id}.{fmt}"
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
