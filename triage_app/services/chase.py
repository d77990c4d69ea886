"""The coordinator's chase list: referrals awaiting information with what is awaited and when to chase it, the
request to the referrer, and the MDT's actions across meetings, ticked off when done.

Moving a referral to awaiting information and back is the workflow's (services.triage.change_status, the role
matrix's `awaiting_information`); this module adds what the coordinator needs to chase it. What is awaited and the
chase date are stored once the status has moved (a refused move records no chase); the chase list reads status,
so a referral awaiting information is on it whether or not a chase date was stored (with none, it comes first).
The chase date is a coordinator's note, not the referral's content: setting it makes no new version of the
referral, but it is audited like every change.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from triage_app.config import resource_path
from triage_app.domain.formats import format_date, format_name
from triage_app.domain.requests import (
    RequestPatient,
    awaited_items,
    awaited_text,
    is_overdue,
    request_fields,
    request_file_name,
)
from triage_app.domain.workflow import AWAITING_INFORMATION, RECEIVED, STATUS_LABELS
from triage_app.exporters.letters import LETTER_FORMATS
from triage_app.services.auditing import audit
from triage_app.services.changes import Changes
from triage_app.services.errors import NotFound, ServiceError
from triage_app.services.export_destinations import (
    DEFAULT_UNIT_NAME,
    FOLDER_MODE,
    ExportNotWritten,
    check_export_destination,
    check_letters_folder,
)
from triage_app.services.export_files import Staged, place, read_only_reason, undo, write_temporary
from triage_app.services.permissions import (
    AWAITING_INFORMATION as MOVE_TO_AWAITING,
)
from triage_app.services.permissions import (
    CHASE_INFORMATION,
    COMPLETE_ACTION,
    VIEW_MEETINGS,
    VIEW_QUEUE,
    authorize,
    status_move_action,
)
from triage_app.services.referral_reads import read_detail
from triage_app.services.triage import DecisionResult, change_status
from triage_app.services.users import Actor, limited_text
from triage_app.storage import chase as store
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import OralMedicationRow, ReferralRow, utc_now

#: The longest "awaited" a coordinator may write (the status note's limit).
AWAITED_KEY = "status.note"


@dataclass(frozen=True, slots=True)
class ChaseLine:
    """One referral awaiting information, as the chase list and `triage-app chase list` show it."""

    referral_id: int
    version: int
    patient: str  # FAMILY, Given
    nhs_number: str | None
    date_of_birth: date | None
    received_on: date | None
    referrer_name: str | None
    awaited: str | None
    chase_on: date | None
    chased_on: date | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class ActionLine:
    """One MDT action across meetings, with its patient and meeting, overdue or done."""

    action_id: int
    description: str
    owner: str | None
    due_date: date | None
    done_at: datetime | None
    done_by: str | None
    referral_id: int
    patient: str
    nhs_number: str | None
    date_of_birth: date | None
    meeting_id: int
    meeting_date: date
    overdue: bool


def _awaited_now(session: Session, row: ReferralRow) -> str | None:
    """What the referral's current assessment finds missing, in words (None when nothing is)."""
    if row.current_assessment_id is None:
        return None
    stored = repo.load_assessment(session, row.current_assessment_id)
    if stored is None or not stored.missing:
        return None
    return awaited_text(stored.missing, _drugs(session, row))


def _drugs(session: Session, row: ReferralRow) -> list[str | None]:
    """The referral's oral medications' drug names, in its order (an outcome awaited is named by its drug)."""
    query = (
        select(col(OralMedicationRow.drug))
        .where(col(OralMedicationRow.referral_id) == row.id)
        .order_by(col(OralMedicationRow.position))
    )
    return list(session.execute(query).scalars())


def _check_chase_date(chase_on: date, today: date) -> None:
    if chase_on < today:
        raise ServiceError(
            f"the chase date {format_date(chase_on)} has passed (today is {format_date(today)}): choose today or later"
        )


