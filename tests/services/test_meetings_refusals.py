"""A meeting refuses what makes no sense (trial 11, finding 6-8): an attendee without an MDT role, a video link that
is not an https:// address, a date in the past, an unconfirmed second meeting at the same date and time, a second
circulation of the agenda; and a case taken off a list leaves no gap in its numbering.

Run on SQLite and, with the PostgreSQL plugin, on PostgreSQL (`-k meeting`).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from tests.services.test_meetings import ATTENDEES, ready
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.errors import ServiceError
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.models import AuditEventRow, MeetingCaseRow, MeetingRow

TODAY = date(2026, 11, 21)
DAY = date(2026, 12, 3)


def _create(db: Database, actor: Actor, **values: object) -> int:
    fields: dict[str, object] = {
        "meeting_date": DAY,
        "meeting_time": "13:30",
        "attendees": ATTENDEES,
        "today": TODAY,
    }
    fields.update(values)
    return meetings.create_meeting(db, actor=actor, **fields).meeting_id  # type: ignore[arg-type]


def _count(db: Database, what: type[MeetingRow] | type[AuditEventRow]) -> int:
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(what)).scalar_one())


def _positions(db: Database, meeting_id: int) -> list[tuple[int, int]]:
    with db.read() as session:
        rows = session.execute(
            select(col(MeetingCaseRow.position), col(MeetingCaseRow.referral_id))
            .where(col(MeetingCaseRow.meeting_id) == meeting_id)
            .order_by(col(MeetingCaseRow.position))
        ).all()
    return [(int(p), int(r)) for p, r in rows]


@pytest.mark.hazard("H13")
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"attendees": [("NoRole", None)]}, "attendee 'NoRole' has no MDT role: choose one of functional_neurosurgeon"),
        ({"attendees": [(" ", "other")]}, "an attendee has no name: give each attendee a name and an MDT role"),
        ({"attendees": [("Dr A", "functional_neurosurgeon"), ("Dr X", "astronaut")]}, "'astronaut' is not an MDT role"),
        (
            {"video_link": "notaurl"},
            "the video link 'notaurl' is not a secure (https://) web address: only https:// links are accepted, "
            "written in full with the host",
        ),
        (
            {"video_link": "http://video.example.invalid/mdt"},
            "the video link 'http://video.example.invalid/mdt' is not",
        ),
        ({"video_link": "https://"}, "the video link 'https://' is not a secure (https://) web address"),
        ({"video_link": "https://video.example.invalid/a b"}, "the video link 'https://video.example.invalid/a b' is"),
        (
            {"meeting_date": date(2020, 11, 28)},
            "the meeting date 28-Nov-2020 is in the past (today is 21-Nov-2026); a meeting is planned for today or a "
            "later date",
        ),
        ({"meeting_date": date(2026, 11, 20)}, "the meeting date 20-Nov-2026 is in the past"),
    ],
    ids=["no-role", "no-name", "unknown-role", "not-a-url", "http", "no-host", "space", "in-2020", "yesterday"],
)
def test_a_meeting_that_makes_no_sense_is_refused_and_nothing_stored(
    db: Database, coordinator: Actor, values: dict[str, object], message: str
) -> None:
    before = (_count(db, MeetingRow), _count(db, AuditEventRow))
    with pytest.raises(ServiceError) as refused:
        _create(db, coordinator, **values)
    assert str(refused.value).startswith(message)
    assert (_count(db, MeetingRow), _count(db, AuditEventRow)) == before


def test_today_a_https_link_and_roles_are_accepted(db: Database, coordinator: Actor, rules: Rules) -> None:
    meeting_id = _create(
        db, coordinator, meeting_date=TODAY, video_link=" https://video.example.invalid/mdt?id=7 ", chair="Dr A"
    )
    shown = meetings.get_meeting(db, meeting_id=meeting_id, rules=rules)
    assert shown.meeting.video_link == "https://video.example.invalid/mdt?id=7"
    assert [(a.name, a.mdt_role) for a in shown.attendees] == ATTENDEES


def test_the_command_line_form_of_an_attendee_needs_its_role() -> None:
    with pytest.raises(ServiceError, match=r"^attendee 'NoRole' has no MDT role; write it as \"Name:role\""):
        meetings.parse_attendee("NoRole")
    with pytest.raises(ServiceError, match=r"^attendee 'NoRole' has no MDT role"):
        meetings.parse_attendee("NoRole: ")
    assert meetings.parse_attendee("Dr B:physiotherapist") == ("Dr B", "physiotherapist")


def test_a_second_meeting_at_the_same_date_and_time_is_made_only_when_confirmed(
    db: Database, coordinator: Actor
) -> None:
    first = _create(db, coordinator)
    before = (_count(db, MeetingRow), _count(db, AuditEventRow))
    with pytest.raises(meetings.SameTimeMeeting) as refused:
        _create(db, coordinator, meeting_time="13:30", place="Room 2")
    assert str(refused.value) == (
        f"meeting {first} is already on 03-Dec-2026 at 13:30; a second meeting at the same date and time is created "
        "only when that is confirmed"
    )
    assert (_count(db, MeetingRow), _count(db, AuditEventRow)) == before
    assert _create(db, coordinator, meeting_time="14:30") != first  # another time is another meeting
    second = _create(db, coordinator, place="Room 2", allow_same_time=True)
    assert second not in (first,) and _count(db, MeetingRow) == before[0] + 2


def test_a_cancelled_meeting_does_not_hold_its_time(db: Database, coordinator: Actor) -> None:
    first = _create(db, coordinator)
    meetings.cancel_meeting(db, actor=coordinator, meeting_id=first)
    assert _create(db, coordinator) != first


@pytest.mark.hazard("H13")
def test_an_agenda_is_circulated_once(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    (early,) = ready(db, admin, consultant, rules, 1)
    mid = _create(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=early)
    meetings.circulate(db, actor=coordinator, meeting_id=mid)
    sent = meetings.get_meeting(db, meeting_id=mid, rules=rules).meeting
    assert sent.circulated_at is not None
    local = sent.circulated_at.astimezone()
    events = _count(db, AuditEventRow)
    with pytest.raises(ServiceError) as refused:
        meetings.circulate(db, actor=coordinator, meeting_id=mid)
    assert str(refused.value) == (
        f"the agenda of the meeting of 03-Dec-2026 13:30 was already circulated at {local:%d-%b-%Y %H:%M}"
    )
    assert re.search(r"circulated at \d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d$", str(refused.value))
    again = meetings.get_meeting(db, meeting_id=mid, rules=rules).meeting
    assert (again.circulated_at, again.status, again.version) == (sent.circulated_at, sent.status, sent.version)
    assert _count(db, AuditEventRow) == events  # nothing changed, nothing audited


@pytest.mark.hazard("H08")
def test_taking_a_case_off_closes_the_gap(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    a, b, c = ready(db, admin, consultant, rules, 1, 2, 3)
    mid = _create(db, coordinator)
    for rid in (a, b, c):
        meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)
    meetings.remove_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    assert _positions(db, mid) == [(1, b), (2, c)]
    assert [(x.position, x.referral_id) for x in meetings.get_meeting(db, meeting_id=mid, rules=rules).cases] == [
        (1, b),
        (2, c),
    ]
    meetings.remove_case(db, actor=coordinator, meeting_id=mid, referral_id=c)
    assert _positions(db, mid) == [(1, b)]
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=c)
    assert _positions(db, mid) == [(1, b), (2, a), (3, c)]
    meetings.remove_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    assert _positions(db, mid) == [(1, b), (2, c)]
