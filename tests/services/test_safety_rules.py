"""safety.md in the service layer: the right patient, the current decision, the meeting's outcomes."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import AS_OF, referral, referral_json
from triage_app.domain.parsing import parse_referral
from triage_app.domain.rules import Rules
from triage_app.services import meetings, queue
from triage_app.services.errors import (
    DemographicsMismatch,
    IdentityIncomplete,
    OpenReferralExists,
    ServiceError,
)
from triage_app.services.referrals import get_referral, import_referrals, register_referral, update_referral
from triage_app.services.triage import StaleAssessment, decide_triage
from triage_app.services.users import Actor
from triage_app.storage.audit import verify_chain
from triage_app.storage.engine import Database
from triage_app.storage.referrals import QueueFilter

MEETING_DAY = date(2026, 12, 3)
ATTENDEES = [("Dr A", "functional_neurosurgeon"), ("Dr B", "movement_disorders_neurologist"), ("C", "physiotherapist")]
CHECKLIST = {"patient_information_given": True, "consent_discussion_planned": True, "baseline_severity_recorded": True}


def _confirmed_ready(db: Database, admin: Actor, consultant: Actor, rules: Rules, serial: int = 1) -> int:
    saved = register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF)
    decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=saved.version)
    return saved.referral_id


def _worse(serial: int = 1) -> object:
    """The same patient's referral edited: good response to toxin, dysphagia recorded."""
    return referral(serial, botulinum_toxin__response="good", history__dysphagia=True)


# --- the right patient ----------------------------------------------------------------------------------------


@pytest.mark.hazard("H01")
def test_an_empty_referral_is_not_stored_and_each_missing_identity_field_is_named(
    db: Database, admin: Actor, rules: Rules
) -> None:
    with pytest.raises(IdentityIncomplete) as refused:
        register_referral(db, actor=admin, referral=parse_referral({}, as_of=AS_OF), rules=rules, as_of=AS_OF)
    assert [e.field for e in refused.value.errors] == [
        "patient.nhs_number",
        "patient.family_name",
        "patient.given_name",
        "patient.date_of_birth",
        "received_on",
        "referrer.name",
    ]
    assert queue.counts(db).total == 0


@pytest.mark.hazard("H01")
def test_a_name_only_referral_is_refused_naming_what_is_missing(db: Database, admin: Actor, rules: Rules) -> None:
    data = {"patient": {"family_name": "Quinnell", "given_name": "Marguerite"}}
    with pytest.raises(
        IdentityIncomplete, match="patient.nhs_number.*patient.date_of_birth.*received_on.*referrer.name"
    ):
        register_referral(db, actor=admin, referral=parse_referral(data, as_of=AS_OF), rules=rules, as_of=AS_OF)


