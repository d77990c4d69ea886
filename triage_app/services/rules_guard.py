"""The guard every scoring write passes: score only with the rules in force.

Apart from services/rules.py because referral saves need it and the rules service itself builds on referrals.
"""

from __future__ import annotations

from sqlmodel import Session

from triage_app.domain.rules import Rules
from triage_app.services.errors import ServiceError
from triage_app.storage import rules as repo


class RulesChanged(ServiceError):
    """The rules a desktop loaded are no longer the ones in force (another desktop approved newer ones)."""


def require_rules_in_force(session: Session, rules: Rules) -> None:
    """Inside a write transaction: refuse to score with rules that are no longer the ones in force.

    A desktop loads the rules when it opens; if another desktop approves newer ones meanwhile, a save scored with
    the old ones would store an assessment by rules no longer approved. (A version has one content, so the
    version names the rules.)
    """
    stored = repo.newest_approval(session)
    if stored is not None and stored.version != rules.version:
        raise RulesChanged(
            f"the rules in force changed to {stored.version} (approved by {stored.approver_name}) after this "
            f"desktop loaded {rules.version}; nothing was saved. Press F5 (or run the command again) to use them, "
            "then save again."
        )
