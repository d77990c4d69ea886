"""How the meeting screens word a referral, a case and its patient (rich text escaped here, nowhere else)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, TRIAGE_CHANGED, AgendaCase
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.scoring import FLAGS, OUTCOME_LABELS, outcome_words
from triage_app.ui.theme import scaled as scaled  # where the meeting screens have always imported it

if TYPE_CHECKING:  # type-only: the services and storage load SQLModel, which start-up does without
    from triage_app.services.meeting_display import CaseDisplay
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
    """The in-meeting screen's title: the case's place in the list and its patient's three identifiers (name, NHS
    number, hospital number) with the date of birth and age."""
    late = " <i>(late addition)</i>" if case.late_addition else ""
    if agenda is not None:
        name, nhs, born = agenda.name, agenda.nhs_number, agenda.date_of_birth or "not recorded"
        hospital = agenda.hospital_number
    else:
        row = case.row
        name = format_name(row.family_name, row.given_name) if row else f"referral {case.referral_id}"
        nhs = format_nhs_number(row.nhs_number) if row else "not recorded"
        born = format_date(row.date_of_birth) if row else "not recorded"
        hospital = (row.hospital_number or "") if row else ""
    return (
        f"Case {index + 1} of {count}: <b>{escape(name)}</b>{late}<br>NHS {escape(nhs)} · hospital number "
        f"{escape(hospital or 'not recorded')} · born {escape(born)}"
    )


def initials_label(case: ListedCase) -> str:
    """A case on the progress strip: the family name and the given name's initial (`ASHCOMBE T`)."""
    row = case.row
    if row is None:
        return f"referral {case.referral_id}"
    family = (row.family_name or "").upper() or "?"
    given = (row.given_name or "").strip()[:1].upper()
    return f"{family} {given}".strip()


def _when(value: datetime | None) -> str:
    if value is None:
        return "time not recorded"
    local = value.astimezone()
    return f"{format_date(local.date())} {local:%H:%M}"


def decision_text(case: ListedCase, display: CaseDisplay | None) -> str:
    """The consultant's standing triage decision in words: confirmed or overridden, its outcome, who and when; or
    plainly that no consultant has confirmed the triage (the app suggests, a consultant decides: H14)."""
    row = case.row
    computed = row.outcome if row is not None else None
    # The case's own row (read with the meeting) says whether a decision stands now; `display` (read after it)
    # only adds who and when, and is not trusted where it disagrees (a decision that lapsed meanwhile: H16).
    if row is not None and row.decided_outcome is None:
        return f"Not yet confirmed by a consultant (the rules suggest {outcome_words(computed)})"
    if display is None or display.decided_outcome is None or display.decision_kind is None:
        return "Reading the decision…"
    if row is not None and (row.decided_outcome, row.decision_kind) != (display.decided_outcome, display.decision_kind):
        return "Reading the decision…"
    label = OUTCOME_LABELS.get(display.decided_outcome, "another outcome")
    who = display.decided_by or "a consultant"
    when = _when(display.decided_at)
    if display.decision_kind == "overridden":
        text = f"Overridden to {label} by {who}, {when} (the rules suggested {outcome_words(display.computed_outcome)})"
        if display.decision_reason:
            text += f"; reason: {display.decision_reason}"
        return text
    return f"Confirmed as {label} by {who}, {when}"


def _immunoresistance(tested: bool | None) -> str:
    if tested is None:
        return "immunoresistance test not recorded"
    return "immunoresistance tested" if tested else "immunoresistance not tested"


_STATUS_MARK = {"met": "✔", "not met": "✘", "unknown": "?"}


def _criterion(line: str) -> str:
    """`R1 …: met. reason` with a mark before its status (met ✔, not met ✘, unknown ?), so it reads without colour."""
    head, _, reason = line.partition(". ")  # "R1 …: not met" then its reason
    status = head.rpartition(": ")[2].strip()
    mark = _STATUS_MARK.get(status, "•")
    body = f"<b>{escape(head)}.</b> {escape(reason)}" if reason else f"<b>{escape(head)}</b>"
    return f"{mark} {body}"


_FLAG_SHORTS = {f"{short}: {long}": long for short, long in FLAGS.values()}


def caution_words(flag_line: str) -> str:
    """A caution as a sentence: the agenda's line without the queue's short label (`immuno?: `)."""
    return _FLAG_SHORTS.get(flag_line, flag_line)


def _heading(text: str) -> tuple[str, str]:
    return ("", f"<big><b><u>{escape(text)}</u></b></big>")


def case_html(case: ListedCase, agenda: AgendaCase | None, display: CaseDisplay | None = None) -> str:
    """The case body of the in-meeting screen, every field in words and escaped (rich text): the referral, the
    triage with the consultant's decision and the cautions, severity and treatment history, then every criterion
    with its reason. `display` adds who decided the triage and when, and the immunoresistance test."""
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
    cautions = "<br>".join(f"<b>{escape(caution_words(f))}</b>" for f in agenda.flags) or "none found"
    rows: list[tuple[str, str]] = [
        _heading("Referral"),
        ("Referrer", escape(agenda.referrer)),
        ("Received", escape(agenda.received)),
        ("Clinical question", escape(agenda.clinical_question)),
        _heading("Triage"),
        ("Triage", triage_cell),
        ("Consultant's decision", escape(decision_text(case, display))),
        # Cautions before the detail: short, and what the MDT must not miss (H06).
        ("⚠ Cautions" if agenda.flags else "Cautions", cautions),
        _heading("Severity and treatment"),
    ]
    for label, text in agenda.lines:  # the domain words them already
        if label == "Botulinum toxin" and display is not None:
            text = f"{text}, {_immunoresistance(display.immunoresistance_tested)}"
        rows.append((label, escape(text)))
    rows.append(_heading("Criteria, each with the rules' reason"))
    rows.append(("Criteria", "<br>".join(_criterion(line) for line in agenda.criteria) or "not assessed"))
    parts.append('<table cellspacing="0" cellpadding="4">')
    for label, cell in rows:
        if not label:  # a section heading across both columns
            parts.append(f'<tr><td colspan="2" style="padding-top:10px;">{cell}</td></tr>')
            continue
        parts.append(
            f'<tr><td valign="top" style="padding-right:12px;"><b>{escape(label)}</b></td><td>{cell}</td></tr>'
        )
    parts.append("</table>")
    return "".join(parts)
