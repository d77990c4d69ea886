"""The role matrix holds action by action: each action's real service function, called as each kind of user on a
real database (a SQLite file, or a PostgreSQL database with --backend=postgresql), is allowed exactly when services/permissions.py says so, and a refusal changes nothing.

The kinds of user: a coordinator, a consultant, an administrator (admin role only), a configured user with no
role, and a user deactivated after signing in (their desktop still holds every role: the service must check
them as stored now). docs/role-matrix.md is the same table, rendered from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral, referral_json
from triage_app.domain.rules import Rules
from triage_app.services import meetings, queue
from triage_app.services import permissions as perm
from triage_app.services.audit import backup_now, verify_audit_trail
from triage_app.services.demo import load_demo
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.exports import export_agenda_file, export_letters, make_agenda
from triage_app.services.referrals import (
    get_referral,
    import_referrals,
    list_queue,
    patient_referrals,
    register_referral,
    update_referral,
)
from triage_app.services.triage import change_status, decide_triage
from triage_app.services.users import (
    Actor,
    UnknownUser,
    add_user,
    list_users,
    set_active,
    set_display_name,
    set_roles,
    sign_in,
)
from triage_app.storage.engine import Database

ALL_ROLES = ["coordinator", "consultant", "admin"]
KINDS = ("coordinator", "consultant", "admin", "no role", "deactivated")
ROLE_OF_KIND = {"coordinator": "coordinator", "consultant": "consultant", "admin": "admin"}

Perform = Callable[[Actor], object]


@dataclass
class World:
    """A real database set up by the all-roles first user, for one action's calls."""

    db: Database
    admin: Actor
    rules: Rules
    tmp_path: Path
    serial: int = 100

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def referral(self) -> int:
        saved = register_referral(
            self.db, actor=self.admin, referral=referral(self.next_serial()), rules=self.rules, as_of=AS_OF
        )
        return saved.referral_id

    def version(self, referral_id: int) -> int:
        return get_referral(self.db, referral_id=referral_id).row.version

    def confirmed(self) -> int:
        referral_id = self.referral()
        decide_triage(self.db, actor=self.admin, referral_id=referral_id, expected_version=self.version(referral_id))
        return referral_id

    def meeting(self) -> int:
        return meetings.create_meeting(
            self.db, actor=self.admin, meeting_date=AS_OF, meeting_time="13:30", today=AS_OF, allow_same_time=True
        ).meeting_id

    def listed(self) -> tuple[int, int]:
        referral_id, meeting_id = self.confirmed(), self.meeting()
        meetings.add_case(self.db, actor=self.admin, meeting_id=meeting_id, referral_id=referral_id)
        return meeting_id, referral_id

    def decided(self) -> tuple[int, int]:
        meeting_id, referral_id = self.listed()
        meetings.record_outcome(
            self.db,
            actor=self.admin,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome="decline",
            rationale="Invented rationale for the test",
            today=AS_OF,
        )
        return meeting_id, referral_id

    def case_version(self, meeting_id: int, referral_id: int) -> int:
        detail = meetings.get_meeting(self.db, meeting_id=meeting_id, rules=self.rules)
        return next(c.version for c in detail.cases if c.referral_id == referral_id)

    def out(self, name: str) -> Path:
        folder = self.tmp_path / "out"
        folder.mkdir(exist_ok=True)
        return folder / name


def _move(world: World, referral_id: int, status: str, note: str | None = None) -> Perform:
    return lambda actor: change_status(
        world.db,
        actor=actor,
        referral_id=referral_id,
        expected_version=world.version(referral_id),
        status=status,
        note=note,
    )


# --- each action: setting up the state, then the service calls that do it --------------------------------------


def _view_queue(w: World) -> list[Perform]:
    w.referral()
    everything = queue.QueueFilter()
    return [
        lambda a: queue.snapshot(
            w.db, queue_filter=everything, sort="priority", descending=True, page_size=10, actor=a
        ),
        lambda a: queue.all_ids(w.db, queue_filter=everything, sort="priority", descending=True, actor=a),
        lambda a: queue.page(w.db, ids=[1], actor=a),
        lambda a: queue.counts(w.db, actor=a),
        lambda a: list_queue(w.db, actor=a),
    ]


