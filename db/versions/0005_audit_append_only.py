"""audit trail append-only in the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Triggers refuse any UPDATE or DELETE of an audit event, and any change of the chain head other than moving it
forward (a larger last_event_id). SQLite: BEFORE triggers with RAISE(ABORT); an INSERT over an existing id is
refused too, because INSERT OR REPLACE deletes the old row without firing DELETE triggers. PostgreSQL: trigger
functions in plpgsql, row triggers for UPDATE and DELETE and statement triggers for TRUNCATE (which skips row
triggers). On a server, grant the app's role only INSERT and SELECT on these tables as well (safety.md).

Whoever holds the SQLite file can still drop the triggers: `audit verify` reports them missing, and the chain
head is also kept outside the database (the checkpoint file and the log). A later migration that rebuilds
either table (batch mode copies and drops it) drops these triggers with it and must create them again.

The names below are checked by `triage_app.storage.audit.check_append_only`; the messages start with the
words `REFUSAL_MARKER` looks for ("audit trail is append-only").
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SQLITE = (
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: an audit event cannot be changed'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: an audit event cannot be deleted'); END""",
    """CREATE TRIGGER audit_event_no_replace BEFORE INSERT ON audit_event
    WHEN EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: an audit event cannot be written over'); END""",
    """CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: the chain head cannot be deleted'); END""",
    """CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE ON audit_chain_head
    WHEN NEW.id IS NOT OLD.id OR NEW.last_event_id IS NULL OR NEW.last_event_id <= OLD.last_event_id
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: the chain head only moves forward'); END""",
    """CREATE TRIGGER audit_chain_head_no_replace BEFORE INSERT ON audit_chain_head
    WHEN EXISTS (SELECT 1 FROM audit_chain_head)
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: the chain head cannot be written over'); END""",
)
_SQLITE_NAMES = (
    "audit_event_no_update",
    "audit_event_no_delete",
    "audit_event_no_replace",
    "audit_chain_head_no_delete",
    "audit_chain_head_forward_only",
    "audit_chain_head_no_replace",
)

_POSTGRESQL = (
    """CREATE FUNCTION audit_event_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit trail is append-only: an audit event cannot be %',
            CASE TG_OP WHEN 'UPDATE' THEN 'changed' WHEN 'DELETE' THEN 'deleted' ELSE 'emptied (TRUNCATE)' END
            USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE FUNCTION audit_chain_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_event_id > OLD.last_event_id THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION 'audit trail is append-only: the chain head only moves forward'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RAISE EXCEPTION 'audit trail is append-only: the chain head cannot be deleted (%)', TG_OP
            USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse()""",
    """CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward()""",
    """CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_forward()""",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in _POSTGRESQL:
            op.execute(statement)
    else:  # the app supports these two; another server gets no protection it could be told it has
        raise NotImplementedError(f"schema 0005 has no append-only triggers for {dialect} databases")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_forward_only ON audit_chain_head")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head")
        op.execute("DROP FUNCTION IF EXISTS audit_event_refuse()")
        op.execute("DROP FUNCTION IF EXISTS audit_chain_head_forward()")
