"""approved rules in the database

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

The clinical rules in force are the database's newest approval: the file's exact text, its version and
SHA-256, who approved it and when. A database upgraded from 0003 has none yet; the app approves the rules it
ships in the name of the first active administrator when it next opens (audited), not here: the approval is
an audited action with the reassessment it causes, and it needs the app's rules file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approved_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=False),
        sa.Column("basis", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["approved_by"], ["app_user.id"], name=op.f("fk_approved_rules_approved_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approved_rules")),
    )
    with op.batch_alter_table("approved_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approved_rules_version"), ["version"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approved_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approved_rules_version"))
    op.drop_table("approved_rules")
