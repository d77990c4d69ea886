"""`triage-app referral show`: the triage panel as text and as JSON, from the `ReferralDetail` the panel reads.

What the desktop's panel shows, in its order: the patient's identifiers, the triage (with the consultant's
decision, who made it, when and why), the waiting time on today's 18-week clock, the priority and its terms,
the criteria met / not met / unknown with their reasons, the cautions in words, the missing fields, and the
workflow history (status moves and triage decisions, oldest first). `--json` carries the same with stable keys.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.meetings import TRIAGE_CHANGED, triage_text
from triage_app.domain.referral import field_label, format_nhs_number
from triage_app.domain.scoring import CRITERIA, FLAGS, OUTCOME_LABELS, RttClock, outcome_words
from triage_app.domain.workflow import CLOSED, DISCUSSED, LISTED, STATUS_LABELS

#: A criterion's status in words, as the panel's badges say it.
CRITERION_WORDS = {"met": "met", "not_met": "not met", "unknown": "unknown"}


def _when(value: datetime) -> str:
    """Local date and time, as the panel shows them: `5 Nov 2026 14:03`."""
    local = value.astimezone()
    return f"{format_date(local.date())} {local:%H:%M}"


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _who(detail: Any, user_id: int | None) -> str:
    return "?" if user_id is None else str(detail.user_names.get(user_id, f"user {user_id}"))


def _lapsed(detail: Any) -> bool:
    """On a meeting's list, with the consultant's decision lapsed since: the triage changed (reconfirm it)."""
    return bool(detail.row.status in (LISTED, DISCUSSED) and detail.row.decided_outcome is None)


def _standing(detail: Any) -> Any:
    return next((d for d in detail.decisions if d.id == detail.row.decision_id), None)


def _last_lapsed(detail: Any) -> Any:
    last = detail.decisions[-1] if detail.decisions else None
    return last if last is not None and last.decision == "lapsed" else None


def _cautions(detail: Any, clock: RttClock) -> tuple[str, ...]:
    """Today's cautions: the stored ones with the RTT caution read on today's clock (as the panel does)."""
    stored = detail.assessment.flags if detail.assessment is not None else ()
    return clock.flags(stored, detail.referral.received_on)


def _rules_note(assessed_with: str, status: str, in_force: str | None) -> str | None:
    """Why an assessment made with other rules than those in force stands (the panel's note)."""
    if in_force is None or assessed_with == in_force:
        return None
    if status in (LISTED, DISCUSSED, CLOSED):
        return (
            f"kept as assessed: the referral had reached an MDT (or was closed) before rules {in_force} were "
            "approved, so they did not reassess it"
        )
    return f"not yet reassessed with the rules in force ({in_force}): run `triage-app reassess`"


def _history(detail: Any) -> list[dict[str, Any]]:
    """Status moves and triage decisions, oldest first (a lapse is told by its status move's note)."""
    events: list[tuple[datetime, dict[str, Any]]] = []
    for change in detail.history:
        events.append(
            (
                change.changed_at,
                {
                    "at": _iso(change.changed_at),
                    "event": "status",
                    "from_status": change.from_status,
                    "to_status": change.to_status,
                    "decision": None,
                    "outcome": None,
                    "by": _who(detail, change.changed_by),
                    "note": change.note,
                },
            )
        )
    for decision in detail.decisions:
        if decision.decision == "lapsed":
            continue
        events.append(
            (
                decision.decided_at,
                {
                    "at": _iso(decision.decided_at),
                    "event": "decision",
                    "from_status": None,
                    "to_status": None,
                    "decision": decision.decision,
                    "outcome": decision.outcome,
                    "by": _who(detail, decision.decided_by),
                    "note": decision.reason,
                },
            )
        )
    return [event for _, event in sorted(events, key=lambda e: e[0])]


def panel_json(detail: Any, clock: RttClock, rules_in_force: str | None) -> dict[str, Any]:
    """The panel as one JSON object with stable keys (`referral` is the interchange format `import` reads)."""
    from triage_app.domain.referral import referral_to_json

    row, referral, stored = detail.row, detail.referral, detail.assessment
    standing, lapsed = _standing(detail), _last_lapsed(detail)
    assessment = None if stored is None else stored.row
    return {
        "referral_id": row.id,
        "version": row.version,
        "status": row.status,
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "meeting_id": row.meeting_id,
        "received_on": _iso(referral.received_on),
        "triage": triage_text(row.outcome, row.decided_outcome, row.decision_kind),
        "triage_changed": _lapsed(detail),
        "computed_outcome": row.outcome,
        "standing_decision": None
        if standing is None
        else {
            "outcome": row.decided_outcome,
            "kind": row.decision_kind,
            "made_on": row.decision_basis,  # the outcome the rules had found when it was decided
            "decided_by": _who(detail, standing.decided_by),
            "decided_at": _iso(standing.decided_at),
            "reason": standing.reason,
        },
        "lapsed_decision": None if lapsed is None else {"at": _iso(lapsed.decided_at), "reason": lapsed.reason},
        "waiting": {
            "as_of": clock.as_of.isoformat(),
            "weeks": clock.weeks(referral.received_on),
            "rtt": clock.band(referral.received_on),
            "text": clock.describe(referral.received_on),
        },
        "priority": None
        if assessment is None
        else {
            "assessed": assessment.priority,
            "severity": assessment.priority_severity,
            "pain": assessment.priority_pain,
            "waiting": assessment.priority_waiting,
            "in_queue_today": row.priority,
            "assessed_on": _iso(assessment.assessed_on),
            "rules_version": assessment.rules_version,
            "rules_note": _rules_note(assessment.rules_version, row.status, rules_in_force),
        },
        "summary": None if assessment is None else assessment.summary,
        "criteria": []
        if stored is None
        else [
            {
                "criterion_id": c.criterion_id,
                "title": CRITERIA.get(c.criterion_id, (c.criterion_id, ""))[0],
                "status": c.status,
                "reason": c.reason,
            }
            for c in stored.criteria
        ],
        "cautions": [
            {"code": f, "label": FLAGS[f][0] if f in FLAGS else f, "description": FLAGS[f][1] if f in FLAGS else ""}
            for f in _cautions(detail, clock)
        ],
        "missing": [] if stored is None else [{"field": p, "label": field_label(p)} for p in stored.missing],
        "history": _history(detail),
        "intended_use": INTENDED_USE_LINE,
        "referral": referral_to_json(referral),
    }


def _decision_line(detail: Any) -> str:
    """The consultant's decision as the panel words it: who, when, and the reason."""
    row, standing = detail.row, _standing(detail)
    if standing is None:
        lapsed = _last_lapsed(detail)
        return "awaiting a consultant: no decision stands" + (
            "" if lapsed is None else f" (the last one lapsed: {lapsed.reason})"
        )
    verb = "confirmed" if standing.decision == "confirmed" else "overridden"
    text = (
        f"{verb} as {OUTCOME_LABELS.get(standing.outcome, standing.outcome)} by {_who(detail, standing.decided_by)}, "
        f"{_when(standing.decided_at)}"
    )
    if standing.decision == "overridden":
        text += f" (the rules found {outcome_words(row.decision_basis)})"
    if standing.reason:
        text += f"; reason: {standing.reason}"
    return text


def panel_lines(detail: Any, clock: RttClock, rules_in_force: str | None) -> list[str]:
    """The panel as lines of text, in the panel's order and words."""
    shown = panel_json(detail, clock, rules_in_force)
    row, patient = detail.row, detail.referral.patient
    lines = [
        f"referral {row.id} (version {row.version}): {format_name(patient.family_name, patient.given_name)}, "
        f"NHS {format_nhs_number(patient.nhs_number)}, born {format_date(patient.date_of_birth)}",
        f"received: {format_date(detail.referral.received_on) or '?'}",
        f"status: {shown['status_label']}",
        f"triage: {shown['triage']}" + (f" · {TRIAGE_CHANGED.upper()}" if shown["triage_changed"] else ""),
        f"consultant decision: {_decision_line(detail)}",
        f"waiting: {shown['waiting']['text']} (on {format_date(clock.as_of)})",
    ]
    priority = shown["priority"]
    if priority is None:
        lines.append("priority: not assessed")
    else:
        lines.append(
            f"priority: {priority['assessed']} = {priority['severity']} severity + {priority['pain']} pain + "
            f"{priority['waiting']} waiting, assessed {format_date(detail.assessment.row.assessed_on)} with rules "
            f"{priority['rules_version']}"
            + (
                ""
                if priority["in_queue_today"] == priority["assessed"]
                else f"; in the queue today: {priority['in_queue_today']} (waiting term grows)"
            )
        )
        if priority["rules_note"]:
            lines.append(f"  {priority['rules_note']}")
    if shown["summary"]:
        lines.append(f"summary: {shown['summary']}")
    lines.append("criteria:" if shown["criteria"] else "criteria: none assessed")
    for c in shown["criteria"]:
        lines.append(
            f"  {c['criterion_id']} {CRITERION_WORDS.get(c['status'], c['status'])}: {c['title']}: {c['reason']}"
        )
    lines.append("cautions:" if shown["cautions"] else "cautions: none")
    lines.extend(
        f"  {c['label']}: {c['description']}" if c["description"] else f"  {c['label']}" for c in shown["cautions"]
    )
    lines.append(f"missing: {', '.join(m['label'] for m in shown['missing']) or 'none'}")
    lines.append("history:" if shown["history"] else "history: none")
    for event in shown["history"]:
        lines.append(f"  {_history_line(event)}")
    lines.append(INTENDED_USE_LINE)  # as the panel carries it: the app supports, the consultant decides
    return lines


def _history_line(event: dict[str, Any]) -> str:
    """One event of the history as the panel words it: `5 Nov 2026 14:03  new → Received  by Dr A (note)`."""
    at = _when(datetime.fromisoformat(event["at"]))
    note = f" ({event['note']})" if event["note"] else ""
    if event["event"] == "status":
        source = STATUS_LABELS.get(event["from_status"], "new") if event["from_status"] else "new"
        return f"{at}  {source} → {STATUS_LABELS.get(event['to_status'], event['to_status'])}  by {event['by']}{note}"
    outcome = OUTCOME_LABELS.get(event["outcome"], event["outcome"])
    return f"{at}  triage {event['decision']}: {outcome} by {event['by']}{note}"
