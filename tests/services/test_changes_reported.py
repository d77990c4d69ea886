"""Every use case that changes something says precisely what (`Changes`), so each view refreshes its own part.

The queue repaints the referrals named (and reloads when one is created), the meeting window its meetings, the
users dialog on `users`, every view on `rules` or `EVERYTHING`. A report that names too little leaves a view
showing what is no longer stored (H04); one that is empty by mistake is the same defect.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import AS_OF, referral, referral_json
from triage_app.config import default_rules_path
from triage_app.domain.meetings import NOT_DISCUSSED
from triage_app.domain.rules import Rules, parse_rules_text, read_rules_file
from triage_app.services import meetings
from triage_app.services.changes import EVERYTHING, NOTHING, Changes
from triage_app.services.demo import load_demo
from triage_app.services.referrals import (
    get_referral,
    import_referrals,
    reassess_open,
    register_referral,
    update_referral,
)
from triage_app.services.rules import approve_rules
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import USERS_CHANGED, Actor, add_user, set_active, set_display_name, set_roles
from triage_app.storage.engine import Database

ATTENDEES = [("Dr A", "functional_neurosurgeon"), ("Dr B", "movement_disorders_neurologist"), ("C", "physiotherapist")]
MEETING_DAY = date(2026, 12, 3)


def ready(db: Database, admin: Actor, consultant: Actor, rules: Rules, serial: int) -> int:
    saved = register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF)
    decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=1)
    return saved.referral_id


def new_meeting(db: Database, actor: Actor, day: date = MEETING_DAY) -> int:
    return meetings.create_meeting(
        db, actor=actor, meeting_date=day, meeting_time="13:30", attendees=ATTENDEES, today=AS_OF
    ).meeting_id


@pytest.mark.hazard("H04")
def test_a_registered_referral_is_created_and_its_save_carries_it_as_stored(
    db: Database, admin: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    assert saved.changes == Changes(created=frozenset({saved.referral_id}))
    assert saved.detail.row.id == saved.referral_id and saved.detail.row.version == 1
    assert saved.detail.assessment is not None and saved.detail.assessment.row.outcome == saved.assessment.outcome
    again = get_referral(db, referral_id=saved.referral_id)  # the detail is what a second read would have shown
    assert saved.detail.referral == again.referral and saved.detail.row.version == again.row.version
    assert [h.to_status for h in saved.detail.history] == [h.to_status for h in again.history] == ["received"]


@pytest.mark.hazard("H04")
def test_an_edit_names_its_referral_and_carries_the_new_version(db: Database, admin: Actor, rules: Rules) -> None:
    first = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    edited = referral(1, clinical_question="An invented question, edited.")
    saved = update_referral(
        db,
        actor=admin,
        referral_id=first.referral_id,
        expected_version=1,
        referral=edited,
        rules=rules,
        as_of=AS_OF,
    )
    assert saved.changes == Changes(referral_ids=frozenset({first.referral_id}))
    assert saved.detail.row.version == saved.version == 2
    assert saved.detail.referral.clinical_question == "An invented question, edited."
    # saved again unchanged: nothing changed, and the detail is still the referral as stored
    again = update_referral(
        db, actor=admin, referral_id=first.referral_id, expected_version=2, referral=edited, rules=rules, as_of=AS_OF
    )
    assert again.changes == NOTHING and not again.changes and again.detail.row.version == 2


@pytest.mark.hazard("H04", "H16")
def test_a_decision_and_a_status_move_name_the_referral_and_carry_its_fresh_detail(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    decided = decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=1)
    assert decided.changes == Changes(referral_ids=frozenset({saved.referral_id}))
    assert decided.detail.row.status == decided.status and decided.detail.row.version == decided.version
    assert [d.decision for d in decided.detail.decisions] == ["confirmed"]
    moved = change_status(
        db, actor=consultant, referral_id=saved.referral_id, expected_version=decided.version, status="received"
    )
    assert moved.changes == Changes(referral_ids=frozenset({saved.referral_id}))
    assert moved.detail.row.status == "received" and moved.detail.history[-1].to_status == "received"


@pytest.mark.hazard("H04", "H09")
def test_meeting_use_cases_name_their_meetings_and_referrals(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    first_id, second_id = (ready(db, admin, consultant, rules, serial) for serial in (1, 2))
    created = meetings.create_meeting(
        db, actor=coordinator, meeting_date=MEETING_DAY, meeting_time="13:30", today=AS_OF
    )
    one = created.meeting_id
    assert created.changes == Changes(meeting_ids=frozenset({one}), meetings=True)

    assert meetings.add_case(db, actor=coordinator, meeting_id=one, referral_id=first_id) == Changes(
        referral_ids=frozenset({first_id}), meeting_ids=frozenset({one})
    )
    filled = meetings.fill_to_capacity(db, actor=coordinator, meeting_id=one)
    assert filled.added == [second_id]
    assert filled.changes == Changes(referral_ids=frozenset({second_id}), meeting_ids=frozenset({one}))
    assert meetings.reorder(db, actor=coordinator, meeting_id=one, referral_ids=[second_id, first_id]) == Changes(
        meeting_ids=frozenset({one})
    )
    assert meetings.remove_case(db, actor=coordinator, meeting_id=one, referral_id=second_id) == Changes(
        referral_ids=frozenset({second_id}), meeting_ids=frozenset({one})
    )
    assert meetings.circulate(db, actor=coordinator, meeting_id=one) == Changes(
        meeting_ids=frozenset({one}), meetings=True
    )
    assert meetings.set_capacity(db, actor=admin, cases=5) == Changes(meetings=True)

    later = new_meeting(db, coordinator, date(2026, 12, 10))
    cancelled = meetings.cancel_meeting(db, actor=coordinator, meeting_id=one)
    assert cancelled.moved == {first_id: "moved to 10-Dec-2026 13:30"}
    # the cancelled meeting leaves the list; its case is now on the later meeting
    assert cancelled.changes == Changes(
        referral_ids=frozenset({first_id}), meeting_ids=frozenset({one, later}), meetings=True
    )


@pytest.mark.hazard("H04", "H09")
def test_an_outcome_names_the_case_its_meeting_and_where_a_case_not_discussed_went(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    first_id, second_id = (ready(db, admin, consultant, rules, serial) for serial in (1, 2))
    one = new_meeting(db, coordinator)
    later = new_meeting(db, coordinator, date(2026, 12, 10))
    for referral_id in (first_id, second_id):
        meetings.add_case(db, actor=coordinator, meeting_id=one, referral_id=referral_id)

    declined = meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=one,
        referral_id=first_id,
        outcome="decline",
        rationale="invented rationale",
        today=MEETING_DAY,
    )
    assert declined == Changes(referral_ids=frozenset({first_id}), meeting_ids=frozenset({one}))

    rolled = meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=one,
        referral_id=second_id,
        outcome=NOT_DISCUSSED,
        rationale="ran out of time",
        today=MEETING_DAY,
    )
    # the last case decided: the meeting is held (the list of meetings shows it), and the case moved on
    assert rolled == Changes(referral_ids=frozenset({second_id}), meeting_ids=frozenset({one, later}), meetings=True)
    assert get_referral(db, referral_id=second_id).row.meeting_id == later


@pytest.mark.hazard("H04", "H15")
def test_user_changes_report_users(db: Database, admin: Actor) -> None:
    added = add_user(db, actor=admin, login="newbie-test", display_name="Nia Newbie", roles=["coordinator"])
    assert added.changes == USERS_CHANGED == Changes(users=True)
    assert added == set_roles(db, actor=admin, login="newbie-test", roles=["coordinator"])  # changes: not identity
    assert set_roles(db, actor=admin, login="newbie-test", roles=["consultant"]).changes == USERS_CHANGED
    assert set_display_name(db, actor=admin, login="newbie-test", display_name="Dr Nia Newbie") == USERS_CHANGED
    assert set_active(db, actor=admin, login="newbie-test", active=False) == USERS_CHANGED


@pytest.mark.hazard("H04", "H05")
def test_a_rules_approval_reports_the_rules_and_the_referrals_it_reassessed(
    db: Database, admin: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    shipped = read_rules_file(default_rules_path())
    same = approve_rules(db, actor=admin, proposed=shipped, as_of=AS_OF)
    if not same.already_in_force:  # the test database may have no approval yet: this one made it
        same = approve_rules(db, actor=admin, proposed=shipped, as_of=AS_OF)
    assert same.already_in_force and same.changes == NOTHING
    text = shipped.text.replace(f'version = "{shipped.version}"', 'version = "spd-2099.1"')
    result = approve_rules(db, actor=admin, proposed=parse_rules_text(text, "spd-2099.1.toml"), as_of=AS_OF)
    assert result.changes == Changes(referral_ids=frozenset({saved.referral_id}), rules=True)
    assert result.changes.touches_referral(12345)  # a rules change may touch any referral a view shows


@pytest.mark.hazard("H04")
def test_bulk_changes_report_everything(db: Database, admin: Actor, rules: Rules) -> None:
    assert load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=3).changes == EVERYTHING
    assert load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=0).changes == NOTHING
    bulk = reassess_open(db, actor=admin, rules=rules, as_of=AS_OF, only_stale=False)
    assert len(bulk.referral_ids) == 3 and bulk.changes == EVERYTHING
    assert reassess_open(db, actor=admin, rules=rules, as_of=AS_OF, only_stale=True).changes == NOTHING


@pytest.mark.hazard("H04")
def test_an_import_reports_the_referrals_it_created(db: Database, admin: Actor, rules: Rules) -> None:
    report = import_referrals(db, actor=admin, records=[referral_json(1), referral_json(2)], rules=rules, as_of=AS_OF)
    assert report.changes == Changes(created=frozenset(rid for _, rid, _ in report.added))
    assert len(report.changes.created) == 2
    again = import_referrals(db, actor=admin, records=[referral_json(1)], rules=rules, as_of=AS_OF)
    assert again.changes == NOTHING  # a duplicate adds nothing
