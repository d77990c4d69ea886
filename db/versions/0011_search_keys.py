"""search: name parts and NHS-number digits, indexed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

Placeholder reserved for issue 13 work (filled in by the change that needs it); until then it changes nothing.
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
