"""Approved rules: reading the newest approval and adding one, inside the caller's transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from triage_app.storage.models import ApprovedRulesRow, AppUser


@dataclass(frozen=True, slots=True)
class StoredApproval:
    """One approval row with its approver's names."""

    id: int
    version: str
    sha256: str
    content: str
    approved_at: datetime
    approved_by: int
    approver_name: str
    approver_login: str
    basis: str | None


def lock_rules(session: Session) -> None:
    """Hold the rules until the transaction ends, so two approvals (or two first starts) cannot interleave.

    SQLite runs one write transaction at a time (BEGIN IMMEDIATE), so nothing is needed there. PostgreSQL runs
    them side by side: a transaction-scoped advisory lock makes the second wait for the first, then see it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(b"triage_app.approved_rules", digest_size=8).digest()
    session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


def _stored(row: ApprovedRulesRow, user: AppUser) -> StoredApproval:
    assert row.id is not None
    return StoredApproval(
        id=row.id,
        version=row.version,
        sha256=row.sha256,
        content=row.content,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        approver_name=user.display_name,
        approver_login=user.login,
        basis=row.basis,
    )


def newest_approval(session: Session) -> StoredApproval | None:
    """The approval in force: the newest one (highest id); None when the database has none yet."""
    found = session.execute(
        select(ApprovedRulesRow, AppUser)
        .join(AppUser, col(AppUser.id) == col(ApprovedRulesRow.approved_by))
        .order_by(col(ApprovedRulesRow.id).desc())
        .limit(1)
    ).first()
    return None if found is None else _stored(found[0], found[1])


def approvals_of_version(session: Session, *, version: str) -> list[StoredApproval]:
    """Every approval of `version`, oldest first."""
    found = session.execute(
        select(ApprovedRulesRow, AppUser)
        .join(AppUser, col(AppUser.id) == col(ApprovedRulesRow.approved_by))
        .where(col(ApprovedRulesRow.version) == version)
        .order_by(col(ApprovedRulesRow.id))
    ).all()
    return [_stored(row, user) for row, user in found]


def ever_approved(session: Session, *, sha256: str) -> bool:
    """Whether this exact text was ever approved in this database (in force now or not)."""
    return (
        session.execute(
            select(col(ApprovedRulesRow.id)).where(col(ApprovedRulesRow.sha256) == sha256).limit(1)
        ).scalar_one_or_none()
        is not None
    )


def insert_approval(
    session: Session, *, version: str, sha256: str, content: str, approved_by: int, basis: str | None
) -> StoredApproval:
    """Add an approval; it is in force from the commit."""
    row = ApprovedRulesRow(version=version, sha256=sha256, content=content, approved_by=approved_by, basis=basis)
    session.add(row)
    session.flush()
    user = session.get(AppUser, approved_by)
    assert user is not None
    return _stored(row, user)
