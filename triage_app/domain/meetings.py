"""The agenda and outcome summary of an MDT meeting, built as plain text fields: `build_agenda`.

Every exporter (PDF, Word, CSV, HTML, print) shows the same words; exporters only lay them out and make them safe
for their format. The pseudonymised copy says what domain.pseudonyms allows and no more (H11). Weeks waiting and the
`rtt_breach_risk` caution are those of the day the document is made, not of the day the referral was scored (H07).

The meeting vocabulary (outcomes, roles, quorum, statuses, the checklist, `triage_text`) is in domain.mdt and the
pseudonymisation in domain.pseudonyms; every name of both is re-exported here, so callers keep importing them
from domain.meetings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from triage_app.domain.formats import format_date, format_month, format_name
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.mdt import (
    ACCEPT_FOR_SPD,
    CANCELLED,
    CAUTION_NAMES,
    CIRCULATED,
    HELD,
    MDT_ROLES,
    MEETING_OUTCOME_LABELS,
    MEETING_OUTCOMES,
    NOT_DISCUSSED,
    OPEN_MEETING_STATUSES,
    PLANNED,
    SPD_CHECKLIST,
    TRIAGE_CHANGED,
    CaseAction,
    CaseInput,
    MeetingInfo,
    Quorum,
    caution_name,
    checklist_missing,
    decision_text,
    quorum,
    role_label,
    triage_text,
)
from triage_app.domain.pseudonyms import (
    CONFIDENTIAL,
    FREE_TEXT_WITHHELD,
    PSEUDONYMISED,
    WITHHELD,
    age_band,
    identifier_patterns,
    initials,
    nhs_last_four,
    withhold,
    word_pattern,
)
from triage_app.domain.referral import Onset, Referral, format_nhs_number
from triage_app.domain.scoring import (
    CRITERIA,
    FLAGS,
    RttClock,
    age_in_years,
    in_words,
    weeks_waiting,
)

__all__ = [
    "ACCEPT_FOR_SPD",
    "CANCELLED",
    "CAUTION_NAMES",
    "CIRCULATED",
    "CONFIDENTIAL",
    "FREE_TEXT_WITHHELD",
    "HELD",
    "MDT_ROLES",
    "MEETING_OUTCOMES",
    "MEETING_OUTCOME_LABELS",
    "NOT_DISCUSSED",
    "OPEN_MEETING_STATUSES",
    "PLANNED",
    "PSEUDONYMISED",
    "SPD_CHECKLIST",
    "TRIAGE_CHANGED",
    "WITHHELD",
    "Agenda",
    "AgendaCase",
    "CaseAction",
    "CaseInput",
    "MeetingInfo",
    "Quorum",
    "age_band",
    "build_agenda",
    "caution_name",
    "checklist_missing",
    "decision_text",
    "identifier_patterns",
    "initials",
    "nhs_last_four",
    "quorum",
    "role_label",
    "triage_text",
    "withhold",
]


@dataclass(frozen=True, slots=True)
class AgendaCase:
    """One case of the agenda, every field already in words."""

    number: int
    referral_id: int
    late_addition: bool
    nhs_number: str
    name: str
    date_of_birth: str  # with the age; empty when pseudonymised
    hospital_number: str
    referrer: str
    received: str
    clinical_question: str
    lines: tuple[tuple[str, str], ...]  # (label, text): phenotype, severity, treatment history
    triage: str
    criteria: tuple[str, ...]
    flags: tuple[str, ...]
    outcome: str
    rationale: str
    actions: tuple[str, ...]
    age_band: str = ""  # pseudonymised only: in place of the date of birth
    # The case list's columns, in words: the age (the band when pseudonymised) on the meeting's date, the
    # priority, the weeks waiting, the cautions' short names.
    age: str = ""
    priority: str = ""
    weeks_waiting: str = ""  # on the day the document is made
    weeks_by_meeting: str = ""  # by the meeting's date, when that is later
    cautions: tuple[str, ...] = ()
    caution_details: tuple[str, ...] = ()  # each caution's sentence in words (FLAGS), no tag
    decision: str = ""  # the consultant's standing triage decision: what, by whom, when (decision_text)
    recorded_by: str = ""  # who recorded the MDT outcome and when (outcome summary)


@dataclass(frozen=True, slots=True)
class Agenda:
    """An agenda or an outcome summary, ready for any exporter."""

    title: str
    marking: str
    meeting: tuple[tuple[str, str], ...]  # (label, text)
    attendees: tuple[str, ...]
    quorum: str
    quorate: bool
    generated: str
    pseudonymised: bool
    outcomes: bool  # True for the post-meeting summary
    cases: tuple[AgendaCase, ...] = field(default_factory=tuple)
    intended_use: str = INTENDED_USE_LINE
    rules_line: str = ""  # which approved rules the triage used; shown beside the intended use when given
    circulated: str = ""  # the date the agenda went out (cases listed later are late additions); empty if not yet
    attendance: tuple[str, ...] = ()  # who attended, `Name (Role)`; empty when attendance was not taken
    absent: tuple[str, ...] = ()  # expected but not there
    closed: str = ""  # `Closed by NAME on DD-MMM-YYYY`; empty while open


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    return "not recorded" if value is None else yes if value else no


def _words(value: str | None) -> str:
    return "not recorded" if value is None else in_words(value)


_GUIDANCE = {"emg": "EMG-guided", "ultrasound": "ultrasound-guided", "none": "unguided"}


def _onset_text(onset: Onset | None, *, month_only: bool = False) -> str:
    """`Apr-2015`, or `03-Apr-2015` when the day was given (never ISO on a document people read); the month only
    when asked (the pseudonymised copy)."""
    if onset is None:
        return "not recorded"
    return format_month(onset.first_day) if onset.month_only or month_only else format_date(onset.first_day)


def _drug_name(name: str | None, index: int, pseudonymised: bool) -> str:
    """A drug as typed, or `drug 2` (as the R2 reason names an unnamed drug) where free text is withheld."""
    if pseudonymised:
        return f"drug {index + 1}"
    return name or "unnamed drug"


def _case_lines(referral: Referral, *, pseudonymised: bool = False) -> tuple[tuple[str, str], ...]:
    phenotype = referral.phenotype
    components = (
        "not recorded" if phenotype.components is None else ", ".join(map(in_words, phenotype.components)) or "none"
    )
    tremor = _yes_no(phenotype.head_tremor, "head tremor", "no head tremor")
    severity = referral.severity
    toxin = referral.botulinum_toxin
    cycles = "cycles not recorded" if toxin.cycles is None else f"{toxin.cycles} cycles"
    medications = referral.oral_medications
    oral = (
        "not recorded"
        if medications is None
        else "; ".join(
            f"{_drug_name(m.drug, i, pseudonymised)}: {_words(m.outcome)}" for i, m in enumerate(medications)
        )
        or "none tried"
    )
    if pseudonymised and medications:
        oral += " (drug names withheld: free text)"
    physio = referral.physiotherapy
    history = referral.history
    history_items = [
        name
        for name, value in (
            ("dysphagia", history.dysphagia),
            ("previous neck surgery", history.prior_neck_surgery),
            ("congenital head or spine abnormality", history.congenital_head_or_spine_abnormality),
            ("cervical spine disease", history.cervical_spine_disease),
        )
        if value
    ]
    diagnosis = referral.diagnosis
    return (
        (
            "Diagnosis",
            f"{_words(diagnosis.condition)}; {_words(diagnosis.aetiology)}; {_words(diagnosis.distribution)}; "
            f"onset {_onset_text(diagnosis.onset, month_only=pseudonymised)}",
        ),
        ("Phenotype", f"{components}; {tremor}"),
        (
            "Severity",
            f"TWSTRS total {severity.twstrs_total if severity.twstrs_total is not None else '?'}/85, pain "
            f"{severity.twstrs_pain if severity.twstrs_pain is not None else '?'}/20, Tsui "
            f"{severity.tsui if severity.tsui is not None else '?'}/25",
        ),
        (
            "Botulinum toxin",
            f"{cycles}, {_GUIDANCE.get(toxin.guidance or '', 'guidance not recorded')}, "
            f"response {_words(toxin.response)}",
        ),
        ("Oral medication", oral),
        (
            "Physiotherapy",
            f"{_yes_no(physio.completed, 'completed', 'not completed')}, outcome {_words(physio.outcome)}",
        ),
        ("History", ", ".join(history_items) or "none of the listed conditions"),
    )


def _referrer_text(referral: Referral, *, pseudonymised: bool) -> str:
    """`Dr Jo Smith, neurologist, RXX`; the role only when pseudonymised (a name or practice points at a patient)."""
    referrer = referral.referrer
    role = _words(referrer.role) if referrer.role else None
    if pseudonymised:
        return f"{role or 'role not recorded'} (name and organisation withheld)"
    return ", ".join(p for p in (referrer.name, role, referrer.organisation_ods) if p) or "not recorded"


def _received_text(received: date | None, meeting_day: date, as_of: date, *, pseudonymised: bool) -> str:
    """The received date and the weeks waiting on the day the document is made (and by the meeting, if later)."""
    if received is None:
        return "not recorded"
    shown = format_month(received) if pseudonymised else format_date(received)
    weeks = weeks_waiting(received, as_of)
    text = f"{shown}: {weeks} week{'' if weeks == 1 else 's'} waiting on {format_date(as_of)}"
    if meeting_day > as_of:
        text += f", {weeks_waiting(received, meeting_day)} by the meeting"
    return text


def _criterion_reason(reason: str, referral: Referral, pseudonymised: bool) -> str:
    """A stored criterion reason; in the pseudonymised copy without drug names (R2 quotes them) or the day of
    onset (R4 quotes it when it was given), the only free text and patient dates the rules' reasons hold."""
    if not pseudonymised:
        return reason
    for index, medication in enumerate(referral.oral_medications or ()):
        if medication.drug and medication.drug.strip():
            reason = re.sub(word_pattern(medication.drug.strip()), f"drug {index + 1}", reason, flags=re.IGNORECASE)
    onset = referral.diagnosis.onset
    if onset is not None and not onset.month_only:
        reason = reason.replace(format_date(onset.first_day), format_month(onset.first_day))
    return reason


