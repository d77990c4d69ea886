"""meetings: attendance on the day, closing by the chair, an agenda changed since it was circulated

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

A meeting's details (date, time, place, video link, chair, expected attendees) are edited until it is held; an
edit after the agenda went out is stamped (`changed_since_circulated_at`) so the agenda and the screens say the
circulated copy is out of date. Attendance is taken on the day: each expected attendee is marked there or not
(`attended`), someone who came without being expected is added (`invited` false), and the meeting keeps who took
it and when. Closing stores who closed it, when, and the quorum of those who attended, in words.

The new columns are plain additions (every existing row reads as "not taken", "not closed", "invited"), so
upgrading keeps every meeting as it was on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_MEETING_COLUMNS = (
    ("changed_since_circulated_at", sa.DateTime()),
    ("attendance_taken_at", sa.DateTime()),
    ("attendance_taken_by", sa.Integer()),
    ("closed_at", sa.DateTime()),
    ("closed_by", sa.Integer()),
    ("closed_quorum", sa.String(length=200)),
)


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        for name, kind in _MEETING_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("meeting_attendee", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attended", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("invited", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("meeting_attendee", schema=None) as batch_op:
        batch_op.drop_column("invited")
        batch_op.drop_column("attended")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        for name, _kind in reversed(_MEETING_COLUMNS):
            batch_op.drop_column(name)
