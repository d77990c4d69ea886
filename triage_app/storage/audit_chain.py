"""The audit chain's parts every reader and writer shares: canonical JSON, the event hash, the referral
states a chain records (which columns, how hashed, read in chunks), and the database's own id.

Part of storage.audit (which re-exports these names): split out so the writer there and the checks in
storage.audit_verify and storage.audit_heads share one definition without importing each other.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from triage_app.storage.models import (
    AppSetting,
    OralMedicationRow,
    PhenotypeComponentRow,
    ReferralRow,
)

GENESIS_HASH = "0" * 64

#: The key, in an event's changes, of the referral states it records: [None, {"scheme": 1, "referrals":
#: {"17": [version, sha256] or [version, sha256, "new"] (created in that transaction), or null (deleted)}}].
STATE_KEY = "referral_state"
STATE_SCHEME = 1

#: The referral columns whose content the state hash covers (scheme 1): the patient, the referral's fields,
#: status, meeting, outcome and standing decision, and who changed it when. Not `priority` and
#: `priority_waiting`: the waiting term grows with the calendar and is refreshed daily without an event.
#: A fixed list, not "every column": a column added by a later schema must not change every stored hash.
REFERRAL_STATE_COLUMNS: tuple[str, ...] = (
    "status",
    "external_id",
    "received_on",
    "nhs_number",
    "family_name",
    "given_name",
    "family_name_key",
    "given_name_key",
    "date_of_birth",
    "sex",
    "hospital_number",
    "referrer_name",
    "referrer_role",
    "referrer_organisation_ods",
    "receiving_unit_ods",
    "condition",
    "aetiology",
    "distribution",
    "onset",
    "onset_month_only",
    "specialist_confirmed",
    "phenotype_components_known",
    "head_tremor",
    "twstrs_total",
    "twstrs_pain",
    "tsui",
    "bont_cycles",
    "bont_guidance",
    "bont_response",
    "bont_immunoresistance_tested",
    "oral_medications_known",
    "physio_completed",
    "physio_outcome",
    "dysphagia",
    "prior_neck_surgery",
    "congenital_head_or_spine_abnormality",
    "cervical_spine_disease",
    "clinical_question",
    "meeting_id",
    "current_assessment_id",
    "outcome",
    "decision_id",
    "decided_outcome",
    "decision_kind",
    "decision_basis",
    "queue_outcome",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)

#: Words every append-only refusal carries (the migration's trigger messages start with them).
REFUSAL_MARKER = "audit trail is append-only"

#: The triggers schema 0005 creates, by dialect: `check_append_only` reports any that are gone or disabled.
APPEND_ONLY_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "audit_event_no_update",
        "audit_event_no_delete",
        "audit_event_no_replace",
        "audit_chain_head_no_delete",
        "audit_chain_head_forward_only",
        "audit_chain_head_no_replace",
    ),
    "postgresql": (
        "audit_event_append_only",
        "audit_event_no_truncate",
        "audit_chain_head_forward_only",
        "audit_chain_head_no_truncate",
    ),
}

#: The app_setting key of the database's own id: random, made with the first audited change of a database that
#: has none (an event records it), carried by its backups and restores, shared by a copy. The checkpoint and the
#: head lines in the log name the database by it, so they follow the file when its folder is moved.
DATABASE_ID_KEY = "database_id"
DATABASE_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")

ID_CHUNK = 500  # ids per IN (...) list


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot audit a {type(value).__name__}")


# One encoder for every call (json.dumps with options builds a new one each time: a third of verify's time).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no spaces, dates as ISO strings."""
    return _ENCODER.encode(value)


