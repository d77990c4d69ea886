"""What a meeting's agenda and outcome sheets print, read in one transaction, and the audit of their export.

Importable from services.meetings as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from triage_app.domain.meetings import CaseInput, MeetingInfo
from triage_app.services.auditing import audit
from triage_app.services.meeting_cases import may_view, meeting_or_refuse
from triage_app.services.users import Actor
from triage_app.storage import meetings as store
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.models import TriageDecisionRow


def agenda_inputs(db: Database, *, meeting_id: int, actor: Actor | None = None) -> tuple[MeetingInfo, list[CaseInput]]:
    """Everything the agenda shows, read in one transaction."""
    with db.read() as session:
        may_view(session, actor)
        meeting = meeting_or_refuse(session, meeting_id)
        attendees = store.attendees(session, meeting_id)
        # Attendance and closing come with schema 0008 (services.meetings): read where the columns are there.
        taken = getattr(meeting, "attendance_taken_at", None) is not None or any(
            getattr(a, "attended", None) is not None for a in attendees
        )
        closed_by = getattr(meeting, "closed_by", None)
        cases = store.cases(session, meeting_id)
        loaded_rows = {case.referral_id: repo.load_referral(session, case.referral_id) for case in cases}
        decisions = _decisions(
            session, [pair[0].decision_id for pair in loaded_rows.values() if pair and pair[0].decision_id]
        )
        names = store.user_names(
            session,
            {d.decided_by for d in decisions.values()}
            | {c.decided_by for c in cases if c.decided_by is not None}
            | ({closed_by} if isinstance(closed_by, int) else set()),
        )
        info = MeetingInfo(
            meeting_id=meeting_id,
            meeting_date=meeting.meeting_date,
            meeting_time=meeting.meeting_time,
            place=meeting.place,
            video_link=meeting.video_link,
            chair=meeting.chair,
            attendees=tuple((a.name, a.mdt_role) for a in attendees if getattr(a, "invited", True) is not False),
            status=meeting.status,
            circulated_at=meeting.circulated_at,
            attendance=(
                tuple((a.name, a.mdt_role, bool(getattr(a, "attended", False))) for a in attendees) if taken else ()
            ),
            closed_at=getattr(meeting, "closed_at", None),
            closed_by=names.get(closed_by) if isinstance(closed_by, int) else None,
            closed_quorum=getattr(meeting, "closed_quorum", None),
        )
        inputs = []
        for case in cases:
            loaded = loaded_rows.get(case.referral_id)
            if loaded is None:
                continue
            row, referral = loaded
            decision = decisions.get(row.decision_id) if row.decision_id is not None else None
            stored = (
                None if row.current_assessment_id is None else repo.load_assessment(session, row.current_assessment_id)
            )
            inputs.append(
                CaseInput(
                    position=case.position,
                    referral_id=case.referral_id,
                    referral=referral,
                    triage_outcome=row.outcome,
                    priority=row.priority,
                    criteria=tuple((c.criterion_id, c.status, c.reason) for c in stored.criteria) if stored else (),
                    flags=stored.flags if stored else (),
                    late_addition=case.late_addition,
                    outcome=case.outcome,
                    rationale=case.rationale,
                    actions=store.actions(session, case.id or 0),
                    decided_outcome=row.decided_outcome,
                    decision_kind=row.decision_kind,
                    decided_by=None if decision is None else names.get(decision.decided_by),
                    decided_at=None if decision is None else decision.decided_at,
                    decision_reason=None if decision is None else decision.reason,
                    outcome_by=None if case.decided_by is None else names.get(case.decided_by),
                    outcome_at=case.decided_at,
                )
            )
        return info, inputs


def _decisions(session: Session, decision_ids: list[int]) -> dict[int, TriageDecisionRow]:
    """The standing triage decisions by id (who made them, when, an override's reason), in one query."""
    if not decision_ids:
        return {}
    rows = session.execute(select(TriageDecisionRow).where(col(TriageDecisionRow.id).in_(decision_ids))).scalars()
    return {row.id: row for row in rows if row.id is not None}


def audit_export(
    db: Database,
    *,
    actor: Actor,
    meeting_id: int,
    what: str,
    file_names: Sequence[str],
    pseudonymised: bool,
    publish: Callable[[], None] | None = None,
) -> None:
    """Record an export in the audit trail, one event per file (its name, never its content).

    `publish` (putting the written files in place) runs inside the same write transaction, after the events are
    written and before the commit: if it fails nothing is recorded, and if recording or the commit fails the
    caller removes the files, so a file and its audit event stand or fall together. Nothing a view shows
    changes, so it reports no `Changes`.
    """
    with db.write() as session:
        for file_name in file_names:
            audit(
                session,
                actor,
                "export",
                "meeting",
                meeting_id,
                {"what": [None, what], "file": [None, file_name], "pseudonymised": [None, pseudonymised]},
            )
        if publish is not None:
            publish()
