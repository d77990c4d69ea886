"""The coordinator's chase list: awaiting information with what is awaited and a chase date, the request to the
referrer (a real Word file read back), and the MDT's actions across meetings ticked off; on either backend."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.mdt import CaseAction
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.requests import (
    RequestPatient,
    awaited_item,
    awaited_text,
    default_chase_date,
    is_overdue,
    request_file_name,
    request_letter,
)
from triage_app.domain.rules import Rules
from triage_app.services import chase, meetings
from triage_app.services import permissions as perm
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.referral_reads import get_referral
from triage_app.services.referrals import register_referral
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor, add_user
from triage_app.storage.engine import Database

TODAY = AS_OF


def _missing_referral(db: Database, actor: Actor, rules: Rules, serial: int = 1) -> int:
    """A referral the triage cannot complete: no TWSTRS total, no number of toxin cycles."""
    parsed = referral(serial, severity__twstrs_total=None, botulinum_toxin__cycles=None)
    return register_referral(db, actor=actor, referral=parsed, rules=rules, as_of=AS_OF).referral_id


def _version(db: Database, referral_id: int) -> int:
    return get_referral(db, referral_id=referral_id).row.version


def _events(db: Database, action: str) -> list[tuple[str, str | None]]:
    with db.read() as session:
        rows = session.execute(
            sa.text("SELECT user_login, entity_id FROM audit_event WHERE action = :a ORDER BY id"), {"a": action}
        ).all()
    return [(str(r[0]), None if r[1] is None else str(r[1])) for r in rows]


# --- the domain ----------------------------------------------------------------------------------------------------


def test_missing_fields_read_as_words() -> None:
    assert awaited_item("severity.twstrs_total") == "the TWSTRS total score"
    assert awaited_item("botulinum_toxin.cycles") == "the number of botulinum toxin cycles"
    assert awaited_text(["severity.twstrs_total", "botulinum_toxin.cycles", "severity.twstrs_total"]) == (
        "the TWSTRS total score; the number of botulinum toxin cycles"
    )
    assert awaited_item("oral_medications[1].outcome", ["clonazepam", "trihexyphenidyl"]) == (
        "the outcome of trihexyphenidyl"
    )
    assert awaited_item("oral_medications[2].outcome", ["clonazepam"]) == "the outcome of oral medication 3"
    assert awaited_item("patient.sex") == "the sex"  # any other field: its form label in a sentence
    assert default_chase_date(date(2026, 11, 2)) == date(2026, 11, 16)
    assert is_overdue(date(2026, 11, 1), date(2026, 11, 2)) and not is_overdue(date(2026, 11, 2), date(2026, 11, 2))
    assert is_overdue(None, date(2026, 11, 2))  # no chase date: someone must set one


@pytest.mark.hazard("H10")
def test_the_request_names_the_patient_and_asks_for_the_missing_fields_in_words() -> None:
    patient = RequestPatient(
        "Quillfeather",
        "Morwenna",
        "9990000301",
        date(1979, 11, 12),
        "K0043921",
        date(2026, 8, 3),
        "Dr Ada Testwell",
        "RXX",
    )
    letter = request_letter(
        7,
        patient,
        ["the TWSTRS total score", "the number of botulinum toxin cycles"],
        today=date(2026, 11, 2),
        reply_by=date(2026, 11, 16),
        unit_name="Invented Neurosciences Unit",
        signer_name="Cora Ordinator",
    )
    text = "\n".join(letter.paragraphs)
    assert "QUILLFEATHER, Morwenna" in text and "999 000 0301" in text and "12-Nov-1979" in text
    assert "Please send: the TWSTRS total score; the number of botulinum toxin cycles." in text
    assert "Please reply by 16-Nov-2026" in text and "Dear Dr Ada Testwell" in text
    assert "Cora Ordinator, MDT coordinator" in text
    assert "do not forward" not in text.lower() and "do not forward" not in letter.marking.lower()
    assert (
        request_file_name(patient, date(2026, 11, 2), "docx")
        == "information-request-QUILLFEATHER-Morwenna-02-Nov-2026.docx"
    )
    with pytest.raises(ValueError, match="nothing is awaited"):
        request_letter(7, patient, [], today=TODAY, reply_by=None, unit_name="u", signer_name="s")


# --- awaiting information and the chase list ----------------------------------------------------------------------


@pytest.mark.hazard("H03", "H15")
def test_a_coordinator_moves_a_referral_to_awaiting_information_with_a_chase_date_and_back(
    db: Database, coordinator: Actor, rules: Rules
) -> None:
    referral_id = _missing_referral(db, coordinator, rules)
    assert chase.awaited_for(db, actor=coordinator, referral_id=referral_id) == (
        "the number of botulinum toxin cycles; the TWSTRS total score"
    )
    chase_on = default_chase_date(TODAY)
    result = chase.await_information(
        db, actor=coordinator, referral_id=referral_id, expected_version=1, chase_on=chase_on, today=TODAY
    )
    assert result.status == "awaiting_information"
    row = get_referral(db, referral_id=referral_id).row
    assert (row.status, row.chase_on, row.chased_on) == ("awaiting_information", chase_on, None)
    assert row.awaited == "the number of botulinum toxin cycles; the TWSTRS total score"
    lines = chase.chase_list(db, actor=coordinator, today=TODAY)
    assert [(line.referral_id, line.nhs_number, line.overdue) for line in lines] == [
        (referral_id, row.nhs_number, False)
    ]
    assert lines[0].patient == "QUILLFEATHER, Morwenna"
    # Not overdue on its date, overdue the day after.
    assert chase.chase_list(db, actor=coordinator, today=chase_on, overdue_only=True) == []
    late = chase.chase_list(db, actor=coordinator, today=chase_on + timedelta(days=1), overdue_only=True)
    assert [line.referral_id for line in late] == [referral_id] and late[0].overdue
    # The information came: back to received, off the chase list.
    chase.back_to_queue(db, actor=coordinator, referral_id=referral_id, expected_version=_version(db, referral_id))
    row = get_referral(db, referral_id=referral_id).row
    assert (row.status, row.chase_on, row.awaited) == ("received", None, None)
    assert chase.chase_list(db, actor=coordinator, today=TODAY) == []
    assert [login for login, _ in _events(db, "chase_set")] == ["coord-test"]


@pytest.mark.hazard("H15")
def test_a_coordinator_may_not_take_a_consultants_decision_to_awaiting_information(
    db: Database, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    referral_id = register_referral(db, actor=coordinator, referral=referral(2), rules=rules, as_of=AS_OF).referral_id
    decided = decide_triage(db, actor=consultant, referral_id=referral_id, expected_version=1)
    with pytest.raises(PermissionDenied, match="it needs the consultant role"):
        chase.await_information(
            db,
            actor=coordinator,
            referral_id=referral_id,
            expected_version=decided.version,
            chase_on=TODAY,
            today=TODAY,
            awaited="the latest clinic letter",
        )
    assert get_referral(db, referral_id=referral_id).row.status == "ready_for_mdt"


def test_the_chase_list_puts_overdue_first_and_refuses_a_past_date(
    db: Database, coordinator: Actor, rules: Rules
) -> None:
    ids = [_missing_referral(db, coordinator, rules, serial) for serial in (11, 12, 13)]
    for referral_id, days in zip(ids, (20, 3, 9), strict=True):
        chase.await_information(
            db,
            actor=coordinator,
            referral_id=referral_id,
            expected_version=1,
            chase_on=TODAY + timedelta(days=days),
            today=TODAY,
        )
    order = [line.referral_id for line in chase.chase_list(db, actor=coordinator, today=TODAY)]
    assert order == [ids[1], ids[2], ids[0]]
    with pytest.raises(ServiceError, match="has passed"):
        chase.set_chase_date(db, actor=coordinator, referral_id=ids[0], chase_on=TODAY - timedelta(days=1), today=TODAY)
    later = TODAY + timedelta(days=10)
    chase.set_chase_date(
        db, actor=coordinator, referral_id=ids[1], chase_on=later + timedelta(days=14), today=later, chased=True
    )
    row = get_referral(db, referral_id=ids[1]).row
    assert (row.chase_on, row.chased_on) == (later + timedelta(days=14), later)
    overdue = chase.chase_list(db, actor=coordinator, today=later, overdue_only=True)
    assert [line.referral_id for line in overdue] == [ids[2]]
    # A referral not awaiting information has nothing to chase.
    other = _missing_referral(db, coordinator, rules, 14)
    with pytest.raises(ServiceError, match="not awaiting information"):
        chase.set_chase_date(db, actor=coordinator, referral_id=other, chase_on=TODAY, today=TODAY)


@pytest.mark.hazard("H10", "H11")
def test_the_request_letter_is_a_word_file_named_by_patient_and_date_and_audited(
    db: Database, coordinator: Actor, rules: Rules, tmp_path: Path
) -> None:
    from docx import Document

    referral_id = _missing_referral(db, coordinator, rules)
    chase.await_information(
        db, actor=coordinator, referral_id=referral_id, expected_version=1, chase_on=date(2026, 11, 16), today=TODAY
    )
    out = chase.write_request(db, actor=coordinator, referral_id=referral_id, fmt="docx", out_dir=tmp_path, today=TODAY)
    assert out.name == "information-request-QUILLFEATHER-Morwenna-02-Nov-2026.docx"
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    nhs = format_nhs_number(get_referral(db, referral_id=referral_id).row.nhs_number or "")
    assert "Re: QUILLFEATHER, Morwenna" in text and f"NHS number {nhs} · Date of birth 12-Nov-1979" in text
    assert "Please send:\n• The number of botulinum toxin cycles\n• The TWSTRS total score" in text
    assert "Please reply by 16-Nov-2026" in text and "Cora Ordinator\nMDT coordinator" in text
    assert "Specialist Neurosurgical Unit" in "\n".join(  # the shipped template's letterhead
        p.text for t in Document(str(out)).sections[0].first_page_header.tables for c in t._cells for p in c.paragraphs
    )
    assert _events(db, "export") == [("coord-test", str(referral_id))]
    with pytest.raises(ServiceError, match="already exists"):
        chase.write_request(db, actor=coordinator, referral_id=referral_id, fmt="docx", out_dir=tmp_path, today=TODAY)
    pdf = chase.write_request(db, actor=coordinator, referral_id=referral_id, fmt="pdf", out_dir=tmp_path, today=TODAY)
    assert pdf.read_bytes().startswith(b"%PDF")


# --- MDT actions across meetings ----------------------------------------------------------------------------------


def _decided_with_actions(db: Database, admin: Actor, rules: Rules, serial: int, actions: list[CaseAction]) -> int:
    referral_id = register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF).referral_id
    decide_triage(db, actor=admin, referral_id=referral_id, expected_version=1)
    meeting_id = meetings.create_meeting(
        db, actor=admin, meeting_date=AS_OF, meeting_time=f"{8 + serial % 10:02d}:30", today=AS_OF
    ).meeting_id
    meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=referral_id)
    meetings.record_outcome(
        db,
        actor=admin,
        meeting_id=meeting_id,
        referral_id=referral_id,
        outcome="decline",
        rationale="Invented rationale for the test",
        today=AS_OF,
        actions=actions,
    )
    return referral_id


@pytest.mark.hazard("H09", "H15")
def test_actions_across_meetings_by_due_date_filtered_by_owner_and_ticked_off(
    db: Database, admin: Actor, coordinator: Actor, rules: Rules
) -> None:
    first = _decided_with_actions(
        db,
        admin,
        rules,
        21,
        [CaseAction("Write to GP", "Cora Ordinator", AS_OF + timedelta(days=7)), CaseAction("Book MRI", "Dr Mo", None)],
    )
    second = _decided_with_actions(
        db, admin, rules, 22, [CaseAction("Request toxin records", "Cora Ordinator", AS_OF + timedelta(days=2))]
    )
    lines = chase.list_actions(db, actor=coordinator, today=AS_OF)
    assert [(line.description, line.referral_id) for line in lines] == [
        ("Request toxin records", second),
        ("Write to GP", first),
        ("Book MRI", first),
    ]
    mine = chase.list_actions(db, actor=coordinator, today=AS_OF, owner="Cora Ordinator")
    assert [line.description for line in mine] == ["Request toxin records", "Write to GP"]
    assert chase.action_owners(db, actor=coordinator) == ["Cora Ordinator", "Dr Mo"]
    overdue = chase.list_actions(db, actor=coordinator, today=AS_OF + timedelta(days=3), overdue_only=True)
    assert [(line.description, line.overdue) for line in overdue] == [("Request toxin records", True)]
    done, changes = chase.complete_action(db, actor=coordinator, action_id=overdue[0].action_id, today=AS_OF)
    assert (done.done_by, done.referral_id, done.patient) == ("Cora Ordinator", second, "QUILLFEATHER, Morwenna")
    assert done.done_at is not None and changes.meeting_ids == {done.meeting_id}
    with db.read() as session:
        stored = session.execute(
            sa.text("SELECT u.login FROM case_action a JOIN app_user u ON u.id = a.done_by WHERE a.id = :i"),
            {"i": done.action_id},
        ).scalar_one()
    assert stored == "coord-test"
    assert _events(db, "action_done") == [("coord-test", str(done.action_id))]
    with pytest.raises(ServiceError, match="already ticked off by Cora Ordinator"):
        chase.complete_action(db, actor=coordinator, action_id=done.action_id, today=AS_OF)
    assert [line.description for line in chase.list_actions(db, actor=coordinator, today=AS_OF)] == [
        "Write to GP",
        "Book MRI",
    ]
    everything = chase.list_actions(db, actor=coordinator, today=AS_OF, include_done=True)
    assert everything[-1].description == "Request toxin records" and everything[-1].done_by == "Cora Ordinator"


@pytest.mark.hazard("H15")
@pytest.mark.parametrize("kind", ["coordinator", "consultant", "admin", "no role"])
def test_who_may_chase_and_tick_off_actions(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules, tmp_path: Path, kind: str
) -> None:
    users = {
        "coordinator": coordinator,
        "consultant": consultant,
        "admin": add_user(db, actor=admin, login="adminonly-test", display_name="Ivo Adminsson", roles=["admin"]),
        "no role": add_user(db, actor=admin, login="nobody-test", display_name="Norris Nobody", roles=[]),
    }
    user = users[kind]
    referral_id = _missing_referral(db, coordinator, rules)
    chase.await_information(
        db, actor=coordinator, referral_id=referral_id, expected_version=1, chase_on=TODAY, today=TODAY
    )
    _decided_with_actions(db, admin, rules, 31, [CaseAction("Write to GP", "Cora Ordinator", None)])
    action_id = chase.list_actions(db, actor=admin, today=TODAY)[0].action_id
    may_chase, may_tick = kind == "coordinator", kind in ("coordinator", "consultant")
    assert perm.actor_may(user, perm.CHASE_INFORMATION) == may_chase
    assert perm.actor_may(user, perm.COMPLETE_ACTION) == may_tick
    tries = [
        (may_chase, lambda: chase.set_chase_date(db, actor=user, referral_id=referral_id, chase_on=TODAY, today=TODAY)),
        (
            may_chase,
            lambda: chase.write_request(
                db, actor=user, referral_id=referral_id, fmt="docx", out_dir=tmp_path, today=TODAY
            ),
        ),
        (may_tick, lambda: chase.complete_action(db, actor=user, action_id=action_id, today=TODAY)),
    ]
    for allowed, attempt in tries:
        if allowed:
            attempt()
        else:
            with pytest.raises(PermissionDenied, match=user.display_name):
                attempt()
    if not may_chase:
        assert list(tmp_path.glob("*.docx")) == []
    # Back to the queue is the coordinator's move from awaiting information.
    if kind == "coordinator":
        change_status(
            db, actor=user, referral_id=referral_id, expected_version=_version(db, referral_id), status="received"
        )


@pytest.mark.hazard("H03", "H07")
def test_a_referral_a_consultant_sends_to_awaiting_information_is_on_the_chase_list_without_a_date(
    db: Database, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    referral_id = _missing_referral(db, coordinator, rules, 41)
    decided = decide_triage(db, actor=consultant, referral_id=referral_id, expected_version=1)
    assert decided.status == "awaiting_information"
    (line,) = chase.chase_list(db, actor=coordinator, today=TODAY, overdue_only=True)
    assert (line.referral_id, line.chase_on, line.overdue) == (referral_id, None, True)  # first, until a date is set
    chase.set_chase_date(
        db, actor=coordinator, referral_id=referral_id, chase_on=TODAY + timedelta(days=7), today=TODAY
    )
    assert chase.chase_list(db, actor=coordinator, today=TODAY, overdue_only=True) == []
    assert chase.awaited_for(db, actor=coordinator, referral_id=referral_id).startswith("the number of")


@pytest.mark.hazard("H16")
def test_a_stale_move_to_awaiting_information_records_no_chase(db: Database, coordinator: Actor, rules: Rules) -> None:
    referral_id = _missing_referral(db, coordinator, rules, 51)
    with pytest.raises(ServiceError):
        chase.await_information(
            db, actor=coordinator, referral_id=referral_id, expected_version=7, chase_on=TODAY, today=TODAY
        )
    row = get_referral(db, referral_id=referral_id).row
    assert (row.status, row.chase_on, row.awaited) == ("received", None, None)
    assert _events(db, "chase_set") == []