def _view_referral(w: World) -> list[Perform]:
    referral_id = w.referral()
    nhs = get_referral(w.db, referral_id=referral_id).row.nhs_number
    assert nhs is not None
    return [
        lambda a: get_referral(w.db, referral_id=referral_id, actor=a),
        lambda a: patient_referrals(w.db, nhs_number=nhs, actor=a),
    ]


def _enter_referral(w: World) -> list[Perform]:
    return [lambda a: register_referral(w.db, actor=a, referral=referral(w.next_serial()), rules=w.rules, as_of=AS_OF)]


def _edit_referral(w: World) -> list[Perform]:
    referral_id = w.referral()

    def edit(actor: Actor) -> object:
        stored = get_referral(w.db, referral_id=referral_id)
        return update_referral(
            w.db,
            actor=actor,
            referral_id=referral_id,
            expected_version=stored.row.version,
            referral=replace(stored.referral, clinical_question=f"Edited by {actor.login}"),
            rules=w.rules,
            as_of=AS_OF,
        )

    return [edit]


def _import_referrals(w: World) -> list[Perform]:
    return [
        lambda a: import_referrals(w.db, actor=a, records=[referral_json(w.next_serial())], rules=w.rules, as_of=AS_OF)
    ]


def _awaiting_information(w: World) -> list[Perform]:
    to_awaiting = w.referral()
    back = w.referral()
    change_status(w.db, actor=w.admin, referral_id=back, expected_version=1, status="awaiting_information")
    return [_move(w, to_awaiting, "awaiting_information"), _move(w, back, "received")]


def _confirm_triage(w: World) -> list[Perform]:
    referral_id = w.referral()
    return [lambda a: decide_triage(w.db, actor=a, referral_id=referral_id, expected_version=w.version(referral_id))]


def _override_triage(w: World) -> list[Perform]:
    referral_id = w.referral()
    return [
        lambda a: decide_triage(
            w.db,
            actor=a,
            referral_id=referral_id,
            expected_version=w.version(referral_id),
            override_outcome="needs_information",
            reason="Invented reason: ask for the swallow study",
        )
    ]


def _reverse_triage_status(w: World) -> list[Perform]:
    # Reversing "ready for MDT": a consultant's decision is undone only by a consultant.
    return [_move(w, w.confirmed(), "received"), _move(w, w.confirmed(), "awaiting_information")]


def _close_undiscussed(w: World) -> list[Perform]:
    return [_move(w, w.referral(), "closed", "Invented reason: moved out of the area")]


def _close_discussed(w: World) -> list[Perform]:
    _, referral_id = w.decided()
    return [_move(w, referral_id, "closed")]


def _reopen(w: World) -> list[Perform]:
    referral_id = w.referral()
    change_status(w.db, actor=w.admin, referral_id=referral_id, expected_version=1, status="closed", note="Invented")
    return [_move(w, referral_id, "received")]


def _view_meetings(w: World) -> list[Perform]:
    meeting_id, _ = w.listed()
    return [
        lambda a: meetings.list_meetings(w.db, rules=w.rules, actor=a),
        lambda a: meetings.get_meeting(w.db, meeting_id=meeting_id, rules=w.rules, actor=a),
        lambda a: meetings.capacity(w.db, actor=a),
        lambda a: meetings.agenda_inputs(w.db, meeting_id=meeting_id, actor=a),
        lambda a: meetings.ready_referral_ids(w.db, actor=a),
    ]


