"""The one way a use case writes to the audit trail: `audit(session, actor, action, entity, entity_id, details)`.

The services used to spell out `record_event(session, user_login=..., action=..., entity=..., entity_id=...,
changes=...)` at every mutation; this takes the actor (whoever made the change: an `Actor`, or a login where
there is no actor yet, as at the first sign-in or a restore) and queues the same event, so the stored events,
their fields and the hash chain are exactly what `record_event` writes (storage.audit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlmodel import Session

from triage_app.storage.audit import record_event


class _HasLogin(Protocol):
    @property
    def login(self) -> str: ...


def audit(
    session: Session,
    actor: _HasLogin | str,
    action: str,
    entity: str,
    entity_id: int | str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Queue one audit event by `actor` in the caller's write transaction (written, chained, at its commit).

    `details` maps each changed field to `[before, after]`, as every event records it.
    """
    login = actor if isinstance(actor, str) else actor.login
    record_event(
        session,
        user_login=login,
        action=action,
        entity=entity,
        entity_id=entity_id,
        changes=dict(details or {}),
    )
