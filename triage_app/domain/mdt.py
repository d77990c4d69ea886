"""MDT meetings in plain terms: the outcomes an MDT records, MDT roles and quorum, meeting statuses, the SPD
checklist, and the triage as every screen and document words it.

Split from domain.meetings (the agenda), which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from triage_app.domain.formats import format_date
from triage_app.domain.referral import Referral
from triage_app.domain.scoring import (
    OUTCOME_LABELS,
    outcome_words,
)

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
    # Attendance on the day (name, MDT role, there): empty until it is taken.
    attendance: tuple[tuple[str, str | None, bool], ...] = ()
    closed_at: datetime | None = None  # closed by the chair
    closed_by: str | None = None
    closed_quorum: str | None = None  # the quorum of those who attended, in words, stored at closing


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
    decided_by: str | None = None  # who made the standing triage decision (display name)
    decided_at: datetime | None = None  # when (UTC)
    decision_reason: str | None = None  # an override's written reason
    outcome_by: str | None = None  # the consultant who recorded the MDT outcome (display name)
    outcome_at: datetime | None = None  # when (UTC)


TRIAGE_CHANGED: Final = "triage changed: reconfirm"

#: Each caution as a short name in words, for a table column (FLAGS has a terse tag and a sentence).
CAUTION_NAMES: Final = {
    "anterior_pattern": "Anterior pattern (anterocollis or anterocaput)",
    "cervical_spine_disease": "Cervical spine disease",
    "complex_pattern": "Many muscle groups involved",
    "congenital_abnormality": "Congenital head or spine abnormality",
    "dysphagia": "Swallowing difficulty",
    "head_tremor": "Head tremor",
    "immunoresistance_untested": "Immunoresistance not tested",
    "injection_not_guided": "Injections not guided",
    "non_idiopathic": "Secondary dystonia",
    "not_focal": "Segmental or generalised dystonia",
    "paediatric": "Under the paediatric age",
    "primary_non_responder": "Primary non-response to toxin",
    "prior_neck_surgery": "Previous neck surgery",
    "rtt_breach_risk": "18-week wait at risk",
}


def caution_name(flag: str) -> str:
    """A caution's short name in words (`Head tremor`); an unknown one with its underscores as spaces."""
    return CAUTION_NAMES.get(flag) or flag.replace("_", " ").capitalize()


def decision_text(case: CaseInput) -> str:
    """The consultant's standing triage decision in words: what, by whom, when, and an override's reason."""
    if case.decided_outcome is None:
        return "No standing decision: the triage changed since it was decided, a consultant reconfirms"
    when = "" if case.decided_at is None else f" on {format_date(case.decided_at.astimezone().date())}"
    who = f" by {case.decided_by}" if case.decided_by else ""
    decided = OUTCOME_LABELS.get(case.decided_outcome, case.decided_outcome)
    if case.decision_kind == "overridden" and case.decided_outcome != case.triage_outcome:
        reason = f". Reason: {case.decision_reason}" if case.decision_reason else ""
        return f"Overridden{who}{when}: {decided} (the criteria gave {outcome_words(case.triage_outcome)}){reason}"
    return f"Confirmed{who}{when}: {decided}"


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
