"""The referral <-> `referral` columns mapping, read from the table of fields (domain.fields).

Each field is stored in the column its table entry names: a scalar as it is, an onset as its first day and
`<column>_month_only`, a list as `<column>` (is it known?) with its items in a child table. `ReferralRow`
declares every column of the released fields (the queue filters on them in SQL, and the migration test
compares it with db/versions); a column the table names that `ReferralRow` does not declare yet (a field
added with its migration, before its model line) is written and read here through SQLAlchemy Core, so the
table and a migration are enough for a value to be stored and read back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from triage_app.domain.fields import FieldSpec, referral_fields
from triage_app.domain.referral import Onset, Referral, build_referral, field_value, make_item
from triage_app.storage.models import OralMedicationRow, PhenotypeComponentRow, ReferralRow

_LISTS = frozenset({"components", "list"})


def search_key(text: str | None) -> str | None:
    """The form names are searched by: upper-cased, surrounding spaces removed."""
    return None if text is None else text.strip().upper()


def _mapped() -> frozenset[str]:
    table: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
    return frozenset(table.c.keys())


def column_types(spec: FieldSpec) -> dict[str, sa.types.TypeEngine[Any]]:
    """The column(s) a field is stored in and their SQL types (what its migration adds)."""
    assert spec.column is not None, spec.path
    kind = spec.kind
    if kind == "month_or_date":
        return {spec.column: sa.Date(), f"{spec.column}_month_only": sa.Boolean()}
    if kind == "date":
        return {spec.column: sa.Date()}
    if kind in ("flag", *_LISTS):
        return {spec.column: sa.Boolean()}
    if kind == "whole":
        return {spec.column: sa.Integer()}
    return {spec.column: sa.String(length=None if spec.multiline else spec.max_length)}


def referral_columns(referral: Referral) -> dict[str, Any]:
    """The referral's scalar fields as `referral` table columns (with the name search keys)."""
    columns: dict[str, Any] = {}
    for spec in referral_fields():
        assert spec.column is not None, spec.path
        value = field_value(referral, spec.path)
        if spec.kind == "month_or_date":
            columns[spec.column] = None if value is None else value.first_day
            columns[f"{spec.column}_month_only"] = None if value is None else value.month_only
        elif spec.kind in _LISTS:
            columns[spec.column] = value is not None  # False: the list is unknown (null), not empty
        else:
            columns[spec.column] = value
    columns["family_name_key"] = search_key(referral.patient.family_name)
    columns["given_name_key"] = search_key(referral.patient.given_name)
    return columns


def split_columns(columns: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(columns `ReferralRow` declares, columns only the table of fields and a migration know)."""
    mapped = _mapped()
    return (
        {name: value for name, value in columns.items() if name in mapped},
        {name: value for name, value in columns.items() if name not in mapped},
    )


def _unmapped_types() -> dict[str, sa.types.TypeEngine[Any]]:
    mapped = _mapped()
    types: dict[str, sa.types.TypeEngine[Any]] = {}
    for spec in referral_fields():
        types |= {name: kind for name, kind in column_types(spec).items() if name not in mapped}
    return types


def _extension(names: Sequence[str]) -> sa.TableClause:
    types = _unmapped_types()
    return sa.table("referral", sa.column("id", sa.Integer()), *(sa.column(name, types[name]) for name in names))


def write_unmapped(session: Session, referral_id: int, columns: Mapping[str, Any]) -> None:
    """Store the columns `ReferralRow` does not declare (see the module's docstring); nothing when there are none."""
    if not columns:
        return
    table = _extension(list(columns))
    session.execute(sa.update(table).where(table.c.id == referral_id).values(**columns))


def read_unmapped(session: Session, referral_id: int) -> dict[str, Any]:
    """The columns `ReferralRow` does not declare, of one referral (empty when there are none)."""
    names = list(_unmapped_types())
    if not names:
        return {}
    table = _extension(names)
    row = session.execute(sa.select(*(table.c[name] for name in names)).where(table.c.id == referral_id)).one()
    return dict(zip(names, row, strict=True))


def read_unmapped_many(session: Session, referral_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """`read_unmapped` of many referrals in one query (a reassessment batch): {referral id: columns}."""
    names = list(_unmapped_types())
    if not names or not referral_ids:
        return {}
    table = _extension(names)
    query = sa.select(table.c.id, *(table.c[name] for name in names)).where(table.c.id.in_(list(referral_ids)))
    return {int(row[0]): dict(zip(names, row[1:], strict=True)) for row in session.execute(query)}


def referral_from_rows(
    row: ReferralRow,
    medications: Sequence[OralMedicationRow],
    components: Sequence[PhenotypeComponentRow],
    unmapped: Mapping[str, Any] | None = None,
) -> Referral:
    """Rebuild the domain referral from its row, its child rows and (`read_unmapped`) undeclared columns."""
    declared = _mapped()
    undeclared = unmapped or {}
    # A Core row (a reassessment batch) read as one dict: its attribute access costs a lookup per field.
    as_dict = getattr(row, "_asdict", None)
    stored_values: dict[str, Any] | None = as_dict() if callable(as_dict) else None

    def column(name: str) -> Any:
        if name not in declared:
            return undeclared.get(name)
        return stored_values[name] if stored_values is not None else getattr(row, name)

    values: dict[str, Any] = {}
    for spec in referral_fields():
        assert spec.column is not None, spec.path
        stored = column(spec.column)
        kind = spec.kind
        if kind == "month_or_date":
            month_only = bool(column(f"{spec.column}_month_only"))
            values[spec.path] = None if stored is None else Onset(stored, month_only)
        elif kind == "components":
            ordered = sorted(components, key=lambda c: c.position)
            values[spec.path] = tuple(c.component for c in ordered) if stored else None
        elif kind == "list":
            keys = [item.key for item in spec.items]
            ordered_items = sorted(medications, key=lambda m: m.position)
            items = (make_item(spec.path, {key: getattr(r, key) for key in keys}) for r in ordered_items)
            values[spec.path] = tuple(items) if stored else None
        else:
            values[spec.path] = stored
    return build_referral(values)
