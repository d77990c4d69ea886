"""Audit trail checks and on-demand backups."""

from __future__ import annotations

from pathlib import Path

from triage_app.services.errors import ServiceError
from triage_app.services.permissions import AUDIT_VERIFY, BACKUP, authorize
from triage_app.services.users import Actor
from triage_app.storage.audit import ChainReport, record_event, verify_chain
from triage_app.storage.backup import backup_sqlite
from triage_app.storage.engine import Database


def verify_audit_trail(db: Database, *, actor: Actor | None = None) -> ChainReport:
    """Check every link of the audit hash chain; the report names the first broken event."""
    with db.read() as session:
        if actor is not None:
            authorize(actor, AUDIT_VERIFY, session=session)
        return verify_chain(session)


def backup_now(db: Database, *, actor: Actor, backup_dir: Path, out: Path | None = None) -> Path:
    """Online backup of a SQLite database into `backup_dir` (or exactly to `out`); audited."""
    authorize(actor, BACKUP, db=db)
    source = db.location.path
    if source is None:
        raise ServiceError("backups of a database server are made by its own tools (pg_dump), not by the app")
    if out is not None:
        if out.exists():
            raise ServiceError(f"{out} already exists; choose a new file name")
        target = backup_sqlite(source, out.parent, reason="manual", keep=10_000)
        target.replace(out)
        target = out
    else:
        target = backup_sqlite(source, backup_dir, reason="manual")
    with db.write() as session:
        record_event(
            session,
            user_login=actor.login,
            action="backup",
            entity="database",
            entity_id=None,
            changes={"file": [None, target.name]},
        )
    return target
