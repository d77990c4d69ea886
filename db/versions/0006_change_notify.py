"""live updates: PostgreSQL notifies every desktop when audit events are written

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Every change is an audit event, so a desktop that knows the newest event it has seen can read what changed since
(triage_app.storage.change_feed). On PostgreSQL an AFTER INSERT statement trigger on audit_event sends
`NOTIFY triage_changes, '<the newest event id inserted>'`: an id only, never a name or any patient data, once per
inserting statement (not per row: a reassessment of every referral is one notification, not a million).
Notifications are delivered when the transaction commits, and not at all when it rolls back.

SQLite needs nothing: a desktop asks `PRAGMA data_version`, which moves whenever another connection commits.

The append-only triggers of schema 0005 are untouched; `audit verify` checks those by name.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_POSTGRESQL = (
    """CREATE FUNCTION audit_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('triage_changes', (SELECT coalesce(max(id), 0)::text FROM inserted_events));
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER audit_event_notify AFTER INSERT ON audit_event
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_notify()""",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL:
            op.execute(statement)
    # SQLite: nothing to add (PRAGMA data_version tells a desktop that another one committed).


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_notify ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_notify()")
