"""Audit trail checks (`audit verify`), the audit of a queue export, and on-demand backups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from triage_app.logs import LOG_FILENAME
from triage_app.services.auditing import audit
from triage_app.services.maintenance import backup_now as backup_now  # moved there; re-exported for callers
from triage_app.services.permissions import AUDIT_VERIFY, authorize
from triage_app.services.users import Actor
from triage_app.storage.audit import (
    ChainReport,
    check_append_only,
    checkpoint_missing,
    compare_checkpoint,
    compare_logged_heads,
    database_key,
    log_files,
    read_database_id,
    read_logged_heads,
    verify_chain,
    verify_referrals,
)
from triage_app.storage.audit_checkpoint import Checkpoint, CheckpointError, checkpoint_path_of, read_checkpoint
from triage_app.storage.backup import AUDIT_INTACT
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.models import AuditEventRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What `audit verify` found: the chain, the head against the checkpoint file and the heads in the app log,
    every referral against its last audit event, and the database's append-only triggers. `problems` lists every
    problem found, the most telling first (a broken chain, then the checkpoint, then the log, a missing
    checkpoint, then referrals, then the triggers)."""

    chain: ChainReport
    checkpoint: str  # what was compared with the checkpoint file, in words
    logged: str  # what was compared with the heads in the app log, in words
    referrals_checked: int
    referrals_not_covered: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems

    @property
    def checked(self) -> int:
        """How many events were checked (all of them when the chain holds)."""
        return self.chain.checked

    @property
    def first_broken(self) -> int | None:
        """The first event whose link or content does not hold, if the chain is broken."""
        return self.chain.first_broken

    @property
    def problem(self) -> str | None:
        """The first problem found, or None."""
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        """One line for an intact trail: events, checkpoint, referrals."""
        covered = ""
        if self.referrals_not_covered:
            covered = (
                f", {self.referrals_not_covered} not covered (stored before referral states were audited; they "
                "are checked from their next audited change)"
            )
        return (
            f"{self.checked} events checked; {self.checkpoint}; {self.logged}; {self.referrals_checked} referrals "
            "checked against "
            f"their last audit event{covered}"
        )


def verify_audit_trail(
    db: Database, *, actor: Actor | None = None, checkpoint: Path | None = None, log_dir: Path | None = None
) -> AuditReport:
    """Check the audit trail: every link of the hash chain, the head against the checkpoint file (by default
    the one `open_session` registered for this database) and against every head logged in `log_dir` (the data
    folder's logs/, rotated files included; since the newest restore), each referral's stored state against its
    last audit event, and the append-only triggers. Reads only, so it runs the same on a database open for
    reading only.

    The database is known by its id (kept inside it, so it moves with the file): the checkpoint and the log
    lines name it so. A checkpoint or log lines an older version named by the path count while the database is
    still at that path.
    """
    registered = checkpoint_path_of(db.engine)
    path = checkpoint if checkpoint is not None else (registered[0] if registered is not None else None)
    where = registered[1] if registered is not None else db.location.describe()
    with db.read() as session:
        if actor is not None:
            authorize(actor, AUDIT_VERIFY, session=session)
        database_id = read_database_id(session.connection())
    # The checkpoint and the logged heads are read before the database's snapshot: written after each commit,
    # read after the snapshot they could be ahead of it while others commit (a false "events deleted").
    keys = {database_key(db.location.url)} | ({database_id} if database_id is not None else set())
    read_file = _read_once(path)
    heads = read_logged_heads(log_files(log_dir, LOG_FILENAME), keys) if log_dir is not None else None
    with db.snapshot() as session:
        chain = verify_chain(session)
        problems: list[str] = []
        if not chain.intact:
            assert chain.problem is not None
            problems.append(chain.problem)
            compared = "checkpoint not compared (the chain is broken)"
            logged = "app log not compared (the chain is broken)"
            checked = not_covered = 0
        else:
            compared, problem = compare_checkpoint(
                session, chain, path, database=database_id, where=where, read=read_file
            )
            missing = path is not None and problem == checkpoint_missing(path, chain.checked)
            if problem is not None and not missing:
                problems.append(problem)
            if heads is None:
                logged = "app log not compared (no log folder given)"
            else:
                logged, log_problems = compare_logged_heads(session, chain, heads)
                problems.extend(log_problems)
            if problem is not None and missing:  # after the log's evidence of what was done, if any
                problems.append(problem)
            referrals = verify_referrals(session, chain)
            problems.extend(referrals.problems)
            checked, not_covered = referrals.checked, referrals.not_covered
        triggers = check_append_only(session)
        if triggers is not None:
            problems.append(triggers)
    report = AuditReport(chain, compared, logged, checked, not_covered, tuple(problems))
    for number, problem in enumerate(problems, start=1):  # ids, hashes and paths only: no patient data
        log.error("audit verify: problem %d of %d: %s", number, len(problems), problem)
    return report


