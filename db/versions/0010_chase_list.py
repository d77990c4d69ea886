"""the coordinator's chase list: chase dates, actions ticked off

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

A referral awaiting information records what is awaited (the missing fields in words), the date to chase it
and the date it was last chased; the chase list reads referrals awaiting information by chase date through an
index on (status, chase_on). An MDT action is ticked off with when and by whom (done_at, done_by, the user's id);
open actions by due date and actions by owner each have an index, so the list across meetings sorts in SQL.
Columns are only added (no table is copied on SQLite, so the triggers on referral stay as they are).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.add_column(sa.Column("awaited", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("chase_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("chased_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_referral_chase", ["status", "chase_on"], unique=False)
    with op.batch_alter_table("case_action", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("done_by", sa.Integer(), nullable=True))
        batch_op.create_index("ix_case_action_due", ["done_at", "due_date"], unique=False)
        batch_op.create_index("ix_case_action_owner", ["owner", "due_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_action", schema=None) as batch_op:
        batch_op.drop_index("ix_case_action_owner")
        batch_op.drop_index("ix_case_action_due")
        batch_op.drop_column("done_by")
        batch_op.drop_column("done_at")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_chase")
        batch_op.drop_column("chased_on")
        batch_op.drop_column("chase_on")
        batch_op.drop_column("awaited")
