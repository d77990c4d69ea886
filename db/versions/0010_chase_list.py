"""the coordinator's chase list: chase dates, actions ticked off

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

Placeholder reserved for issue 13 work (filled in by the change that needs it); until then it changes nothing.
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
