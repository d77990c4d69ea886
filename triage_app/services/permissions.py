"""Who may do what: one table of every action the app offers, and the one check every use case makes.

Why one module (a little over 400 lines): the role matrix is one table read as a whole, by people reviewing who
may do what as much as by the code; split, a reviewer would have to put it back together.

The roles come from safety.md ("Who is signed in"):

- consultants confirm or override a triage, record or amend an MDT outcome, make the decisions letters are
  signed for, and close a referral the MDT never discussed (with a written reason);
- coordinators enter and edit referrals, move a referral to awaiting information and back, plan meetings and
  export agendas;
- administrators manage users and roles, approve rules, change settings and load demo data;
- a user with no active role (none given, or deactivated) can do none of these, nor export patient data.

Roles do not nest: a consultant is not also a coordinator unless given both roles (the first user of a new
database holds all three, so a single-user install works at once). Choices safety.md leaves open, made here:

- Viewing (the queue, a referral, meetings, users, the rules) needs an active role: patient data is shown only
  to someone the unit has given a part in the work. Sign-in refuses a user with no active role, so neither the
  desktop nor a command opens for them.
- Outcome summaries and letters may be written by coordinators (who send them) and consultants. A letter is
  always signed by the consultant who recorded the outcome, whoever writes the file, so writing one never
  signs in someone else's name.
- An administrator who is neither coordinator nor consultant exports no patient data (agendas, outcome
  summaries, letters): administering the app is not a part in the patients' care.
- Backups, reassessment under the approved rules and checking the audit trail need any active role: they
  change no clinical fact, and a backup protects against losing referrals (whoever can open the app can
  already read the database file).
- Scoring a file stores nothing and needs no database: anyone may.
- Checking the database (`triage-app check`) needs any active role: it shows counts and damage, no patient
  data. On a database too damaged for its user table to be read, the check still runs (finding the damage is
  its purpose) and says that who ran it could not be checked.
- Restoring a backup replaces every record of the unit: administrators only. The administrator is looked up in
  the current database when its user table can be read, otherwise in the backup's (the database that will be
  used from then on): services/maintenance.py.

`authorize(actor, action)` raises `PermissionDenied` naming the user, their roles, the action and the roles
that may do it; `actor_may(actor, action)` answers the same question for the GUI to enable or disable
controls. Given the database (`db=`) or the caller's write transaction (`session=`), `authorize` checks the
user as stored now, not as they were when they signed in: a user deactivated or stripped of a role while their
desktop is open is refused from their next action on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Select, Table, bindparam, select
from sqlmodel import Session

from triage_app.domain.workflow import (
    ADMIN,
    CLOSED,
    CONSULTANT,
    COORDINATOR,
    MOVE_BY_COORDINATOR,
    MOVE_BY_DECISION,
    MOVE_BY_MEETING,
    ROLES,
    move_needs_reason,
    move_rule,
)
from triage_app.services.errors import PermissionDenied
from triage_app.storage.engine import Database
from triage_app.storage.models import AppUser, UserRole

if TYPE_CHECKING:  # users.py imports this module: the Actor class is only named here, never needed at run time
    from triage_app.services.users import Actor

ANY_ROLE: Final = frozenset(ROLES)
ANYONE: Final = "anyone"  # shown in the table for an action that needs no sign-in


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a user can do: who may, and where in the app it is done."""

    name: str
    label: str  # reads after "cannot": "confirm a triage decision"
    roles: frozenset[str]  # the roles that may; empty with `anyone` for an action that needs no sign-in
    cli: str  # the command that does it ("" when only the desktop does)
    gui: str  # the desktop control that does it ("" when only the command line does)
    anyone: bool = False

    def allowed(self) -> str:
        """The roles that may, in words, in a fixed order: `coordinator or consultant`."""
        if self.anyone:
            return ANYONE
        names = [r for r in ROLES if r in self.roles]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


# --- the actions --------------------------------------------------------------------------------------------------

