"""Opening the app's database for a session: check, back up, migrate, sign in, load the approved rules.

No rules file is taken here: every desktop and command uses the database's approved rules. The file shipped
with the app is approved on a database's first start; after that it is only a proposal (services.rules).

The order on SQLite (storage.preflight): look at the file read-only (a header; a zero-byte file is refused, never
made into a new database; another program's database is refused), run quick_check, probe that the folder can
take a write; only then open it for writing. A damaged database, a read-only file or folder and a full disk are
opened read-only when the caller can work with that (`allow_read_only`: commands that only read, and the
desktop, which shows a banner), and refused otherwise, with a message that says what is wrong and what to do.
A start writes nothing that has not changed: the user, the rules and today's priorities are read first and
written only when they must be, and a read-only start writes nothing at all (no migration, no rules approval,
no priorities, no backup).

On a PostgreSQL server (storage.server_checks) a start never migrates: it checks the server answers, takes the
login, is PostgreSQL 15 or newer, holds this app's schema revision (an older one needs `triage-app migrate` by an
administrator, a newer one a newer app) and that the login holds the app's privileges, each refused in its own
words with nothing written. `migrate_server` is the administrator's migration (`triage-app migrate`).
A schema newer than the app is refused on SQLite too, before the file is opened for writing.

The desktop (`defer_page_check`) leaves the whole-file quick_check until after its first paint: at 100,000
referrals it alone took seconds on the way to the queue. The cheap looks (header, schema revision, writability)
still come first; the quick check runs when the window asks (`check_pages_late`, on a worker of its own) or when
anything writes first, since every write transaction waits for it at a gate on the engine (storage.preflight
`gate_writes`) and is refused once it finds damage. A start that must migrate checks the pages first, as before.
A damaged file found late turns the open session read-only (`check_pages_late` says why, and the window shows
it). A server has no such check of its own files by the app (see `_open_server`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import col, select

from triage_app.domain.rules import ApprovedRules, Rules, RulesFileError, RulesText, read_rules_file, shipped_rules_path

# Split by concern, every name importable from here as before: who is signed in (services.logins) and what a
# start does with a file it cannot simply open (services.startup_checks).
from triage_app.services.logins import current_login as current_login
from triage_app.services.logins import os_login as os_login
from triage_app.services.logins import server_database
from triage_app.services.logins import server_login as server_login
from triage_app.services.referrals import refresh_queue_priorities
from triage_app.services.rules import (
    NoApprovedRules,
    RulesAtStart,
    RulesProposal,
    ensure_rules_approved,
    rules_in_force,
    shipped_proposal,
)
from triage_app.services.startup_checks import READ_ONLY_ACTIONS as READ_ONLY_ACTIONS
from triage_app.services.startup_checks import ReadOnlyStart as ReadOnlyStart
from triage_app.services.startup_checks import RestoreOffer as RestoreOffer
from triage_app.services.startup_checks import allowed_read_only as allowed_read_only
from triage_app.services.startup_checks import damage_summary as damage_summary
from triage_app.services.startup_checks import is_lost_database as is_lost_database
from triage_app.services.startup_checks import read_only_start
from triage_app.services.startup_checks import refuse_a_missing_database as refuse_a_missing_database
from triage_app.services.startup_checks import restore_hint as restore_hint
from triage_app.services.startup_checks import restore_offer as restore_offer
from triage_app.services.users import Actor, UnknownUser, sign_in
from triage_app.storage import referrals as referral_repo
from triage_app.storage.audit_checkpoint import advance_checkpoint, checkpoint_path, set_checkpoint_path
from triage_app.storage.backup import daily_backup_if_due
from triage_app.storage.engine import (
    Database,
    DatabaseError,
    DatabaseLocation,
    DatabaseReadOnly,
    parse_database_url,
)
from triage_app.storage.integrity import IntegrityResult
from triage_app.storage.migrate import (
    MigrationReport,
    check_schema,
    head_revision,
    is_known_revision,
    migrate,
    newer_schema_error,
)
from triage_app.storage.models import AppUser, AuditChainHead, UserRole
from triage_app.storage.preflight import (
    PageCheck,
    ReadOnlyKind,
    SqliteFileCheck,
    check_sqlite_before_opening,
    gate_writes,
    probe_writable,
)
from triage_app.storage.server_checks import look_at_server, missing_grants
from triage_app.storage.server_grants import missing_privileges
from triage_app.storage.stopping import StopSignal

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
    #: Why the database is open for reading only (what is wrong and what to do), or None.
    read_only: str | None = None
    #: What kind of problem made it read-only (damaged, read-only, disk full), or None.
    read_only_kind: ReadOnlyKind | None = None
    #: The newest verified backup, when the database is damaged and one was found.
    newest_backup: Path | None = None
    #: Lines a command prints on standard error before its output (read-only mode, a daily backup that failed).
    warnings: tuple[str, ...] = ()
    #: The whole-file check left for after the desktop's first paint (`check_pages_late`), or None (done at open,
    #: or a server).
    page_check: PageCheck | None = None

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


def open_database(
    db_url: str,
    *,
    backup_dir: Path | None,
    allow_read_only: bool = False,
) -> tuple[Database, MigrationReport, ReadOnlyStart | None]:
    """Check, then open (and migrate) the database; `DatabaseError` says what is wrong.

    On SQLite the file is looked at read-only first (storage.preflight). A database that can only be read is
    opened read-only when `allow_read_only`, else refused with `DatabaseReadOnly`. A migration backs the database
    up first (into `backup_dir`); the daily backup is not taken here (see `daily_backup`).
    """
    database, report, problem, _check = _open_database(db_url, backup_dir=backup_dir, allow_read_only=allow_read_only)
    return database, report, problem


@functools.cache
def _head() -> str:
    """The app's schema revision: read from the migration scripts once a process (each read compiles them all)."""
    return head_revision()