def _triage_line(case: CaseInput) -> str:
    text = (
        f"{TRIAGE_CHANGED.upper()}: {triage_text(case.triage_outcome, None, None)}"
        if case.decided_outcome is None
        else triage_text(case.triage_outcome, case.decided_outcome, case.decision_kind)
    )
    return text + f", priority {case.priority if case.priority is not None else '?'}"


def _agenda_case(
    number: int, case: CaseInput, meeting: MeetingInfo, clock: RttClock | None, as_of: date, pseudonymised: bool
) -> AgendaCase:
    """One case in words; pseudonymised as the module docstring says."""
    referral, patient = case.referral, case.referral.patient
    age = None if patient.date_of_birth is None else age_in_years(patient.date_of_birth, meeting.meeting_date)
    if pseudonymised:
        name, born, hospital = initials(patient.family_name, patient.given_name), "", ""
        nhs = nhs_last_four(patient.nhs_number) or "not recorded"
        band = "not recorded" if age is None else age_band(age)
    else:
        name = format_name(patient.family_name, patient.given_name) or "name not recorded"
        nhs = format_nhs_number(patient.nhs_number) or "not recorded"
        born = format_date(patient.date_of_birth)
        if patient.date_of_birth is not None:
            born += f" (age {age_in_years(patient.date_of_birth, meeting.meeting_date)})"
        hospital, band = patient.hospital_number or "", ""
    # Today's rtt_breach_risk, not the one frozen when the referral was scored (H07).
    flags = case.flags if clock is None else clock.flags(case.flags, referral.received_on)
    actions = tuple(
        f"{a.description} (owner: {a.owner or 'not set'}, due {format_date(a.due) or 'not set'})" for a in case.actions
    )
    rationale = case.rationale or ""
    question = referral.clinical_question or "not given"
    if pseudonymised:
        rationale = FREE_TEXT_WITHHELD if rationale else ""
        question = FREE_TEXT_WITHHELD if referral.clinical_question else "not given"
        count = len(case.actions)
        actions = (f"{count} agreed; details {FREE_TEXT_WITHHELD}",) if count else ()
    decision = decision_text(case)
    if pseudonymised and case.decision_reason:
        decision = decision.replace(case.decision_reason, FREE_TEXT_WITHHELD)
    weeks = weeks_waiting(referral.received_on, as_of)
    by_meeting = weeks_waiting(referral.received_on, meeting.meeting_date)
    later = by_meeting is not None and weeks is not None and by_meeting > weeks
    recorded_by = ""
    if case.outcome:
        when = "" if case.outcome_at is None else f", {format_date(case.outcome_at.astimezone().date())}"
        recorded_by = f"{case.outcome_by or 'not on record'}{when}"
    shown = AgendaCase(
        number=number,
        referral_id=case.referral_id,
        late_addition=case.late_addition,
        nhs_number=nhs,
        name=name,
        date_of_birth=born,
        hospital_number=hospital,
        referrer=_referrer_text(referral, pseudonymised=pseudonymised),
        received=_received_text(referral.received_on, meeting.meeting_date, as_of, pseudonymised=pseudonymised),
        clinical_question=question,
        lines=_case_lines(referral, pseudonymised=pseudonymised),
        triage=_triage_line(case),
        criteria=tuple(
            f"{cid} {CRITERIA[cid][0]}: {status.replace('_', ' ')}. {_criterion_reason(reason, referral, pseudonymised)}"
            for cid, status, reason in case.criteria
            if cid in CRITERIA
        ),
        flags=tuple(f"{FLAGS[f][0]}: {FLAGS[f][1]}" if f in FLAGS else f for f in flags),
        outcome=MEETING_OUTCOME_LABELS.get(case.outcome or "", ""),
        rationale=rationale,
        actions=actions,
        age_band=band,
        age=band if pseudonymised else ("not recorded" if age is None else str(age)),
        priority="not scored" if case.priority is None else str(case.priority),
        weeks_waiting="not recorded" if weeks is None else str(weeks),
        weeks_by_meeting=str(by_meeting) if later else "",
        cautions=tuple(caution_name(f) for f in flags),
        caution_details=tuple(FLAGS[f][1] if f in FLAGS else caution_name(f) for f in flags),
        decision=decision,
        recorded_by=recorded_by,
    )
    return _withhold_case(shown, case) if pseudonymised else shown


