"""Rules under governance: the database's approved rules are in force everywhere; approving is an audited
administrator action that reassesses only referrals not yet at an MDT; a reused version is refused."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.config import default_rules_path
from triage_app.domain.rules import Rules, RulesFileError, RulesText, parse_rules_text, read_rules_file
from triage_app.domain.rules_changes import approval_line
from triage_app.services import meetings
from triage_app.services import rules as rules_service
from triage_app.services.app import AppSession, open_session
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.referrals import get_referral, register_referral, update_referral
from triage_app.services.rules import (
    BASIS_NEW_DATABASE,
    BASIS_UPGRADED,
    RulesRefused,
    approve_rules,
    preview_rules,
    rules_in_force,
)
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import Actor, add_user, set_active, sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.models import ApprovedRulesRow, AssessmentRow, AuditEventRow, ReferralRow

MEETING_DAY = date(2026, 12, 3)
CHECKLIST = {"patient_information_given": True, "consent_discussion_planned": True, "baseline_severity_recorded": True}
ATTENDEES = [("Dr A", "functional_neurosurgeon"), ("Dr B", "movement_disorders_neurologist"), ("C", "physiotherapist")]
SHIPPED = default_rules_path().read_text(encoding="utf-8")


def shipped_text() -> RulesText:
    return read_rules_file(default_rules_path())


def edited(version: str, *replacements: tuple[str, str]) -> RulesText:
    """The shipped file with a new version (or the same one) and some values changed."""
    text = SHIPPED.replace('version = "spd-2026.2"', f'version = "{version}"')
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return parse_rules_text(text, f"{version}.toml")


REDIRECT_ALL = ('specialist_units = ["RXX01"]', 'specialist_units = ["RQQ07"]')  # every test referral redirects


def start(db: Database, *, login: str = "admin-test", shipped: Path | None = None) -> AppSession:
    """A desktop (or command) opening the test database, as services.app does for both."""
    url = db.location.url.render_as_string(hide_password=False)  # SQLite here; PostgreSQL under the pg plugin
    return open_session(url, backup_dir=None, login=login, today=AS_OF, shipped_rules=shipped)


def current(db: Database) -> dict[int, tuple[int | None, str | None]]:
    """Each referral's current assessment id and the rules version it used."""
    with db.read() as session:
        rows = session.execute(
            sa.select(ReferralRow.id, ReferralRow.current_assessment_id, AssessmentRow.rules_version).join(
                AssessmentRow, AssessmentRow.id == ReferralRow.current_assessment_id
            )
        ).all()
    return {rid: (aid, version) for rid, aid, version in rows}


def approvals(db: Database) -> list[ApprovedRulesRow]:
    with db.read() as session:
        return list(session.execute(sa.select(ApprovedRulesRow).order_by(ApprovedRulesRow.id)).scalars())


def rules_events(db: Database) -> list[AuditEventRow]:
    with db.read() as session:
        return list(
            session.execute(
                sa.select(AuditEventRow).where(AuditEventRow.entity == "rules").order_by(AuditEventRow.id)
            ).scalars()
        )


# --- where the rules come from ---------------------------------------------------------------------------------


@pytest.mark.hazard("H05")
def test_a_new_database_approves_the_shipped_rules_in_the_first_administrators_name(db_path: Path) -> None:
    db_path.unlink()  # a brand-new database file
    session = open_session(sqlite_url(db_path), backup_dir=None, login="first-admin", today=AS_OF)
    try:
        approval = session.approval
        assert session.rules.version == approval.version == "spd-2026.2"
        assert approval.sha256 == shipped_text().sha256 and approval.text == SHIPPED
        assert approval.approved_by_login == "first-admin" and approval.approved_at.utcoffset() is not None
        assert session.proposal is None  # the shipped rules are the ones in force: nothing to offer
        (event,) = rules_events(session.db)
        changes = json.loads(event.changes)
        assert event.action == "approve" and event.user_login == "first-admin"
        assert changes["basis"] == [None, BASIS_NEW_DATABASE] and changes["sha256"] == [None, approval.sha256]
        assert rules_in_force(session.db) == approval
    finally:
        session.close()


