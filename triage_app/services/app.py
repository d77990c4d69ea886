"""Opening the app's database for a session: check, back up, migrate, sign in, load the approved rules.

No rules file is taken here: every desktop and command uses the database's approved rules. The file shipped
with the app is approved on a database's first start; after that it is only a proposal (services.rules).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from triage_app.domain.rules import ApprovedRules, Rules, RulesFileError, RulesText, read_rules_file, shipped_rules_path
from triage_app.services.referrals import refresh_queue_priorities
from triage_app.services.rules import RulesProposal, ensure_rules_approved, rules_in_force, shipped_proposal
from triage_app.services.users import Actor, UnknownUser, sign_in
from triage_app.storage.engine import Database, parse_database_url
from triage_app.storage.migrate import MigrationReport, migrate

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AppSession:
    """An open, migrated database, the signed-in user and the rules in force (the database's approval).

    `proposal` is the rules file shipped with this version of the app when it differs from every approval:
    administrators are offered it, never given it silently. `reassessed` counts the referrals rescored when
    opening the database approved the shipped rules (a new or upgraded database), else 0.
    """

    db: Database
    actor: Actor
    approval: ApprovedRules
    migration: MigrationReport
    reassessed: int
    proposal: RulesProposal | None = None

    @property
    def rules(self) -> Rules:
        """The rules in force when the session opened (or when this desktop last approved or reloaded them)."""
        return self.approval.rules

    def use_approval(self, approval: ApprovedRules) -> None:
        """This desktop approved (or read) newer rules: use them from now on, and drop a proposal they answer."""
        self.approval = approval
        if self.proposal is not None and self.proposal.proposed.sha256 == approval.sha256:
            self.proposal = None

    def reload_rules(self) -> ApprovedRules:
        """Read the rules in force again (on the database worker): another desktop may have approved newer ones."""
        self.use_approval(rules_in_force(self.db))
        return self.approval

    def close(self) -> None:
        """Release the database."""
        self.db.dispose()


def local_today() -> date:
    """Today's date where the app runs: the default assessment date."""
    return datetime.now().astimezone().date()


def os_login() -> str:
    """The account this process runs as, asked of the operating system; `UnknownUser` if it has no name.

    Never read from USER, LOGNAME or USERNAME (as `getpass.getuser()` does): anyone can set those, and the
    login decides what the user may do.
    """
    if sys.platform == "win32":
        return _windows_login()
    else:  # an else, not a fall-through: mypy then skips the other platform's branch
        return _posix_login()


# Each platform's way is defined only there, so that mypy checks each against its own platform.
if sys.platform == "win32":

    def _windows_login() -> str:
        import ctypes
        from ctypes import wintypes

        # GetUserNameW names the account of the calling thread's token (the process token unless the thread
        # impersonates someone), not the USERNAME variable.
        advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
        get_user_name = advapi32.GetUserNameW
        get_user_name.argtypes = [wintypes.LPWSTR, ctypes.POINTER(wintypes.DWORD)]
        get_user_name.restype = wintypes.BOOL
        size = wintypes.DWORD(257)  # UNLEN + 1: the longest Windows user name and its terminator
        buffer = ctypes.create_unicode_buffer(size.value)
        if not get_user_name(buffer, ctypes.byref(size)) or not buffer.value:
            code = ctypes.get_last_error()
            raise UnknownUser(
                f"Windows could not name the account this program runs as (GetUserNameW failed: "
                f"{ctypes.FormatError(code)} [{code}]), so it cannot be signed in."
            )
        return buffer.value

else:

    def _posix_login() -> str:
        import pwd  # POSIX only

        uid = os.geteuid()  # the effective user: the one whose rights the process has
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:  # e.g. a container started with a user id that has no passwd entry
            name = ""
        if not name:
            raise UnknownUser(
                f"the account this program runs as (user id {uid}) has no name in the operating system's user "
                "list, so it cannot be signed in; run it as a named user (add one to /etc/passwd in a container)."
            )
        return name


def server_login(database: Database) -> str:
    """The role the database server authenticated this connection as (PostgreSQL)."""
    with database.read() as session:
        name = session.execute(sa.text("SELECT current_user")).scalar_one()
    if not isinstance(name, str) or not name:
        raise UnknownUser(f"the database server {database.location.describe()} did not name the signed-in role")
    return name


def current_login(database: Database | None = None) -> str:
    """Who is signed in: the role a database server authenticated, otherwise the operating-system account."""
    # On a server the server's authentication is the one that counts: the OS account of a desktop connecting
    # to it proves nothing to the server, and every desktop may run under a different local account.
    if database is not None and database.location.url.get_backend_name() == "postgresql":
        return server_login(database)
    return os_login()


def open_database(db_url: str, *, backup_dir: Path | None) -> tuple[Database, MigrationReport]:
    """Open and migrate the database (backing it up first); `DatabaseError` says what is wrong."""
    database = Database(parse_database_url(db_url))
    try:
        database.check_connection()
        report = migrate(database, backup_dir=backup_dir)
    except BaseException:
        database.dispose()
        raise
    return database, report


def _shipped_rules(path: Path) -> RulesText | None:
    """The rules file shipped with the app, or None if it cannot be used (logged; needed only on a first start)."""
    try:
        return read_rules_file(path)
    except RulesFileError as exc:
        log.error("the shipped rules file cannot be used: %s", exc)
        return None


def open_session(
    db_url: str,
    *,
    backup_dir: Path | None,
    login: str | None = None,
    today: date | None = None,
    shipped_rules: Path | None = None,
) -> AppSession:
    """Everything a command or the GUI needs before it starts work, the approved rules included.

    `shipped_rules` is the rules file this version of the app ships (default: resources/rules/); tests give
    another to play a newer release. It is approved only when the database holds no approval yet.
    """
    shipped = _shipped_rules(shipped_rules or shipped_rules_path())
    database, report = open_database(db_url, backup_dir=backup_dir)
    try:
        actor = sign_in(database, login=login or current_login(database))
        as_of = today or local_today()
        started = ensure_rules_approved(database, signed_in=actor, shipped=shipped, as_of=as_of)
        proposal = shipped_proposal(database, shipped=shipped)
        refresh_queue_priorities(database, rules=started.approval.rules, as_of=as_of)
    except BaseException:
        database.dispose()
        raise
    return AppSession(database, actor, started.approval, report, started.reassessed, proposal)
