"""Opening the app's database for a session: check, back up, migrate, sign in, reassess stale referrals."""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from triage_app.domain.rules import Rules, load_rules
from triage_app.services.referrals import reassess_open, refresh_queue_priorities
from triage_app.services.users import Actor, sign_in
from triage_app.storage.engine import Database, parse_database_url
from triage_app.storage.migrate import MigrationReport, migrate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppSession:
    """An open, migrated database, the signed-in user and the rules in force."""

    db: Database
    actor: Actor
    rules: Rules
    migration: MigrationReport
    reassessed: int

    def close(self) -> None:
        """Release the database."""
        self.db.dispose()


def local_today() -> date:
    """Today's date where the app runs: the default assessment date."""
    return datetime.now().astimezone().date()


def current_login() -> str:
    """The operating-system login of the person at the desk."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) or no login name
        return "unknown"


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


def open_session(
    db_url: str, *, backup_dir: Path | None, rules_path: Path, login: str | None = None, today: date | None = None
) -> AppSession:
    """Everything a command or the GUI needs before it starts work."""
    rules = load_rules(rules_path)
    database, report = open_database(db_url, backup_dir=backup_dir)
    try:
        actor = sign_in(database, login=login or current_login())
        as_of = today or local_today()
        reassessed = reassess_open(database, actor=actor, rules=rules, as_of=as_of)
        refresh_queue_priorities(database, rules=rules, as_of=as_of)
    except BaseException:
        database.dispose()
        raise
    return AppSession(database, actor, rules, report, len(reassessed))
