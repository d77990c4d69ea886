"""What the app's database roles may do on a PostgreSQL server: one table of privileges, the SQL that grants them,
and the check a desktop makes on start that its login holds them.

The app's tables are owned by the database's owner (a NOLOGIN migration role, `triage_owner` in
resources/postgresql/roles.sql), whose members are the administrators who run `triage-app migrate`. Ordinary
users are members of a group role (`triage_user`) holding only what the app does: read, insert, update where the
app updates, delete only where the app really deletes (a referral's medication and phenotype lists and a
meeting's cases and actions are replaced; a user's roles are replaced; the database id setting is written afresh),
no DDL and no TRUNCATE. The audit trail: `audit_event` takes INSERT and SELECT only, so the server itself refuses
an UPDATE or DELETE (permission denied) before schema 0005's triggers would; `audit_chain_head` is updated by the
app, forward only, and those triggers guard it. Even the owner role gives up UPDATE, DELETE and TRUNCATE on the
audit events (an owner could grant them back, deliberately; `audit verify` still checks the chain).

`GRANTS` is the one list: `grants_sql` renders it (resources/postgresql/grants.sql is that rendering, checked by a
test), `apply_grants` runs it as part of `triage-app migrate --grant-to ROLE`, and `missing_privileges` is what a
start checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

#: The group role ordinary users are members of, and the owner role migrations run as (resources/postgresql).
DEFAULT_USER_ROLE = "triage_user"
DEFAULT_OWNER_ROLE = "triage_owner"

#: The placeholders grants.sql carries for the two roles: psql's quoted variables (`psql -v user_role=...`).
PSQL_USER_ROLE = ':"user_role"'
PSQL_OWNER_ROLE = ':"owner_role"'


@dataclass(frozen=True, slots=True)
class TableGrant:
    """The privileges the users' role holds on one table, and why (a comment in grants.sql)."""

    table: str
    privileges: tuple[str, ...]
    why: str


_READ_WRITE = ("SELECT", "INSERT", "UPDATE")

#: Every table of the app's schema and what ordinary users may do to it. A migration adding a table adds a line here
#: (tests/server/test_server_roles.py fails for a table of the schema with no line).
GRANTS: tuple[TableGrant, ...] = (
    TableGrant("alembic_version", ("SELECT",), "the schema revision: read on every start, changed only by migrate"),
    TableGrant("app_setting", ("SELECT", "INSERT", "UPDATE", "DELETE"), "the database id is written afresh"),
    TableGrant("app_user", _READ_WRITE, "users are deactivated, never deleted"),
    TableGrant("user_role", ("SELECT", "INSERT", "UPDATE", "DELETE"), "replaced; locked FOR UPDATE (needs UPDATE)"),
    TableGrant("referral", _READ_WRITE, "referrals are never deleted"),
    TableGrant("oral_medication", ("SELECT", "INSERT", "UPDATE", "DELETE"), "the list is replaced on save"),
    TableGrant("phenotype_component", ("SELECT", "INSERT", "UPDATE", "DELETE"), "the list is replaced on save"),
    TableGrant("assessment", _READ_WRITE, "the current assessment is marked superseded"),
    TableGrant("assessment_criterion", ("SELECT", "INSERT"), "written with its assessment"),
    TableGrant("assessment_flag", ("SELECT", "INSERT"), "written with its assessment"),
    TableGrant("assessment_missing", ("SELECT", "INSERT"), "written with its assessment"),
    TableGrant("triage_decision", _READ_WRITE, "a decision is superseded, never deleted"),
    TableGrant("status_change", ("SELECT", "INSERT"), "the status history is appended to"),
    TableGrant("audit_event", ("SELECT", "INSERT"), "append-only: the server refuses UPDATE and DELETE"),
    TableGrant("audit_chain_head", _READ_WRITE, "moved forward by each event; schema 0005's triggers guard it"),
    TableGrant("meeting", _READ_WRITE, "meetings are cancelled, never deleted"),
    TableGrant("meeting_attendee", ("SELECT", "INSERT", "UPDATE", "DELETE"), "a meeting's attendees are replaced"),
    TableGrant("meeting_case", ("SELECT", "INSERT", "UPDATE", "DELETE"), "a case is taken off a meeting"),
    TableGrant("case_action", ("SELECT", "INSERT", "UPDATE", "DELETE"), "a case's actions are replaced"),
    TableGrant("approved_rules", ("SELECT", "INSERT"), "every approval is kept"),
    TableGrant(
        "referral_search_key",
        ("SELECT", "INSERT", "UPDATE", "DELETE"),
        "a referral's search keys are replaced when its name or NHS number changes (schema 0011)",
    ),
)

