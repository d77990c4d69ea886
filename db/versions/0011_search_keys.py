"""search: name parts and NHS-number digits, indexed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

The queue's search finds "Marguerite Quinnell", "QUINNELL, Marguerite", either half of a double-barrelled or
hyphenated name, and four or more digits anywhere in an NHS number, each by an index range on a key table
(storage.search_keys): one row per name part (kind F family, G given) and per NHS-number suffix of four or more
digits after the first (N). On PostgreSQL the key takes the "C" collation, as the name keys do (schema 0007), so
that a range compares code point by code point on both backends.

Existing referrals get their keys here, by the same rule as storage.search_keys (copied: a migration does not
change once released): NHS suffixes in SQL, name parts in batches from Python.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SEPARATORS = re.compile(r"[\s,.;:/()\-]+")
_MIN_DIGITS = 4
_NHS_LENGTH = 10


def _name_parts(text: str | None) -> list[str]:
    found: list[str] = []
    for part in _SEPARATORS.split((text or "").upper().replace("\u2019", "'")):
        for variant in (part, part.replace("'", ""), *part.split("'")):
            variant = variant[:200]
            if variant and variant not in found:
                found.append(variant)
    return found


def upgrade() -> None:
    op.create_table(
        "referral_search_key",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_search_key_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "kind", "referral_id", name=op.f("pk_referral_search_key")),
    )
    with op.batch_alter_table("referral_search_key", schema=None) as batch_op:
        batch_op.create_index("ix_referral_search_key_referral", ["referral_id", "key", "kind"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(sa.text('ALTER TABLE referral_search_key ALTER COLUMN key TYPE varchar(200) COLLATE "C"'))
    # NHS numbers are ten digits (the form and the import check them); suffixes from the second digit on.
    for start in range(2, _NHS_LENGTH - _MIN_DIGITS + 2):
        op.execute(
            sa.text(
                "INSERT INTO referral_search_key (key, kind, referral_id) "
                f"SELECT substr(nhs_number, {start}), 'N', id FROM referral "
                f"WHERE nhs_number IS NOT NULL AND length(nhs_number) >= {start + _MIN_DIGITS - 1}"
            )
        )
    insert = sa.text("INSERT INTO referral_search_key (key, kind, referral_id) VALUES (:key, :kind, :rid)")
    last = 0
    while True:
        batch = bind.execute(
            sa.text("SELECT id, family_name, given_name FROM referral WHERE id > :last ORDER BY id LIMIT 20000"),
            {"last": last},
        ).all()
        if not batch:
            break
        rows = []
        for rid, family, given in batch:
            keys = [(key, "F") for key in _name_parts(family)] + [(key, "G") for key in _name_parts(given)]
            rows += [{"key": key, "kind": kind, "rid": rid} for key, kind in dict.fromkeys(keys)]
        if rows:
            bind.execute(insert, rows)
        last = batch[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("referral_search_key", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_search_key_referral")
    op.drop_table("referral_search_key")
