"""How the meeting screens word a referral, a case and its patient (rich text escaped here, nowhere else)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, TRIAGE_CHANGED, AgendaCase
from triage_app.domain.referral import format_nhs_number
from triage_app.ui.theme import scaled as scaled  # where the meeting screens have always imported it

if TYPE_CHECKING:  # type-only: the services and storage load SQLModel, which start-up does without
    from triage_app.services.meetings import ListedCase
    from triage_app.storage.referrals import QueueRow


def referral_line(row: QueueRow | None) -> str:
    """How a referral reads in the planning lists."""
    if row is None:
        return "…"
    return (
        f"Pri {row.priority if row.priority is not None else '?':>3} · {format_nhs_number(row.nhs_number)} · "
        f"{format_name(row.family_name, row.given_name)} · born {format_date(row.date_of_birth) or '?'}"
    )  # three identifiers on every line a coordinator acts on


def patient_label(case: ListedCase) -> str:
    """The three identifiers of a listed case, for messages and questions: `FAMILY, Given (NHS …, born …)`."""
    row = case.row
    if row is None:
        return f"referral {case.referral_id}"
    name = format_name(row.family_name, row.given_name) or "name not recorded"
    nhs = format_nhs_number(row.nhs_number) or "not recorded"
    born = format_date(row.date_of_birth) or "not recorded"
    return f"{name} (NHS {nhs}, born {born})"


def case_title(case: ListedCase, agenda: AgendaCase | None, index: int, count: int) -> str:
    """The in-meeting screen's title: the case's place in the list and its patient's three identifiers."""
    late = " <i>(late addition)</i>" if case.late_addition else ""
    if agenda is not None:
        name, nhs, born = agenda.name, agenda.nhs_number, agenda.date_of_birth or "not recorded"
    else:
        row = case.row
        name = format_name(row.family_name, row.given_name) if row else f"referral {case.referral_id}"
        nhs = format_nhs_number(row.nhs_number) if row else "not recorded"
        born = format_date(row.date_of_birth) if row else "not recorded"
    return f"Case {index + 1} of {count}: <b>{escape(name)}</b>{late}<br>NHS {escape(nhs)} · born {escape(born)}"


def _when(value: datetime | None) -> str:
    if value is None:
        return "time not recorded"
    local = value.astimezone()
    return f"{format_date(local.date())} {local:%H:%M}"


def case_html(case: ListedCase, agenda: AgendaCase | None) -> str:
    """The case body of the in-meeting screen, every field in words and escaped (rich text)."""
    parts: list[str] = []
    if case.outcome is not None:
        label = MEETING_OUTCOME_LABELS.get(case.outcome, case.outcome)
        who = case.decided_by_name or "another user"
        actions = "; ".join(agenda.actions) if agenda is not None and agenda.actions else "none"
        parts.append(
            '<table width="100%" cellpadding="6" style="background:#e8f5e9; color:#1b5e20;"><tr><td>'
            f"<b>✔ Recorded: {escape(label)}</b> by {escape(who)}, {_when(case.decided_at)} — rationale: "
            f"{escape(case.rationale or 'not given')}<br>Actions: {escape(actions)}<br>"
            "<i>Recording again amends it: choose the outcome, write its rationale and the reason for amending."
            "</i></td></tr></table>"
        )
    else:
        parts.append("<p><b>MDT outcome: not yet recorded.</b></p>")
    if agenda is None:  # the agenda text was not read (the case was added meanwhile): the next refresh has it
        parts.append("<p>Reading the case…</p>")
        return "".join(parts)
    triage = agenda.triage
    prefix = TRIAGE_CHANGED.upper()
    if triage.startswith(prefix):
        rest = triage[len(prefix) :].lstrip(": ")
        triage_cell = (
            '<span style="background:#fff3cd; color:#5c3c00;"><b>⚠ TRIAGE CHANGED: RECONFIRM</b></span> — '
            f"{escape(rest)}. The consultant decision lapsed; accepting for SPD is refused until a consultant "
            "reconfirms the triage."
        )
    else:
        triage_cell = escape(triage)
    rows: list[tuple[str, str]] = [
        ("Referrer", escape(agenda.referrer)),
        ("Received", escape(agenda.received)),
    ]
    if agenda.hospital_number:
        rows.append(("Hospital number", escape(agenda.hospital_number)))
    rows += [
        ("Clinical question", escape(agenda.clinical_question)),
        ("Triage", triage_cell),
        # Cautions before the detail: short, and what the MDT must not miss.
        ("Cautions", "<br>".join(escape(f) for f in agenda.flags) or "none found"),
    ]
    rows += [(label, escape(text)) for label, text in agenda.lines]  # the domain words them already
    criteria = []
    for line in agenda.criteria:
        head, _, reason = line.partition(". ")  # "R1 …: not met" then its reason
        criteria.append(f"<b>{escape(head)}.</b> {escape(reason)}" if reason else f"<b>{escape(head)}</b>")
    rows.append(("Criteria", "<br>".join(criteria) or "not assessed"))
    parts.append('<table cellspacing="0" cellpadding="4">')
    for label, cell in rows:
        parts.append(
            f'<tr><td valign="top" style="padding-right:12px;"><b>{escape(label)}</b></td><td>{cell}</td></tr>'
        )
    parts.append("</table>")
    return "".join(parts)