@pytest.mark.hazard("H05")
def test_an_upgraded_database_approves_in_the_name_of_its_first_active_administrator(
    db: Database, first_admin: Actor, rules: Rules
) -> None:
    """A database from before approvals: its referrals were scored by whatever file each desktop was given, even
    one that kept the shipped version string with other values. The first start approves the shipped rules in
    the first *active* administrator's name, says so, and reassesses what has not reached an MDT with them."""
    second = add_user(db, actor=first_admin, login="admin-two", display_name="Dr Second Admin", roles=["admin"])
    coordinator = add_user(
        db, actor=first_admin, login="coord-test", display_name="Cora Ordinator", roles=["coordinator"]
    )
    evil = replace(rules, paediatric_age=1)  # kept the version string, dropped the paediatric caution
    child = register_referral(
        db, actor=first_admin, referral=referral(1, patient__date_of_birth="2012-01-01"), rules=evil, as_of=AS_OF
    )
    assert "paediatric" not in get_referral(db, referral_id=child.referral_id).assessment.flags  # type: ignore[union-attr]
    set_active(db, actor=second, login="admin-test", active=False)

    session = start(db, login="coord-test")  # a coordinator happens to open it first
    try:
        assert session.approval.approved_by_login == "admin-two" and session.actor == coordinator
        (event,) = rules_events(db)
        changes = json.loads(event.changes)
        assert event.user_login == "admin-two"
        assert changes["basis"] == [None, BASIS_UPGRADED] and changes["started_by"] == [None, "coord-test"]
        assert changes["in_the_name_of"] == [None, "admin-two"] and changes["reassessed"] == [None, 1]
        assert session.reassessed == 1
        assert "paediatric" in get_referral(db, referral_id=child.referral_id).assessment.flags  # type: ignore[union-attr]
    finally:
        session.close()


@pytest.mark.hazard("H05")
def test_two_desktops_keep_one_approved_rules_set(db: Database, admin: Actor, rules: Rules, tmp_path: Path) -> None:
    """Two desktops of different app versions (each shipping its own rules file) open the same database again and
    again: both use the one approved set, and neither rescores anything on start."""
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    register_referral(db, actor=admin, referral=referral(2, receiving_unit_ods="RQQ07"), rules=rules, as_of=AS_OF)
    newer = tmp_path / "spd-2027.1.toml"
    newer.write_text(edited("spd-2027.1", REDIRECT_ALL).text, encoding="utf-8")
    first = start(db)
    before = current(db)
    try:
        for _ in range(3):
            old_app, new_app = start(db), start(db, shipped=newer)
            assert old_app.approval == new_app.approval == first.approval
            assert old_app.rules.version == new_app.rules.version == "spd-2026.2"
            assert old_app.reassessed == new_app.reassessed == 0
            assert old_app.proposal is None
            assert new_app.proposal is not None and new_app.proposal.proposed.version == "spd-2027.1"
            assert "S2 specialist units offering SPD: RXX01 -> RQQ07" in " ".join(new_app.proposal.changes)
            old_app.close()
            new_app.close()
        assert current(db) == before  # the shipped proposal was never applied
        assert len(approvals(db)) == 1
    finally:
        first.close()


# --- approving --------------------------------------------------------------------------------------------------


