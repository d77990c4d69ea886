"""One referral exported in the interchange format (`triage-app referral export`), audited before it is written.

A new file beside services/referrals.py (reworked by another helper in issue 11): the command line needed one use
case the desktop has no button for. The document is exactly what `import` and `referral edit` read, so a referral
can be taken out, corrected and put back (`referral edit REFERRAL FILE --version N`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage_app.domain.referral import referral_to_json
from triage_app.services.auditing import audit
from triage_app.services.errors import ServiceError
from triage_app.services.export_destinations import ExportNotWritten, ExportRefused, check_export_destination
from triage_app.services.export_files import Staged, place, read_only_reason, undo, why_not_written, write_temporary
from triage_app.services.referrals import get_referral
from triage_app.services.users import Actor
from triage_app.storage.engine import Database, DatabaseError

log = logging.getLogger(__name__)

#: Where an export to standard output is recorded as going.
STANDARD_OUTPUT = "standard output"


@dataclass(frozen=True, slots=True)
class ReferralExport:
    """The referral as `import` reads it, the version it was read at, where it went and how it was recorded."""

    referral_id: int
    version: int
    document: dict[str, Any]
    written_to: Path | None  # None: the caller prints `document` (standard output)
    # None when the export is in the audit trail; on a read-only database, the sentence saying it is in the log.
    note: str | None


def export_referral(
    db: Database,
    *,
    actor: Actor,
    referral_id: int,
    out: Path | None = None,
    data_dir: Path | None = None,
    overwrite: bool = False,
) -> ReferralExport:
    """Read the referral (anyone who may see it), record its export, and write it to `out` if given.

    The destination is checked first (never the data folder or a database; an existing file only with
    `overwrite`). A file and its audit event stand or fall together, as the meeting exports do
    (services.export_files): the file is written under a temporary name, then the event is written and the file
    renamed into place in one transaction; any failure removes it (`ExportNotWritten`). Without `out` the event
    is committed before the caller prints a byte. On a read-only database the event goes to the app log (ids
    only) and `note` says so (H11).
    """
    target = None
    if out is not None:
        target = check_export_destination(out, data_dir=data_dir, db_path=db.location.path, overwrite=overwrite)
    detail = get_referral(db, referral_id=referral_id, actor=actor)
    version = detail.row.version
    document = referral_to_json(detail.referral)
    details = {
        "format": [None, "json"],
        "file": [None, STANDARD_OUTPUT if target is None else target.name],
        "version": [None, version],
    }
    staged = None
    try:
        if target is not None:
            data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            staged = Staged(target, write_temporary(target, data))
        reason = read_only_reason(db)
        note = None
        if reason is None:
            with db.write() as session:
                audit(session, actor, "export", "referral", referral_id, details)
                if staged is not None:
                    place(staged, overwrite=overwrite)  # after the event, before the commit
        else:
            if staged is not None:
                place(staged, overwrite=overwrite)
            log.warning(
                "referral export recorded in the log only (database read-only): user=%s referral=%s",
                actor.login,
                referral_id,
            )
            note = f"recorded in the app log only, not in the audit trail, because the database is read-only ({reason})"
    except BaseException as exc:
        left = undo([staged]) if staged is not None else []
        if isinstance(exc, ExportRefused) and not left:
            raise
        if not isinstance(exc, (DatabaseError, OSError, ServiceError)):
            raise
        log.error("referral export not written (referral %s): %s", referral_id, type(exc).__name__)
        still = f" {left[0]} could not be removed and may hold patient data: delete it by hand." if left else ""
        raise ExportNotWritten(f"referral {referral_id} was not exported: {why_not_written(db, exc)}.{still}") from exc
    if staged is not None and staged.aside is not None:  # committed: the replaced file is no longer needed
        with contextlib.suppress(OSError):
            staged.aside.unlink()
    return ReferralExport(referral_id, version, document, target, note)
