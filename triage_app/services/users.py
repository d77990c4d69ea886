"""Users and roles: the OS login maps to a configured user; the first user of a new database is admin
with every role, so a single-user install works at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import Select, delete, func, select
from sqlmodel import Session, col

from triage_app.domain.mdt import MDT_ROLES
from triage_app.domain.referral import NAME_LENGTH, text_problem
from triage_app.domain.workflow import ADMIN, ROLES
from triage_app.services.auditing import audit
from triage_app.services.changes import NOTHING, Changes
from triage_app.services.errors import NotFound, PermissionDenied, ServiceError
from triage_app.services.permissions import MANAGE_USERS, RENAME_SELF, VIEW_USERS, authorize
from triage_app.storage.engine import Database
from triage_app.storage.models import AppUser, UserRole

#: What every change of a user or their roles reports: the views that show users, names or what a role may do.
USERS_CHANGED = Changes(users=True)


def limited_text(text: str | None, key: str, label: str) -> str | None:
    """`text` trimmed, `None` when blank; `ServiceError` naming the field (`label`) when it is longer than the
    field `key` takes (domain.referral.LIMITS), not valid text or holds a control character."""
    value = (text or "").strip() or None
    if value is not None:
        problem = text_problem(value, key)
        if problem is not None:
            raise ServiceError(f"{label}: {problem}")
    return value


@dataclass(frozen=True, slots=True)
class Actor:
    """The signed-in user as the use cases see them."""

    user_id: int
    login: str
    display_name: str
    roles: frozenset[str]
    #: What the use case that returned this user changed (`add_user`, `set_roles`: `USERS_CHANGED`); not part of
    #: who the actor is (equality and hashing leave it out).
    changes: Changes = field(default=NOTHING, compare=False, repr=False)

    def has(self, role: str) -> bool:
        """Whether the user holds `role`."""
        return role in self.roles

    def require(self, role: str, action: str) -> None:
        """Raise `PermissionDenied` unless the user holds `role`.

        Use cases check `services.permissions.authorize(actor, ACTION)` instead: the role matrix there is the one
        place that says who may do what. This stays only for code not yet moved onto it.
        """
        if role not in self.roles:
            raise PermissionDenied(
                f"{self.display_name} ({self.describe_roles()}) cannot {action}: it needs the {role} role."
            )

    def describe_roles(self) -> str:
        """Roles in a fixed order, e.g. `coordinator, consultant`."""
        return ", ".join(r for r in ROLES if r in self.roles) or "no role"


class UnknownUser(ServiceError):
    """The OS login is not configured in this database."""


def _actor(session: Session, user: AppUser) -> Actor:
    assert user.id is not None
    roles = session.execute(select(col(UserRole.role)).where(col(UserRole.user_id) == user.id)).scalars().all()
    return Actor(user_id=user.id, login=user.login, display_name=user.display_name, roles=frozenset(roles))


def _check_roles(roles: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(roles)
    unknown = chosen - set(ROLES)
    if unknown:
        raise ServiceError(f"unknown role(s): {', '.join(sorted(unknown))}; the roles are {', '.join(ROLES)}")
    return chosen


def check_mdt_role(mdt_role: str | None) -> str | None:
    """The MDT role as stored (None or blank: none given); one the domain does not know is refused, naming the
    known ones, so a letter is never signed by an 'astronaut'."""
    role = (mdt_role or "").strip() or None
    if role is not None and role not in MDT_ROLES:
        raise ServiceError(f"unknown MDT role '{role}': the MDT roles are {', '.join(MDT_ROLES)}")
    return role


def active_admins_query() -> Select[int | None]:
    """The ids of active users holding the admin role, their rows locked until the transaction ends.

    FOR UPDATE on a server (PostgreSQL) makes a second transaction that wants the same rows wait, then see the
    first one's change; SQLite ignores it, and needs it not: `Database.write()` begins with BEGIN IMMEDIATE,
    so only one writer runs at a time. Ids rather than count(): FOR UPDATE is not allowed with an aggregate.
    """
    return (
        select(col(AppUser.id))
        .join(UserRole, col(UserRole.user_id) == col(AppUser.id))
        .where(col(UserRole.role) == ADMIN, col(AppUser.is_active).is_(True))
        .order_by(col(AppUser.id))  # the same lock order in every transaction: no deadlock between two of them
        .with_for_update()
    )


def _keep_an_active_admin(session: Session, user: AppUser, change: str) -> None:
    """Refuse a change that takes `user` out of the active admins if no other active admin would remain.

    Call inside the write transaction that makes the change, before making it.
    """
    others = [i for i in session.execute(active_admins_query()).scalars() if i != user.id]
    if not others:
        raise ServiceError(
            f"cannot {change} {user.display_name} ('{user.login}'): they are the only admin still active, and "
            "there must always be an active one. Make someone else an active admin first."
        )


def _existing_user(session: Session, login: str) -> AppUser:
    """The user with this login; `NotFound` names the login otherwise."""
    user: AppUser | None = session.execute(select(AppUser).where(col(AppUser.login) == login)).scalar_one_or_none()
    if user is None or user.id is None:
        raise NotFound(f"no user with the login '{login}'")
    return user


def sign_in(db: Database, *, login: str, display_name: str | None = None) -> Actor:
    """The configured user for this OS login. On a new database the first login becomes admin with every role."""
    with db.write() as session:
        user = session.execute(select(AppUser).where(col(AppUser.login) == login)).scalar_one_or_none()
        if user is None:
            if session.execute(select(func.count()).select_from(AppUser)).scalar_one() > 0:
                raise UnknownUser(
                    f"The login '{login}' is not a user of this triage database. Ask an administrator to add "
                    f'you (triage-app user add {login} --name "Your Name" --role coordinator).'
                )
            # The name comes from the operating system: a long one is shortened rather than stop the first start.
            user = AppUser(login=login, display_name=(display_name or login)[:NAME_LENGTH])
            session.add(user)
            session.flush()
            assert user.id is not None
            for role in ROLES:
                session.add(UserRole(user_id=user.id, role=role))
            audit(
                session,
                login,
                "create",
                "user",
                user.id,
                {"login": [None, login], "roles": [None, list(ROLES)], "first_run": [None, True]},
            )
        if not user.is_active:
            raise UnknownUser(f"The user '{login}' has been deactivated. Ask an administrator.")
        actor = _actor(session, user)
        if not actor.roles:
            # Viewing needs an active role too (services/permissions.py): a user with none gets no session.
            raise UnknownUser(
                f"The user '{login}' has no role in this triage database, so it shows them nothing. Ask an "
                f"administrator to give you one (triage-app user roles {login} --role coordinator)."
            )
        return actor


def add_user(
    db: Database, *, actor: Actor, login: str, display_name: str, roles: Iterable[str], mdt_role: str | None = None
) -> Actor:
    """Admin: configure a new user."""
    authorize(actor, MANAGE_USERS)
    chosen = _check_roles(roles)
    mdt_role = check_mdt_role(mdt_role)
    login = limited_text(login, "user.login", "login") or ""
    if not login:
        raise ServiceError("a user needs a login (their operating-system user name)")
    name = limited_text(display_name, "user.display_name", "name") or login
    with db.write() as session:
        authorize(actor, MANAGE_USERS, session=session)  # an admin still, as stored now (not only at sign-in)
        if session.execute(select(col(AppUser.id)).where(col(AppUser.login) == login)).scalar_one_or_none() is not None:
            raise ServiceError(f"the login '{login}' is already a user")
        user = AppUser(login=login, display_name=name, mdt_role=mdt_role)
        session.add(user)
        session.flush()
        assert user.id is not None
        for role in sorted(chosen):
            session.add(UserRole(user_id=user.id, role=role))
        audit(
            session,
            actor,
            "create",
            "user",
            user.id,
            {
                "login": [None, login],
                "display_name": [None, user.display_name],
                "roles": [None, sorted(chosen)],
            },
        )
        return replace(_actor(session, user), changes=USERS_CHANGED)


def set_roles(db: Database, *, actor: Actor, login: str, roles: Iterable[str]) -> Actor:
    """Admin: replace a user's roles. The last active admin cannot lose the admin role."""
    authorize(actor, MANAGE_USERS)
    chosen = _check_roles(roles)
    with db.write() as session:
        authorize(actor, MANAGE_USERS, session=session)
        user = _existing_user(session, login)
        assert user.id is not None  # _existing_user refuses a user without one
        before = _actor(session, user).roles
        if user.is_active and ADMIN in before and ADMIN not in chosen:
            _keep_an_active_admin(session, user, "take the admin role from")
        session.execute(delete(UserRole).where(col(UserRole.user_id) == user.id))
        for role in sorted(chosen):
            session.add(UserRole(user_id=user.id, role=role))
        audit(session, actor, "update", "user", user.id, {"roles": [sorted(before), sorted(chosen)]})
        session.flush()
        return replace(_actor(session, user), changes=USERS_CHANGED)


