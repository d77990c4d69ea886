"""standing triage decisions and meeting-case versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

A consultant's decision now stands on the referral (decided_outcome, decision_basis, decision_id) and the
queue filters on queue_outcome: the standing decision, else the computed outcome. Meeting cases get a
version for compare-and-swap outcome recording.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("decided_outcome", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("decision_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("decision_basis", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("queue_outcome", sa.String(length=40), nullable=True))
        batch_op.drop_index("ix_referral_queue")
        batch_op.create_index("ix_referral_queue", ["queue_outcome", "priority"], unique=False)
    with op.batch_alter_table("meeting_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))

    # A referral's latest decision stands if the outcome it was made on is still the computed outcome;
    # otherwise it lapsed (a later edit or rules change altered the triage) and a consultant reconfirms.
    op.execute("UPDATE referral SET decision_id = (SELECT max(d.id) FROM triage_decision d WHERE d.referral_id = referral.id)")
    op.execute(
        "UPDATE referral SET decided_outcome = (SELECT d.outcome FROM triage_decision d "
        "JOIN assessment a ON a.id = d.assessment_id "
        "WHERE d.id = referral.decision_id AND a.outcome = referral.outcome), "
        "decision_kind = (SELECT d.decision FROM triage_decision d "
        "JOIN assessment a ON a.id = d.assessment_id "
        "WHERE d.id = referral.decision_id AND a.outcome = referral.outcome)"
    )
    op.execute("UPDATE referral SET decision_id = NULL, decision_kind = NULL WHERE decided_outcome IS NULL")
    op.execute("UPDATE referral SET decision_basis = outcome WHERE decided_outcome IS NOT NULL")
    op.execute("UPDATE referral SET queue_outcome = COALESCE(decided_outcome, outcome)")


def downgrade() -> None:
    with op.batch_alter_table("meeting_case", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_queue")
        batch_op.create_index("ix_referral_queue", ["outcome", "priority"], unique=False)
        batch_op.drop_column("queue_outcome")
        batch_op.drop_column("decision_basis")
        batch_op.drop_column("decision_kind")
        batch_op.drop_column("decided_outcome")
        batch_op.drop_column("decision_id")
