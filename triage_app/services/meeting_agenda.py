"""What a meeting's agenda and outcome sheets print, read in one transaction, and the audit of their export.

Importable from services.meetings as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from triage_app.domain.meetings import CaseInput, MeetingInfo
from triage_app.services.auditing import audit
from triage_app.services.meeting_cases import may_view, meeting_or_refuse
from triage_app.services.users import Actor
from triage_app.storage import meetings as store
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database


def agenda_inputs(db: Database, *, meeting_id: int, actor: Actor | None = None) -> tuple[MeetingInfo, list[CaseInput]]:
    """Everything the agenda shows, read in one transaction."""
    with db.read() as session:
        may_view(session, actor)
        meeting = meeting_or_refuse(session, meeting_id)
        info = MeetingInfo(
            meeting_id=meeting_id,
            meeting_date=meeting.meeting_date,
            meeting_time=meeting.meeting_time,
            place=meeting.place,
            video_link=meeting.video_link,
            chair=meeting.chair,
            attendees=tuple((a.name, a.mdt_role) for a in store.attendees(session, meeting_id)),
            status=meeting.status,
            circulated_at=meeting.circulated_at,
        )
        inputs = []
        for case in store.cases(session, meeting_id):
            loaded = repo.load_referral(session, case.referral_id)
            if loaded is None:
                continue
            row, referral = loaded
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
                )
            )
        return info, inputs


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