SCORE: Final = "score"
VIEW_QUEUE: Final = "view_queue"
VIEW_REFERRAL: Final = "view_referral"
ENTER_REFERRAL: Final = "enter_referral"
EDIT_REFERRAL: Final = "edit_referral"
IMPORT_REFERRALS: Final = "import_referrals"
AWAITING_INFORMATION: Final = "awaiting_information"
CHASE_INFORMATION: Final = "chase_information"
COMPLETE_ACTION: Final = "complete_action"
CONFIRM_TRIAGE: Final = "confirm_triage"
OVERRIDE_TRIAGE: Final = "override_triage"
REVERSE_TRIAGE_STATUS: Final = "reverse_triage_status"
CLOSE_UNDISCUSSED: Final = "close_undiscussed"
CLOSE_DISCUSSED: Final = "close_discussed"
REOPEN: Final = "reopen"
VIEW_MEETINGS: Final = "view_meetings"
PLAN_MEETING: Final = "plan_meeting"
SET_MEETING_CAPACITY: Final = "set_meeting_capacity"
RECORD_OUTCOME: Final = "record_outcome"
AMEND_OUTCOME: Final = "amend_outcome"
EXPORT_AGENDA: Final = "export_agenda"
EXPORT_OUTCOMES: Final = "export_outcomes"
EXPORT_LETTERS: Final = "export_letters"
VIEW_USERS: Final = "view_users"
MANAGE_USERS: Final = "manage_users"
RENAME_SELF: Final = "rename_self"
VIEW_RULES: Final = "view_rules"
APPROVE_RULES: Final = "approve_rules"
LOAD_DEMO: Final = "load_demo"
BACKUP: Final = "backup"
REASSESS: Final = "reassess"
AUDIT_VERIFY: Final = "audit_verify"
CHECK_DATABASE: Final = "check_database"
RESTORE_BACKUP: Final = "restore_backup"

_C, _K, _A = frozenset({COORDINATOR}), frozenset({CONSULTANT}), frozenset({ADMIN})
_CK = _C | _K
_STATUS = "triage-app referral status REFERRAL --to"
_PANEL = "Triage panel: status choice, Move"

