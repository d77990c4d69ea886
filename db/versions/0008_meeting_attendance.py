"""meetings: attendance on the day, closing by the chair

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

Placeholder reserved for issue 13 work (filled in by the change that needs it); until then it changes nothing.
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