def _open_database(
    db_url: str,
    *,
    backup_dir: Path | None,
    allow_read_only: bool = False,
    defer_page_check: bool = False,
) -> tuple[Database, MigrationReport, ReadOnlyStart | None, PageCheck | None]:
    """`open_database`, and with `defer_page_check` (SQLite, a start that need not migrate) the quick check left
    to run later: its `PageCheck`, already gating the engine's writes."""
    location = parse_database_url(db_url)
    if location.path is None:
        return (*_open_server(location, backup_dir), None)
    refuse_a_missing_database(location.path, backup_dir)  # before anything could make a new file there
    hint = restore_hint(location.path, backup_dir)
    # The disk first: on a full or read-only disk even reading a WAL database must avoid making its -shm file.
    writable = location.path.parent.is_dir() and probe_writable(location.path.parent) is None
    check = check_sqlite_before_opening(
        location.path, restore_hint=hint, folder_writable=writable, pages=not defer_page_check
    )
    if check.revision is not None and not is_known_revision(check.revision):
        raise newer_schema_error(str(location.path), check.revision)  # before anything could write to the file
    if check.exists and check.integrity is None and check.revision != _head():
        # An upgrade writes the whole schema (after its own backup): the pages are checked first, as ever.
        check = check_sqlite_before_opening(location.path, restore_hint=hint, folder_writable=writable)
    problem = read_only_start(check, backup_dir)
    if problem is not None:
        if not check.exists:
            raise DatabaseError(f"no database can be made at {location.path}: {problem.reason}")
        if not allow_read_only:
            raise DatabaseReadOnly(
                f"{problem.reason} This command changes the database, so it was refused; nothing was changed."
            )
        head = _head()
        if check.revision != head:
            raise DatabaseReadOnly(
                f"{problem.reason} The database also needs its schema brought up to date ({check.revision or 'none'} "
                f"-> {head}), which writes to it, so it cannot be opened now; nothing was changed."
            )
        # Damaged or on a full disk, nothing may write the file: read `immutable`, making no -wal/-shm beside it.
        database = Database(
            location, read_only=problem.reason, nobody_writes=problem.kind is not ReadOnlyKind.READ_ONLY
        )
        try:
            database.check_connection()
        except BaseException:
            database.dispose()
            raise
        log.warning("database opened read-only (%s)", problem.kind.value)
        return database, MigrationReport(before=head, after=head, backup=None), problem, None
    database = Database(location)
    pages: PageCheck | None = None
    if check.exists and check.integrity is None:  # left for later: every write waits for it, refused if damaged
        pages = _late_page_check(database, location.path, backup_dir)
    try:
        database.check_connection()
        # Back up before an upgrade only: the daily backup runs off the path to the first paint (daily_backup).
        upgrade_due = check.revision is not None and check.revision != _head()
        report = migrate(database, backup_dir=backup_dir if upgrade_due else None)
    except BaseException:
        database.dispose()
        raise
    return database, report, None, pages


