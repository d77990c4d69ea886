"""A meeting's life after it is created: its details edited until it is held, attendance taken on the day, and
closing by the chair.

Who may (services.permissions, docs/role-matrix.md):

- editing the details (date, time, place, video link, chair, expected attendees) is planning: coordinators;
- attendance is taken by the coordinator, or by a consultant (the chair) when no coordinator is in the room;
- closing is a consultant's act, as recording an outcome is (the `record_outcome` action). The chair is a name
  typed on the meeting, not a user the app can check, and safety.md makes the clinical decisions of the meeting
  consultants' alone: closing fixes those decisions (from then on only a consultant's amendment with a reason
  changes one) and stores the quorum they were made with, so it is not left to the coordinator who planned it.
  Who closed it and when is stored and audited.

Every change is a compare-and-swap on the meeting's version (the one the user loaded, `expected_version`): two
desktops never overwrite each other's edit silently, on SQLite or PostgreSQL (the meeting's row is locked and
re-read before the check, storage.meetings.lock_meeting). Each is audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session

from triage_app.domain.formats import format_date
from triage_app.domain.meetings import CANCELLED, CIRCULATED, HELD, OPEN_MEETING_STATUSES, quorum, role_label
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules import Rules
from triage_app.services.app import local_today
from triage_app.services.auditing import audit
from triage_app.services.changes import Changes
from triage_app.services.errors import NotFound, ServiceError
from triage_app.services.meeting_cases import describe
from triage_app.services.meeting_inputs import (
    SameTimeMeeting,
    check_attendee,
    check_meeting_details,
)
from triage_app.services.permissions import PLAN_MEETING, RECORD_OUTCOME, actor_may, authorize
from triage_app.services.users import Actor
from triage_app.storage import meetings as store
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import MeetingAttendeeRow, MeetingRow, utc_now
from triage_app.storage.queue import QueueRow


class MeetingConflict(ServiceError):
    """The meeting changed on another desktop after the user loaded it; nothing was written."""


def _locked(session: Session, meeting_id: int) -> MeetingRow:
    meeting = store.lock_meeting(session, meeting_id)
    if meeting is None:
        raise NotFound(f"there is no meeting {meeting_id}")
    return meeting


def _check_version(meeting: MeetingRow, expected_version: int | None, doing: str) -> None:
    """Compare-and-swap: refused when the meeting is not the version the user loaded."""
    if expected_version is not None and expected_version != meeting.version:
        raise MeetingConflict(
            f"the meeting of {describe(meeting)} was changed on another desktop after you opened it (it is now "
            f"version {meeting.version}, you had version {expected_version}); nothing was {doing}. Look at it as "
            "it is now, then try again."
        )


def _refuse_unless_editable(meeting: MeetingRow) -> None:
    if meeting.closed_at is not None or meeting.status == HELD:
        raise ServiceError(
            f"the meeting of {describe(meeting)} was held{closed_words(meeting)}: its date, time, place, chair and "
            "attendees can no longer be edited (an outcome is changed by a consultant's amendment with a reason)"
        )
    if meeting.status == CANCELLED:
        raise ServiceError(f"the meeting of {describe(meeting)} was cancelled: it cannot be edited")


def closed_words(meeting: MeetingRow) -> str:
    """` and closed on 22-Nov-2026 17:05` (local time), or "" while it is not closed."""
    if meeting.closed_at is None:
        return ""
    local = meeting.closed_at.astimezone()
    return f" and closed on {format_date(local.date())} {local:%H:%M}"


def edit_meeting(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    expected_version: int | None,
    meeting_date: date,
    meeting_time: str,
    place: str | None = None,
    video_link: str | None = None,
    chair: str | None = None,
    attendees: Sequence[tuple[str, str | None]] = (),
    allow_same_time: bool = False,
    today: date | None = None,
) -> Changes:
    """Change a planned or circulated meeting's details (coordinators), until it is held.

    Checked as creating one is (a date not in the past, HH:MM, an https:// video link, each attendee with an
    MDT role, no second meeting at the same date and time unless confirmed). An edit after the agenda was
    circulated is allowed and stamped: the agenda then says the circulated copy is out of date, and the
    coordinator circulates it again by exporting it. Expected attendees kept by name keep their attendance.
    Nothing changed: nothing written, nothing audited (empty `Changes`).
    """
    authorize(actor, PLAN_MEETING, db=db)
    details = check_meeting_details(
        meeting_date,
        meeting_time,
        place=place,
        video_link=video_link,
        chair=chair,
        attendees=attendees,
        today=today or local_today(),
    )
    time_text, place, video_link, chair = details.meeting_time, details.place, details.video_link, details.chair
    wanted = details.attendees
    with db.write() as session:
        meeting = _locked(session, meeting_id)
        _refuse_unless_editable(meeting)
        _check_version(meeting, expected_version, "changed")
        if not allow_same_time and (meeting_date, time_text) != (meeting.meeting_date, meeting.meeting_time):
            other = store.meeting_at(session, meeting_date, time_text)
            if other is not None and other.id != meeting_id:
                raise SameTimeMeeting(
                    f"meeting {other.id} is already on {format_date(meeting_date)} at {time_text}; a second "
                    "meeting at the same date and time is made only when that is confirmed"
                )
        before_people = [(a.name, a.mdt_role) for a in store.attendees(session, meeting_id) if a.invited]
        diff: dict[str, list[object]] = {}
        for key, old, new in (
            ("date", meeting.meeting_date.isoformat(), meeting_date.isoformat()),
            ("time", meeting.meeting_time, time_text),
            ("place", meeting.place, place),
            ("video_link", meeting.video_link, video_link),
            ("chair", meeting.chair, chair),
        ):
            if old != new:
                diff[key] = [old, new]
        if [(n, r) for n, r in before_people] != wanted:
            diff["attendees"] = [[f"{n} ({r})" for n, r in before_people], [f"{n} ({r})" for n, r in wanted]]
        if not diff:
            return Changes()
        meeting.meeting_date, meeting.meeting_time = meeting_date, time_text
        meeting.place, meeting.video_link, meeting.chair = place, video_link, chair
        if meeting.status == CIRCULATED or meeting.circulated_at is not None:
            meeting.changed_since_circulated_at = utc_now()
            diff["changed_since_circulated"] = [None, True]
        meeting.version += 1
        session.add(meeting)
        if "attendees" in diff:
            store.replace_expected_attendees(session, meeting_id, wanted)
        if "date" in diff or "time" in diff:
            _note_listed_referrals(session, actor, meeting)
        audit(session, actor, "meeting_edit", "meeting", meeting_id, diff)
        return Changes(meeting_ids=frozenset({meeting_id}), meetings=True)


def _note_listed_referrals(session: Session, actor: Actor, meeting: MeetingRow) -> None:
    """The cases' referrals show the meeting's date in the queue: bump them so other desktops read it again."""
    assert meeting.id is not None
    for case in store.cases(session, meeting.id):
        referral = repo.get_referral_row(session, case.referral_id)
        if referral is not None and referral.meeting_id == meeting.id:
            repo.bump_version(
                session,
                referral_id=case.referral_id,
                expected_version=referral.version,
                user_id=actor.user_id,
                status=referral.status,
                meeting_id=meeting.id,
            )


def take_attendance(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    expected_version: int | None,
    present: Sequence[tuple[str, str | None]],
    today: date | None = None,
) -> Changes:
    """Record who was at the meeting, each in the MDT role they took on the day (coordinator, or a consultant).

    `present` lists (name, MDT role). Each expected attendee is marked there or not (matched by name, without
    regard to case); someone present who was not expected is added as such. Taken on or after the meeting's
    date, until it is closed; taking it again replaces the marks. The quorum is then that of those present.
    """
    authorize(actor, PLAN_MEETING if actor_may(actor, PLAN_MEETING) else RECORD_OUTCOME, db=db)
    there = [check_attendee(name, role) for name, role in present]
    keys = [name.casefold() for name, _ in there]
    duplicate = next((name for name, _ in there if keys.count(name.casefold()) > 1), None)
    if duplicate is not None:
        raise ServiceError(f"'{duplicate[:40]}' is marked present twice: mark each person once, in one MDT role")
    on = today or local_today()
    with db.write() as session:
        meeting = _locked(session, meeting_id)
        if meeting.status == CANCELLED:
            raise ServiceError(f"the meeting of {describe(meeting)} was cancelled: there is no attendance to take")
        if meeting.closed_at is not None:
            raise ServiceError(
                f"the meeting of {describe(meeting)} was closed{closed_words(meeting).replace(' and closed', '')}: its attendance is final"
            )
        if on < meeting.meeting_date:
            raise ServiceError(
                f"the meeting is on {format_date(meeting.meeting_date)}: attendance is taken on the day (today is "
                f"{format_date(on)})"
            )
        _check_version(meeting, expected_version, "recorded")
        before = [_words(a) for a in store.attendees(session, meeting_id) if a.attended]
        store.mark_attendance(session, meeting_id, there)
        meeting.attendance_taken_at = utc_now()
        meeting.attendance_taken_by = actor.user_id
        meeting.version += 1
        session.add(meeting)
        audit(
            session,
            actor,
            "meeting_attendance",
            "meeting",
            meeting_id,
            {"present": [before, [f"{n} ({r})" for n, r in there]]},
        )
        return Changes(meeting_ids=frozenset({meeting_id}), meetings=True)


def _words(attendee: MeetingAttendeeRow) -> str:
    return f"{attendee.name} ({attendee.mdt_role})"


def close_meeting(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    expected_version: int | None,
    rules: Rules,
    today: date | None = None,
    not_quorate_reason: str | None = None,
) -> Changes:
    """The chair closes the meeting (a consultant: see the module's note). It is then held and final.

    The MDT that decides must be quorate: a meeting whose attendance was not quorate is closed only with a written
    `not_quorate_reason` (why its outcomes stand, e.g. the missing member's view was taken before), stored with the
    quorum and audited; without one it is refused, naming who was missing.

    Refused before the meeting's date, before attendance is taken, and while any case has neither an outcome
    nor "not discussed" (naming each by position, patient and NHS number). Stores who closed it, when, and the
    quorum of those who attended in words ("Quorate" / "Not quorate: no physiotherapist"), and audits it.
    """
    authorize(actor, RECORD_OUTCOME, db=db)
    on = today or local_today()
    with db.write() as session:
        meeting = _locked(session, meeting_id)
        if meeting.status == CANCELLED:
            raise ServiceError(f"the meeting of {describe(meeting)} was cancelled: it cannot be closed")
        if meeting.closed_at is not None:
            raise ServiceError(f"the meeting of {describe(meeting)} is already closed{closed_words(meeting)}")
        _check_version(meeting, expected_version, "closed")
        if on < meeting.meeting_date:
            raise ServiceError(
                f"the meeting is on {format_date(meeting.meeting_date)}: it is closed on or after that day"
            )
        if meeting.attendance_taken_at is None:
            raise ServiceError(
                f"take the attendance of the meeting of {describe(meeting)} before closing it: the quorum it "
                "stores is that of those who attended"
            )
        cases = store.cases(session, meeting_id)
        undecided = [c for c in cases if c.outcome is None]
        if undecided:
            rows = repo.queue_rows(session, [c.referral_id for c in undecided])
            named = []
            for case in undecided:
                row = rows.get(case.referral_id)
                who = "referral " + str(case.referral_id) if row is None else _patient_words(row)
                named.append(f"{case.position}. {who}")
            raise ServiceError(
                f'{len(undecided)} of {len(cases)} cases have no outcome: record an outcome or "not discussed" for '
                + "; ".join(named)
                + " before closing the meeting"
            )
        present = [a for a in store.attendees(session, meeting_id) if a.attended]
        q = quorum([a.mdt_role for a in present], rules.quorum_roles)
        reason = (not_quorate_reason or "").strip()
        if not q.quorate and not reason:
            raise ServiceError(
                f"the meeting of {describe(meeting)} was not quorate ({q.describe()} of those present): the quorate "
                "MDT decides, so it is closed only with a written reason why its outcomes stand (Close meeting… "
                "asks for one; on the command line --not-quorate-reason)"
            )
        before_status = meeting.status
        meeting.status = HELD
        meeting.closed_at = utc_now()
        meeting.closed_by = actor.user_id
        meeting.closed_quorum = (q.describe() if q.quorate else f"{q.describe()}; closed with the reason: {reason}")[
            :200
        ]
        meeting.version += 1
        session.add(meeting)
        audit(
            session,
            actor,
            "meeting_close",
            "meeting",
            meeting_id,
            {
                "status": [before_status, HELD],
                "quorum": [None, q.describe()],
                "present": [None, [_words(a) for a in present]],
            },
        )
        return Changes(meeting_ids=frozenset({meeting_id}), meetings=True)


def _patient_words(row: QueueRow) -> str:
    """`Marguerite QUINNELL (NHS 999 000 0001)`, as the refusal names an undecided case."""
    name = f"{row.given_name or ''} {(row.family_name or '').upper()}".strip() or "name not given"
    return f"{name} (NHS {format_nhs_number(row.nhs_number) or 'not given'})"


def attendance_words(attendees: Sequence[MeetingAttendeeRow]) -> list[str]:
    """Each attendee as the screens list them: `Dr Ana Ruiz (Functional neurosurgeon): present`."""
    words = []
    for a in attendees:
        mark = "not marked" if a.attended is None else ("present" if a.attended else "absent")
        came = "" if a.invited else ", not expected"
        words.append(f"{a.name} ({role_label(a.mdt_role)}): {mark}{came}")
    return words


def is_editable(meeting: MeetingRow) -> bool:
    """Whether the meeting's details may still be edited (planned or circulated, not closed)."""
    return meeting.status in OPEN_MEETING_STATUSES and meeting.closed_at is None