def _setup_every_stage(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> dict[str, int]:
    """Referrals received, ready (confirmed), listed, discussed and closed, all assessed with the shipped rules."""
    ids: dict[str, int] = {}
    ids["received"] = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF).referral_id
    for serial, stage in ((2, "ready"), (3, "listed"), (4, "discussed"), (5, "closed")):
        saved = register_referral(db, actor=admin, referral=referral(serial), rules=rules, as_of=AS_OF)
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=saved.version)
        ids[stage] = saved.referral_id
    meeting = meetings.create_meeting(
        db, actor=admin, meeting_date=MEETING_DAY, meeting_time="13:30", attendees=ATTENDEES, today=AS_OF
    ).meeting_id
    for stage in ("listed", "discussed", "closed"):
        meetings.add_case(db, actor=admin, meeting_id=meeting, referral_id=ids[stage])
    for stage in ("discussed", "closed"):
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=meeting,
            referral_id=ids[stage],
            outcome="accept_for_spd",
            rationale="Suitable",
            today=MEETING_DAY,
            checklist=CHECKLIST,
        )
    row = get_referral(db, referral_id=ids["closed"]).row
    change_status(db, actor=consultant, referral_id=ids["closed"], expected_version=row.version, status="closed")
    statuses = {stage: get_referral(db, referral_id=rid).row.status for stage, rid in ids.items()}
    assert statuses == {
        "received": "received",
        "ready": "ready_for_mdt",
        "listed": "listed",
        "discussed": "discussed",
        "closed": "closed",
    }
    return ids