def _late_page_check(database: Database, path: Path, backup_dir: Path | None) -> PageCheck:
    """The quick check of `path` left for after the first paint, gating `database`'s writes.

    When it finds damage, the database turns read-only at once (`Database.write` refuses from then on, saying why
    and naming the backup to restore) before any write waiting for it goes on.
    """

    def damaged(result: IntegrityResult) -> str:
        problem = read_only_start(SqliteFileCheck(path, exists=True, revision=None, integrity=result), backup_dir)
        assert problem is not None  # a damaged file always reads as one that cannot be written
        database.read_only = problem.reason
        log.warning("database found damaged after it opened: open for reading only from now on")
        return problem.reason

    check = PageCheck(path, on_damage=damaged)
    gate_writes(database.engine, check, describe=database.location.describe)
    return check


def check_pages_late(session: AppSession, backup_dir: Path | None) -> ReadOnlyStart | None:
    """Run the quick check the desktop left for after its first paint (on a worker: it reads the whole file).

    None when it passed (or there was none to run); otherwise the session is now read-only, and the returned
    `ReadOnlyStart` says why and names the newest verified backup. `storage.stopping.Stopped` when the window
    closed meanwhile. The disk failing to read the file says nothing about damage: the session stays writable,
    as a start does.
    """
    check = session.page_check
    if check is None or session.read_only is not None:
        return None
    result = check.verdict()
    if not check.damaged:
        return None
    problem = read_only_start(SqliteFileCheck(check.path, exists=True, revision=None, integrity=result), backup_dir)
    assert problem is not None
    session.read_only, session.read_only_kind, session.newest_backup = (
        problem.reason,
        problem.kind,
        problem.newest_backup,
    )
    return problem


def reopen_read_only(session: AppSession, backup_dir: Path | None) -> None:
    """After `check_pages_late` found damage: close the writable engine and read the file as a start reads a
    damaged one (`immutable`, nothing made beside it), so it is left as it was and a restore can take its place.

    Run on the worker that runs the session's ops (none is using the old engine meanwhile). The closing
    connection removes its empty -wal and -shm; the gate let nothing be written to them.
    """
    old = session.db
    if old.location.path is None or session.read_only is None:
        return
    new = Database(old.location, read_only=session.read_only, nobody_writes=True)
    new.thread_guard = old.thread_guard
    if backup_dir is not None:
        set_checkpoint_path(new.engine, checkpoint_path(backup_dir), database=new.location.describe())
    session.db = new
    old.dispose()


def _open_server(location: DatabaseLocation, backup_dir: Path | None) -> tuple[Database, MigrationReport, None]:
    """A database server (PostgreSQL): it checks its own pages and disk. Never migrated here: the server, the login,
    the schema revision and the login's privileges are checked, each refused in its own words, writing nothing."""
    del backup_dir  # a server is backed up with its own tools (pg_dump: docs/deploy-postgresql.md)
    database = server_database(location)
    try:
        state = look_at_server(database)
        check_schema(location.describe(), state.revision, has_tables=state.has_tables)
        with database.engine.connect() as connection:
            missing = missing_privileges(connection)
            connection.rollback()
        if missing:
            raise missing_grants(location, state.role, missing)
    except BaseException:
        database.dispose()
        raise
    return database, MigrationReport(before=state.revision, after=head_revision(), backup=None), None


def migrate_server(db_url: str, *, grant_to: str | None) -> MigrationReport:
    """The administrator's `triage-app migrate` on a server: upgrade the schema as the database's owner role and,
    with `grant_to`, give that users' role the app's privileges. Refused (`MigrationRefused`) for a login that is
    not a member of the owner role; the server's version and the login are checked first."""
    location = parse_database_url(db_url)
    if location.is_sqlite:
        raise DatabaseError("migrate_server is for a database server; a SQLite file is migrated when it is opened")
    database = server_database(location)
    try:
        return migrate(database, backup_dir=None, grant_to=grant_to)
    finally:
        database.dispose()


def daily_backup(db: Database, backup_dir: Path | None, *, stop: StopSignal | None = None) -> Path | None:
    """Take the day's verified backup of a writable SQLite database if one is due (storage.backup).

    Slow for a large database: the desktop runs it on the database worker after the first paint. Never for a
    read-only or damaged database (nothing may be written, and a damaged one is never backed up), nor a server.
    Returns the backup, or None when none was due. `stop` (closing the window) stops it between its steps and
    interrupts its checks (`storage.stopping.Stopped`), leaving no file that looks like a backup.
    """
    path = db.location.path
    if path is None or backup_dir is None or db.read_only is not None:
        return None
    from triage_app.services.audit import backup_audit_check, logs_beside  # the audit trail verified too

    return daily_backup_if_due(
        path, backup_dir, audit_check=backup_audit_check(db, log_dir=logs_beside(backup_dir)), stop=stop
    )