def _withhold_case(shown: AgendaCase, case: CaseInput) -> AgendaCase:
    """The last line of defence of the pseudonymised copy: no identifier or free text in any field, whatever
    a field was built from."""
    texts = [
        case.rationale,
        case.decision_reason,
        *(a.description for a in case.actions),
        *(a.owner for a in case.actions),
    ]
    identifiers = identifier_patterns(case.referral, texts)

    def clean(text: str) -> str:
        return withhold(text, identifiers)

    return replace(
        shown,
        date_of_birth="",
        hospital_number="",
        referrer=clean(shown.referrer),
        received=clean(shown.received),
        clinical_question=clean(shown.clinical_question),
        lines=tuple((label, clean(text)) for label, text in shown.lines),
        triage=clean(shown.triage),
        criteria=tuple(map(clean, shown.criteria)),
        flags=tuple(map(clean, shown.flags)),
        caution_details=tuple(map(clean, shown.caution_details)),
        rationale=clean(shown.rationale),
        actions=tuple(map(clean, shown.actions)),
        decision=clean(shown.decision),
    )


def build_agenda(
    meeting: MeetingInfo,
    cases: list[CaseInput],
    *,
    quorum_roles: tuple[str, ...],
    generated_at: datetime,
    pseudonymised: bool = False,
    outcomes: bool = False,
    rtt_warning_weeks: int | None = None,
    rules_line: str = "",
) -> Agenda:
    """The agenda (or, with `outcomes`, the outcome summary) of a meeting.

    Weeks waiting are counted to the local date of `generated_at` (the day the document is made); with
    `rtt_warning_weeks` (the rules in force) the `rtt_breach_risk` caution is that day's too, else as scored.
    `rules_line` says which approved rules the triage used, beside the intended-use statement.
    """
    present = [(name, role) for name, role, there in meeting.attendance if there]
    # Once attendance is taken the quorum is that of those there (stored when the chair closed the meeting).
    q = quorum([role for _, role in (present if meeting.attendance else meeting.attendees)], quorum_roles)
    quorum_words = q.describe()
    if meeting.attendance:
        quorum_words = (meeting.closed_quorum or quorum_words) + " (of those who attended)"
    as_of = generated_at.astimezone().date()
    clock = None if rtt_warning_weeks is None else RttClock(as_of, rtt_warning_weeks)
    when = f"{format_date(meeting.meeting_date)} at {meeting.meeting_time}"
    details = [("Date", when)]
    if meeting.place:
        details.append(("Place", meeting.place))
    if meeting.video_link:  # a way into the meeting: not for a copy that goes wider than the MDT
        details.append(("Video link", "withheld from the pseudonymised copy" if pseudonymised else meeting.video_link))
    details.append(("Chair", meeting.chair or "not set"))
    details.append(("Cases", str(len(cases))))
    agenda_cases = tuple(
        _agenda_case(number, case, meeting, clock, as_of, pseudonymised)
        for number, case in enumerate(sorted(cases, key=lambda c: c.position), start=1)
    )
    title = "MDT outcome summary" if outcomes else "MDT meeting agenda"
    return Agenda(
        title=f"{title}: selective peripheral denervation, {format_date(meeting.meeting_date)}",
        marking=PSEUDONYMISED if pseudonymised else CONFIDENTIAL,
        meeting=tuple(details),
        attendees=tuple(f"{name} ({role_label(role)})" for name, role in meeting.attendees),
        quorum=quorum_words,
        quorate=q.quorate if not meeting.closed_quorum else meeting.closed_quorum == "Quorate",
        generated=generated_at.astimezone().strftime("%d-%b-%Y %H:%M %Z").strip(),
        pseudonymised=pseudonymised,
        outcomes=outcomes,
        cases=agenda_cases,
        rules_line=rules_line.strip(),
        circulated=("" if meeting.circulated_at is None else format_date(meeting.circulated_at.astimezone().date())),
        attendance=tuple(f"{name} ({role_label(role)})" for name, role in present),
        absent=tuple(f"{name} ({role_label(role)})" for name, role, there in meeting.attendance if not there),
        closed=(
            ""
            if meeting.closed_at is None
            else f"Closed by {meeting.closed_by or 'the chair'} on {format_date(meeting.closed_at.astimezone().date())}"
        ),
    )
