"""Audit trail checks. (On-demand backups are services/maintenance.py's; `backup_now` is re-exported here.)"""

from __future__ import annotations

from triage_app.services.maintenance import backup_now as backup_now  # moved there; re-exported for callers
from triage_app.services.permissions import AUDIT_VERIFY, authorize
from triage_app.services.users import Actor
from triage_app.storage.audit import ChainReport, verify_chain
from triage_app.storage.engine import Database


def verify_audit_trail(db: Database, *, actor: Actor | None = None) -> ChainReport:
    """Check every link of the audit hash chain; the report names the first broken event."""
    with db.read() as session:
        if actor is not None:
            authorize(actor, AUDIT_VERIFY, session=session)
        return verify_chain(session)