def chase_list(db: Database, *, actor: Actor, today: date, overdue_only: bool = False) -> list[ChaseLine]:
    """Referrals awaiting information: no chase date first, then the oldest chase date first (overdue first).

    With `overdue_only`, only those whose chase date has passed on `today` (or that have none)."""
    with db.read() as session:
        authorize(actor, VIEW_QUEUE, session=session)
        rows = store.chase_rows(session, due_by=today if overdue_only else None)
    return [
        ChaseLine(
            referral_id=r.referral_id,
            version=r.version,
            patient=format_name(r.family_name, r.given_name),
            nhs_number=r.nhs_number,
            date_of_birth=r.date_of_birth,
            received_on=r.received_on,
            referrer_name=r.referrer_name,
            awaited=r.awaited,
            chase_on=r.chase_on,
            chased_on=r.chased_on,
            overdue=is_overdue(r.chase_on, today),
        )
        for r in rows
    ]


def awaited_for(db: Database, *, actor: Actor, referral_id: int) -> str:
    """What the referral awaits in words, for the coordinator to check before moving it: its missing fields now,
    else what was recorded as awaited; "" when neither says."""
    with db.read() as session:
        authorize(actor, VIEW_QUEUE, session=session)
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        return _awaited_now(session, row) or row.awaited or ""


def await_information(
    db: Database,
    *,
    actor: Actor,
    referral_id: int,
    expected_version: int,
    chase_on: date,
    today: date,
    awaited: str | None = None,
) -> DecisionResult:
    """Move a referral to awaiting information, recording what is awaited (the coordinator's words, else its
    missing fields in words) and the date to chase it (today or later)."""
    _check_chase_date(chase_on, today)
    awaited = limited_text(awaited, AWAITED_KEY, "what is awaited")
    with db.read() as session:
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        # Who may is the move's (a coordinator's from received; a consultant's from a triage decision).
        authorize(actor, status_move_action(row.status, AWAITING_INFORMATION) or MOVE_TO_AWAITING, session=session)
        awaited = awaited or _awaited_now(session, row)
    if awaited is None:
        raise ServiceError(
            "the triage finds nothing missing from this referral: write what is awaited from the referrer"
        )
    # The move first (checked again on the referral as it is, refused if stale); then its chase, so the audit trail
    # never records a chase for a move that was refused. Should the chase not be stored, the referral is on the
    # chase list all the same, first, with no chase date.
    note = f"Awaiting: {awaited}. Chase on {format_date(chase_on)}."
    result = change_status(
        db,
        actor=actor,
        referral_id=referral_id,
        expected_version=expected_version,
        status=AWAITING_INFORMATION,
        note=note[:1000],
    )
    with db.write() as session:
        store.set_chase(session, referral_id, awaited=awaited, chase_on=chase_on, chased_on=None)
        audit(
            session,
            actor,
            "chase_set",
            "referral",
            referral_id,
            {"awaited": [None, awaited], "chase_on": [None, chase_on.isoformat()]},
        )
        detail = read_detail(session, referral_id)
    return replace(result, detail=detail)


def back_to_queue(db: Database, *, actor: Actor, referral_id: int, expected_version: int) -> DecisionResult:
    """The information came: the referral goes back to received (to be triaged again) and leaves the chase list."""
    result = change_status(db, actor=actor, referral_id=referral_id, expected_version=expected_version, status=RECEIVED)
    with db.write() as session:
        store.set_chase(session, referral_id, awaited=None, chase_on=None, chased_on=None)
    return result


