"""referral: one index on (priority_waiting, received_on), so a start finds the waiting terms due without a scan

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22

Each start brings the queue's priorities up to date: the waiting term grows as a referral waits. Finding the
referrals whose term moved read every open referral below the cap (64,520 of 100,000 in the demo data: 0.4-0.7 s of
every start at 100,000, more at a million). With this index the search is, for each stored term, an index range
outside the received dates that give that term today (storage.priorities): nothing is read when nothing is due.
It replaces the index on priority_waiting alone, which it begins with.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index("ix_referral_waiting_received", ["priority_waiting", "received_on"], unique=False)
        batch_op.drop_index("ix_referral_priority_waiting")


def downgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index("ix_referral_priority_waiting", ["priority_waiting"], unique=False)
        batch_op.drop_index("ix_referral_waiting_received")
