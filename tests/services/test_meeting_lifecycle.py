"""A meeting's life after it is made: edited until held (stamped when the agenda has gone out), attendance taken on
the day with quorum from those present, closed by a consultant once every case has an outcome, capacity warned,
and the sidebar's count of a meeting's cases. Every test runs on SQLite and, with --backend=postgresql, on a
server."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from sqlmodel import col

from tests.factories import AS_OF
from tests.services.test_meetings import ATTENDEES, MEETING_DAY, meeting, ready
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services import queue as queue_service
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.models import AuditEventRow

FULL_TEAM = [
    ("Dr A", "functional_neurosurgeon"),
    ("Dr B", "movement_disorders_neurologist"),
    ("C", "physiotherapist"),
]


def audits(db: Database, action: str) -> list[dict[str, list[object]]]:
    with db.read() as session:
        rows = session.execute(
            select(AuditEventRow).where(col(AuditEventRow.action) == action).order_by(col(AuditEventRow.id))
        ).scalars()
        return [json.loads(r.changes) for r in rows]


def version(db: Database, meeting_id: int, rules: Rules) -> int:
    return meetings.get_meeting(db, meeting_id=meeting_id, rules=rules).meeting.version


def edit(db: Database, actor: Actor, meeting_id: int, expected: int, **kwargs: object) -> object:
    values: dict[str, object] = {
        "meeting_date": date(2026, 12, 3),
        "meeting_time": "13:30",
        "attendees": ATTENDEES,
        "today": AS_OF,
    }
    values.update(kwargs)
    return meetings.edit_meeting(db, actor=actor, meeting_id=meeting_id, expected_version=expected, **values)  # type: ignore[arg-type]


def test_a_planned_meeting_is_edited_and_the_edit_audited(db: Database, coordinator: Actor, rules: Rules) -> None:
    mid = meeting(db, coordinator)
    changes = edit(
        db,
        coordinator,
        mid,
        1,
        meeting_date=date(2026, 12, 10),
        meeting_time="09:00",
        place="Seminar room 2",
        chair="Dr A",
        attendees=[*ATTENDEES, ("Nurse D", "specialist_nurse")],
    )
    assert changes and mid in changes.meeting_ids  # type: ignore[attr-defined]
    detail = meetings.get_meeting(db, meeting_id=mid, rules=rules)
    m = detail.meeting
    assert (m.meeting_date, m.meeting_time, m.place, m.chair, m.version) == (
        date(2026, 12, 10),
        "09:00",
        "Seminar room 2",
        "Dr A",
        2,
    )
    assert [(a.name, a.mdt_role) for a in detail.attendees][-1] == ("Nurse D", "specialist_nurse")
    assert m.changed_since_circulated_at is None  # not circulated: nothing to flag
    (audit,) = audits(db, "meeting_edit")
    assert audit["date"] == ["2026-12-03", "2026-12-10"] and audit["place"] == [None, "Seminar room 2"]
    assert (
        edit(
            db,
            coordinator,
            mid,
            2,
            meeting_date=date(2026, 12, 10),
            meeting_time="09:00",
            place="Seminar room 2",
            chair="Dr A",
            attendees=[*ATTENDEES, ("Nurse D", "specialist_nurse")],
        )
        == meetings.Changes()
    )  # type: ignore[attr-defined]


def test_an_edit_after_circulation_is_marked_changed_since_circulated(
    db: Database, coordinator: Actor, rules: Rules
) -> None:
    mid = meeting(db, coordinator)
    meetings.circulate(db, actor=coordinator, meeting_id=mid)
    edit(db, coordinator, mid, version(db, mid, rules), place="Room 5")
    m = meetings.get_meeting(db, meeting_id=mid, rules=rules).meeting
    assert m.status == "circulated" and m.changed_since_circulated_at is not None
    assert audits(db, "meeting_edit")[0]["changed_since_circulated"] == [None, True]


@pytest.mark.hazard("H04")
def test_an_edit_on_a_stale_version_is_refused_and_writes_nothing(
    db: Database, coordinator: Actor, rules: Rules
) -> None:
    mid = meeting(db, coordinator)
    edit(db, coordinator, mid, 1, place="Room 1")
    with pytest.raises(meetings.MeetingConflict, match="changed on another desktop"):
        edit(db, coordinator, mid, 1, place="Room 2")
    assert meetings.get_meeting(db, meeting_id=mid, rules=rules).meeting.place == "Room 1"
    with pytest.raises(meetings.MeetingConflict):
        meetings.take_attendance(
            db, actor=coordinator, meeting_id=mid, expected_version=1, present=FULL_TEAM, today=MEETING_DAY
        )


@pytest.mark.hazard("H15")
def test_only_coordinators_edit_and_only_consultants_close(
    db: Database, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    mid = meeting(db, coordinator)
    with pytest.raises(PermissionDenied, match="coordinator"):
        edit(db, consultant, mid, 1, place="Room 9")
    meetings.take_attendance(
        db, actor=coordinator, meeting_id=mid, expected_version=1, present=FULL_TEAM, today=MEETING_DAY
    )
    with pytest.raises(PermissionDenied, match="consultant"):
        meetings.close_meeting(
            db, actor=coordinator, meeting_id=mid, expected_version=2, rules=rules, today=MEETING_DAY
        )
    assert meetings.get_meeting(db, meeting_id=mid, rules=rules).meeting.closed_at is None


def test_bad_edits_are_named_and_change_nothing(db: Database, coordinator: Actor, rules: Rules) -> None:
    mid = meeting(db, coordinator)
    other = meeting(db, coordinator, 10)
    with pytest.raises(ServiceError, match="in the past"):
        edit(db, coordinator, mid, 1, meeting_date=date(2026, 10, 1))
    with pytest.raises(ServiceError, match="not a time"):
        edit(db, coordinator, mid, 1, meeting_time="half one")
    with pytest.raises(ServiceError, match="listed twice"):
        edit(db, coordinator, mid, 1, attendees=[("Dr A", "coordinator"), ("dr a", "physiotherapist")])
    with pytest.raises(meetings.SameTimeMeeting, match=f"meeting {other} is already"):
        edit(db, coordinator, mid, 1, meeting_date=date(2026, 12, 10))
    assert version(db, mid, rules) == 1


def test_a_new_meeting_with_an_attendee_listed_twice_is_refused_as_an_edit_is(
    db: Database, coordinator: Actor, rules: Rules
) -> None:
    before = len(meetings.list_meetings(db, actor=coordinator, rules=rules))
    twice = [("Dr A", "functional_neurosurgeon"), ("DR A", "movement_disorders_neurologist")]
    with pytest.raises(ServiceError, match="'Dr A' is listed twice"):
        meetings.create_meeting(
            db, actor=coordinator, meeting_date=MEETING_DAY, meeting_time="13:30", attendees=twice, today=AS_OF
        )
    assert (
        len(meetings.list_meetings(db, actor=coordinator, rules=rules)) == before
    )  # the quorum never counts one person twice


@pytest.mark.hazard("H09")
def test_attendance_gives_the_quorum_of_those_present(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    mid = meeting(db, coordinator)
    assert meetings.get_meeting(db, meeting_id=mid, rules=rules).quorate  # the expected attendees make it
    with pytest.raises(ServiceError, match="taken on the day"):
        meetings.take_attendance(
            db, actor=coordinator, meeting_id=mid, expected_version=1, present=FULL_TEAM, today=AS_OF
        )
    # The physiotherapist did not come; a specialist nurse came without being expected.
    meetings.take_attendance(
        db,
        actor=coordinator,
        meeting_id=mid,
        expected_version=1,
        present=[
            ("dr a", "functional_neurosurgeon"),
            ("Dr B", "movement_disorders_neurologist"),
            ("Nurse E", "specialist_nurse"),
        ],
        today=MEETING_DAY,
    )
    detail = meetings.get_meeting(db, meeting_id=mid, rules=rules)
    assert not detail.quorate and detail.attendance_taken
    assert detail.quorum_text == "Not quorate: no physiotherapist (of those present)"
    marks = {a.name: (a.attended, a.invited) for a in detail.attendees}
    assert marks == {"Dr A": (True, True), "Dr B": (True, True), "C": (False, True), "Nurse E": (True, False)}
    listing = {s.meeting_id: s for s in meetings.list_meetings(db, rules=rules)}
    assert not listing[mid].quorate  # the list of meetings counts those present too
    # The physiotherapist arrives late: a consultant (the chair) takes it again.
    meetings.take_attendance(
        db, actor=consultant, meeting_id=mid, expected_version=2, present=FULL_TEAM, today=MEETING_DAY
    )
    detail = meetings.get_meeting(db, meeting_id=mid, rules=rules)
    assert detail.quorate and [a.name for a in detail.attendees] == ["Dr A", "Dr B", "C"]
    assert len(audits(db, "meeting_attendance")) == 2


@pytest.mark.hazard("H09")
def test_closing_needs_every_case_decided_and_names_those_that_are_not(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    a, b = ready(db, admin, consultant, rules, 1, 2)
    mid = meeting(db, coordinator)
    for rid in (a, b):
        meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)
    with pytest.raises(ServiceError, match="take the attendance"):
        meetings.close_meeting(db, actor=consultant, meeting_id=mid, expected_version=1, rules=rules, today=MEETING_DAY)
    meetings.take_attendance(
        db, actor=coordinator, meeting_id=mid, expected_version=1, present=FULL_TEAM, today=MEETING_DAY
    )
    meetings.record_outcome(
        db, actor=consultant, meeting_id=mid, referral_id=a, outcome="decline", rationale="Mild", today=MEETING_DAY
    )
    detail = meetings.get_meeting(db, meeting_id=mid, rules=rules)
    undecided = next(c for c in detail.cases if c.referral_id == b)
    assert undecided.row is not None and undecided.row.family_name
    with pytest.raises(ServiceError) as refused:
        meetings.close_meeting(db, actor=consultant, meeting_id=mid, expected_version=2, rules=rules, today=MEETING_DAY)
    message = str(refused.value)
    assert "1 of 2 cases have no outcome" in message and undecided.row.family_name.upper() in message
    assert f"{undecided.position}. " in message and "NHS 999" in message
    assert meetings.get_meeting(db, meeting_id=mid, rules=rules).meeting.closed_at is None
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=mid,
        referral_id=b,
        outcome="not_discussed",
        rationale="Out of time",
        today=MEETING_DAY,
    )
    meetings.close_meeting(db, actor=consultant, meeting_id=mid, expected_version=2, rules=rules, today=MEETING_DAY)
    detail = meetings.get_meeting(db, meeting_id=mid, rules=rules)
    m = detail.meeting
    assert m.status == "held" and m.closed_at is not None and m.closed_by == consultant.user_id
    assert m.closed_quorum == "Quorate" and detail.closed_by_name == "Dr Con Sultant"
    (closing,) = audits(db, "meeting_close")
    assert closing["quorum"] == [None, "Quorate"] and len(closing["present"][1]) == 3  # type: ignore[arg-type]


@pytest.mark.hazard("H09")
def test_a_held_meeting_is_not_edited_and_a_closed_one_takes_only_amendments(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    (a,) = ready(db, admin, consultant, rules, 1)
    mid = meeting(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    meetings.take_attendance(
        db, actor=coordinator, meeting_id=mid, expected_version=1, present=FULL_TEAM, today=MEETING_DAY
    )
    meetings.record_outcome(
        db, actor=consultant, meeting_id=mid, referral_id=a, outcome="decline", rationale="Mild", today=MEETING_DAY
    )
    with pytest.raises(ServiceError, match="was held: its date, time, place, chair and attendees can no longer"):
        edit(db, coordinator, mid, 2, place="Room 3")
    meetings.close_meeting(db, actor=consultant, meeting_id=mid, expected_version=2, rules=rules, today=MEETING_DAY)
    with pytest.raises(ServiceError, match="closed on"):
        edit(db, coordinator, mid, 3, place="Room 3")
    with pytest.raises(ServiceError, match="attendance is final"):
        meetings.take_attendance(
            db, actor=coordinator, meeting_id=mid, expected_version=3, present=FULL_TEAM, today=MEETING_DAY
        )
    with pytest.raises(ServiceError, match="already closed"):
        meetings.close_meeting(db, actor=consultant, meeting_id=mid, expected_version=3, rules=rules, today=MEETING_DAY)
    case = meetings.get_meeting(db, meeting_id=mid, rules=rules).cases[0]
    with pytest.raises(meetings.OutcomeConflict):  # recording over it unawares is refused
        meetings.record_outcome(
            db, actor=consultant, meeting_id=mid, referral_id=a, outcome="decline", rationale="x", today=MEETING_DAY
        )
    meetings.record_outcome(  # the amendment path: a consultant, the version seen, a reason
        db,
        actor=consultant,
        meeting_id=mid,
        referral_id=a,
        outcome="continue_best_medical_treatment",
        rationale="Trial of further toxin",
        today=MEETING_DAY,
        expected_version=case.version,
        amend_reason="Letter from GP read after the meeting",
    )
    assert meetings.get_meeting(db, meeting_id=mid, rules=rules).cases[0].outcome == "continue_best_medical_treatment"


def test_over_capacity_is_warned_in_plain_words(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    assert meetings.capacity_warning(9, 8) == "9 cases on a list of 8: over capacity by 1"
    assert meetings.capacity_warning(8, 8) is None
    ids = ready(db, admin, consultant, rules, 1, 2, 3)
    meetings.set_capacity(db, actor=admin, cases=2)
    mid = meeting(db, coordinator)
    for rid in ids:
        meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)
    detail = meetings.get_meeting(db, meeting_id=mid, rules=rules)
    assert detail.over_capacity == "3 cases on a list of 2: over capacity by 1"


@pytest.mark.hazard("H04")
def test_the_sidebar_count_is_every_case_on_the_list_decided_or_not(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    ids = ready(db, admin, consultant, rules, 1, 2, 3)
    mid = meeting(db, coordinator)
    for rid in ids:
        meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)
    meetings.record_outcome(
        db, actor=consultant, meeting_id=mid, referral_id=ids[0], outcome="decline", rationale="Mild", today=MEETING_DAY
    )
    counts = queue_service.counts(db, actor=coordinator)
    assert dict((m, n) for m, _label, n in counts.meetings)[mid] == 3