def set_display_name(db: Database, *, actor: Actor, login: str, display_name: str) -> Changes:
    """Admin, or the user themself: the name shown in the app and signing letters ("Dr R Example")."""
    wanted = RENAME_SELF if login == actor.login else MANAGE_USERS
    authorize(actor, wanted)
    name = limited_text(display_name, "user.display_name", "a user's name")
    if name is None:
        raise ServiceError("a user's name cannot be empty")
    with db.write() as session:
        authorize(actor, wanted, session=session)
        user = _existing_user(session, login)
        before = user.display_name
        user.display_name = name
        session.add(user)
        audit(session, actor, "update", "user", user.id, {"display_name": [before, name]})
        return USERS_CHANGED


def set_mdt_role(db: Database, *, actor: Actor, login: str, mdt_role: str | None) -> Changes:
    """Admin: the user's MDT role (None: not in the MDT). It decides the quorum of the meetings they attend and
    the role their letters are signed in, so an unknown role is refused, naming the known ones."""
    authorize(actor, MANAGE_USERS)
    role = check_mdt_role(mdt_role)
    with db.write() as session:
        authorize(actor, MANAGE_USERS, session=session)
        user = _existing_user(session, login)
        before = user.mdt_role
        if before == role:
            return NOTHING  # nothing to change: nothing recorded
        user.mdt_role = role
        session.add(user)
        audit(session, actor, "update", "user", user.id, {"mdt_role": [before, role]})
        return USERS_CHANGED