@pytest.mark.hazard("H01")
def test_different_demographics_for_a_stored_nhs_number_need_confirmation(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    first = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    decide_triage(db, actor=consultant, referral_id=first.referral_id, expected_version=1)
    # close the first so that only the demographics check applies
    from triage_app.services.triage import change_status

    change_status(
        db, actor=consultant, referral_id=first.referral_id, expected_version=2, status="closed", note="Moved away"
    )
    renamed = referral(1, received_on="2026-09-01", patient__family_name="Abara", patient__date_of_birth="1979-11-13")
    with pytest.raises(DemographicsMismatch, match=r"Family name: stored Quillfeather, this referral Abara") as refused:
        register_referral(db, actor=admin, referral=renamed, rules=rules, as_of=AS_OF)
    assert {d.field for d in refused.value.differences} == {"patient.family_name", "patient.date_of_birth"}
    assert queue.counts(db).total == 1
    saved = register_referral(db, actor=admin, referral=renamed, rules=rules, as_of=AS_OF, demographics_confirmed=True)
    with db.read() as session:
        from sqlalchemy import select

        from triage_app.storage.models import AuditEventRow

        event = session.execute(
            select(AuditEventRow).where(
                AuditEventRow.entity == "referral",
                AuditEventRow.entity_id == str(saved.referral_id),
                AuditEventRow.action == "create",
            )
        ).scalar_one()
        assert "demographics_confirmed" in event.changes and "Quillfeather" in event.changes
        assert verify_chain(session).intact


@pytest.mark.hazard("H02")
def test_a_second_open_referral_needs_a_reason_and_import_reports_it(db: Database, admin: Actor, rules: Rules) -> None:
    first = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    later = referral(1, received_on="2026-09-14")
    with pytest.raises(OpenReferralExists, match=f"referral {first.referral_id}.*03-Aug-2026"):
        register_referral(db, actor=admin, referral=later, rules=rules, as_of=AS_OF)
    report = import_referrals(
        db, actor=admin, records=[referral_json(1, received_on="2026-09-14"), {}], rules=rules, as_of=AS_OF
    )
    assert report.possible_duplicates == [(0, first.referral_id)] and not report.added
    assert [e.field for e in report.refused[0][1]][:1] == ["patient.nhs_number"]  # `{}` is refused, named
    second = register_referral(
        db, actor=admin, referral=later, rules=rules, as_of=AS_OF, second_referral_reason="New symptoms, new referrer"
    )
    assert second.referral_id != first.referral_id and queue.counts(db).total == 2


@pytest.mark.hazard("H01")
def test_import_refuses_a_record_whose_demographics_disagree(db: Database, admin: Actor, rules: Rules) -> None:
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    record = referral_json(1, received_on="2026-09-14", patient__family_name="Abara")
    report = import_referrals(db, actor=admin, records=[record], rules=rules, as_of=AS_OF, second_referral_reason="x")
    assert report.refused and report.refused[0][1][0].field == "patient.family_name"
    assert "stored Quillfeather, this record Abara" in report.refused[0][1][0].message


# --- the current decision -------------------------------------------------------------------------------------


@pytest.mark.hazard("H16")
def test_an_override_is_what_the_queue_and_its_views_show(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    decide_triage(
        db,
        actor=consultant,
        referral_id=saved.referral_id,
        expected_version=1,
        override_outcome="not_yet_refractory",
        reason="Toxin dose was never optimised",
    )
    counts = queue.counts(db)
    assert counts.by_outcome == {"not_yet_refractory": 1}
    ready = queue.snapshot(
        db, queue_filter=QueueFilter(outcome="ready_for_mdt"), sort="priority", descending=True, page_size=10
    )
    assert ready.total == 0
    row = queue.page(db, ids=[saved.referral_id])[saved.referral_id]
    assert (row.outcome, row.decided_outcome, row.decision_kind) == (
        "ready_for_mdt",
        "not_yet_refractory",
        "overridden",
    )


@pytest.mark.hazard("H16")
def test_an_edit_that_changes_the_triage_lapses_the_decision(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    rid = _confirmed_ready(db, admin, consultant, rules)
    version = get_referral(db, referral_id=rid).row.version
    saved = update_referral(
        db, actor=coordinator, referral_id=rid, expected_version=version, referral=_worse(), rules=rules, as_of=AS_OF
    )
    detail = get_referral(db, referral_id=rid)
    assert saved.version == detail.row.version
    assert detail.row.status == "received" and detail.row.decided_outcome is None
    assert detail.row.outcome == "not_yet_refractory" and detail.row.queue_outcome == "not_yet_refractory"
    assert detail.history[-1].note == "triage changed since confirmation: was ready for MDT, now not yet refractory"
    assert detail.decisions[-1].decision == "lapsed"
    mid = meetings.create_meeting(
        db, actor=coordinator, meeting_date=MEETING_DAY, meeting_time="13:30", today=AS_OF
    ).meeting_id
    assert meetings.fill_to_capacity(db, actor=coordinator, meeting_id=mid).added == []
    with pytest.raises(ServiceError, match="no standing consultant decision"):
        meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)


@pytest.mark.hazard("H16")
def test_an_edit_that_keeps_the_triage_keeps_the_decision(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    rid = _confirmed_ready(db, admin, consultant, rules)
    version = get_referral(db, referral_id=rid).row.version
    update_referral(
        db,
        actor=coordinator,
        referral_id=rid,
        expected_version=version,
        referral=referral(1, clinical_question="Any other view?"),
        rules=rules,
        as_of=AS_OF,
    )
    row = get_referral(db, referral_id=rid).row
    assert (row.status, row.decided_outcome) == ("ready_for_mdt", "ready_for_mdt")


@pytest.mark.hazard("H16")
def test_a_listed_case_whose_triage_changed_must_be_reconfirmed_before_acceptance(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    rid = _confirmed_ready(db, admin, consultant, rules)
    mid = meetings.create_meeting(
        db, actor=coordinator, meeting_date=MEETING_DAY, meeting_time="13:30", attendees=ATTENDEES, today=AS_OF
    ).meeting_id
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)
    version = get_referral(db, referral_id=rid).row.version
    # a later edit makes it need information (no toxin response recorded)
    update_referral(
        db,
        actor=coordinator,
        referral_id=rid,
        expected_version=version,
        referral=referral(1, botulinum_toxin__response=None),
        rules=rules,
        as_of=AS_OF,
    )
    row = get_referral(db, referral_id=rid).row
    assert (row.status, row.decided_outcome, row.meeting_id) == ("listed", None, mid)
    from triage_app.services.exports import make_agenda

    agenda = make_agenda(db, meeting_id=mid)
    assert agenda.cases[0].triage.startswith("TRIAGE CHANGED: RECONFIRM")
    with pytest.raises(ServiceError, match="reconfirms"):
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=mid,
            referral_id=rid,
            outcome="accept_for_spd",
            rationale="Suitable",
            today=MEETING_DAY,
            checklist=CHECKLIST,
        )
    # the consultant looks again, overrides to ready with a reason: it stays on the meeting and can be accepted
    decide_triage(
        db,
        actor=consultant,
        referral_id=rid,
        expected_version=row.version,
        override_outcome="ready_for_mdt",
        reason="Response lost: confirmed by phone with the referrer",
    )
    assert get_referral(db, referral_id=rid).row.status == "listed"
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=mid,
        referral_id=rid,
        outcome="accept_for_spd",
        rationale="Suitable",
        today=MEETING_DAY,
        checklist=CHECKLIST,
    )
    assert get_referral(db, referral_id=rid).row.status == "discussed"


@pytest.mark.hazard("H16")
def test_a_decision_on_a_reassessed_referral_is_refused(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    shown = get_referral(db, referral_id=saved.referral_id).row.current_assessment_id
    from triage_app.services.referrals import reassess_open

    reassess_open(db, actor=admin, rules=rules, as_of=AS_OF, only_stale=False)
    with pytest.raises(
        StaleAssessment, match=r"changed by Ada Admin at \d\d-\w{3}-\d{4} \d\d:\d\d UTC after you opened it"
    ):
        decide_triage(
            db, actor=consultant, referral_id=saved.referral_id, expected_version=1, expected_assessment_id=shown
        )


# --- the meeting and its outcomes -----------------------------------------------------------------------------


@pytest.fixture
def listed(db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules) -> tuple[int, int]:
    rid = _confirmed_ready(db, admin, consultant, rules)
    mid = meetings.create_meeting(
        db, actor=coordinator, meeting_date=MEETING_DAY, meeting_time="13:30", attendees=ATTENDEES, today=AS_OF
    ).meeting_id
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=rid)
    return mid, rid


@pytest.mark.hazard("H09")
def test_outcomes_need_the_meeting_date_and_a_rationale(
    db: Database, consultant: Actor, listed: tuple[int, int]
) -> None:
    mid, rid = listed
    with pytest.raises(ServiceError, match="meeting is on 03-Dec-2026"):
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=mid,
            referral_id=rid,
            outcome="decline",
            rationale="x",
            today=date(2026, 12, 2),
        )
    with pytest.raises(ServiceError, match="needs a rationale"):
        meetings.record_outcome(
            db, actor=consultant, meeting_id=mid, referral_id=rid, outcome="decline", rationale=" ", today=MEETING_DAY
        )
    assert get_referral(db, referral_id=rid).row.status == "listed"