def daily_backup_due(db: Database, backup_dir: Path | None) -> bool:
    """Whether `daily_backup` would take a backup now (reads the backups folder's manifest only)."""
    from triage_app.storage.backup import backup_due

    path = db.location.path
    if path is None or backup_dir is None or db.read_only is not None or not path.is_file():
        return False
    return backup_due(backup_dir, path.stem)


def backup_audit_problem(backup_dir: Path, backup: Path) -> str | None:
    """What the backup's manifest entry says was wrong with the audit trail when it was taken, or None.

    The daily backup verifies the audit trail as `audit verify` does: a problem found then is said to whoever
    started the app or the command, not only logged, since it is the daily look at the trail.
    """
    from triage_app.storage.backup import find_entry

    entry = find_entry(backup_dir, backup)
    return None if entry is None else entry.audit_problem


def _sign_in(database: Database, login: str) -> Actor:
    """Sign in reading first: a known, active user with a role writes nothing.

    Only a login the database does not know goes on to `sign_in`, which writes (the first user of a new
    database becomes its administrator). A read-only database never gets there: an unknown user is refused.
    """
    with database.read() as session:
        user = session.execute(select(AppUser).where(col(AppUser.login) == login)).scalar_one_or_none()
        roles: frozenset[str] = frozenset()
        if user is not None and user.id is not None:
            roles = frozenset(
                session.execute(select(col(UserRole.role)).where(col(UserRole.user_id) == user.id)).scalars().all()
            )
    if user is not None and user.id is not None and user.is_active and roles:
        return Actor(user_id=user.id, login=user.login, display_name=user.display_name, roles=roles)
    if database.read_only is None:
        return sign_in(database, login=login)  # writes for a new user; refuses a deactivated or role-less one
    if user is None:
        raise UnknownUser(
            f"The login '{login}' is not a user of this triage database, and the database is open for reading "
            f"only, so no user can be added now. {database.read_only}"
        )
    if not user.is_active:
        raise UnknownUser(f"The user '{login}' has been deactivated. Ask an administrator.")
    raise UnknownUser(
        f"The user '{login}' has no role in this triage database, so it shows them nothing. Ask an administrator "
        f"to give you one (triage-app user roles {login} --role coordinator)."
    )


def _rules_at_start(
    database: Database, actor: Actor, shipped: RulesText | None, as_of: date, *, reassess: bool = True
) -> RulesAtStart:
    """The rules in force, read first; only a database holding none approves the shipped rules (a write)."""
    try:
        return RulesAtStart(rules_in_force(database), approved_on_start=False, reassessed=0)
    except NoApprovedRules:
        if database.read_only is not None:
            raise NoApprovedRules(
                "this database holds no approved rules, and approving the shipped ones writes to it, which cannot "
                f"be done now: the database is open for reading only. {database.read_only}"
            ) from None
    return ensure_rules_approved(database, signed_in=actor, shipped=shipped, as_of=as_of, reassess=reassess)


def _refresh_priorities(database: Database, rules: Rules, as_of: date) -> None:
    """Bring today's priorities up to date, writing only when one changed (read first)."""
    if database.read_only is not None:
        return  # the stored priorities stand; nothing may be written
    with database.read() as session:
        due = referral_repo.refresh_priorities(session, as_of=as_of, rules=rules, apply=False)
    if due:
        refresh_queue_priorities(database, rules=rules, as_of=as_of)


def _shipped_rules(path: Path) -> RulesText | None:
    """The rules file shipped with the app, or None if it cannot be used (logged; needed only on a first start)."""
    try:
        return read_rules_file(path)
    except RulesFileError as exc:
        log.error("the shipped rules file cannot be used: %s", exc)
        return None


#: The first schema whose app keeps the audit head outside the database (audit-checkpoint.json and the log).
OUTSIDE_RECORD_SCHEMA = "0005"


def _upgraded_past_the_outside_record(report: MigrationReport) -> bool:
    """True when this start upgraded a database from an app that kept no audit checkpoint."""
    return report.before is not None and report.before < OUTSIDE_RECORD_SCHEMA <= report.after