def set_chase_date(
    db: Database, *, actor: Actor, referral_id: int, chase_on: date, today: date, chased: bool = False
) -> Changes:
    """A new chase date for a referral awaiting information; with `chased`, record it was chased today too."""
    _check_chase_date(chase_on, today)
    with db.write() as session:
        authorize(actor, CHASE_INFORMATION, session=session)
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        if row.status != AWAITING_INFORMATION:
            raise ServiceError(
                f"this referral is {STATUS_LABELS.get(row.status, row.status).lower()}, not awaiting information: "
                "there is nothing to chase"
            )
        chased_on = today if chased else row.chased_on
        store.set_chase(session, referral_id, awaited=row.awaited, chase_on=chase_on, chased_on=chased_on)
        details: dict[str, list[str | None]] = {"chase_on": [_iso(row.chase_on), chase_on.isoformat()]}
        if chased:
            details["chased_on"] = [_iso(row.chased_on), today.isoformat()]
        audit(session, actor, "chase_set", "referral", referral_id, details)
    return Changes(referral_ids=frozenset({referral_id}))


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


# --- the request to the referrer -----------------------------------------------------------------------------------


def _request_patient(row: ReferralRow) -> RequestPatient:
    return RequestPatient(
        family_name=row.family_name,
        given_name=row.given_name,
        nhs_number=row.nhs_number,
        date_of_birth=row.date_of_birth,
        hospital_number=row.hospital_number,
        received_on=row.received_on,
        referrer_name=row.referrer_name,
        referrer_organisation=row.referrer_organisation_ods,
        referrer_address=row.referrer_address,
    )


def _render_request(fields: dict[str, str], fmt: str, template: Path | None) -> bytes:
    """The request filled into the unit's Word template (the shipped example unless `template`), as Word, or drawn
    as PDF from that Word file (exporters.letter_template: autoescaped, never run as a template)."""
    from triage_app.domain.letters import TemplateError
    from triage_app.exporters.letter_template import letters_pdf, render_docx
    from triage_app.services.exports import font_dir

    source = template or resource_path("templates", "information_request.docx")
    try:
        docx = render_docx(source, fields)
    except TemplateError as exc:
        raise ServiceError(str(exc)) from exc
    if fmt == "docx":
        return docx
    return letters_pdf([docx], font_dir=font_dir(), title="Request for further information")


