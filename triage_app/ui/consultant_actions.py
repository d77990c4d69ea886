"""The consultant's actions on the selected referral: confirm or override its triage, move it along the workflow.

Each names the patient it acts on before it acts, runs as one op whose result carries the referral's fresh
detail (`DecisionResult.detail`, read in the same transaction), and leaves the rest to the broadcast `Changes`
(the queue's row, the counts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from triage_app.domain.meetings import triage_text
from triage_app.domain.workflow import AWAITING_INFORMATION, RECEIVED, move_needs_reason
from triage_app.services.permissions import CONFIRM_TRIAGE, OVERRIDE_TRIAGE
from triage_app.ui.dialogs import OPEN_EXISTING, Messages, OverrideDialog, ReasonDialog, referral_patient_line
from triage_app.ui.triage_panel import NOT_CONSULTANT

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes
    from triage_app.services.referrals import ReferralDetail
    from triage_app.services.triage import DecisionResult
    from triage_app.ui.context import AppContext


class ConsultantActions(QObject):
    """Confirm, override and status moves, on the referral `acting_on` names (None: nothing to act on)."""

    def __init__(
        self,
        context: AppContext,
        window: QWidget,
        *,
        acting_on: Callable[[], ReferralDetail | None],
        show_result: Callable[[ReferralDetail, Changes], None],
        status: Callable[[str, int], None],
    ) -> None:
        super().__init__(window)
        self.context = context
        self.window = window
        self.acting_on = acting_on
        self._show_result = show_result
        self._status = status

    def _chosen(self, action: str) -> ReferralDetail | None:
        detail = self.acting_on()
        if detail is None or self.context.session is None:
            self._status("Select a referral in the queue first", 5000)
            return None
        if not self.context.may(action):
            Messages.error(self.window, "Not allowed", NOT_CONSULTANT)
            return None
        return detail

    def confirm_triage(self) -> None:
        """Record the consultant's confirmation of the outcome, after naming the patient it acts on."""
        detail = self._chosen(CONFIRM_TRIAGE)
        if detail is None:
            return
        shown = triage_text(detail.row.outcome, None, None).replace(" (awaiting consultant)", "")
        if Messages.confirm(
            self.window,
            "Confirm triage",
            f"Confirm the triage of\n\n{referral_patient_line(detail.referral)}\n\nas {shown}?"
            + leaves_meeting(detail, detail.row.outcome),
        ):
            self.decide(detail, None, None)

    def override_triage(self) -> None:
        """Record a different outcome with the consultant's written reason."""
        detail = self._chosen(OVERRIDE_TRIAGE)
        if detail is None:
            return
        answer = OverrideDialog.ask(detail.row.outcome, referral_patient_line(detail.referral), self.window)
        if answer is None or self.acting_on() is not detail:
            return
        leaving = leaves_meeting(detail, answer[0])
        if leaving and not Messages.confirm(
            self.window, "Override triage", referral_patient_line(detail.referral) + leaving
        ):
            return
        self.decide(detail, *answer)

    def decide(self, detail: ReferralDetail, outcome: str | None, reason: str | None) -> None:
        """Record the decision on the version of the referral the consultant saw (the service refuses a stale one)."""
        from triage_app.services.triage import decide_triage

        self._act(
            detail,
            "Triage decision not recorded",
            decide_triage,
            override_outcome=outcome,
            reason=reason,
            expected_assessment_id=detail.row.current_assessment_id,
        )

    def move_status(self, status: str) -> None:
        """Move the selected referral along the workflow (closing an undiscussed one asks for a reason; awaiting
        information asks what is awaited and when to chase it; back from it leaves the chase list)."""
        detail = self.acting_on()
        if detail is None or self.context.session is None:
            return
        from triage_app.services.triage import change_status

        if status == AWAITING_INFORMATION:
            self._await_information(detail)
            return
        if detail.row.status == AWAITING_INFORMATION and status == RECEIVED:
            from triage_app.services.chase import back_to_queue

            self._act(detail, "Status not changed", back_to_queue)
            return
        note = None
        if move_needs_reason(detail.row.status, status):
            note = ReasonDialog.ask(
                "Close referral",
                f"Close the referral of\n\n{referral_patient_line(detail.referral)}\n\nThe MDT has not "
                "discussed it: write why it is closed.",
                self.window,
            )
            if not note or note == OPEN_EXISTING:
                return
        self._act(detail, "Status not changed", change_status, status=status, note=note)

    def _await_information(self, detail: ReferralDetail) -> None:
        """Ask what is awaited (the missing fields in words, editable) and the chase date, then move the referral."""
        from triage_app.domain.requests import awaited_text, default_chase_date
        from triage_app.services.chase import await_information
        from triage_app.ui.chase_window import ChaseDialog, chase_today

        today = chase_today()
        missing = detail.assessment.missing if detail.assessment is not None else ()
        answer = ChaseDialog.ask(
            "Awaiting information",
            referral_patient_line(detail.referral),
            default_chase_date(today),
            today,
            self.window,
            awaited=awaited_text(missing, [m.drug for m in detail.referral.oral_medications or ()])
            or detail.row.awaited
            or "",
        )
        if answer is None or self.acting_on() is not detail:
            return
        awaited, chase_on = answer
        self._act(detail, "Status not changed", await_information, chase_on=chase_on, today=today, awaited=awaited)

    def _act(self, detail: ReferralDetail, title: str, service: Callable[..., DecisionResult], **values: Any) -> None:
        """Run `service` (services.triage) on the version of the referral the user saw, which it refuses if stale;
        show the fresh detail it returns."""
        referral_id, version = stored_id(detail), detail.row.version

        def op(session: AppSession) -> DecisionResult:
            return service(session.db, actor=session.actor, referral_id=referral_id, expected_version=version, **values)

        self.context.run(op, title=title, on_success=lambda result: self._show_result(result.detail, result.changes))


def stored_id(detail: ReferralDetail) -> int:
    """The id of a referral read from the database (always set once stored)."""
    referral_id = detail.row.id
    if referral_id is None:
        raise ValueError("a referral that was never stored cannot be acted on")
    return referral_id


def leaves_meeting(detail: ReferralDetail, outcome: str | None) -> str:
    """What a decision other than ready for MDT does to a listed referral, said before it is made."""
    if detail.row.status == "listed" and outcome != "ready_for_mdt":
        return "\n\nIt is listed for an MDT meeting: decided otherwise than ready for MDT, it leaves that meeting."
    return ""


__all__ = ["ConsultantActions", "leaves_meeting"]
