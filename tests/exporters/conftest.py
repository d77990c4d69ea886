"""A meeting whose cases carry hostile text, held on MEETING_DAY, for every export test."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from tests.exporters.corpus import HOSTILE, LONG, MEETING_DAY
from tests.factories import AS_OF, referral
from triage_app.domain.meetings import CaseAction
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor, add_user
from triage_app.storage.engine import Database


@pytest.fixture
def surgeon(db: Database, admin: Actor) -> Actor:
    """A consultant with an MDT role on file: the one who records outcomes and so signs the letters."""
    return add_user(
        db,
        actor=admin,
        login="surgeon-test",
        display_name="Mr Tobias Quennell-Invented",
        roles=["consultant"],
        mdt_role="functional_neurosurgeon",
    )


@pytest.fixture
def nobody(db: Database, admin: Actor) -> Actor:
    """A configured user with no active role."""
    return add_user(db, actor=admin, login="nobody-test", display_name="Norris Nobody", roles=[])


@pytest.fixture
def admin_only(db: Database, admin: Actor) -> Actor:
    """An administrator who is neither coordinator nor consultant."""
    return add_user(db, actor=admin, login="adminonly-test", display_name="Ivo Adminsson", roles=["admin"])


@pytest.fixture
def hostile_meeting(
    db: Database, admin: Actor, consultant: Actor, surgeon: Actor, rules: Rules
) -> tuple[int, list[int]]:
    """A meeting on MEETING_DAY whose cases carry every hostile value in names, question, drug, referrer and
    decisions; each triage confirmed by a consultant, the first case's outcome recorded by `surgeon`."""
    ids = []
    plans: list[dict[str, Any]] = [
        dict(
            patient__family_name=HOSTILE["formula"],
            patient__given_name=HOSTILE["greek"],
            clinical_question=HOSTILE["img"] + " " + HOSTILE["template"],
            referrer__name=HOSTILE["plus"],
            oral_medications=[{"drug": HOSTILE["wordxml"], "outcome": "ineffective"}],
        ),
        dict(
            patient__family_name=HOSTILE["cyrillic"],
            patient__given_name=HOSTILE["at"],
            clinical_question=LONG,
            referrer__name=HOSTILE["quote"],
            patient__hospital_number=HOSTILE["minus"],
        ),
        dict(patient__family_name=HOSTILE["bold"], patient__given_name="Annbell", clinical_question=HOSTILE["minus"]),
    ]
    for serial, changes in enumerate(plans, start=1):
        saved = register_referral(db, actor=admin, referral=referral(serial, **changes), rules=rules, as_of=AS_OF)
        if serial == 3:  # a control character, stored before input limits refused them (issue 10): exports cope
            with db.write() as session:
                session.execute(
                    sa.text("UPDATE referral SET given_name = :name WHERE id = :id"),
                    {"name": "Ann\x07bell", "id": saved.referral_id},
                )
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=saved.version)
        ids.append(saved.referral_id)
    meeting_id = meetings.create_meeting(
        db,
        actor=admin,
        meeting_date=MEETING_DAY,
        meeting_time="13:30",
        place=HOSTILE["template"],
        chair=HOSTILE["formula"],
        attendees=[(HOSTILE["cyrillic"], "functional_neurosurgeon")],
        today=AS_OF,
    ).meeting_id
    for rid in ids:
        meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=rid)
    meetings.record_outcome(
        db,
        actor=surgeon,
        meeting_id=meeting_id,
        referral_id=ids[0],
        outcome="decline",
        rationale=HOSTILE["formula"] + " " + HOSTILE["bold"],
        today=MEETING_DAY,
        actions=[CaseAction(HOSTILE["at"] + " write to GP", HOSTILE["greek"], date(2026, 12, 10))],
    )
    return meeting_id, ids