def _plan_meeting(w: World) -> list[Perform]:
    meeting_id, listed = w.listed()
    ready = w.confirmed()
    other = w.meeting()
    return [
        lambda a: meetings.create_meeting(w.db, actor=a, meeting_date=AS_OF, meeting_time="09:00", today=AS_OF),
        lambda a: meetings.reorder(w.db, actor=a, meeting_id=meeting_id, referral_ids=[listed]),
        lambda a: meetings.circulate(w.db, actor=a, meeting_id=meeting_id),
        lambda a: meetings.add_case(w.db, actor=a, meeting_id=meeting_id, referral_id=ready),
        lambda a: meetings.remove_case(w.db, actor=a, meeting_id=meeting_id, referral_id=ready),
        lambda a: meetings.fill_to_capacity(w.db, actor=a, meeting_id=meeting_id),
        lambda a: meetings.cancel_meeting(w.db, actor=a, meeting_id=other),
    ]


def _set_meeting_capacity(w: World) -> list[Perform]:
    return [lambda a: meetings.set_capacity(w.db, actor=a, cases=6)]


def _record_outcome(w: World) -> list[Perform]:
    meeting_id, referral_id = w.listed()
    return [
        lambda a: meetings.record_outcome(
            w.db,
            actor=a,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome="refer_for_dbs_assessment",
            rationale="Invented rationale",
            today=AS_OF,
        )
    ]


def _amend_outcome(w: World) -> list[Perform]:
    meeting_id, referral_id = w.decided()
    return [
        lambda a: meetings.record_outcome(
            w.db,
            actor=a,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome="continue_best_medical_treatment",
            rationale="Invented amended rationale",
            today=AS_OF,
            expected_version=w.case_version(meeting_id, referral_id),
            amend_reason="Invented: the minutes were corrected",
        )
    ]


def _export_agenda(w: World) -> list[Perform]:
    meeting_id, _ = w.listed()
    return [
        lambda a: export_agenda_file(
            w.db, actor=a, meeting_id=meeting_id, fmt="csv", out=w.out(f"agenda-{a.login}.csv")
        ),
        lambda a: make_agenda(w.db, meeting_id=meeting_id, actor=a),  # the print preview's
    ]


def _export_outcomes(w: World) -> list[Perform]:
    meeting_id, _ = w.decided()
    return [
        lambda a: export_agenda_file(
            w.db,
            actor=a,
            meeting_id=meeting_id,
            fmt="csv",
            out=w.out(f"outcomes-{a.login}.csv"),
            outcomes=True,
            today=AS_OF,
        )
    ]


def _export_letters(w: World) -> list[Perform]:
    meeting_id, _ = w.decided()

    def write(actor: Actor) -> object:
        folder = w.out(f"letters-{actor.login}")
        folder.mkdir()
        return export_letters(w.db, actor=actor, meeting_id=meeting_id, fmt="docx", out_dir=folder, today=AS_OF)

    return [write]


def _view_users(w: World) -> list[Perform]:
    return [lambda a: list_users(w.db, actor=a)]


def _manage_users(w: World) -> list[Perform]:
    add_user(w.db, actor=w.admin, login="someone-test", display_name="Sam Someone", roles=["coordinator"])
    return [
        lambda a: add_user(w.db, actor=a, login=f"new-{a.login}", display_name="Nia New", roles=["coordinator"]),
        lambda a: set_roles(w.db, actor=a, login="someone-test", roles=["coordinator", "consultant"]),
        lambda a: set_display_name(w.db, actor=a, login="someone-test", display_name="Dr Sam Someone"),
        lambda a: set_active(w.db, actor=a, login="someone-test", active=False),
        lambda a: set_active(w.db, actor=a, login="someone-test", active=True),
    ]


def _rename_self(w: World) -> list[Perform]:
    return [lambda a: set_display_name(w.db, actor=a, login=a.login, display_name=f"Renamed {a.login}")]


def _load_demo(w: World) -> list[Perform]:
    return [lambda a: load_demo(w.db, actor=a, rules=w.rules, as_of=AS_OF, count=3)]


def _backup(w: World) -> list[Perform]:
    def back_up(actor: Actor) -> object:
        try:
            return backup_now(w.db, actor=actor, backup_dir=w.tmp_path / "backups", out=w.out(f"{actor.login}.sqlite3"))
        except PermissionDenied:
            raise
        except ServiceError as error:
            # a server is backed up by its own tools: said to an allowed user, after the role check
            if w.db.location.path is not None or "made by its own tools (pg_dump)" not in str(error):
                raise
            return None

    return [back_up]


