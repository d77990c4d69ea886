"""Free text outside the referral has limits too (safety.md): meeting place, chair and attendee names, the
rationale and reason for amending, actions, override and closing reasons, user logins and names. Each refused,
naming the field, before anything is written; each value at its limit is stored."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.meetings import CaseAction
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.errors import ServiceError
from triage_app.services.referrals import register_referral
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor, add_user, set_display_name
from triage_app.storage.engine import Database

LONG_NAME = "N" * 101
LONG_TEXT = "T" * 4_001


def _count(db: Database, table: str) -> int:
    with db.read() as session:
        return int(session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.hazard("H17")
def test_meeting_fields_are_limited_and_refused_before_anything_is_written(db: Database, coordinator: Actor) -> None:
    def create(**values: object) -> int:
        return meetings.create_meeting(
            db,
            actor=coordinator,
            meeting_date=date(2026, 12, 3),
            meeting_time="13:30",
            today=AS_OF,
            **values,  # type: ignore[arg-type]
        ).meeting_id

    before = _count(db, "meeting")
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"chair": LONG_NAME}, "chair: 100 characters at most (this one has 101)"),
        ({"place": "P" * 201}, "place: 200 characters at most (this one has 201)"),
        ({"video_link": "https://x/" + "v" * 600}, "video link: 500 characters at most (this one has 610)"),
        ({"attendees": [(LONG_NAME, None)]}, "attendee name: 100 characters at most (this one has 101)"),
        ({"chair": "Dr \ud800"}, "chair: is not valid text"),
        ({"place": "Room\x001"}, "place: holds a control character (U+0000)"),
    ]
    for values, message in refusals:
        with pytest.raises(ServiceError) as refused:
            create(**values)
        assert str(refused.value).startswith(message)
    assert _count(db, "meeting") == before
    with pytest.raises(ServiceError, match=r"^attendee name: 100 characters at most \(this one has 101\)$"):
        meetings.parse_attendee(LONG_NAME + ":neurologist")
    stored = create(chair="C" * 100, place="P" * 200, attendees=[("A" * 100, "other")])
    assert stored > 0


@pytest.mark.hazard("H17")
def test_outcome_rationale_reason_and_actions_are_limited(
    db: Database, consultant: Actor, admin: Actor, rules: Rules
) -> None:
    def record(**values: object) -> None:
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=1,
            referral_id=1,
            outcome="decline",
            today=date(2026, 12, 3),
            **values,  # type: ignore[arg-type]
        )

    cases: list[tuple[dict[str, Any], str]] = [
        ({"rationale": LONG_TEXT}, "rationale: 4,000 characters at most (this one has 4,001)"),
        (
            {"rationale": "ok", "actions": [CaseAction("A" * 4_001, None, None)]},
            "action: 4,000 characters at most (this one has 4,001)",
        ),
        (
            {"rationale": "ok", "actions": [CaseAction("Write to GP", LONG_NAME, None)]},
            "action owner: 100 characters at most (this one has 101)",
        ),
    ]
    for values, message in cases:
        with pytest.raises(ServiceError) as refused:
            record(**values)
        assert str(refused.value) == message
    with pytest.raises(ServiceError) as refused:
        meetings.record_outcome(
            db,
            actor=admin,  # admin has every role, so amending is allowed to be asked
            meeting_id=1,
            referral_id=1,
            outcome="decline",
            rationale="ok",
            amend_reason=LONG_TEXT,
            today=date(2026, 12, 3),
        )
    assert str(refused.value) == "reason for amending: 4,000 characters at most (this one has 4,001)"


@pytest.mark.hazard("H17")
def test_override_and_closing_reasons_are_limited(db: Database, consultant: Actor, admin: Actor, rules: Rules) -> None:
    saved = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    with pytest.raises(ServiceError, match=r"^reason: 4,000 characters at most \(this one has 4,001\)$"):
        decide_triage(
            db,
            actor=consultant,
            referral_id=saved.referral_id,
            expected_version=1,
            override_outcome="not_yet_refractory",
            reason=LONG_TEXT,
        )
    with pytest.raises(ServiceError, match=r"^reason: 4,000 characters at most \(this one has 4,001\)$"):
        change_status(
            db, actor=consultant, referral_id=saved.referral_id, expected_version=1, status="closed", note=LONG_TEXT
        )
    with db.read() as session:
        assert [tuple(row) for row in session.execute(sa.text("SELECT version, status FROM referral"))] == [
            (1, "received")
        ]


@pytest.mark.hazard("H17")
def test_user_logins_and_names_are_limited(db: Database, admin: Actor) -> None:
    with pytest.raises(ServiceError, match=r"^name: 100 characters at most \(this one has 101\)$"):
        add_user(db, actor=admin, login="newuser", display_name=LONG_NAME, roles=["coordinator"])
    with pytest.raises(ServiceError, match=r"^login: 128 characters at most \(this one has 129\)$"):
        add_user(db, actor=admin, login="u" * 129, display_name="Nia New", roles=["coordinator"])
    with pytest.raises(ServiceError, match=r"^a user's name: 100 characters at most \(this one has 101\)$"):
        set_display_name(db, actor=admin, login=admin.login, display_name=LONG_NAME)
    with pytest.raises(ServiceError, match=r"^a user's name: is not valid text"):
        set_display_name(db, actor=admin, login=admin.login, display_name="Ada \udc00")
    set_display_name(db, actor=admin, login=admin.login, display_name="A" * 100)
