"""MDT meetings in plain terms: outcomes, MDT roles, quorum, the SPD checklist, and what an agenda says.

The agenda is built here as plain text fields, so every exporter (PDF, Word, CSV, HTML, print) shows the same
words; exporters only lay them out and make them safe for their format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from triage_app.domain.formats import format_date, format_month, format_name
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.referral import Onset, Referral, format_nhs_number
from triage_app.domain.scoring import CRITERIA, FLAGS, OUTCOME_LABELS, age_in_years, in_words, outcome_words

ACCEPT_FOR_SPD: Final = "accept_for_spd"
NOT_DISCUSSED: Final = "not_discussed"
MEETING_OUTCOMES: Final = (
    ACCEPT_FOR_SPD,
    "refer_for_dbs_assessment",
    "continue_best_medical_treatment",
    "more_information_needed",
    "decline",
    NOT_DISCUSSED,
)
MEETING_OUTCOME_LABELS: Final = {
    ACCEPT_FOR_SPD: "Accept for SPD",
    "refer_for_dbs_assessment": "Refer for DBS assessment",
    "continue_best_medical_treatment": "Continue best medical treatment",
    "more_information_needed": "More information needed",
    "decline": "Decline",
    NOT_DISCUSSED: "Not discussed",
}

#: NICE 1.1 implies these before SPD is offered: consent, audit and clinical governance.
SPD_CHECKLIST: Final = {
    "patient_information_given": "Patient information about SPD given",
    "consent_discussion_planned": "Consent discussion planned",
    "baseline_severity_recorded": "Baseline severity recorded for audit",
}

MDT_ROLES: Final = {
    "functional_neurosurgeon": "Functional neurosurgeon",
    "movement_disorders_neurologist": "Movement disorders neurologist",
    "physiotherapist": "Physiotherapist",
    "specialist_nurse": "Specialist nurse",
    "neuropsychologist": "Neuropsychologist",
    "coordinator": "MDT coordinator",
    "other": "Other",
}

PLANNED: Final = "planned"
CIRCULATED: Final = "circulated"
HELD: Final = "held"
CANCELLED: Final = "cancelled"
OPEN_MEETING_STATUSES: Final = (PLANNED, CIRCULATED)

CONFIDENTIAL: Final = "CONFIDENTIAL: patient-identifiable data. Do not forward outside the MDT."
PSEUDONYMISED: Final = "Pseudonymised: initials and the last four digits of the NHS number only."


def role_label(role: str | None) -> str:
    """An MDT role in words."""
    return MDT_ROLES.get(role or "", (role or "").replace("_", " ").capitalize() or "Role not given")


@dataclass(frozen=True, slots=True)
class Quorum:
    """Whether the roles present make the meeting quorate, and which are missing."""

    quorate: bool
    missing: tuple[str, ...]

    def describe(self) -> str:
        """`Quorate`, or `Not quorate: no physiotherapist`."""
        if self.quorate:
            return "Quorate"
        return "Not quorate: no " + ", no ".join(role_label(r).lower() for r in self.missing)


def quorum(attendee_roles: list[str | None], required: tuple[str, ...]) -> Quorum:
    """Quorate when every required role has at least one attendee."""
    present = {r for r in attendee_roles if r}
    missing = tuple(r for r in required if r not in present)
    return Quorum(not missing, missing)


def initials(family: str | None, given: str | None) -> str:
    """`M.Q.` from Morwenna Quillfeather; `?` for an unknown part."""
    return f"{(given or '?')[:1].upper()}.{(family or '?')[:1].upper()}."


def nhs_last_four(digits: str | None) -> str:
    """`xxx xxx 0301`: the last four digits only."""
    return "" if not digits else f"xxx xxx {digits[-4:]}"


def checklist_missing(ticked: dict[str, bool]) -> list[str]:
    """The SPD checklist items not ticked, in words."""
    return [label for key, label in SPD_CHECKLIST.items() if not ticked.get(key)]


@dataclass(frozen=True, slots=True)
class MeetingInfo:
    """A meeting's details as the agenda header shows them."""

    meeting_id: int
    meeting_date: date
    meeting_time: str
    place: str | None
    video_link: str | None
    chair: str | None
    attendees: tuple[tuple[str, str | None], ...]  # (name, MDT role)
    status: str
    circulated_at: datetime | None


@dataclass(frozen=True, slots=True)
class CaseAction:
    """An action agreed at the meeting."""

    description: str
    owner: str | None
    due: date | None


@dataclass(frozen=True, slots=True)
class CaseInput:
    """What the agenda needs of one listed referral (the services gather it from storage)."""

    position: int
    referral_id: int
    referral: Referral
    triage_outcome: str | None
    priority: int | None
    criteria: tuple[tuple[str, str, str], ...]  # (id, status, reason)
    flags: tuple[str, ...]
    late_addition: bool
    outcome: str | None = None
    rationale: str | None = None
    actions: tuple[CaseAction, ...] = ()
    decided_outcome: str | None = None  # the consultant's standing triage decision; None: none stands
    decision_kind: str | None = None  # confirmed | overridden


TRIAGE_CHANGED: Final = "triage changed: reconfirm"