def _audit_verify(w: World) -> list[Perform]:
    return [lambda a: verify_audit_trail(w.db, actor=a)]


def _score(w: World) -> list[Perform]:
    # Scoring stores nothing and needs no database: the check lets everyone through, signed in or not.
    return [lambda a: perm.authorize(a, perm.SCORE, db=w.db)]


SCENARIOS: dict[str, Callable[[World], list[Perform]]] = {
    perm.SCORE: _score,
    perm.VIEW_QUEUE: _view_queue,
    perm.VIEW_REFERRAL: _view_referral,
    perm.ENTER_REFERRAL: _enter_referral,
    perm.EDIT_REFERRAL: _edit_referral,
    perm.IMPORT_REFERRALS: _import_referrals,
    perm.AWAITING_INFORMATION: _awaiting_information,
    perm.CONFIRM_TRIAGE: _confirm_triage,
    perm.OVERRIDE_TRIAGE: _override_triage,
    perm.REVERSE_TRIAGE_STATUS: _reverse_triage_status,
    perm.CLOSE_UNDISCUSSED: _close_undiscussed,
    perm.CLOSE_DISCUSSED: _close_discussed,
    perm.REOPEN: _reopen,
    perm.VIEW_MEETINGS: _view_meetings,
    perm.PLAN_MEETING: _plan_meeting,
    perm.SET_MEETING_CAPACITY: _set_meeting_capacity,
    perm.RECORD_OUTCOME: _record_outcome,
    perm.AMEND_OUTCOME: _amend_outcome,
    perm.EXPORT_AGENDA: _export_agenda,
    perm.EXPORT_OUTCOMES: _export_outcomes,
    perm.EXPORT_LETTERS: _export_letters,
    perm.VIEW_USERS: _view_users,
    perm.MANAGE_USERS: _manage_users,
    perm.RENAME_SELF: _rename_self,
    perm.LOAD_DEMO: _load_demo,
    perm.BACKUP: _backup,
    perm.AUDIT_VERIFY: _audit_verify,
}
#: Actions whose service belongs to another part of the app, proved by its own tests (named here).
ELSEWHERE = {
    perm.VIEW_RULES: "services/rules.py (tests/services/test_rules_governance.py)",
    perm.APPROVE_RULES: "services/rules.py (tests/services/test_rules_governance.py)",
    perm.REASSESS: "services/referrals.reassess_open, run for whoever signs in (tests/cli/test_score_import_queue.py)",
    perm.CHECK_DATABASE: "services/maintenance.check_database, read-only on a damaged file (tests/storage/test_backups.py)",
    perm.RESTORE_BACKUP: "services/maintenance.restore_backup, signed in from a file (tests/storage/test_backups.py)",
    perm.CHASE_INFORMATION: "services/chase.py, each kind of user (tests/services/test_chase.py)",
    perm.COMPLETE_ACTION: "services/chase.complete_action, each kind of user (tests/services/test_chase.py)",
}


def test_every_action_of_the_matrix_is_tried_here() -> None:
    assert set(SCENARIOS) | set(ELSEWHERE) == set(perm.ACTIONS)
    assert not set(SCENARIOS) & set(ELSEWHERE)


def _user(db: Database, admin: Actor, coordinator: Actor, consultant: Actor, kind: str) -> Actor:
    if kind == "coordinator":
        return coordinator
    if kind == "consultant":
        return consultant
    if kind == "admin":
        return add_user(db, actor=admin, login="adminonly-test", display_name="Ivo Adminsson", roles=["admin"])
    if kind == "no role":
        return add_user(db, actor=admin, login="nobody-test", display_name="Norris Nobody", roles=[])
    # Signed in with every role, then deactivated by an administrator while their desktop stays open.
    gone = add_user(db, actor=admin, login="gone-test", display_name="Gil Gone", roles=ALL_ROLES)
    set_active(db, actor=admin, login="gone-test", active=False)
    return gone