def event_hash(
    *,
    event_id: int,
    occurred_at: str,
    user_login: str,
    action: str,
    entity: str,
    entity_id: str | None,
    changes: str,
    prev_hash: str,
) -> str:
    """SHA-256 over the event's content and the previous event's hash."""
    payload = canonical_json([event_id, occurred_at, user_login, action, entity, entity_id, changes, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- referral states -----------------------------------------------------------------------------------------


def _referral_table() -> sa.Table:
    table: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
    return table


def _state_hash(values: Sequence[Any], medications: list[Any], components: list[Any]) -> str:
    payload = canonical_json([STATE_SCHEME, list(values), medications, components])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _children(
    connection: sa.Connection, where: Any, where_components: Any
) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    meds_table: sa.Table = OralMedicationRow.__table__  # type: ignore[attr-defined]
    comp_table: sa.Table = PhenotypeComponentRow.__table__  # type: ignore[attr-defined]
    medications: dict[int, list[Any]] = {}
    for rid, position, drug, outcome in connection.execute(
        select(meds_table.c.referral_id, meds_table.c.position, meds_table.c.drug, meds_table.c.outcome)
        .where(where(meds_table.c.referral_id))
        .order_by(meds_table.c.referral_id, meds_table.c.position, meds_table.c.id)
    ):
        medications.setdefault(rid, []).append([position, drug, outcome])
    components: dict[int, list[Any]] = {}
    for rid, component, position in connection.execute(
        select(comp_table.c.referral_id, comp_table.c.component, comp_table.c.position)
        .where(where_components(comp_table.c.referral_id))
        .order_by(comp_table.c.referral_id, comp_table.c.position, comp_table.c.component)
    ):
        components.setdefault(rid, []).append([component, position])
    return medications, components


def _states_where(connection: sa.Connection, condition: Any) -> Iterator[tuple[int, int, str]]:
    """(id, version, state hash) of the referrals whose id meets `condition` (a function of an id column)."""
    table = _referral_table()
    columns = [table.c[name] for name in REFERRAL_STATE_COLUMNS]
    rows = connection.execute(
        select(table.c.id, table.c.version, *columns).where(condition(table.c.id)).order_by(table.c.id)
    ).all()
    if not rows:
        return
    medications, components = _children(connection, condition, condition)
    for row in rows:
        rid, version = int(row[0]), int(row[1])
        yield rid, version, _state_hash(row[2:], medications.get(rid, []), components.get(rid, []))


def _by_ids(column: Any) -> Any:
    return column.in_(sa.bindparam("ids", expanding=True))


#: `_states_where`'s three statements for a list of ids, built once: every audited commit runs them (an import,
#: a commit a record), and building a select costs more than SQLite takes to run it. The same columns, order and
#: hashing as `_states_where` (`verify_referrals` reads through that): a test compares the two.
_STATE_STATEMENTS: tuple[Any, Any, Any] | None = None


def _state_statements() -> tuple[Any, Any, Any]:
    global _STATE_STATEMENTS
    if _STATE_STATEMENTS is None:
        table = _referral_table()
        meds: sa.Table = OralMedicationRow.__table__  # type: ignore[attr-defined]
        comps: sa.Table = PhenotypeComponentRow.__table__  # type: ignore[attr-defined]
        _STATE_STATEMENTS = (
            select(table.c.id, table.c.version, *[table.c[name] for name in REFERRAL_STATE_COLUMNS])
            .where(_by_ids(table.c.id))
            .order_by(table.c.id),
            select(meds.c.referral_id, meds.c.position, meds.c.drug, meds.c.outcome)
            .where(_by_ids(meds.c.referral_id))
            .order_by(meds.c.referral_id, meds.c.position, meds.c.id),
            select(comps.c.referral_id, comps.c.component, comps.c.position)
            .where(_by_ids(comps.c.referral_id))
            .order_by(comps.c.referral_id, comps.c.position, comps.c.component),
        )
    return _STATE_STATEMENTS


def referral_states(connection: sa.Connection, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """The version and state hash of each referral in `ids` that exists."""
    wanted = sorted(set(ids))
    states: dict[int, tuple[int, str]] = {}
    referrals, meds, comps = _state_statements()
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = {"ids": wanted[start : start + ID_CHUNK]}
        rows = connection.execute(referrals, chunk).all()
        if not rows:
            continue
        medications: dict[int, list[Any]] = {}
        for rid, position, drug, outcome in connection.execute(meds, chunk):
            medications.setdefault(rid, []).append([position, drug, outcome])
        components: dict[int, list[Any]] = {}
        for rid, component, position in connection.execute(comps, chunk):
            components.setdefault(rid, []).append([component, position])
        for row in rows:
            rid, version = int(row[0]), int(row[1])
            states[rid] = (version, _state_hash(row[2:], medications.get(rid, []), components.get(rid, [])))
    return states


def all_referral_states(connection: sa.Connection, *, chunk: int = 5_000) -> Iterator[tuple[int, int, str]]:
    """(id, version, state hash) of every referral, in id order, read a chunk of ids at a time."""
    after = 0
    table = _referral_table()
    while True:
        last = connection.execute(
            select(sa.func.max(table.c.id)).where(
                table.c.id.in_(select(table.c.id).where(table.c.id > after).order_by(table.c.id).limit(chunk))
            )
        ).scalar_one()
        if last is None:
            return
        low, high = after, int(last)
        yield from _states_where(connection, lambda c, low=low, high=high: (c > low) & (c <= high))
        after = high


_SETTINGS: sa.Table = AppSetting.__table__  # type: ignore[attr-defined]
_DATABASE_ID = select(_SETTINGS.c.value).where(_SETTINGS.c.key == DATABASE_ID_KEY)  # every audited commit reads it


def read_database_id(connection: sa.Connection) -> str | None:
    """The database's id (see `DATABASE_ID_KEY`), or None when it has none yet (or no settings table)."""
    value = connection.execute(_DATABASE_ID).scalar()
    if value is None or not DATABASE_ID_PATTERN.match(str(value)):
        return None
    return str(value)