@pytest.mark.hazard("H09")
def test_two_consultants_never_overwrite_each_other(
    db: Database, admin: Actor, consultant: Actor, listed: tuple[int, int], rules: Rules
) -> None:
    mid, rid = listed
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=mid,
        referral_id=rid,
        outcome="refer_for_dbs_assessment",
        rationale="Generalised features",
        today=MEETING_DAY,
        expected_version=1,
    )
    with pytest.raises(meetings.OutcomeConflict, match="already recorded for this case by Dr Con Sultant"):
        meetings.record_outcome(
            db,
            actor=admin,
            meeting_id=mid,
            referral_id=rid,
            outcome="decline",
            rationale="Other view",
            today=MEETING_DAY,
            expected_version=1,
        )
    with pytest.raises(ServiceError, match="amending a recorded outcome needs a written reason"):
        meetings.record_outcome(
            db,
            actor=admin,
            meeting_id=mid,
            referral_id=rid,
            outcome="decline",
            rationale="Other view",
            today=MEETING_DAY,
            expected_version=2,
        )
    meetings.record_outcome(
        db,
        actor=admin,
        meeting_id=mid,
        referral_id=rid,
        outcome="continue_best_medical_treatment",
        rationale="Agreed after review",
        today=MEETING_DAY,
        expected_version=2,
        amend_reason="Minutes corrected by the chair",
    )
    case = meetings.get_meeting(db, meeting_id=mid, rules=rules).cases[0]
    assert case.outcome == "continue_best_medical_treatment"


