"""letters: the referrer's and the GP's addresses

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

Placeholder reserved for issue 13 work (filled in by the change that needs it); until then it changes nothing.
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
