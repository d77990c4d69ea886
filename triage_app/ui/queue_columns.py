"""The queue's columns: their titles, tooltips and SQL sort keys, and the text, tooltip and sort value of a cell.

Pure functions of a queue line (`services.queue.QueueRow`) and today's 18-week clock, so the table model only
holds rows and fetches them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.meetings import triage_text
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.scoring import FLAGS, RTT_BREACHED, RTT_WARNING, RttClock, age_in_years
from triage_app.domain.workflow import STATUS_LABELS, TRIAGEABLE

COL_PRIORITY, COL_NHS, COL_NAME, COL_AGE, COL_RECEIVED, COL_WEEKS, COL_OUTCOME, COL_FLAGS, COL_STATUS, COL_MEETING = (
    range(10)
)
COLUMNS = ("Pri", "NHS number", "Name", "Age", "Received", "Wks", "Triage", "Cautions", "Status", "Meeting")
COLUMN_TOOLTIPS = (
    "Priority 0-100: severity + pain + waiting (highest first)",
    "NHS number",
    "FAMILY, Given",
    "Age in whole years today",
    "Date the referral was received",
    "Weeks waiting today since received (18-week referral-to-treatment clock); ! marks the warning week, ‼ a breach. "
    "Click to show breaches first (18 weeks or more, then from the warning week, then the rest, each by priority)",
    "Triage: the consultant's standing decision, or the computed outcome awaiting a consultant",
    "Caution flags (hover for what each means)",
    "Workflow status",
    "The MDT meeting the referral is listed on",
)
#: column -> SQL sort key and whether a click first sorts descending
SORT_KEYS: dict[int, tuple[str, bool]] = {
    COL_PRIORITY: ("priority", True),
    COL_NHS: ("nhs_number", False),
    COL_NAME: ("name", False),
    COL_AGE: ("date_of_birth", False),  # oldest first = earliest date of birth
    COL_RECEIVED: ("received_on", False),
    COL_WEEKS: ("breaches", True),  # breaches first: 18 weeks or more, then the warning weeks, each by priority
    COL_OUTCOME: ("outcome", False),
    COL_STATUS: ("status", False),
}

#: The "breaches first" order (storage.referrals.SORT_BREACHES): 18 weeks or more, then from the warning week,
#: then the rest, each by priority.
SORT_BREACHES = "breaches"


def sort_key(row: Any, sort: str) -> tuple[Any, ...]:
    """What places a queue line in the order `sort` (storage.referrals.queue_order): a change to it may move the
    row. Conservative: the raw fields behind each SQL key (the name's stored key is made from the names)."""
    keys: dict[str, tuple[Any, ...]] = {
        "priority": (row.priority,),
        "nhs_number": (row.nhs_number,),
        "name": (row.family_name, row.given_name),
        "date_of_birth": (row.date_of_birth,),
        "received_on": (row.received_on,),
        "outcome": (row.outcome, row.decided_outcome, row.decision_kind),
        "status": (row.status,),
        SORT_BREACHES: (row.received_on, row.priority),
    }
    return keys.get(sort, (row.id,))


#: The tooltip of the marker on a row whose triage was computed under other rules than those in force (H05).
NOT_REASSESSED_TEXT = "Not yet reassessed with the rules in force"


def not_reassessed(row: Any, version_in_force: str | None) -> bool:
    """True when the row's assessment was made under other rules than `version_in_force` and a reassessment would
    rescore it (services.reassessment: a triageable status, on no meeting's list). A listed, discussed or closed
    referral keeps the assessment its MDT saw, so it carries no marker; nor does one never assessed."""
    version = getattr(row, "rules_version", None)
    return (
        version_in_force is not None
        and version is not None
        and version != version_in_force
        and row.status in TRIAGEABLE
        and row.meeting is None
    )


def display(row: Any, column: int, clock: RttClock) -> str:
    """The text of one cell (today's age and weeks from `clock`)."""
    if column == COL_PRIORITY:
        return "" if row.priority is None else str(row.priority)
    if column == COL_NHS:
        return format_nhs_number(row.nhs_number)
    if column == COL_NAME:
        return format_name(row.family_name, row.given_name)
    if column == COL_AGE:
        return "" if row.date_of_birth is None else str(age_in_years(row.date_of_birth, clock.as_of))
    if column == COL_RECEIVED:
        return format_date(row.received_on)
    if column == COL_WEEKS:
        weeks = clock.weeks(row.received_on)
        if weeks is None:
            return ""
        mark = {RTT_BREACHED: " ‼", RTT_WARNING: " !"}.get(clock.band(row.received_on) or "", "")
        return f"{weeks}{mark}"
    if column == COL_OUTCOME:  # the standing decision, else the computed outcome awaiting a consultant
        return triage_text(row.outcome, row.decided_outcome, row.decision_kind)
    if column == COL_FLAGS:
        return " · ".join(FLAGS[f][0] if f in FLAGS else f for f in row.flags)
    if column == COL_STATUS:
        return STATUS_LABELS.get(row.status, row.status)
    if column == COL_MEETING and row.meeting:
        day, _, time_text = row.meeting.partition(" ")
        return f"{format_date(date.fromisoformat(day))} {time_text}"
    return ""


def tooltip(row: Any, column: int, clock: RttClock) -> str | None:
    """One cell's tooltip: what each caution means, the 18-week clock in words, the hospital number."""
    if column == COL_FLAGS and row.flags:
        return "\n".join(f"{FLAGS[f][0]}: {FLAGS[f][1]}" if f in FLAGS else f for f in row.flags)
    if column == COL_WEEKS:
        text = clock.describe(row.received_on)
        return text[:1].upper() + text[1:]
    if column == COL_NAME and row.hospital_number:
        return f"Hospital number {row.hospital_number}"
    return None


def sort_value(row: Any, column: int) -> Any:
    """One cell's value for SORT_ROLE."""
    values = {
        COL_PRIORITY: row.priority,
        COL_NHS: row.nhs_number,
        COL_NAME: (row.family_name or "").upper(),
        COL_AGE: row.date_of_birth,
        COL_RECEIVED: row.received_on,
        COL_WEEKS: row.received_on,
        COL_OUTCOME: row.outcome,
        COL_FLAGS: len(row.flags),
        COL_STATUS: row.status,
        COL_MEETING: row.meeting,
    }
    return values.get(column)