#: The role matrix: every action of the desktop and the command line, in the order the docs list them.
MATRIX: Final[tuple[Action, ...]] = (
    Action(SCORE, "score a referral file (stores nothing)", frozenset(), "triage-app score FILE", "", anyone=True),
    Action(
        VIEW_QUEUE,
        "see the referral queue",
        ANY_ROLE,
        "triage-app queue",
        "Main window: the queue, its views and counts",
    ),
    Action(
        VIEW_REFERRAL,
        "see a referral",
        ANY_ROLE,
        "triage-app referral show REFERRAL",
        "Triage panel (the whole referral, its criteria and history)",
    ),
    Action(ENTER_REFERRAL, "enter a referral", _C, "", "File > New referral… (Ctrl+N)"),
    Action(
        EDIT_REFERRAL,
        "edit a referral",
        _C,
        "triage-app referral edit REFERRAL FILE --version N",
        "Triage panel: Edit referral; Referral > Open referral (Enter); the referral form: Save (Ctrl+S)",
    ),
    Action(IMPORT_REFERRALS, "import referrals", _C, "triage-app import FILE", ""),
    Action(
        AWAITING_INFORMATION,
        "move a referral to awaiting information, or back to received",
        _C,
        f"{_STATUS} awaiting_information (or received); triage-app chase await REFERRAL [--chase-on DATE]",
        f"{_PANEL} (Awaiting information asks what is awaited and the chase date); Chase list: Back to the queue",
    ),
    Action(
        CHASE_INFORMATION,
        "chase a referral awaiting information (its chase date, a chase recorded, the request to the referrer)",
        _C,
        "triage-app chase date (or chased, request) REFERRAL",
        "Meeting > Chase list and MDT actions… (Ctrl+Shift+H): New chase date…, Chased today, Request letter…",
    ),
    Action(
        CONFIRM_TRIAGE,
        "confirm a triage decision",
        _K,
        "triage-app triage confirm REFERRAL",
        "Referral > Confirm triage (Ctrl+Shift+C); triage panel: Confirm triage",
    ),
    Action(
        OVERRIDE_TRIAGE,
        "override a triage decision",
        _K,
        "triage-app triage override REFERRAL --outcome O --reason TEXT",
        "Referral > Override triage… (Ctrl+Shift+O); triage panel: Override…",
    ),
    Action(
        REVERSE_TRIAGE_STATUS,
        "move a triaged referral back to received or to awaiting information",
        _K,
        f"{_STATUS} received (or awaiting_information)",
        _PANEL,
    ),
    Action(
        CLOSE_UNDISCUSSED,
        "close a referral the MDT never discussed (with a written reason)",
        _K,
        f"{_STATUS} closed --reason TEXT",
        f"{_PANEL} (Closed asks for the reason)",
    ),
    Action(CLOSE_DISCUSSED, "close a referral the MDT discussed", _K, f"{_STATUS} closed", _PANEL),
    Action(REOPEN, "reopen a closed referral", _K, f"{_STATUS} received", _PANEL),
    Action(
        VIEW_MEETINGS,
        "see MDT meetings",
        ANY_ROLE,
        "triage-app meeting list (or show MEETING, capacity)",
        "Meeting > MDT meetings… (Ctrl+M)",
    ),
    Action(
        PLAN_MEETING,
        "plan MDT meetings (create, add, remove, fill, reorder, circulate, cancel)",
        _C,
        "triage-app meeting create (or fill, circulate, cancel MEETING)",
        "MDT meetings: New meeting…, Add →, ← Remove, Fill to capacity, Move up, Move down, dragging, Mark agenda circulated, Cancel meeting",
    ),
    Action(SET_MEETING_CAPACITY, "change the cases per meeting", _A, "triage-app meeting capacity N", ""),
    Action(
        RECORD_OUTCOME,
        "record an MDT outcome",
        _K,
        "triage-app meeting outcome MEETING REFERRAL --outcome O --rationale TEXT",
        "MDT meetings, In the meeting: Record outcome (Ctrl+Enter)",
    ),
    Action(
        AMEND_OUTCOME,
        "amend a recorded MDT outcome (with a reason)",
        _K,
        "triage-app meeting outcome MEETING REFERRAL ... --version N --amend-reason TEXT",
        "MDT meetings, In the meeting: the reason for amending, Record outcome",
    ),
    Action(
        COMPLETE_ACTION,
        "tick off an MDT action as done",
        _CK,
        "triage-app actions done ACTION",
        "Meeting > Chase list and MDT actions… (Ctrl+Shift+H), MDT actions: Done",
    ),
    Action(
        EXPORT_AGENDA,
        "export or print an agenda",
        _C,
        "triage-app agenda MEETING --format F --out FILE",
        "MDT meetings: Export agenda…, Print preview…",
    ),
    Action(
        EXPORT_OUTCOMES,
        "export an outcome summary",
        _CK,
        "triage-app outcomes MEETING --format F --out FILE",
        "MDT meetings: Export outcome summary…",
    ),
    Action(
        EXPORT_LETTERS,
        "write outcome letters (each signed by the consultant who recorded the outcome)",
        _CK,
        "triage-app letters MEETING --format F --out-dir DIR",
        "MDT meetings: Outcome letters…",
    ),
    Action(VIEW_USERS, "see the users and their roles", ANY_ROLE, "triage-app user list", ""),
    Action(
        MANAGE_USERS,
        "manage users",
        _A,
        "triage-app user add (or roles, deactivate, activate, name ANOTHER-LOGIN)",
        "File > Users and roles…",
    ),
    Action(RENAME_SELF, "change their own name", ANY_ROLE, "triage-app user name OWN-LOGIN --name N", ""),
    Action(
        VIEW_RULES,
        "see the rules in force and what a rules file would change",
        ANY_ROLE,
        "triage-app rules show (or diff FILE)",
        "File > Rules in force…",
    ),
    Action(APPROVE_RULES, "approve rules", _A, "triage-app rules approve FILE", "File > Rules in force…: Approve"),
    Action(
        LOAD_DEMO,
        "load demo data (only into a database with no real referrals)",
        _A,
        "triage-app demo",
        "File > Load demo data…; Load demo data on the empty queue",
    ),
    Action(BACKUP, "back up the database", ANY_ROLE, "triage-app backup", "File > Back up database now"),
    Action(
        REASSESS,
        "reassess open referrals under the approved rules",
        ANY_ROLE,
        "triage-app reassess",
        "on approving rules (the Rules in force dialog), for referrals not yet at an MDT",
    ),
    Action(AUDIT_VERIFY, "check the audit trail", ANY_ROLE, "triage-app audit verify", ""),
    Action(
        CHECK_DATABASE,
        "check the database and its backups (integrity, row counts; no patient data shown)",
        ANY_ROLE,
        "triage-app check",
        "",
    ),
    Action(
        RESTORE_BACKUP,
        "restore a backup (the current file is kept aside)",
        _A,
        "triage-app restore BACKUP",
        "",
    ),
)

ACTIONS: Final[dict[str, Action]] = {a.name: a for a in MATRIX}