def triage_text(computed: str | None, decided: str | None, kind: str | None) -> str:
    """The triage as every screen and document shows it: the standing decision, or the computed outcome
    marked as awaiting a consultant (safety.md, "The current decision")."""
    computed_label = OUTCOME_LABELS.get(computed or "", "not assessed")
    if decided is None:
        return f"{computed_label} (awaiting consultant)"
    decided_label = OUTCOME_LABELS.get(decided, decided)
    if kind == "overridden" and decided != computed:
        return f"{decided_label} (overridden: was {outcome_words(computed)})"
    return f"{decided_label} (confirmed)"


@dataclass(frozen=True, slots=True)
class AgendaCase:
    """One case of the agenda, every field already in words."""

    number: int
    referral_id: int
    late_addition: bool
    nhs_number: str
    name: str
    date_of_birth: str
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


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    return "not recorded" if value is None else yes if value else no


def _words(value: str | None) -> str:
    return "not recorded" if value is None else in_words(value)


_GUIDANCE = {"emg": "EMG-guided", "ultrasound": "ultrasound-guided", "none": "unguided"}


def _onset_text(onset: Onset | None) -> str:
    """`Apr-2015`, or `03-Apr-2015` when the day was given (never ISO on a document people read)."""
    if onset is None:
        return "not recorded"
    return format_month(onset.first_day) if onset.month_only else format_date(onset.first_day)


def _case_lines(referral: Referral) -> tuple[tuple[str, str], ...]:
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
        else "; ".join(f"{m.drug or 'unnamed drug'}: {_words(m.outcome)}" for m in medications) or "none tried"
    )
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
            f"onset {_onset_text(diagnosis.onset)}",
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


def build_agenda(
    meeting: MeetingInfo,
    cases: list[CaseInput],
    *,
    quorum_roles: tuple[str, ...],
    generated_at: datetime,
    pseudonymised: bool = False,
    outcomes: bool = False,
) -> Agenda:
    """The agenda (or, with `outcomes`, the outcome summary) of a meeting."""
    q = quorum([role for _, role in meeting.attendees], quorum_roles)
    when = f"{format_date(meeting.meeting_date)} at {meeting.meeting_time}"
    details = [("Date", when)]
    if meeting.place:
        details.append(("Place", meeting.place))
    if meeting.video_link:
        details.append(("Video link", meeting.video_link))
    details.append(("Chair", meeting.chair or "not set"))
    details.append(("Cases", str(len(cases))))
    agenda_cases = []
    for number, case in enumerate(sorted(cases, key=lambda c: c.position), start=1):
        patient = case.referral.patient
        if pseudonymised:
            name, nhs, born, hospital = (
                initials(patient.family_name, patient.given_name),
                nhs_last_four(patient.nhs_number),
                "",
                "",
            )
        else:
            name = format_name(patient.family_name, patient.given_name) or "name not recorded"
            nhs = format_nhs_number(patient.nhs_number) or "not recorded"
            born = format_date(patient.date_of_birth)
            if patient.date_of_birth is not None:
                born += f" (age {age_in_years(patient.date_of_birth, meeting.meeting_date)})"
            hospital = patient.hospital_number or ""
        referrer = case.referral.referrer
        received = case.referral.received_on
        weeks = None if received is None else (meeting.meeting_date - received).days // 7
        agenda_cases.append(
            AgendaCase(
                number=number,
                referral_id=case.referral_id,
                late_addition=case.late_addition,
                nhs_number=nhs,
                name=name,
                date_of_birth=born,
                hospital_number=hospital,
                referrer=", ".join(
                    p
                    for p in (
                        referrer.name,
                        _words(referrer.role) if referrer.role else None,
                        referrer.organisation_ods,
                    )
                    if p
                )
                or "not recorded",
                received=f"{format_date(received)} ({weeks} weeks waiting at the meeting)"
                if received
                else "not recorded",
                clinical_question=case.referral.clinical_question or "not given",
                lines=_case_lines(case.referral),
                triage=(
                    f"{TRIAGE_CHANGED.upper()}: {triage_text(case.triage_outcome, None, None)}"
                    if case.decided_outcome is None
                    else triage_text(case.triage_outcome, case.decided_outcome, case.decision_kind)
                )
                + f", priority {case.priority if case.priority is not None else '?'}",
                criteria=tuple(
                    f"{cid} {CRITERIA[cid][0]}: {status.replace('_', ' ')}. {reason}"
                    for cid, status, reason in case.criteria
                    if cid in CRITERIA
                ),
                flags=tuple(f"{FLAGS[f][0]}: {FLAGS[f][1]}" if f in FLAGS else f for f in case.flags),
                outcome=MEETING_OUTCOME_LABELS.get(case.outcome or "", ""),
                rationale=case.rationale or "",
                actions=tuple(
                    f"{a.description} (owner: {a.owner or 'not set'}, due {format_date(a.due) or 'not set'})"
                    for a in case.actions
                ),
            )
        )
    title = "MDT outcome summary" if outcomes else "MDT meeting agenda"
    return Agenda(
        title=f"{title}: selective peripheral denervation, {format_date(meeting.meeting_date)}",
        marking=PSEUDONYMISED if pseudonymised else CONFIDENTIAL,
        meeting=tuple(details),
        attendees=tuple(f"{name} ({role_label(role)})" for name, role in meeting.attendees),
        quorum=q.describe(),
        quorate=q.quorate,
        generated=generated_at.astimezone().strftime("%d-%b-%Y %H:%M %Z").strip(),
        pseudonymised=pseudonymised,
        outcomes=outcomes,
        cases=tuple(agenda_cases),
    )