@pytest.mark.hazard("H05", "H16")
def test_approval_reassesses_referrals_not_yet_at_an_mdt_and_no_others(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    ids = _setup_every_stage(db, admin, consultant, rules)
    start(db).close()
    before = current(db)
    proposed = edited("spd-2027.1", REDIRECT_ALL)
    preview = preview_rules(db, actor=admin, proposed=proposed)
    assert preview.approvable and preview.to_reassess == 2

    result = approve_rules(db, actor=admin, proposed=proposed, as_of=AS_OF)

    assert sorted(result.reassessed) == sorted([ids["received"], ids["ready"]])
    assert result.lapsed == (ids["ready"],)  # its confirmed "ready" no longer matches: back to a consultant
    after = current(db)
    for stage in ("received", "ready"):
        assert after[ids[stage]][1] == "spd-2027.1" and after[ids[stage]] != before[ids[stage]]
    for stage in ("listed", "discussed", "closed"):
        assert after[ids[stage]] == before[ids[stage]]  # what the MDT saw stands
    ready = get_referral(db, referral_id=ids["ready"]).row
    assert ready.status == "received" and ready.decided_outcome is None
    assert rules_in_force(db).version == "spd-2027.1"
    event = rules_events(db)[-1]
    changes = json.loads(event.changes)
    assert event.user_login == "admin-test" and changes["version"] == ["spd-2026.2", "spd-2027.1"]
    assert changes["reassessed"] == [None, 2] and changes["decisions_lapsed"] == [None, 1]
    assert "S2 specialist units offering SPD: RXX01 -> RQQ07 (adds RQQ07; removes RXX01)" in changes["changes"][1]


@pytest.mark.hazard("H05")
def test_an_approved_version_with_other_content_is_refused(db: Database, admin: Actor, rules: Rules) -> None:
    """The edited file that kept its version string and dropped the paediatric caution."""
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    start(db).close()
    before = current(db)
    in_force = rules_in_force(db)
    evil = edited("spd-2026.2", ("paediatric_age = 18", "paediatric_age = 2"))
    preview = preview_rules(db, actor=admin, proposed=evil)
    assert not preview.approvable and preview.refusal is not None
    assert "paediatric caution raised under the age of: 18 -> 2" in preview.changes
    with pytest.raises(RulesRefused) as refused:
        approve_rules(db, actor=admin, proposed=evil, as_of=AS_OF)
    message = str(refused.value)
    assert "rules version spd-2026.2 is already approved with other content" in message
    assert in_force.sha256[:12] in message and evil.sha256[:12] in message
    assert rules_in_force(db) == in_force and current(db) == before and len(approvals(db)) == 1


@pytest.mark.hazard("H05")
def test_a_version_keeps_its_content_even_after_other_approvals(db: Database, admin: Actor) -> None:
    start(db).close()
    first = edited("unit-1", REDIRECT_ALL)
    approve_rules(db, actor=admin, proposed=first, as_of=AS_OF)
    approve_rules(db, actor=admin, proposed=edited("unit-2"), as_of=AS_OF)
    with pytest.raises(RulesRefused, match="unit-1 is already approved"):
        approve_rules(
            db, actor=admin, proposed=edited("unit-1", ("oral_min_drugs = 1", "oral_min_drugs = 2")), as_of=AS_OF
        )
    # going back to exactly the rules once approved is a deliberate approval, and allowed
    again = approve_rules(db, actor=admin, proposed=first, as_of=AS_OF)
    assert not again.already_in_force and rules_in_force(db).version == "unit-1"


@pytest.mark.hazard("H05")
def test_approving_the_same_content_again_changes_nothing(db: Database, admin: Actor, rules: Rules) -> None:
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    start(db).close()
    before, events = current(db), len(rules_events(db))
    result = approve_rules(db, actor=admin, proposed=shipped_text(), as_of=AS_OF)
    assert result.already_in_force and result.reassessed == ()
    assert "already the rules in force; nothing changed" in result.summary()
    assert current(db) == before and len(rules_events(db)) == events and len(approvals(db)) == 1
    assert preview_rules(db, actor=admin, proposed=shipped_text()).same_as_in_force


@pytest.mark.hazard("H05", "H15")
def test_only_an_active_administrator_approves(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    start(db).close()
    before = current(db)
    proposed = edited("spd-2027.1", REDIRECT_ALL)
    for who in (coordinator, consultant):
        with pytest.raises(PermissionDenied, match="cannot approve rules: it needs the admin role"):
            approve_rules(db, actor=who, proposed=proposed, as_of=AS_OF)
        assert preview_rules(db, actor=who, proposed=proposed).approvable  # anyone with a role may look
    # an administrator deactivated while their desktop is open is refused from the next action on
    other = add_user(db, actor=admin, login="admin-two", display_name="Second Admin", roles=["admin"])
    set_active(db, actor=other, login="admin-test", active=False)
    with pytest.raises(PermissionDenied, match=r"has no active role \(login 'admin-test', deactivated\)"):
        approve_rules(db, actor=admin, proposed=proposed, as_of=AS_OF)
    set_active(db, actor=other, login="coord-test", active=False)
    with pytest.raises(PermissionDenied, match="has no active role .*cannot see the rules in force"):
        preview_rules(db, actor=coordinator, proposed=proposed)
    assert current(db) == before and rules_in_force(db).version == "spd-2026.2"


@pytest.mark.hazard("H05")
def test_approval_and_reassessment_commit_together_or_not_at_all(
    db: Database, admin: Actor, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    start(db).close()
    before = current(db)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full while writing the audit event")

    monkeypatch.setattr(rules_service, "audit", broken)  # the last write of the approval's transaction
    with pytest.raises(RuntimeError, match="disk full"):
        approve_rules(db, actor=admin, proposed=edited("spd-2027.1", REDIRECT_ALL), as_of=AS_OF)
    assert current(db) == before and len(approvals(db)) == 1 and rules_in_force(db).version == "spd-2026.2"


@pytest.mark.hazard("H05")
@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("version = ", "version = = "), "not valid TOML"),
        (
            ("paediatric_age = 18", "paediatric_age = 18\npaediatric_age_years = 16"),
            "unknown key 'flags.paediatric_age_years'",
        ),
        (("[mdt]", "[mdt]\nquorate = true"), "unknown key 'mdt.quorate'"),
        (("oral_min_drugs = 1\n", ""), "missing key 'refractory.oral_min_drugs'"),
        (
            ("bont_min_cycles = 3 ", "bont_min_cycles = 30 "),
            "'refractory.bont_min_cycles' must be at least 1 and at most 20",
        ),
        (("paediatric_age = 18", "paediatric_age = 99"), "'flags.paediatric_age' must be at least 1 and at most 25"),
        (
            ("rtt_warning_weeks = 12", "rtt_warning_weeks = 20"),
            "'flags.rtt_warning_weeks' must be at least 1 and at most 18",
        ),
        (("waiting_target_weeks = 18", "waiting_target_weeks = 200"), "at least 1 and at most 104 weeks"),
    ],
)
def test_a_bad_rules_file_is_refused_by_name_and_the_rules_in_force_stay(
    db: Database, admin: Actor, rules: Rules, tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF)
    start(db).close()
    before, in_force = current(db), rules_in_force(db)
    path = tmp_path / "unit.toml"
    path.write_text(SHIPPED.replace('"spd-2026.2"', '"unit-9"').replace(*change), encoding="utf-8")
    with pytest.raises(RulesFileError, match=named.replace("(", r"\(")):
        read_rules_file(path)
    assert current(db) == before and rules_in_force(db) == in_force


