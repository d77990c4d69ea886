"""Clinical rules under governance: the database's newest approval is in force on every desktop and command.

A rules file is only ever a proposal: the one shipped with the app, or a unit's own. An administrator approves
it, seeing what changes criterion by criterion; the approval and the reassessment it causes (open referrals
that have not reached an MDT) commit in one audited transaction. A version keeps one content for ever: a file
that reuses an approved version with other text is refused, naming both SHA-256 prefixes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from triage_app.domain.rules import ApprovedRules, RulesFileError, RulesText, parse_rules_text
from triage_app.domain.rules_changes import describe_changes, sha_prefix
from triage_app.services.auditing import audit
from triage_app.services.changes import NOTHING, Changes
from triage_app.services.errors import ServiceError
from triage_app.services.permissions import APPROVE_RULES, VIEW_RULES, authorize
from triage_app.services.referrals import Reassessment, count_reassessable, reassess_in_transaction
from triage_app.services.rules_guard import RulesChanged as RulesChanged  # callers of the rules service use it
from triage_app.services.rules_guard import require_rules_in_force as require_rules_in_force
from triage_app.services.users import Actor, active_admins_query
from triage_app.storage import rules as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import AppUser, ReferralRow, UserRole

log = logging.getLogger(__name__)

BASIS_ADMIN = "approved by an administrator"
BASIS_NEW_DATABASE = "new database: the rules shipped with the app, approved in the name of its first administrator"
BASIS_UPGRADED = (
    "database without approved rules (made by an earlier version of the app): the rules shipped with the app, "
    "approved in the name of its first active administrator"
)
APPROVE_HINT = "an administrator approves rules with `triage-app rules approve FILE` or Rules in force… in the app"


class RulesRefused(ServiceError):
    """A rules file that cannot be approved: it reuses an approved version with other content."""


class NoApprovedRules(ServiceError):
    """The database holds no approved rules and none could be approved on start."""


def _approved(stored: repo.StoredApproval) -> ApprovedRules:
    """The stored approval, its text checked against its SHA-256 and read again."""
    try:
        parsed = parse_rules_text(stored.content, f"the approved rules {stored.version}")
    except RulesFileError as exc:
        raise ServiceError(
            f"the rules approved in this database ({stored.version}) cannot be read by this version of the app: "
            f"{exc}. Install the version of the app that approved them, or {APPROVE_HINT}."
        ) from None
    if parsed.sha256 != stored.sha256 or parsed.version != stored.version:
        raise ServiceError(
            f"the approved rules {stored.version} in this database do not match their SHA-256 "
            f"({sha_prefix(stored.sha256)}): they were altered outside the app. Restore a backup, or {APPROVE_HINT}."
        )
    return ApprovedRules(
        approval_id=stored.id,
        version=stored.version,
        sha256=stored.sha256,
        approved_by=stored.approver_name,
        approved_by_login=stored.approver_login,
        approved_at=stored.approved_at,
        rules=parsed.rules,
        text=stored.content,
    )


def _in_force(session: Session) -> ApprovedRules:
    stored = repo.newest_approval(session)
    if stored is None:
        raise NoApprovedRules(f"this database holds no approved rules yet; {APPROVE_HINT}")
    return _approved(stored)


def rules_in_force(db: Database) -> ApprovedRules:
    """The rules in force: the database's newest approval (version, SHA-256, approver, time, the parsed rules)."""
    with db.read() as session:
        return _in_force(session)


def _refusal(session: Session, proposed: RulesText) -> str | None:
    """Why `proposed` cannot be approved, or None: a version keeps the one content it was first approved with."""
    for earlier in repo.approvals_of_version(session, version=proposed.version):
        if earlier.sha256 != proposed.sha256:
            return (
                f"rules version {proposed.version} is already approved with other content (approved SHA-256 "
                f"{sha_prefix(earlier.sha256)}, this file {sha_prefix(proposed.sha256)}). A changed rules file "
                "needs a new version, so that every stored assessment says which rules made it."
            )
    return None


@dataclass(frozen=True, slots=True)
class RulesPreview:
    """What approving a rules file would do: its changes in words, and how many referrals it would reassess."""

    in_force: ApprovedRules
    proposed: RulesText
    changes: tuple[str, ...]
    same_as_in_force: bool
    refusal: str | None  # why it cannot be approved, if it cannot
    to_reassess: int

    @property
    def approvable(self) -> bool:
        """True when approving would change the rules in force."""
        return not self.same_as_in_force and self.refusal is None


