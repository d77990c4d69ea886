"""letters: the referrer's and the GP's addresses

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

Four local referral fields for outcome letters (domain.fields LOCAL_FIELDS): the referrer's address and the GP's
name, practice and address. All optional (null: not on file), so every referral stored before reads as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referrer_address", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("gp_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("gp_practice", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("gp_address", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_column("gp_address")
        batch_op.drop_column("gp_practice")
        batch_op.drop_column("gp_name")
        batch_op.drop_column("referrer_address")
