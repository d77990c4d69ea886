"""The MDT's decision on a case: recorded (consultants), amended with a reason, or "not discussed" (it rolls on).

Importable from services.meetings as before; planning lives there, the shared case moves in
services.meeting_cases, the SQL in storage.meetings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from triage_app.domain.meetings import (
    ACCEPT_FOR_SPD,
    CANCELLED,
    HELD,
    MEETING_OUTCOME_LABELS,
    MEETING_OUTCOMES,
    NOT_DISCUSSED,
    CaseAction,
    checklist_missing,
)
from triage_app.domain.workflow import DISCUSSED, LISTED, READY_FOR_MDT
from triage_app.services.auditing import audit
from triage_app.services.changes import Changes
from triage_app.services.errors import NotFound, ServiceError
from triage_app.services.meeting_cases import describe, lock_referral, meeting_or_refuse, roll_forward, set_referral
from triage_app.services.permissions import AMEND_OUTCOME, RECORD_OUTCOME, authorize
from triage_app.services.users import Actor, limited_text
from triage_app.storage import meetings as store
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import AppUser, ReferralRow, StatusChangeRow, utc_now


class OutcomeConflict(ServiceError):
    """Someone recorded or amended this case's outcome after the user loaded it; nothing was overwritten."""


def _require_standing_decision(referral: ReferralRow, outcome: str) -> None:
    if outcome == ACCEPT_FOR_SPD and referral.decided_outcome != READY_FOR_MDT:
        raise ServiceError(
            "accepting for SPD needs a standing consultant decision of ready for MDT: the triage changed "
            "since it was confirmed, so a consultant reconfirms it first"
        )


def _checked_inputs(
    outcome: str,
    rationale: str | None,
    amend_reason: str | None,
    checklist: dict[str, bool] | None,
    actions: Iterable[CaseAction] | None,
) -> tuple[str, str | None, dict[str, bool], list[CaseAction] | None]:
    """The rationale and reason trimmed, the ticks and actions checked: refusals before any transaction."""
    if outcome not in MEETING_OUTCOMES:
        raise ServiceError(f"'{outcome}' is not an MDT outcome: {', '.join(MEETING_OUTCOMES)}")
    text = limited_text(rationale, "outcome.rationale", "rationale")
    if text is None:
        raise ServiceError("an MDT outcome needs a rationale: write why the MDT decided it")
    reason = limited_text(amend_reason, "outcome.amend_reason", "reason for amending")
    ticks = checklist or {}
    if outcome == ACCEPT_FOR_SPD:
        missing = checklist_missing(ticks)
        if missing:
            raise ServiceError("accepting for SPD needs the checklist first: " + "; ".join(missing))
    action_list = None if actions is None else list(actions)  # None: keep what an amended outcome had
    for action in action_list or ():
        if limited_text(action.description, "action.description", "action") is None:
            raise ServiceError("an action needs a description")
        limited_text(action.owner, "action.owner", "action owner")
    return text, reason, ticks, action_list