@pytest.mark.hazard("H05")
def test_tampered_approved_rules_are_refused(db: Database, admin: Actor) -> None:
    """Text edited in the database behind the app no longer matches its SHA-256: nothing is scored with it."""
    start(db).close()
    with db.write() as session:
        session.execute(
            sa.update(ApprovedRulesRow).values(
                content=sa.func.replace(ApprovedRulesRow.content, "paediatric_age = 18", "paediatric_age = 2")
            )
        )
    with pytest.raises(ServiceError, match="do not match their SHA-256"):
        rules_in_force(db)
    with pytest.raises(ServiceError, match="altered outside the app"):
        start(db)


def test_the_rules_in_force_in_one_line(db: Database, admin: Actor) -> None:
    start(db).close()
    approval = rules_in_force(db)
    assert approval.approved_by == "Ada Admin" and approval.approved_by_login == "admin-test"
    from datetime import UTC

    day = approval.approved_at.astimezone(UTC).date()
    assert approval_line(approval, UTC) == f"Rules spd-2026.2 approved by Ada Admin on {day:%d-%b-%Y}"


@pytest.mark.hazard("H05")
def test_a_session_takes_newer_rules_approved_elsewhere_when_it_reloads(db: Database, admin: Actor) -> None:
    mine, other = start(db), start(db)
    try:
        stored = register_referral(mine.db, actor=mine.actor, referral=referral(7), rules=mine.rules, as_of=AS_OF)
        approve_rules(other.db, actor=other.actor, proposed=edited("spd-2027.1", REDIRECT_ALL), as_of=AS_OF)
        assert mine.rules.version == "spd-2026.2"  # loaded when it opened
        with mine.db.write() as session, pytest.raises(rules_service.RulesChanged, match="changed to spd-2027.1"):
            rules_service.require_rules_in_force(session, mine.rules)
        # A save scored with the old rules stores nothing: neither a new referral nor an edit of a stored one.
        before = current(db)
        with pytest.raises(rules_service.RulesChanged, match="nothing was saved"):
            register_referral(mine.db, actor=mine.actor, referral=referral(8), rules=mine.rules, as_of=AS_OF)
        with pytest.raises(rules_service.RulesChanged, match="nothing was saved"):
            update_referral(
                mine.db,
                actor=mine.actor,
                referral_id=stored.referral_id,
                referral=referral(7, clinical_question="Changed question for the stale desktop"),
                expected_version=1,
                rules=mine.rules,
                as_of=AS_OF,
            )
        assert current(db) == before
        assert mine.reload_rules().version == "spd-2027.1" and mine.rules.version == "spd-2027.1"
    finally:
        mine.close()
        other.close()


def test_sign_in_still_refuses_strangers_before_any_approval(db_path: Path) -> None:
    database = Database(parse_database_url(sqlite_url(db_path)))
    sign_in(database, login="admin-test")
    database.dispose()
    from triage_app.services.users import UnknownUser

    with pytest.raises(UnknownUser):
        open_session(sqlite_url(db_path), backup_dir=None, login="stranger", today=AS_OF)


@pytest.mark.hazard("H05")
def test_desktops_starting_together_on_a_new_database_approve_once(db: Database, admin: Actor) -> None:
    import threading

    sessions: list[AppSession] = []
    errors: list[BaseException] = []
    go = threading.Barrier(4)

    def desktop() -> None:
        go.wait()
        try:
            sessions.append(start(db))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=desktop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == [] and len(sessions) == 4
        assert len(approvals(db)) == 1 and len(rules_events(db)) == 1
        assert len({s.approval for s in sessions}) == 1
    finally:
        for session in sessions:
            session.close()
