"""SQLModel tables. Every field of the referral format is a real column or child row, so the queue can
filter and report on it in SQL.

Times are stored as UTC and always come back timezone-aware. Schema changes need an Alembic revision in
db/versions (tests compare the two).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Constraint names are fixed so batch migrations on SQLite can find them again.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite itself keeps no time zone)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class AppSetting(SQLModel, table=True):
    """Unit-wide settings and bookkeeping (meeting capacity, the date queue priorities were refreshed)."""

    __tablename__ = "app_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: str


class AppUser(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(unique=True, max_length=128)
    display_name: str = Field(max_length=200)
    mdt_role: str | None = Field(default=None, max_length=64)  # e.g. functional_neurosurgeon
    is_active: bool = True
    created_at: datetime = _when(default_factory=utc_now)


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(primary_key=True, max_length=32)


class ReferralRow(SQLModel, table=True):
    """One referral: the interchange format's fields, the workflow state and the optimistic-lock version."""

    __tablename__ = "referral"
    __table_args__ = (
        sa.UniqueConstraint("nhs_number", "received_on", name="uq_referral_nhs_number_received_on"),
        # The queue sorts and filters in SQL; these keep a million referrals quick (ids break ties).
        sa.Index("ix_referral_priority", "priority"),
        sa.Index("ix_referral_queue", "queue_outcome", "priority"),
        sa.Index("ix_referral_status_priority", "status", "priority"),
        # The queue's sorts by age, outcome and status, each with id to break ties (schema 0007).
        sa.Index("ix_referral_order_age", "date_of_birth"),
        sa.Index("ix_referral_order_outcome", "queue_outcome", "id"),
        sa.Index("ix_referral_order_status", "status", "id"),
        # The coordinator's chase list: referrals awaiting information by chase date (schema 0010).
        sa.Index("ix_referral_chase", "status", "chase_on"),
        # A start's search for the waiting terms that moved: index ranges, nothing read when none did (schema 0012).
        sa.Index("ix_referral_waiting_received", "priority_waiting", "received_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    version: int = 1
    status: str = Field(default="received", max_length=32)

    external_id: str | None = Field(default=None, max_length=200)
    received_on: date | None = Field(default=None, index=True)
    nhs_number: str | None = Field(default=None, max_length=10, index=True)
    family_name: str | None = Field(default=None, max_length=200)
    given_name: str | None = Field(default=None, max_length=200)
    # Upper-cased copies for prefix search by index range (a LIKE on lower() would scan every row).
    family_name_key: str | None = Field(default=None, max_length=200, index=True)
    given_name_key: str | None = Field(default=None, max_length=200, index=True)
    date_of_birth: date | None = None
    sex: str | None = Field(default=None, max_length=16)
    hospital_number: str | None = Field(default=None, max_length=64, index=True)
    referrer_name: str | None = Field(default=None, max_length=200)
    referrer_role: str | None = Field(default=None, max_length=64)
    referrer_organisation_ods: str | None = Field(default=None, max_length=9)
    receiving_unit_ods: str | None = Field(default=None, max_length=9)
    condition: str | None = Field(default=None, max_length=32)
    aetiology: str | None = Field(default=None, max_length=32)
    distribution: str | None = Field(default=None, max_length=32)
    onset: date | None = None
    onset_month_only: bool | None = None
    specialist_confirmed: bool | None = None
    phenotype_components_known: bool = False  # False: the list is unknown (null), not empty
    head_tremor: bool | None = None
    twstrs_total: int | None = None
    twstrs_pain: int | None = None
    tsui: int | None = None
    bont_cycles: int | None = None
    bont_guidance: str | None = Field(default=None, max_length=16)
    bont_response: str | None = Field(default=None, max_length=32)
    bont_immunoresistance_tested: bool | None = None
    oral_medications_known: bool = False  # False: the list is unknown (null), not empty
    physio_completed: bool | None = None
    physio_outcome: str | None = Field(default=None, max_length=16)
    dysphagia: bool | None = None
    prior_neck_surgery: bool | None = None
    congenital_head_or_spine_abnormality: bool | None = None
    cervical_spine_disease: bool | None = None
    clinical_question: str | None = None
    # Letters' addresses (schema 0009; local fields, not in the interchange format).
    referrer_address: str | None = None
    gp_name: str | None = Field(default=None, max_length=100)
    gp_practice: str | None = Field(default=None, max_length=100)
    gp_address: str | None = None

    # The open meeting the referral is listed on, if any (one at most).
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)

    # The current assessment, copied here so the queue filters and sorts on one indexed table.
    current_assessment_id: int | None = Field(default=None)
    outcome: str | None = Field(default=None, max_length=40)  # the computed outcome of the current assessment

    # The consultant's standing decision: it applies to the computed outcome it was made on (decision_basis)
    # and lapses when a later edit or rules change that outcome. None when no decision stands.
    decision_id: int | None = Field(default=None)
    decided_outcome: str | None = Field(default=None, max_length=40)
    decision_kind: str | None = Field(default=None, max_length=16)  # confirmed | overridden
    decision_basis: str | None = Field(default=None, max_length=40)
    # What the queue shows and filters on: the standing decision if there is one, else the computed outcome.
    queue_outcome: str | None = Field(default=None, max_length=40)
    priority: int | None = None  # today's priority: the waiting term is refreshed daily (see refresh_priorities)
    priority_waiting: int | None = None  # indexed with received_on (ix_referral_waiting_received, schema 0012)

    # Awaiting information (schema 0010): what is awaited, in words, when to chase it, when it was last chased.
    awaited: str | None = Field(default=None, sa_type=sa.Text)
    chase_on: date | None = None
    chased_on: date | None = None

    created_at: datetime = _when(default_factory=utc_now)
    created_by: int = Field(foreign_key="app_user.id")
    updated_at: datetime = _when(default_factory=utc_now)
    updated_by: int = Field(foreign_key="app_user.id")


class ReferralSearchKeyRow(SQLModel, table=True):
    """One key the queue's search finds a referral by: a name part (F family, G given) or an NHS-number suffix (N)
    (schema 0011, storage.search_keys). The primary key's index serves the prefix range on `key`."""

    __tablename__ = "referral_search_key"
    # A referral's own keys, covering: the other words of a search are checked there, and a rewrite deletes them.
    __table_args__ = (sa.Index("ix_referral_search_key_referral", "referral_id", "key", "kind"),)

    key: str = Field(max_length=200, primary_key=True)
    kind: str = Field(max_length=1, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", primary_key=True, ondelete="CASCADE")


class OralMedicationRow(SQLModel, table=True):
    __tablename__ = "oral_medication"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    position: int
    drug: str | None = Field(default=None, max_length=200)
    outcome: str | None = Field(default=None, max_length=32)


class PhenotypeComponentRow(SQLModel, table=True):
    __tablename__ = "phenotype_component"

    referral_id: int = Field(foreign_key="referral.id", primary_key=True, ondelete="CASCADE")
    component: str = Field(primary_key=True, max_length=32)
    position: int


class AssessmentRow(SQLModel, table=True):
    """A stored scoring of a referral: kept as history when the referral or the rules change."""

    __tablename__ = "assessment"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    is_current: bool = True
    assessed_on: date
    assessed_at: datetime = _when(default_factory=utc_now)
    assessed_by: int = Field(foreign_key="app_user.id")
    rules_version: str = Field(max_length=64)
    outcome: str = Field(max_length=40)
    priority: int
    priority_severity: int
    priority_pain: int
    priority_waiting: int
    weeks_waiting: int | None = None
    summary: str


class AssessmentCriterionRow(SQLModel, table=True):
    __tablename__ = "assessment_criterion"

    assessment_id: int = Field(foreign_key="assessment.id", primary_key=True, ondelete="CASCADE")
    criterion_id: str = Field(primary_key=True, max_length=4)
    status: str = Field(max_length=16)
    reason: str


class AssessmentFlagRow(SQLModel, table=True):
    __tablename__ = "assessment_flag"
    __table_args__ = (sa.Index("ix_assessment_flag_flag", "flag", "assessment_id"),)

    assessment_id: int = Field(foreign_key="assessment.id", primary_key=True, ondelete="CASCADE")
    flag: str = Field(primary_key=True, max_length=40)


class AssessmentMissingRow(SQLModel, table=True):
    __tablename__ = "assessment_missing"

    assessment_id: int = Field(foreign_key="assessment.id", primary_key=True, ondelete="CASCADE")
    field_path: str = Field(primary_key=True, max_length=80)


class TriageDecisionRow(SQLModel, table=True):
    """A consultant's confirmation or override of an assessment's outcome."""

    __tablename__ = "triage_decision"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    assessment_id: int = Field(foreign_key="assessment.id")
    decision: str = Field(max_length=16)  # confirmed | overridden | lapsed (a later change voided the last one)
    outcome: str = Field(max_length=40)
    reason: str | None = None
    decided_by: int = Field(foreign_key="app_user.id")
    decided_at: datetime = _when(default_factory=utc_now)


class StatusChangeRow(SQLModel, table=True):
    __tablename__ = "status_change"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    note: str | None = None
    changed_by: int = Field(foreign_key="app_user.id")
    changed_at: datetime = _when(default_factory=utc_now)


class AuditEventRow(SQLModel, table=True):
    """One audited action, hash-chained to the one before (see storage.audit)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: str = Field(max_length=40)  # ISO 8601 UTC text: hashed exactly as stored
    user_login: str = Field(max_length=128)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: str | None = Field(default=None, max_length=40)
    changes: str  # canonical JSON: {"field": [before, after]} or a description of the export
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The newest event's id and hash, so deleting events from the end of the chain is caught too."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int
    last_hash: str = Field(max_length=64)


class MeetingRow(SQLModel, table=True):
    """An MDT meeting: when, where, who chairs, and whether its agenda has gone out."""

    __tablename__ = "meeting"

    id: int | None = Field(default=None, primary_key=True)
    meeting_date: date = Field(index=True)
    meeting_time: str = Field(max_length=5)  # HH:MM, local
    place: str | None = Field(default=None, max_length=200)
    video_link: str | None = Field(default=None, max_length=500)
    chair: str | None = Field(default=None, max_length=200)
    status: str = Field(default="planned", max_length=16)  # planned | circulated | held | cancelled
    circulated_at: datetime | None = _when(default=None)
    version: int = 1
    created_at: datetime = _when(default_factory=utc_now)
    created_by: int = Field(foreign_key="app_user.id")
    changed_since_circulated_at: datetime | None = _when(default=None)  # details edited after the agenda went out
    attendance_taken_at: datetime | None = _when(default=None)
    attendance_taken_by: int | None = None  # app_user.id
    closed_at: datetime | None = _when(default=None)  # closed by the chair (a consultant): no more edits
    closed_by: int | None = None  # app_user.id
    closed_quorum: str | None = Field(default=None, max_length=200)  # "Quorate" / "Not quorate: no ..." at closing


class MeetingAttendeeRow(SQLModel, table=True):
    __tablename__ = "meeting_attendee"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    mdt_role: str | None = Field(default=None, max_length=64)
    attended: bool | None = None  # None: attendance not taken yet
    invited: bool = True  # False: came on the day without being expected


class MeetingCaseRow(SQLModel, table=True):
    """A referral on a meeting's list, and what the MDT decided."""

    __tablename__ = "meeting_case"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "referral_id", name="uq_meeting_case_meeting_referral"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True, ondelete="CASCADE")
    referral_id: int = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    position: int
    late_addition: bool = False
    added_at: datetime = _when(default_factory=utc_now)
    added_by: int = Field(foreign_key="app_user.id")
    outcome: str | None = Field(default=None, max_length=40)
    rationale: str | None = None
    patient_information_given: bool = False
    consent_discussion_planned: bool = False
    baseline_severity_recorded: bool = False
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = _when(default=None)
    version: int = 1  # compare-and-swap: two consultants never overwrite each other's outcome silently


class CaseActionRow(SQLModel, table=True):
    __tablename__ = "case_action"
    # MDT actions by due date and by owner across meetings, open ones first (schema 0010).
    __table_args__ = (
        sa.Index("ix_case_action_due", "done_at", "due_date"),
        sa.Index("ix_case_action_owner", "owner", "due_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="meeting_case.id", index=True, ondelete="CASCADE")
    description: str
    owner: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    done_at: datetime | None = _when(default=None)  # ticked off: when, and by whom (schema 0010)
    done_by: int | None = None  # the app_user id (no foreign key: SQLite adds none to an existing table)


class ApprovedRulesRow(SQLModel, table=True):
    """Rules an administrator approved: the file's exact text, its version and SHA-256, who and when.

    Rows are only ever added; the newest (highest id) is in force on every desktop. A version keeps one content:
    the service refuses a file that reuses an approved version with other text.
    """

    __tablename__ = "approved_rules"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=64, index=True)
    sha256: str = Field(max_length=64)
    content: str = Field(sa_type=sa.Text)
    approved_by: int = Field(foreign_key="app_user.id")
    approved_at: datetime = _when(default_factory=utc_now)
    basis: str | None = Field(default=None, max_length=200)  # how it came: an administrator, or the first start