@pytest.mark.hazard("H01")
def test_an_edit_that_changes_the_patient_needs_confirmation(db: Database, admin: Actor, rules: Rules) -> None:
    from triage_app.services.errors import IdentityChanged

    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    other_patient = referral(2, patient__family_name="Newname")
    with pytest.raises(IdentityChanged, match="NHS number: stored 999 000 0107, this referral 999 000 0204"):
        update_referral(
            db,
            actor=admin,
            referral_id=saved.referral_id,
            expected_version=1,
            referral=other_patient,
            rules=rules,
            as_of=AS_OF,
        )
    assert get_referral(db, referral_id=saved.referral_id).referral.patient.nhs_number == referral(1).patient.nhs_number
    changed = update_referral(
        db,
        actor=admin,
        referral_id=saved.referral_id,
        expected_version=1,
        referral=other_patient,
        rules=rules,
        as_of=AS_OF,
        demographics_confirmed=True,
    )
    assert changed.version == 2


def test_saving_without_a_change_makes_no_new_version(db: Database, admin: Actor, rules: Rules) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    again = update_referral(
        db,
        actor=admin,
        referral_id=saved.referral_id,
        expected_version=1,
        referral=referral(1),
        rules=rules,
        as_of=AS_OF,
    )
    assert again.version == 1 and get_referral(db, referral_id=saved.referral_id).row.version == 1


@pytest.mark.hazard("H03", "H09")
def test_an_amendment_keeps_the_agreed_actions_and_a_held_meeting_cannot_be_cancelled(
    db: Database, admin: Actor, consultant: Actor, coordinator: Actor, listed: tuple[int, int], rules: Rules
) -> None:
    from triage_app.domain.meetings import CaseAction

    mid, rid = listed
    second = _confirmed_ready(db, admin, consultant, rules, serial=2)
    meetings.add_case(db, actor=coordinator, meeting_id=mid, referral_id=second)  # still undecided
    action = CaseAction("Book pre-op assessment", "Mr A Surgeon", date(2026, 12, 5))
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=mid,
        referral_id=rid,
        outcome="refer_for_dbs_assessment",
        rationale="DBS first",
        today=MEETING_DAY,
        actions=[action],
    )
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=mid,
        referral_id=rid,
        outcome="decline",
        rationale="Declined after review",
        today=MEETING_DAY,
        expected_version=2,
        amend_reason="Chair corrected the minutes",
    )
    with db.read() as session:
        from sqlalchemy import select

        from triage_app.storage.models import CaseActionRow

        assert [a.description for a in session.execute(select(CaseActionRow)).scalars()] == [action.description]
    with pytest.raises(ServiceError, match="has recorded outcomes"):
        meetings.cancel_meeting(db, actor=coordinator, meeting_id=mid)