def write_request(
    db: Database,
    *,
    actor: Actor,
    referral_id: int,
    fmt: str,
    out_dir: Path,
    today: date,
    unit_name: str = DEFAULT_UNIT_NAME,
    data_dir: Path | None = None,
    overwrite: bool = False,
    template: Path | None = None,
) -> Path:
    """Write the request for the missing information to the referrer, named by patient and date, in `out_dir`, and
    audit it (the file and its event stand or fall together). Signed by the coordinator who writes it."""
    if fmt not in LETTER_FORMATS:
        raise ServiceError(f"'{fmt}' is not a letter format: choose {', '.join(LETTER_FORMATS)}")
    with db.read() as session:
        authorize(actor, CHASE_INFORMATION, session=session)
        row = repo.get_referral_row(session, referral_id)
        if row is None:
            raise NotFound(f"referral {referral_id} no longer exists")
        stored = (
            repo.load_assessment(session, row.current_assessment_id) if row.current_assessment_id is not None else None
        )
        drugs = _drugs(session, row)
    items = awaited_items(stored.missing, drugs) if stored is not None and stored.missing else ()
    if not items and row.awaited:
        items = tuple(part.strip() for part in row.awaited.split(";") if part.strip())
    if not items:
        raise ServiceError("nothing is recorded as awaited for this referral: there is nothing to request")
    patient = _request_patient(row)
    fields = request_fields(
        patient,
        items,
        today=today,
        reply_by=row.chase_on if row.status == AWAITING_INFORMATION else None,
        unit_name=unit_name,
        signer_name=actor.display_name,
    )
    data = _render_request(fields, fmt, template)
    out = out_dir / request_file_name(patient, today, fmt)
    # As for outcome letters: a missing folder is made, owner-only, when the folder it goes in exists.
    create_folder = check_letters_folder(out_dir, data_dir=data_dir, db_path=db.location.path)
    if not create_folder:
        check_export_destination(out, data_dir=data_dir, db_path=db.location.path, overwrite=overwrite)
    reason = read_only_reason(db)
    if reason is not None:
        raise ServiceError(f"no request written: the database is open for reading only ({reason})")
    if create_folder:
        try:
            out_dir.mkdir(mode=FOLDER_MODE)
            out_dir.chmod(FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened
        except OSError as exc:
            raise ExportNotWritten(
                f"no request was written: the folder {out_dir} could not be created ({exc.strerror or exc})"
            ) from exc
    staged = Staged(out, write_temporary(out, data))
    try:
        with db.write() as session:
            audit(
                session,
                actor,
                "export",
                "referral",
                referral_id,
                {"format": [None, f"information request ({fmt})"], "file": [None, out.name]},
            )
            place(staged, overwrite=overwrite)
    except BaseException as exc:
        undo([staged])
        if isinstance(exc, ServiceError):
            raise
        raise ExportNotWritten(f"the file {out} was not written: {exc}") from exc
    with contextlib.suppress(OSError):
        if staged.aside is not None:
            staged.aside.unlink()
    return out


# --- the MDT's actions across meetings -----------------------------------------------------------------------------


def _action_line(row: store.ActionRow, today: date) -> ActionLine:
    return ActionLine(
        action_id=row.action_id,
        description=row.description,
        owner=row.owner,
        due_date=row.due_date,
        done_at=row.done_at,
        done_by=row.done_by,
        referral_id=row.referral_id,
        patient=format_name(row.family_name, row.given_name),
        nhs_number=row.nhs_number,
        date_of_birth=row.date_of_birth,
        meeting_id=row.meeting_id,
        meeting_date=row.meeting_date,
        overdue=row.done_at is None and row.due_date is not None and row.due_date < today,
    )


def list_actions(
    db: Database,
    *,
    actor: Actor,
    today: date,
    owner: str | None = None,
    overdue_only: bool = False,
    include_done: bool = False,
) -> list[ActionLine]:
    """MDT actions across meetings, open ones by due date (done ones after, with `include_done`); one owner's
    with `owner`; only those overdue on `today` with `overdue_only`."""
    with db.read() as session:
        authorize(actor, VIEW_MEETINGS, session=session)
        rows = store.action_rows(
            session, owner=owner or None, due_by=today if overdue_only else None, include_done=include_done
        )
    return [_action_line(row, today) for row in rows]


def action_owners(db: Database, *, actor: Actor) -> list[str]:
    """The owners named on actions (the filter's choices)."""
    with db.read() as session:
        authorize(actor, VIEW_MEETINGS, session=session)
        return store.action_owners(session)


def complete_action(
    db: Database, *, actor: Actor, action_id: int, today: date, now: datetime | None = None
) -> tuple[ActionLine, Changes]:
    """Tick an MDT action off as done by `actor`, now; audited. Refused when it is already done (naming by whom)."""
    when = now or utc_now()
    with db.write() as session:
        authorize(actor, COMPLETE_ACTION, session=session)
        found = store.action_rows(session, action_id=action_id, include_done=True)
        if not found:
            raise NotFound(f"MDT action {action_id} no longer exists")
        if found[0].done_at is not None:
            done = found[0]
            raise ServiceError(
                f"this action was already ticked off by {done.done_by or 'another user'} on "
                f"{format_date(done.done_at.date()) if done.done_at else ''}: nothing was changed"
            )
        if not store.mark_done(session, action_id, user_id=actor.user_id, when=when):
            raise ServiceError("this action was ticked off by another user meanwhile: nothing was changed")
        audit(
            session,
            actor,
            "action_done",
            "case_action",
            action_id,
            {"done_at": [None, when.isoformat()], "referral_id": [None, found[0].referral_id]},
        )
        line = store.action_rows(session, action_id=action_id, include_done=True)[0]
    return _action_line(line, today), Changes(meeting_ids=frozenset({line.meeting_id}))
