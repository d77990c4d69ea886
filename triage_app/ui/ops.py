"""Ops on one referral that hand back its fresh detail with their `Changes`, in the same worker job.

A save, a triage decision or a status move is one round-trip to the database: the op writes and the same job
returns the referral as it now stands, so the panel shows it without a second read. The services put the fresh
`ReferralDetail` on their results (`.detail`); where a result does not carry one, it is read in the same job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes
    from triage_app.services.referrals import ReferralDetail


@dataclass(frozen=True, slots=True)
class WithDetail:
    """A writing op's result and the referral's detail after it."""

    result: Any
    detail: ReferralDetail

    @property
    def changes(self) -> Changes:
        """What the op changed (broadcast by `AppContext.run`)."""
        changes: Changes = self.result.changes
        return changes


def with_detail(
    op: Callable[[AppSession], Any], referral_id: Callable[[Any], int]
) -> Callable[[AppSession], WithDetail]:
    """`op`, and in the same job the fresh detail of the referral it acted on (`referral_id(result)`)."""

    def run(session: AppSession) -> WithDetail:
        result = op(session)
        detail = getattr(result, "detail", None)
        if detail is None:  # a result without the fresh detail: read it in this same job, not in a second one
            from triage_app.services.referrals import get_referral

            detail = get_referral(session.db, referral_id=referral_id(result), actor=session.actor)
        return WithDetail(result, detail)

    return run
