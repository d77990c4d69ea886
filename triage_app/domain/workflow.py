"""Referral workflow states, which kind of move each change of status is, and the user roles.

Who may make each kind of move is the role matrix's (services.permissions): this module says only what a move is.
"""

from __future__ import annotations

from typing import Final

COORDINATOR: Final = "coordinator"
CONSULTANT: Final = "consultant"
ADMIN: Final = "admin"
ROLES: Final = (COORDINATOR, CONSULTANT, ADMIN)

RECEIVED: Final = "received"
AWAITING_INFORMATION: Final = "awaiting_information"
REDIRECTED: Final = "redirected"
NOT_YET_REFRACTORY: Final = "not_yet_refractory"
READY_FOR_MDT: Final = "ready_for_mdt"
LISTED: Final = "listed"
DISCUSSED: Final = "discussed"
CLOSED: Final = "closed"

STATUSES: Final = (
    RECEIVED,
    AWAITING_INFORMATION,
    REDIRECTED,
    NOT_YET_REFRACTORY,
    READY_FOR_MDT,
    LISTED,
    DISCUSSED,
    CLOSED,
)
OPEN_STATUSES: Final = frozenset(STATUSES) - {CLOSED}

STATUS_LABELS: Final = {
    RECEIVED: "Received",
    AWAITING_INFORMATION: "Awaiting information",
    REDIRECTED: "Redirected",
    NOT_YET_REFRACTORY: "Not yet refractory",
    READY_FOR_MDT: "Ready for MDT",
    LISTED: "Listed for MDT",
    DISCUSSED: "Discussed at MDT",
    CLOSED: "Closed",
}

_TRIAGED: Final = frozenset({AWAITING_INFORMATION, REDIRECTED, NOT_YET_REFRACTORY, READY_FOR_MDT})

#: status -> the statuses it may move to
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    RECEIVED: _TRIAGED | {CLOSED},
    AWAITING_INFORMATION: (_TRIAGED - {AWAITING_INFORMATION}) | {RECEIVED, CLOSED},
    REDIRECTED: frozenset({RECEIVED, CLOSED}),
    NOT_YET_REFRACTORY: (_TRIAGED - {NOT_YET_REFRACTORY}) | {RECEIVED, CLOSED},
    READY_FOR_MDT: (_TRIAGED - {READY_FOR_MDT}) | {LISTED, RECEIVED, CLOSED},
    LISTED: frozenset({READY_FOR_MDT, DISCUSSED}),
    DISCUSSED: frozenset({LISTED, CLOSED}),
    CLOSED: frozenset({RECEIVED}),
}

#: Coordinator moves: pausing a referral to chase missing information, and back (safety.md).
COORDINATOR_MOVES: Final = frozenset({(RECEIVED, AWAITING_INFORMATION), (AWAITING_INFORMATION, RECEIVED)})

#: Statuses reached only through a consultant's triage decision (confirm or override), never by a plain move.
DECISION_STATUSES: Final = frozenset({REDIRECTED, NOT_YET_REFRACTORY, READY_FOR_MDT})

MOVE_BY_MEETING: Final = "meeting"
MOVE_BY_DECISION: Final = "decision"
MOVE_BY_COORDINATOR: Final = "coordinator"
MOVE_BY_CONSULTANT: Final = "consultant"


def move_rule(source: str, target: str) -> str:
    """What kind of move `source` -> `target` is: the meeting window's, a triage decision's, or a plain move
    that is a coordinator's (awaiting information and back) or a consultant's.

    Every plain move other than the coordinator's reverses or replaces a consultant's judgement, so it is a
    consultant's. The role matrix (services.permissions.status_move_action) turns each into the action checked.
    """
    if meeting_managed(source, target):
        return MOVE_BY_MEETING
    if target in DECISION_STATUSES:
        return MOVE_BY_DECISION
    if (source, target) in COORDINATOR_MOVES:
        return MOVE_BY_COORDINATOR
    return MOVE_BY_CONSULTANT


def move_needs_reason(source: str, target: str) -> bool:
    """Closing a referral the MDT never discussed needs a written reason."""
    return target == CLOSED and source != DISCUSSED


#: The triage outcome a consultant's confirmation moves the referral to.
STATUS_FOR_OUTCOME: Final = {
    "out_of_scope": CLOSED,
    "redirect_to_specialist_unit": REDIRECTED,
    "needs_specialist_assessment": REDIRECTED,
    "not_yet_refractory": NOT_YET_REFRACTORY,
    "needs_information": AWAITING_INFORMATION,
    "ready_for_mdt": READY_FOR_MDT,
}


def can_move(source: str, target: str) -> bool:
    """Whether the workflow allows `source` -> `target`."""
    return target in TRANSITIONS.get(source, frozenset())


#: Statuses in which the triage can still be confirmed or overridden (not once the MDT has the case).
TRIAGEABLE: Final = frozenset({RECEIVED, AWAITING_INFORMATION, REDIRECTED, NOT_YET_REFRACTORY, READY_FOR_MDT})


def meeting_managed(source: str, target: str) -> bool:
    """Moves into or out of "listed" belong to the meeting's list (add, remove, outcome), not to a status change."""
    return LISTED in (source, target)