@pytest.mark.hazard("H15")
def test_only_an_administrator_loads_demo_data(db: Database, coordinator: Actor, admin: Actor, rules: Rules) -> None:
    from triage_app.services.demo import load_demo
    from triage_app.services.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match="load demo data"):
        load_demo(db, actor=coordinator, rules=rules, as_of=AS_OF, count=3)
    assert queue.counts(db).total == 0
    assert load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=3).added == 3


@pytest.mark.hazard("H16")
def test_confirming_a_standing_decision_again_records_nothing(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    rid = _confirmed_ready(db, admin, consultant, rules)
    row = get_referral(db, referral_id=rid).row
    with pytest.raises(ServiceError, match="already stands as ready for MDT"):
        decide_triage(db, actor=consultant, referral_id=rid, expected_version=row.version)
    detail = get_referral(db, referral_id=rid)
    assert detail.row.version == row.version and len(detail.decisions) == 1


@pytest.mark.hazard("H16")
def test_an_outcome_on_a_case_changed_since_it_was_shown_is_refused(
    db: Database, coordinator: Actor, consultant: Actor, listed: tuple[int, int], rules: Rules
) -> None:
    mid, rid = listed
    shown = get_referral(db, referral_id=rid).row.version
    update_referral(
        db,
        actor=coordinator,
        referral_id=rid,
        expected_version=shown,
        referral=referral(1, clinical_question="Swallowing worse since October"),
        rules=rules,
        as_of=AS_OF,
    )
    with pytest.raises(meetings.OutcomeConflict, match="changed after its case was put on the screen"):
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=mid,
            referral_id=rid,
            outcome="decline",
            rationale="x",
            today=MEETING_DAY,
            expected_referral_version=shown,
        )
    assert meetings.get_meeting(db, meeting_id=mid, rules=rules).cases[0].outcome is None


@pytest.mark.hazard("H16")
def test_an_edit_after_the_mdt_lapses_the_triage_but_keeps_the_mdt_outcome(
    db: Database, coordinator: Actor, consultant: Actor, listed: tuple[int, int], rules: Rules
) -> None:
    mid, rid = listed
    meetings.record_outcome(
        db, actor=consultant, meeting_id=mid, referral_id=rid, outcome="decline", rationale="x", today=MEETING_DAY
    )
    version = get_referral(db, referral_id=rid).row.version
    update_referral(
        db, actor=coordinator, referral_id=rid, expected_version=version, referral=_worse(), rules=rules, as_of=AS_OF
    )
    row = get_referral(db, referral_id=rid).row
    assert (row.status, row.decided_outcome, row.queue_outcome) == ("discussed", None, "not_yet_refractory")
    assert get_referral(db, referral_id=rid).history[-1].note.startswith("triage changed since confirmation")
    decide_triage(db, actor=consultant, referral_id=rid, expected_version=row.version)  # reconfirmed for the record
    again = get_referral(db, referral_id=rid).row
    assert (again.status, again.decided_outcome) == ("discussed", "not_yet_refractory")


@pytest.mark.hazard("H01")
def test_moving_a_referral_to_another_patients_nhs_number_names_that_patient(
    db: Database, admin: Actor, rules: Rules
) -> None:
    from triage_app.services.errors import IdentityChanged

    register_referral(db, actor=admin, referral=referral(2, patient__family_name="Carbis"), rules=rules, as_of=AS_OF)
    mine = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    with pytest.raises(IdentityChanged, match="already stored for another patient: CARBIS, Morwenna"):
        update_referral(
            db,
            actor=admin,
            referral_id=mine.referral_id,
            expected_version=1,
            referral=referral(2),
            rules=rules,
            as_of=AS_OF,
        )