def _start_outside_record(database: Database, path: Path) -> None:
    """Start the checkpoint at the upgraded trail's head, unless one is there already.

    An app older than schema 0005 wrote none, so without this the first `audit verify` after an upgrade would
    report a missing checkpoint for a trail no one touched. The upgrade is the moment the outside record starts;
    the chain itself is still verified from its first event.
    """
    if path.exists():
        return
    with database.read() as session:
        head = session.get(AuditChainHead, 1)
    if head is not None:
        advance_checkpoint(
            path, head_id=head.last_event_id, head_hash=head.last_hash, database=database.location.describe()
        )
        log.info("audit checkpoint started at event %d on upgrade", head.last_event_id)


def open_session(
    db_url: str,
    *,
    backup_dir: Path | None,
    login: str | None = None,
    today: date | None = None,
    shipped_rules: Path | None = None,
    allow_read_only: bool = False,
    defer_reassessment: bool = False,
    defer_page_check: bool = False,
) -> AppSession:
    """Everything a command or the GUI needs before it starts work, the approved rules included.

    `shipped_rules` is the rules file this version of the app ships (default: resources/rules/); tests give
    another to play a newer release. It is approved only when the database holds no approval yet.

    `allow_read_only`: a database that can only be read (damaged, read-only, disk full) is opened read-only
    (`session.read_only` says why; `db.write()` refuses) instead of refused. Commands that only read and the
    desktop pass True. No daily backup is taken here (see `daily_backup`): it would hold up the first window.
    `defer_reassessment` (the desktop): approving the shipped rules on a database holding none does not reassess
    its referrals here; the window does that in the background after its first paint (services.reassessment).
    `defer_page_check` (the desktop): a SQLite file's whole-file quick check is left for `check_pages_late`, run
    after the first paint; any write before it waits for it. A start that finds the damage itself (a write at
    start waiting for the check, or a read running into it) starts again the usual way: read-only, saying why.
    """
    if not defer_page_check:
        return _open_session(
            db_url, backup_dir, login, today, shipped_rules, allow_read_only, defer_reassessment, defer_pages=False
        )
    try:
        return _open_session(
            db_url, backup_dir, login, today, shipped_rules, allow_read_only, defer_reassessment, defer_pages=True
        )
    except DatabaseError as exc:
        if not allow_read_only or not _damage_met(exc):
            raise
        log.warning("the start met a damaged database: opening it again, checked first")
        return _open_session(
            db_url, backup_dir, login, today, shipped_rules, allow_read_only, defer_reassessment, defer_pages=False
        )


def _damage_met(exc: DatabaseError) -> bool:
    """Whether a start's error came from the file being damaged (found by its late check, or by a read)."""
    text = str(exc)
    return "is damaged" in text


def _open_session(
    db_url: str,
    backup_dir: Path | None,
    login: str | None,
    today: date | None,
    shipped_rules: Path | None,
    allow_read_only: bool,
    defer_reassessment: bool,
    *,
    defer_pages: bool,
) -> AppSession:
    shipped = _shipped_rules(shipped_rules or shipped_rules_path())
    database, report, read_only, pages = _open_database(
        db_url, backup_dir=backup_dir, allow_read_only=allow_read_only, defer_page_check=defer_pages
    )
    if backup_dir is not None:  # the audit chain's head is also kept outside the database (storage.audit_checkpoint)
        set_checkpoint_path(database.engine, checkpoint_path(backup_dir), database=database.location.describe())
        if read_only is None and _upgraded_past_the_outside_record(report):
            _start_outside_record(database, checkpoint_path(backup_dir))
    warnings: list[str] = []
    try:
        actor = _sign_in(database, login or current_login(database))
        as_of = today or local_today()
        started = _rules_at_start(database, actor, shipped, as_of, reassess=not defer_reassessment)
        proposal = shipped_proposal(database, shipped=shipped)
        _refresh_priorities(database, started.approval.rules, as_of)
        if read_only is not None:
            warnings.append(f"warning: the database is open for reading only. {read_only.reason}")
    except BaseException:
        database.dispose()
        raise
    return AppSession(
        database,
        actor,
        started.approval,
        report,
        started.reassessed,
        proposal,
        read_only=None if read_only is None else read_only.reason,
        read_only_kind=None if read_only is None else read_only.kind,
        newest_backup=None if read_only is None else read_only.newest_backup,
        warnings=tuple(warnings),
        page_check=pages,
    )