def preview_rules(db: Database, *, actor: Actor, proposed: RulesText) -> RulesPreview:
    """Compare a rules file with the rules in force (anyone with an active role); nothing is stored."""
    with db.read() as session:
        authorize(actor, VIEW_RULES, session=session)  # anyone with an active role, as stored now
        in_force = _in_force(session)
        same = in_force.sha256 == proposed.sha256
        return RulesPreview(
            in_force=in_force,
            proposed=proposed,
            changes=tuple(describe_changes(in_force, proposed)),
            same_as_in_force=same,
            refusal=None if same else _refusal(session, proposed),
            to_reassess=0 if same else count_reassessable(session, rules=proposed.rules),
        )


@dataclass(frozen=True, slots=True)
class RulesApproval:
    """The outcome of an approval: the rules now in force, their changes criterion by criterion
    (`rule_changes`), which referrals were reassessed, and what changed for the views (`changes`: the rules and
    the referrals reassessed; nothing when the rules were already in force)."""

    approval: ApprovedRules
    rule_changes: tuple[str, ...]
    reassessed: tuple[int, ...]
    lapsed: tuple[int, ...]  # referrals whose standing triage decision lapsed because their outcome changed
    already_in_force: bool
    #: Referrals left for the background reassessment (an approval from the desktop: `reassess=False`).
    deferred: int = 0

    @property
    def changes(self) -> Changes:
        """The rules changed (every assessment may differ) and these referrals were rescored; or nothing."""
        if self.already_in_force:
            return NOTHING
        return Changes(referral_ids=frozenset(self.reassessed), rules=True)

    def summary(self) -> str:
        """One sentence for the person who approved."""
        if self.already_in_force:
            return (
                f"These rules ({self.approval.version}, SHA-256 {self.approval.sha_prefix}) are already the rules "
                "in force; nothing changed."
            )
        if self.deferred:
            return (
                f"Rules {self.approval.version} approved by {self.approval.approved_by}; {self.deferred} open "
                f"referral{'s' if self.deferred != 1 else ''} not yet at an MDT {'are' if self.deferred != 1 else 'is'}"
                " being reassessed in the background (the status bar shows the progress; until then each shows as "
                "not yet reassessed)."
            )
        count = len(self.reassessed)
        lapsed = (
            f"; {len(self.lapsed)} standing triage decision{'s' if len(self.lapsed) != 1 else ''} lapsed and "
            f"need{'s' if len(self.lapsed) == 1 else ''} a consultant again"
            if self.lapsed
            else ""
        )
        return (
            f"Rules {self.approval.version} approved by {self.approval.approved_by}; {count} open "
            f"referral{'s' if count != 1 else ''} not yet at an MDT reassessed{lapsed}."
        )


def _approve_in_transaction(
    session: Session,
    *,
    approver: Actor,
    proposed: RulesText,
    before: ApprovedRules | None,
    basis: str,
    as_of: date,
    details: dict[str, Any],
    reassess: bool = True,
) -> tuple[repo.StoredApproval, Reassessment]:
    """Store the approval, reassess what has not reached an MDT with it, and audit both (`details` adds to the
    event), inside the caller's write transaction. Without `reassess` only the approval is stored: the referrals
    are reassessed afterwards in batches (`reassess_open`, the desktop's background reassessment)."""
    inserted = repo.insert_approval(
        session,
        version=proposed.version,
        sha256=proposed.sha256,
        content=proposed.text,
        approved_by=approver.user_id,
        basis=basis,
    )
    done = (
        reassess_in_transaction(session, actor=approver, rules=proposed.rules, as_of=as_of, only_stale=False)
        if reassess
        else Reassessment((), ())
    )
    changes: dict[str, Any] = {
        "version": [None if before is None else before.version, proposed.version],
        "sha256": [None if before is None else before.sha256, proposed.sha256],
    }
    changes.update({key: [None, value] for key, value in details.items()})
    if reassess:
        changes["reassessed"] = [None, len(done.referral_ids)]
        changes["decisions_lapsed"] = [None, len(done.lapsed)]
    else:  # each referral's own "reassess" event follows, batch by batch
        changes["reassessed"] = [None, "in the background"]
    audit(session, approver, "approve", "rules", inserted.id, changes)
    return inserted, done