#: What the owner role itself gives up on the audit trail (see the module docstring).
OWNER_REVOKES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("audit_event", ("UPDATE", "DELETE", "TRUNCATE")),
    ("audit_chain_head", ("DELETE", "TRUNCATE")),
)


class BadRoleName(ValueError):
    """A role name that cannot be one (empty, longer than PostgreSQL's 63 bytes, or holding a NUL)."""


def quote_role(name: str) -> str:
    """`name` as a quoted SQL identifier (double quotes doubled); `BadRoleName` for a name no role can have."""
    if not name or "\0" in name or len(name.encode("utf-8")) > 63:
        raise BadRoleName(f"'{name}' cannot be a role's name: give one of 1 to 63 bytes")
    return '"' + name.replace('"', '""') + '"'


def grants_sql(user_role: str = PSQL_USER_ROLE, owner_role: str = PSQL_OWNER_ROLE) -> str:
    """The SQL that gives `user_role` exactly `GRANTS`, and takes the audit trail's changes from `owner_role` (both
    already quoted identifiers, or psql's variables `:"user_role"`, `:"owner_role"`).

    Re-runnable: it first revokes everything on the app's tables from that role, so a privilege taken out of
    `GRANTS` goes too. Run by the tables' owner (or a superuser), after the schema exists.
    """
    lines = [
        "-- The triage app's privileges for the group role of its users (triage_app/storage/server_grants.py).",
        "-- Run after `triage-app migrate` created or upgraded the schema, as the tables' owner or a superuser:",
        "--   psql -v user_role=triage_user -v owner_role=triage_owner -d triage -f grants.sql",
        "-- (`triage-app migrate --grant-to triage_user` runs the same statements in its own transaction.)",
        "",
        f"GRANT USAGE ON SCHEMA public TO {user_role};",
    ]
    for grant in GRANTS:
        lines.append(f"-- {grant.table}: {grant.why}")
        lines.append(f"REVOKE ALL ON TABLE public.{grant.table} FROM {user_role};")
        lines.append(f"GRANT {', '.join(grant.privileges)} ON TABLE public.{grant.table} TO {user_role};")
    lines += [
        "-- Ids come from each table's sequence; setval (bulk loads: demo data, imports) needs UPDATE on it.",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {user_role};",
        "-- The owner role gives up changing the audit trail too (only a deliberate GRANT by the owner gives it back).",
    ]
    for table, privileges in OWNER_REVOKES:
        lines.append(f"REVOKE {', '.join(privileges)} ON TABLE public.{table} FROM {owner_role};")
    return "\n".join(lines) + "\n"


def _statements(sql: str) -> list[str]:
    """The statements of `grants_sql` (no statement in it holds a semicolon but its last character)."""
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [part.strip() for part in body.split(";") if part.strip()]


def apply_grants(connection: sa.Connection, user_role: str, owner_role: str) -> None:
    """Give `user_role` the app's privileges (`grants_sql`), on `connection`, in its transaction; the tables'
    owner `owner_role` gives up changing the audit trail."""
    for statement in _statements(grants_sql(quote_role(user_role), quote_role(owner_role))):
        connection.exec_driver_sql(statement)


def missing_privileges(connection: sa.Connection, tables: Sequence[TableGrant] = GRANTS) -> list[str]:
    """The privileges of `GRANTS` the connection's role does not hold, as `INSERT on referral`; [] when none.

    One query. A table the schema does not have is skipped (has_table_privilege of a NULL oid is NULL): the schema
    check says what is wrong with it.
    """
    pairs = [(f"public.{grant.table}", privilege) for grant in tables for privilege in grant.privileges]
    values = ", ".join(f"(:t{n}, :p{n}, {n})" for n in range(len(pairs)))
    params: dict[str, str] = {}
    for n, (table, privilege) in enumerate(pairs):
        params[f"t{n}"], params[f"p{n}"] = table, privilege
    rows = connection.execute(
        sa.text(
            f"SELECT t, p FROM (VALUES {values}) AS wanted(t, p, n) "
            "WHERE NOT has_table_privilege(current_user, to_regclass(t), p) ORDER BY n"
        ),
        params,
    ).all()
    return [f"{privilege} on {table.removeprefix('public.')}" for table, privilege in rows]