def set_active(db: Database, *, actor: Actor, login: str, active: bool) -> Changes:
    """Admin: deactivate (or reactivate) a user. Their history stays; the last active admin stays active."""
    authorize(actor, MANAGE_USERS)
    if login == actor.login and not active:
        raise ServiceError("you cannot deactivate yourself")
    with db.write() as session:
        # Checked again in the transaction: of two admins deactivating each other at once, the second finds
        # itself deactivated here (SQLite runs one writer at a time); on a server the locked count below decides.
        authorize(actor, MANAGE_USERS, session=session)
        user = _existing_user(session, login)
        before = user.is_active
        if before and not active and ADMIN in _actor(session, user).roles:
            _keep_an_active_admin(session, user, "deactivate")
        user.is_active = active
        session.add(user)
        audit(session, actor, "update", "user", user.id, {"is_active": [before, active]})
        return USERS_CHANGED


def list_users(db: Database, *, actor: Actor | None = None) -> list[tuple[AppUser, frozenset[str]]]:
    """Every user with their roles, by login. Given the `actor` (the desktop and commands give it), checks that
    they may see them (`view_users`); callers inside a use case that checked already leave it out."""
    with db.read() as session:
        if actor is not None:
            authorize(actor, VIEW_USERS, session=session)
        users = session.execute(select(AppUser).order_by(col(AppUser.login))).scalars().all()
        return [(u, _actor(session, u).roles) for u in users]