def _audit_events(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one())


def _files(folder: Path) -> list[str]:
    """Files written where the actions write (exports, letters, backups), not the database's own folder."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "data" not in p.parts)


@pytest.mark.hazard("H15")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_action_as_each_kind_of_user(
    db: Database,
    admin: Actor,
    coordinator: Actor,
    consultant: Actor,
    rules: Rules,
    tmp_path: Path,
    name: str,
    kind: str,
) -> None:
    wanted = perm.action(name)
    user = _user(db, admin, coordinator, consultant, kind)
    world = World(db, admin, rules, tmp_path)
    performers = SCENARIOS[name](world)
    role = ROLE_OF_KIND.get(kind)
    allowed = wanted.anyone or (role is not None and role in wanted.roles)
    assert perm.actor_may(user, name) == (allowed or kind == "deactivated")  # the GUI sees the sign-in's roles
    for perform in performers:
        if allowed:
            perform(user)  # allowed, and the call does what it does
            continue
        events, files = _audit_events(db), _files(tmp_path)
        with pytest.raises(PermissionDenied) as refused:
            perform(user)
        message = str(refused.value)
        assert user.display_name in message and f"login '{user.login}'" in message
        assert wanted.label in message and f"it needs the {wanted.allowed()} role" in message
        if kind == "no role":
            assert "has no active role" in message
        elif kind == "deactivated":
            assert "has no active role" in message and "deactivated" in message
        else:
            assert f"(login '{user.login}', {role})" in message
        assert _audit_events(db) == events, "a refused action changed the database"
        assert _files(tmp_path) == files, "a refused action wrote a file"


@pytest.mark.hazard("H15")
def test_the_matrix_gives_each_role_what_safety_md_says() -> None:
    def roles(name: str) -> set[str]:
        return set(perm.action(name).roles)

    for consultant_action in (
        perm.CONFIRM_TRIAGE,
        perm.OVERRIDE_TRIAGE,
        perm.RECORD_OUTCOME,
        perm.AMEND_OUTCOME,
        perm.CLOSE_UNDISCUSSED,
        perm.REVERSE_TRIAGE_STATUS,
    ):
        assert roles(consultant_action) == {"consultant"}, consultant_action
    for coordinator_action in (
        perm.ENTER_REFERRAL,
        perm.EDIT_REFERRAL,
        perm.IMPORT_REFERRALS,
        perm.AWAITING_INFORMATION,
        perm.PLAN_MEETING,
        perm.EXPORT_AGENDA,
    ):
        assert roles(coordinator_action) == {"coordinator"}, coordinator_action
    for admin_action in (perm.MANAGE_USERS, perm.APPROVE_RULES, perm.SET_MEETING_CAPACITY, perm.LOAD_DEMO):
        assert roles(admin_action) == {"admin"}, admin_action
    # Patient data leaves the app only for the roles that take part in the patients' care.
    for export in (perm.EXPORT_AGENDA, perm.EXPORT_OUTCOMES, perm.EXPORT_LETTERS):
        assert "admin" not in roles(export) and roles(export)
    assert [a.name for a in perm.MATRIX if a.anyone] == [perm.SCORE]


@pytest.mark.hazard("H15")
@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("received", "awaiting_information", perm.AWAITING_INFORMATION),
        ("awaiting_information", "received", perm.AWAITING_INFORMATION),
        ("ready_for_mdt", "received", perm.REVERSE_TRIAGE_STATUS),
        ("ready_for_mdt", "awaiting_information", perm.REVERSE_TRIAGE_STATUS),
        ("redirected", "received", perm.REVERSE_TRIAGE_STATUS),
        ("not_yet_refractory", "received", perm.REVERSE_TRIAGE_STATUS),
        ("received", "closed", perm.CLOSE_UNDISCUSSED),
        ("ready_for_mdt", "closed", perm.CLOSE_UNDISCUSSED),
        ("discussed", "closed", perm.CLOSE_DISCUSSED),
        ("closed", "received", perm.REOPEN),
        ("received", "ready_for_mdt", None),  # a triage decision: confirm or override
        ("ready_for_mdt", "listed", None),  # the meeting window's
        ("discussed", "listed", None),
    ],
)
def test_each_status_move_is_an_action_of_the_matrix(source: str, target: str, expected: str | None) -> None:
    assert perm.status_move_action(source, target) == expected


@pytest.mark.hazard("H15")
def test_a_coordinator_cannot_close_an_untriaged_referral_nor_undo_ready_for_mdt(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules
) -> None:
    # The gaps this matrix closes: a coordinator closed a referral no consultant triaged, and reversed "ready".
    untriaged = register_referral(db, actor=coordinator, referral=referral(1), rules=rules, as_of=AS_OF).referral_id
    ready = register_referral(db, actor=coordinator, referral=referral(2), rules=rules, as_of=AS_OF).referral_id
    decided = decide_triage(db, actor=consultant, referral_id=ready, expected_version=1)
    with pytest.raises(PermissionDenied, match=r"Cora Ordinator \(login 'coord-test', coordinator\) cannot close"):
        change_status(db, actor=coordinator, referral_id=untriaged, expected_version=1, status="closed", note="x")
    for target in ("received", "awaiting_information"):
        with pytest.raises(PermissionDenied, match="it needs the consultant role"):
            change_status(db, actor=coordinator, referral_id=ready, expected_version=decided.version, status=target)
    assert get_referral(db, referral_id=untriaged).row.status == "received"
    assert get_referral(db, referral_id=ready).row.decided_outcome == "ready_for_mdt"
    closed = change_status(db, actor=consultant, referral_id=untriaged, expected_version=1, status="closed", note="x")
    assert closed.status == "closed"


@pytest.mark.hazard("H15", "H12")
def test_a_user_with_no_active_role_cannot_sign_in(db: Database, admin: Actor) -> None:
    add_user(db, actor=admin, login="nobody-test", display_name="Norris Nobody", roles=[])
    with pytest.raises(UnknownUser, match="'nobody-test' has no role in this triage database"):
        sign_in(db, login="nobody-test")
    add_user(db, actor=admin, login="gone-test", display_name="Gil Gone", roles=ALL_ROLES)
    set_active(db, actor=admin, login="gone-test", active=False)
    with pytest.raises(UnknownUser, match="deactivated"):
        sign_in(db, login="gone-test")


@pytest.mark.hazard("H15", "H12")
def test_a_role_taken_away_while_signed_in_stops_the_next_action(
    db: Database, admin: Actor, consultant: Actor, rules: Rules
) -> None:
    referral_id = register_referral(db, actor=admin, referral=referral(1), rules=rules, as_of=AS_OF).referral_id
    set_roles(db, actor=admin, login="cons-test", roles=["coordinator"])
    assert consultant.has("consultant")  # the desktop's sign-in still says consultant
    with pytest.raises(PermissionDenied, match=r"Dr Con Sultant \(login 'cons-test', coordinator\) cannot confirm"):
        decide_triage(db, actor=consultant, referral_id=referral_id, expected_version=1)
    assert get_referral(db, referral_id=referral_id).row.decided_outcome is None


@pytest.mark.hazard("H15", "H12")
def test_an_actor_for_another_login_is_refused(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> None:
    # An Actor naming a user id but another login (made up, not signed in) is nobody this database knows.
    forged = replace(consultant, login="intruder")
    with pytest.raises(PermissionDenied, match="no longer a user of this database"):
        register_referral(db, actor=forged, referral=referral(1), rules=rules, as_of=AS_OF)


@pytest.mark.hazard("H15")
def test_docs_role_matrix_is_the_matrix_in_the_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "role-matrix.md").read_text(encoding="utf-8")
    table = perm.render_matrix()
    assert table in doc, "docs/role-matrix.md differs from services/permissions.py: paste render_matrix() in"