def approve_rules(
    db: Database, *, actor: Actor, proposed: RulesText, as_of: date, reassess: bool = True
) -> RulesApproval:
    """An administrator approves a rules file: it is in force on every desktop from the commit.

    In one transaction: the approval, the reassessment of open referrals that have not reached an MDT (never
    listed, discussed or closed ones) and the audit event. The same content as the rules in force is a no-op;
    a version already approved with other content is refused (`RulesRefused`).

    `reassess=False` (the desktop): only the approval and its event are committed; the open referrals are then
    reassessed in batches in the background (`reassess_open`) and show as not yet reassessed until theirs commits.
    """
    authorize(actor, APPROVE_RULES)  # refused before waiting for the lock when the roles signed in with say no
    with db.write() as session:
        repo.lock_rules(session)
        authorize(actor, APPROVE_RULES, session=session)  # an administrator still, and active, as stored now
        stored = repo.newest_approval(session)
        before = None if stored is None else _approved(stored)
        if before is not None and before.sha256 == proposed.sha256:
            return RulesApproval(before, (), (), (), already_in_force=True)
        refusal = _refusal(session, proposed)
        if refusal is not None:
            raise RulesRefused(refusal)
        changes = tuple(describe_changes(before, proposed)) if before is not None else ()
        inserted, done = _approve_in_transaction(
            session,
            approver=actor,
            proposed=proposed,
            before=before,
            basis=BASIS_ADMIN,
            as_of=as_of,
            details={"changes": list(changes)},
            reassess=reassess,
        )
        deferred = 0 if reassess else count_reassessable(session, rules=proposed.rules, only_stale=True)
        log.info(
            "rules %s approved; %d referrals reassessed, %d decisions lapsed",
            proposed.version,
            len(done.referral_ids),
            len(done.lapsed),
        )
        return RulesApproval(
            _approved(inserted), changes, done.referral_ids, done.lapsed, already_in_force=False, deferred=deferred
        )


@dataclass(frozen=True, slots=True)
class RulesAtStart:
    """The rules a session opens with, and whether opening approved the shipped ones (a new database)."""

    approval: ApprovedRules
    approved_on_start: bool
    reassessed: int


def _first_active_admin(session: Session) -> Actor | None:
    first = next(iter(session.execute(active_admins_query()).scalars()), None)
    if first is None:
        return None
    user = session.get(AppUser, first)
    assert user is not None and user.id is not None
    roles = session.execute(select(col(UserRole.role)).where(col(UserRole.user_id) == user.id)).scalars().all()
    return Actor(user_id=user.id, login=user.login, display_name=user.display_name, roles=frozenset(roles))


def ensure_rules_approved(
    db: Database, *, signed_in: Actor, shipped: RulesText | None, as_of: date, reassess: bool = True
) -> RulesAtStart:
    """The rules in force; a database with none approves the shipped rules first, audited, in one transaction.

    A new database approves them in its first administrator's name; one upgraded from an earlier version does
    the same in the name of its first active administrator, and the audit event says so and who started the app.
    Open referrals that have not reached an MDT are reassessed with them: in the same transaction, or, with
    `reassess=False` (the desktop), afterwards in background batches (`reassess_open`) once the window shows.
    """
    with db.write() as session:
        repo.lock_rules(session)
        stored = repo.newest_approval(session)
        if stored is not None:
            return RulesAtStart(_approved(stored), approved_on_start=False, reassessed=0)
        if shipped is None:
            raise NoApprovedRules(
                f"this database holds no approved rules and the app's own rules file is unusable; {APPROVE_HINT}"
            )
        admin = _first_active_admin(session)
        if admin is None:
            raise NoApprovedRules(
                "this database holds no approved rules and has no active administrator to approve them"
            )
        has_referrals = session.execute(select(func.count()).select_from(ReferralRow)).scalar_one() > 0
        basis = BASIS_UPGRADED if has_referrals else BASIS_NEW_DATABASE
        inserted, done = _approve_in_transaction(
            session,
            approver=admin,
            proposed=shipped,
            before=None,
            basis=basis,
            as_of=as_of,
            details={"basis": basis, "in_the_name_of": admin.login, "started_by": signed_in.login},
            reassess=reassess,
        )
        log.info("no approved rules: the shipped rules %s approved on start", shipped.version)
        return RulesAtStart(_approved(inserted), approved_on_start=True, reassessed=len(done.referral_ids))


@dataclass(frozen=True, slots=True)
class RulesProposal:
    """A rules file shipped with this version of the app that differs from the rules in force: only offered."""

    proposed: RulesText
    changes: tuple[str, ...]
    refusal: str | None

    def notice(self) -> str:
        """One line for the administrator's notice bar and `rules show`."""
        if self.refusal is not None:
            return (
                f"This version of the app ships rules {self.proposed.version}, which cannot be approved: {self.refusal}"
            )
        return (
            f"This version of the app ships rules {self.proposed.version} (SHA-256 "
            f"{sha_prefix(self.proposed.sha256)}), which differ from the rules in force. They are only a proposal "
            "until an administrator reviews and approves them."
        )


def shipped_proposal(db: Database, *, shipped: RulesText | None) -> RulesProposal | None:
    """The shipped rules as a proposal, if they were never approved in this database; otherwise None.

    Rules once approved and later replaced are not offered again on every start: an administrator chose others.
    """
    if shipped is None:
        return None
    with db.read() as session:
        stored = repo.newest_approval(session)
        if stored is None or repo.ever_approved(session, sha256=shipped.sha256):
            return None
        in_force = _approved(stored)
        return RulesProposal(shipped, tuple(describe_changes(in_force, shipped)), _refusal(session, shipped))