def action(name: str) -> Action:
    """The action called `name`; a `KeyError` names an action missing from the matrix (a programming error)."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise KeyError(f"'{name}' is not an action of the role matrix (services/permissions.py)") from None


def status_move_action(source: str, target: str) -> str | None:
    """The action a plain status move `source` -> `target` is; None when it is not a plain move.

    `domain.workflow.move_rule` says what kind of move it is (a meeting's, a triage decision's, or a plain
    one); who may make a plain one is the matrix's.
    """
    rule = move_rule(source, target)
    if rule in (MOVE_BY_MEETING, MOVE_BY_DECISION):
        return None
    if rule == MOVE_BY_COORDINATOR:
        return AWAITING_INFORMATION
    if target == CLOSED:
        return CLOSE_UNDISCUSSED if move_needs_reason(source, target) else CLOSE_DISCUSSED
    if source == CLOSED:
        return REOPEN
    return REVERSE_TRIAGE_STATUS


# --- the check ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Standing:
    """A user as stored now: whether they are active, and their roles."""

    exists: bool
    active: bool
    roles: frozenset[str]


def _standing_query() -> Select[Any]:
    """The user's login, whether active, and each role: one row a role (one with role NULL if none)."""
    users: Table = AppUser.__table__  # type: ignore[attr-defined]
    roles: Table = UserRole.__table__  # type: ignore[attr-defined]
    return (
        select(users.c.login, users.c.is_active, roles.c.role)
        .select_from(users.outerjoin(roles, roles.c.user_id == users.c.id))
        .where(users.c.id == bindparam("user_id"))
    )


_STANDING = _standing_query()  # built once: an import asks it every transaction


def _standing(session: Session, actor: Actor) -> _Standing:
    # One Core statement on the session's connection (in its transaction; the ORM's autoflush first, so a change
    # this session made to the user counts): the user and their roles as stored now.
    session.flush()
    rows = session.connection().execute(_STANDING, {"user_id": actor.user_id}).all()
    if not rows or rows[0][0] != actor.login:
        return _Standing(False, False, frozenset())
    return _Standing(True, bool(rows[0][1]), frozenset(row[2] for row in rows if row[2] is not None))


def _describe(roles: Iterable[str]) -> str:
    held = set(roles)
    return ", ".join(r for r in ROLES if r in held)


def _refusal(actor: Actor, wanted: Action, standing: _Standing) -> PermissionDenied:
    needs = f"cannot {wanted.label}: it needs the {wanted.allowed()} role."
    login = f"login '{actor.login}'"
    if not standing.exists:
        return PermissionDenied(f"{actor.display_name} is no longer a user of this database ({login}), so {needs}")
    if not standing.active:
        return PermissionDenied(f"{actor.display_name} has no active role ({login}, deactivated), so {needs}")
    if not standing.roles:
        return PermissionDenied(f"{actor.display_name} has no active role ({login}), so {needs}")
    return PermissionDenied(f"{actor.display_name} ({login}, {_describe(standing.roles)}) {needs}")


def _permits(wanted: Action, standing: _Standing) -> bool:
    return wanted.anyone or (standing.exists and standing.active and bool(wanted.roles & standing.roles))


def actor_may(actor: Actor | None, name: str) -> bool:
    """Whether the signed-in user (as they signed in) may do the action: for enabling controls, not for deciding.

    The use case decides, with `authorize`, against the user as stored at that moment.
    """
    wanted = action(name)
    if wanted.anyone:
        return True
    return actor is not None and bool(wanted.roles & actor.roles)


def authorize(actor: Actor, name: str, *, db: Database | None = None, session: Session | None = None) -> None:
    """Refuse, with `PermissionDenied`, a user who may not do the action.

    With `session` (the caller's write transaction) or `db`, the user is read as stored now: deactivated, or
    without the role any more, they are refused although they held it when they signed in. Without either, the
    roles they signed in with are checked.
    """
    wanted = action(name)
    if wanted.anyone:
        return
    if session is not None:
        standing = _standing(session, actor)
    elif db is not None:
        with db.read() as reading:
            standing = _standing(reading, actor)
    else:
        standing = _Standing(True, True, actor.roles)
    if not _permits(wanted, standing):
        raise _refusal(actor, wanted, standing)


_ROLE_WORDS: Final = {COORDINATOR: "a coordinator", CONSULTANT: "a consultant", ADMIN: "an administrator"}


def who_may(name: str) -> str:
    """A disabled control's tooltip: `Only a coordinator can enter a referral`."""
    wanted = action(name)
    if wanted.anyone:
        return f"Anyone can {wanted.label}"
    if wanted.roles == ANY_ROLE:
        return f"Only a user with an active role can {wanted.label}"
    words = [_ROLE_WORDS[r] for r in ROLES if r in wanted.roles]
    return f"Only {' or '.join(words)} can {wanted.label}"


def render_matrix() -> str:
    """The matrix as the Markdown table docs/role-matrix.md carries (a test keeps the two the same)."""
    lines = [
        "| Action | What it is | Roles allowed | Command line | Desktop |",
        "| --- | --- | --- | --- | --- |",
    ]
    for a in MATRIX:
        roles = ANYONE + " (no sign-in)" if a.anyone else ", ".join(r for r in ROLES if r in a.roles)
        cells = (f"`{a.name}`", a.label, roles, f"`{a.cli}`" if a.cli else "—", a.gui or "—")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
