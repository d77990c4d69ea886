"""One referral exported in the interchange format (`triage-app referral export`), audited before it is written.

A new file beside services/referrals.py (reworked by another helper in issue 11): the command line needed one use
case the desktop has no button for. The document is exactly what `import` and `referral edit` read, so a referral
can be taken out, corrected and put back (`referral edit REFERRAL FILE --version N`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage_app.domain.referral import referral_to_json
from triage_app.services.auditing import audit
from triage_app.services.exports import check_export_destination, write_atomically
from triage_app.services.referrals import get_referral
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

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
    """Read the referral (anyone who may see it), record its export, then write it to `out` if given.

    The destination is checked first (never the data folder or a database; an existing file only with
    `overwrite`), and the audit event is written before a byte of patient data leaves: if it cannot be, nothing
    is written (H11). On a read-only database the event goes to the app log (ids only) and `note` says so.
    """
    target = None
    if out is not None:
        target = check_export_destination(out, data_dir=data_dir, db_path=db.location.path, overwrite=overwrite)
    detail = get_referral(db, referral_id=referral_id, actor=actor)
    version = detail.row.version
    document = referral_to_json(detail.referral)
    destination = STANDARD_OUTPUT if target is None else target.name
    note = None
    if getattr(db, "read_only", None) is not None:  # Database.read_only: the read-only mode's reason
        log.warning(
            "referral export recorded in the log only (database read-only): user=%s referral=%s",
            actor.login,
            referral_id,
        )
        note = "recorded in the app log only, not in the audit trail, because the database is read-only"
    else:
        with db.write() as session:
            audit(
                session,
                actor,
                "export",
                "referral",
                referral_id,
                {"format": [None, "json"], "file": [None, destination], "version": [None, version]},
            )
    if target is not None:
        write_atomically(target, (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return ReferralExport(referral_id, version, document, target, note)
