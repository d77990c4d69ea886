"""MDT meetings: planning, late additions, one open meeting per referral, cancelling, outcomes and roles."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import AS_OF, referral
from triage_app.domain.meetings import CaseAction
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.referrals import get_referral, register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

ATTENDEES = [("Dr A", "functional_neurosurgeon"), ("Dr B", "movement_disorders_neurologist"), ("C", "physiotherapist")]
MEETING_DAY = date(2026, 12, 3)
CHECKLIST = {"patient_information_given": True, "consent_discussion_planned": True, "baseline_severity_recorded": True}


def ready(db: Database, admin: Actor, consultant: Actor, rules: Rules, *serials: int) -> list[int]:
    """Referrals confirmed ready for MDT by a consultant."""
    ids = []
    for serial in serials:
        saved = register_referral(
            db, actor=admin, referral=referral(serial, severity__twstrs_total=20 + 5 * serial), rules=rules, as_of=AS_OF
        )
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=1)
        ids.append(saved.referral_id)
    return ids


def meeting(db: Database, actor: Actor, day: int = 3, **kwargs: object) -> int:
    return meetings.create_meeting(
        db,
        actor=actor,
        meeting_date=date(2026, 12, day),
        meeting_time="13:30",
        attendees=ATTENDEES,
        **{"today": AS_OF, **kwargs},  # type: ignore[arg-type]
    ).meeting_id


@pytest.mark.hazard("H08")
def test_fill_to_capacity_takes_the_highest_priority(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    ids = ready(db, admin, consultant, rules, 1, 2, 3, 4)
    meetings.set_capacity(db, actor=admin, cases=3)
    first = meeting(db, coordinator)
    added = meetings.fill_to_capacity(db, actor=coordinator, meeting_id=first).added
    assert added == [ids[3], ids[2], ids[1]]  # more severe first
    assert meetings.fill_to_capacity(db, actor=coordinator, meeting_id=first).added == []
    detail = meetings.get_meeting(db, meeting_id=first, rules=rules)
    assert [c.referral_id for c in detail.cases] == added and detail.quorate and detail.capacity == 3
    assert get_referral(db, referral_id=ids[3]).row.status == "listed"
    assert meetings.ready_referral_ids(db) == [ids[0]]


@pytest.mark.hazard("H02")
def test_a_referral_is_on_one_open_meeting_at_most(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    (rid,) = ready(db, admin, consultant, rules, 1)
    first, second = meeting(db, coordinator, 3), meeting(db, coordinator, 10)
    meetings.add_case(db, actor=coordinator, meeting_id=first, referral_id=rid)
    with pytest.raises(ServiceError, match="already on the meeting of 03-Dec-2026"):
        meetings.add_case(db, actor=coordinator, meeting_id=second, referral_id=rid)
    with pytest.raises(ServiceError, match="already on this meeting"):
        meetings.add_case(db, actor=coordinator, meeting_id=first, referral_id=rid)


@pytest.mark.hazard("H14")
def test_only_ready_referrals_are_listed(db: Database, admin: Actor, coordinator: Actor, rules: Rules) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    with pytest.raises(ServiceError, match="no standing consultant decision of ready for MDT.*consultant confirms"):
        meetings.add_case(db, actor=coordinator, meeting_id=meeting(db, coordinator), referral_id=saved.referral_id)


def test_late_additions_after_circulation(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    early, late = ready(db, admin, consultant, rules, 1, 2)
    mid = meeting(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=early)
    meetings.circulate(db, actor=coordinator, meeting_id=mid)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=late)
    cases = meetings.get_meeting(db, meeting_id=mid, rules=rules).cases
    assert [(c.referral_id, c.late_addition) for c in cases] == [(early, False), (late, True)]


@pytest.mark.hazard("H08")
def test_reorder_and_remove(db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules) -> None:
    a, b, c = ready(db, admin, consultant, rules, 1, 2, 3)
    mid = meeting(db, coordinator)
    for rid in (a, b, c):
        meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)
    meetings.reorder(db, actor=coordinator, meeting_id=mid, referral_ids=[c, a, b])
    assert [x.referral_id for x in meetings.get_meeting(db, meeting_id=mid, rules=rules).cases] == [c, a, b]
    with pytest.raises(ServiceError, match="every case"):
        meetings.reorder(db, actor=coordinator, meeting_id=mid, referral_ids=[c, a])
    meetings.remove_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    assert get_referral(db, referral_id=a).row.status == "ready_for_mdt"
    assert get_referral(db, referral_id=a).row.meeting_id is None


@pytest.mark.hazard("H03")
def test_cancelling_moves_cases_to_the_next_meeting(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    a, b = ready(db, admin, consultant, rules, 1, 2)
    first, second = meeting(db, coordinator, 3), meeting(db, coordinator, 17)
    meetings.circulate(db, actor=coordinator, meeting_id=second)
    for rid in (a, b):
        meetings.add_case(db, actor=coordinator, meeting_id=first, referral_id=rid)
    moved = meetings.cancel_meeting(db, actor=coordinator, meeting_id=first).moved
    assert moved == {a: "moved to 17-Dec-2026 13:30", b: "moved to 17-Dec-2026 13:30"}
    cases = meetings.get_meeting(db, meeting_id=second, rules=rules).cases
    assert {c.referral_id for c in cases} == {a, b} and all(c.late_addition for c in cases)
    assert get_referral(db, referral_id=a).row.meeting_id == second
    with pytest.raises(ServiceError, match="cancelled; its list is closed"):
        meetings.add_case(db, actor=coordinator, meeting_id=first, referral_id=a)


@pytest.mark.hazard("H03")
def test_cancelling_without_a_later_meeting_returns_cases_to_ready(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    (a,) = ready(db, admin, consultant, rules, 1)
    only = meeting(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=only, referral_id=a)
    assert "ready list" in meetings.cancel_meeting(db, actor=coordinator, meeting_id=only).moved[a]
    assert get_referral(db, referral_id=a).row.status == "ready_for_mdt"


@pytest.mark.hazard("H15")
def test_outcomes_are_consultant_actions(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    (a,) = ready(db, admin, consultant, rules, 1)
    mid = meeting(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    with pytest.raises(PermissionDenied, match="consultant"):
        meetings.record_outcome(
            db, actor=coordinator, meeting_id=mid, referral_id=a, outcome="decline", rationale="r", today=MEETING_DAY
        )


@pytest.mark.hazard("H09")
def test_accepting_for_spd_needs_the_checklist(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    (a,) = ready(db, admin, consultant, rules, 1)
    mid = meeting(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    with pytest.raises(ServiceError, match="Consent discussion planned"):
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=mid,
            referral_id=a,
            outcome="accept_for_spd",
            rationale="Refractory",
            today=MEETING_DAY,
            checklist={"patient_information_given": True, "baseline_severity_recorded": True},
        )
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=mid,
        referral_id=a,
        outcome="accept_for_spd",
        rationale="Refractory to BMT; suitable posterior pattern",
        today=MEETING_DAY,
        checklist=CHECKLIST,
        actions=[CaseAction("Book consent clinic", "Coordinator", date(2026, 12, 10))],
    )
    detail = meetings.get_meeting(db, meeting_id=mid, rules=rules)
    case = detail.cases[0]
    assert case.outcome == "accept_for_spd" and case.checklist == CHECKLIST
    assert case.actions == (CaseAction("Book consent clinic", "Coordinator", date(2026, 12, 10)),)
    assert detail.meeting.status == "held"
    assert get_referral(db, referral_id=a).row.status == "discussed"


@pytest.mark.hazard("H03")
def test_not_discussed_rolls_to_the_next_meeting(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    (a,) = ready(db, admin, consultant, rules, 1)
    first, second = meeting(db, coordinator, 3), meeting(db, coordinator, 17)
    meetings.add_case(db, actor=coordinator, meeting_id=first, referral_id=a)
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=first,
        referral_id=a,
        outcome="not_discussed",
        rationale="Ran out of time",
        today=MEETING_DAY,
    )
    assert [c.referral_id for c in meetings.get_meeting(db, meeting_id=second, rules=rules).cases] == [a]
    assert get_referral(db, referral_id=a).row.status == "listed"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"meeting_time": "1:30pm"}, "not a time"),
        ({"meeting_time": "25:00"}, "not a time"),
        ({"attendees": [("X", "surgeon")]}, "not an MDT role"),
    ],
)
def test_bad_meeting_details_are_named(
    db: Database, coordinator: Actor, kwargs: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"meeting_date": date(2026, 12, 3), "meeting_time": "13:30"} | kwargs
    with pytest.raises(ServiceError, match=message):
        meetings.create_meeting(db, actor=coordinator, today=AS_OF, **values)  # type: ignore[arg-type]


def test_attendee_parsing() -> None:
    assert meetings.parse_attendee("Dr A:functional_neurosurgeon") == ("Dr A", "functional_neurosurgeon")
    with pytest.raises(ServiceError, match=r"^attendee 'Guest' has no MDT role; write it as \"Name:role\""):
        meetings.parse_attendee("Guest")
    with pytest.raises(ServiceError, match="has no name"):
        meetings.parse_attendee(":physiotherapist")
    assert meetings.parse_time("9:05") == "09:05"


@pytest.mark.hazard("H16")
def test_a_listed_referral_keeps_its_triage_and_its_place(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    from triage_app.services.errors import InvalidTransition
    from triage_app.services.triage import change_status

    (a,) = ready(db, admin, consultant, rules, 1)
    mid = meeting(db, coordinator)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=a)
    version = get_referral(db, referral_id=a).row.version
    with pytest.raises(InvalidTransition, match="the MDT has it now"):
        decide_triage(db, actor=consultant, referral_id=a, expected_version=version)
    with pytest.raises(InvalidTransition, match="MDT meetings window"):
        change_status(db, actor=consultant, referral_id=a, expected_version=version, status="ready_for_mdt")
    row = get_referral(db, referral_id=a).row
    assert (row.status, row.meeting_id) == ("listed", mid)
