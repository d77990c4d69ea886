"""queue sorts and server search keys: indexes for the sorts by age, outcome and status; on PostgreSQL the name
keys compare code point by code point, as on SQLite

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

The queue finds a name by an index range on its upper-cased key (`family_name_key >= 'ASH' AND family_name_key <
'ASH' || U+10FFFF`, storage.queue) and sorts names by that key. SQLite compares text code point by code point. A
PostgreSQL database made with a language's collation (en_GB.UTF-8, or an ICU locale) compares linguistically
instead: 'ÁSHWORTH' would be found by "ashworth", a hyphen or space is passed over, and 'Østergaard' sorts among
the Os, so the same search and the same sort would answer differently on the two backends. The key columns take
the "C" collation on PostgreSQL, whatever the database's default (their indexes are rebuilt with them); a database
made with the C collation is unchanged. SQLite needs nothing.

The queue's sorts by date of birth (its age column), outcome and status read every referral and sorted them (about
2 s on a million on a server, each time the column header is clicked): an index for each, with the id that breaks
ties, gives the first page at once on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: The referral columns the queue searches by range and sorts on, with their length.
_KEYS = (("family_name_key", 200), ("given_name_key", 200))


def _collate(collation: str) -> None:
    changes = ", ".join(f'ALTER COLUMN {name} TYPE varchar({length}) COLLATE "{collation}"' for name, length in _KEYS)
    op.execute(sa.text(f"ALTER TABLE referral {changes}"))


#: name -> columns of the queue's sort indexes.
_INDEXES = {
    "ix_referral_order_age": ["date_of_birth"],
    "ix_referral_order_outcome": ["queue_outcome", "id"],
    "ix_referral_order_status": ["status", "id"],
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _collate("C")
    for name, columns in _INDEXES.items():
        op.create_index(name, "referral", columns, unique=False)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="referral")
    if op.get_bind().dialect.name == "postgresql":
        _collate("default")