def record_outcome(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    referral_id: int,
    outcome: str,
    rationale: str | None,
    today: date,
    checklist: dict[str, bool] | None = None,
    actions: Iterable[CaseAction] | None = None,
    expected_version: int | None = None,
    amend_reason: str | None = None,
    expected_referral_version: int | None = None,
) -> Changes:
    """Record the MDT's decision on a case (consultants only), as a compare-and-swap on the meeting case.

    Refused before the meeting's date, without a rationale, for a case not on the meeting, and, for accepting
    for SPD, without the NICE 1.1 checklist or a standing consultant decision of ready for MDT. Recording
    over an existing outcome is an amendment: it needs the version the user saw and a written reason. A case
    not discussed rolls to the next meeting.

    Returns the referral and the meeting (and the meeting a case not discussed moved to); `meetings` when the
    meeting became held, as a list of meetings shows it.
    """
    # An amendment (a reason given) is checked as one at once; one recorded over unawares is checked below.
    authorize(actor, AMEND_OUTCOME if (amend_reason or "").strip() else RECORD_OUTCOME, db=db)
    rationale, amend_reason, ticks, action_list = _checked_inputs(outcome, rationale, amend_reason, checklist, actions)
    with db.write() as session:
        meeting = meeting_or_refuse(session, meeting_id)
        if meeting.status == CANCELLED:
            raise ServiceError("this meeting was cancelled")
        if today < meeting.meeting_date:
            raise ServiceError(
                f"the meeting is on {meeting.meeting_date:%d-%b-%Y}: outcomes are recorded on or after that date"
            )
        case = store.find_case(session, meeting_id, referral_id)
        if case is None:
            raise NotFound(f"referral {referral_id} is not on meeting {meeting_id}")
        assert case.id is not None
        before = case.outcome
        if before is not None:
            authorize(actor, AMEND_OUTCOME, session=session)
            decider = session.get(AppUser, case.decided_by) if case.decided_by is not None else None
            who = decider.display_name if decider is not None else "another user"
            when = f"{case.decided_at:%d-%b-%Y %H:%M} UTC" if case.decided_at else "earlier"
            if expected_version is None or expected_version != case.version:
                raise OutcomeConflict(
                    f"{MEETING_OUTCOME_LABELS.get(before, before)} was already recorded for this case by {who} "
                    f"({when}); nothing was overwritten. To amend it, give its current version ({case.version}) "
                    "and a reason."
                )
            if amend_reason is None:
                raise ServiceError("amending a recorded outcome needs a written reason")
            if before == NOT_DISCUSSED or outcome == NOT_DISCUSSED:
                raise ServiceError(
                    "a case not discussed has moved on to the next meeting, and a discussed case cannot become "
                    "not discussed: record the outcome on the meeting that discusses it"
                )
        elif expected_version is not None and expected_version != case.version:
            raise OutcomeConflict("this case changed after you loaded it; nothing was recorded. Reload it first.")
        referral = repo.get_referral_row(session, referral_id)
        assert referral is not None
        if expected_referral_version is not None and referral.version != expected_referral_version:
            raise OutcomeConflict(
                "this referral was changed after its case was put on the screen (for example an edit to its "
                "history or cautions); nothing was recorded. Look at the case as it is now, then record."
            )
        _require_standing_decision(referral, outcome)
        swapped = store.swap_case_outcome(
            session,
            case,
            outcome=outcome,
            rationale=rationale,
            patient_information_given=bool(ticks.get("patient_information_given")),
            consent_discussion_planned=bool(ticks.get("consent_discussion_planned")),
            baseline_severity_recorded=bool(ticks.get("baseline_severity_recorded")),
            decided_by=actor.user_id,
            decided_at=utc_now(),
        )
        if not swapped:
            raise OutcomeConflict("this case changed while you were recording; nothing was recorded. Reload it.")
        # Read the referral again, locked, after the case (the order remove_case takes them in): on PostgreSQL
        # an edit may have lapsed its decision since the read above. A refusal here rolls the case back too.
        referral = lock_referral(session, referral_id)
        _require_standing_decision(referral, outcome)
        if action_list is None:
            action_list = list(store.actions(session, case.id))  # an amendment keeps the agreed actions
        store.replace_actions(session, case.id, action_list)
        where = ""
        touched = {meeting_id}
        label = MEETING_OUTCOME_LABELS[outcome]
        if outcome == NOT_DISCUSSED:
            rolled = roll_forward(session, actor, meeting, case)
            where = rolled.where
            touched |= {rolled.meeting_id} if rolled.meeting_id is not None else set()
        elif referral.status == LISTED:
            set_referral(
                session, actor, referral, status=DISCUSSED, meeting_id=None, note=f"MDT {describe(meeting)}: {label}"
            )
        elif before is not None:
            session.add(
                StatusChangeRow(
                    referral_id=referral_id,
                    from_status=referral.status,
                    to_status=referral.status,
                    note=f"MDT outcome amended to {label}: {amend_reason}",
                    changed_by=actor.user_id,
                )
            )
        audit(
            session,
            actor,
            "meeting_outcome_amended" if before is not None else "meeting_outcome",
            "meeting_case",
            case.id,
            {
                "referral_id": [None, referral_id],
                "outcome": [before, outcome],
                "rationale": [case.rationale if before is not None else None, rationale],
                "amend_reason": [None, amend_reason],
                "checklist": [None, {k: bool(v) for k, v in ticks.items()}],
                "actions": [None, [a.description for a in action_list]],
                "rolled": [None, where or None],
                "version": [case.version, case.version + 1],
            },
        )
        session.flush()
        held = store.undecided_cases(session, meeting_id) == 0 and meeting.status != HELD
        if held:
            meeting.status = HELD
            session.add(meeting)
        return Changes(referral_ids=frozenset({referral_id}), meeting_ids=frozenset(touched), meetings=held)