def _read_once(path: Path | None) -> Callable[[Path], Checkpoint | None]:
    """The checkpoint at `path` read now (its error kept to be raised when it is compared), as a reader."""
    if path is None:
        return read_checkpoint
    try:
        found = read_checkpoint(path)
    except CheckpointError as exc:
        failure = exc

        def failed(_path: Path) -> Checkpoint | None:
            raise failure

        return failed
    return lambda _path: found


def logs_beside(backup_dir: Path) -> Path:
    """The app log's folder of the data folder whose backups folder is `backup_dir` (config.AppPaths)."""
    return backup_dir.parent / "logs"


def backup_audit_check(db: Database, *, log_dir: Path | None) -> Callable[[Path], str]:
    """The audit check a backup runs on its copy (storage.backup.take_backup's `audit_check`).

    The database's trail is verified as `audit verify` does (the chain, the checkpoint, the app log in
    `log_dir`, every referral, the triggers): the checkpoint and the log record the database's head, which may
    be ahead of the copy's by a change made while it was taken, so they are compared with the database. Then
    the copy's own chain is checked link by link and its last event must be the database's event of that id:
    the copy holds the verified trail up to there. Returns `AUDIT_INTACT` or the first problem, in words.
    """

    def check(copy: Path) -> str:
        report = verify_audit_trail(db, log_dir=log_dir)
        if not report.intact:
            assert report.problem is not None
            return report.problem
        copied = Database(parse_database_url(sqlite_url(copy)), read_only="a backup copy, checked")
        try:
            with copied.read() as session:
                chain = verify_chain(session)
        finally:
            copied.dispose()
        if not chain.intact:
            return f"the backup's own audit chain does not hold: {chain.problem}"
        if chain.last_id == 0:
            return AUDIT_INTACT
        table = AuditEventRow.__table__  # type: ignore[attr-defined]
        with db.read() as session:
            stored = session.connection().execute(select(table.c.hash).where(table.c.id == chain.last_id)).scalar()
        if stored != chain.last_hash:
            return (
                f"the backup's audit chain ends at event {chain.last_id}, which differs from the database's event "
                "of that id: the copy is not of this trail"
            )
        return AUDIT_INTACT

    return check


def audit_queue_export(
    db: Database, *, actor: Actor, referral_ids: list[int], what: str, filters: dict[str, str | None]
) -> str | None:
    """Record that the queue was exported with patient identifiers (`queue --json`), before it is written.

    Returns None when the event is in the audit trail. A read-only database cannot take it: the event goes to
    the app log (ids only) and the returned sentence says so, for the user. Any other failure raises, and the
    caller writes nothing.
    """
    if getattr(db, "read_only", None) is not None:  # Database.read_only: the read-only mode's reason
        log.warning(
            "queue export recorded in the log only (database read-only): user=%s what=%s referrals=%d",
            actor.login,
            what,
            len(referral_ids),
        )
        return "recorded in the app log only, not in the audit trail, because the database is read-only"
    with db.write() as session:
        audit(
            session,
            actor,
            "export",
            "queue",
            None,
            {
                "format": [None, what],
                "referrals": [None, len(referral_ids)],
                "referral_ids": [None, referral_ids],
                "filter": [None, filters],
            },
        )
    return None
