"""Rows inserted with the driver's own executemany, each value through its column type's bind processor as
SQLAlchemy would convert it: an import writes a dozen statements a record, and SQLAlchemy's compiled insert
builds every row's parameters in Python (a third of a record's time).

The statement runs on the driver's cursor of the connection's transaction; its errors are wrapped as SQLAlchemy
wraps them, so a locked, full or read-only database reaches the services as it did. (The engine's statement
events do not see these inserts: nothing of the app listens to them.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

_Plan = tuple[str, list[Callable[[Any], Any] | None]]
_PLANS: dict[tuple[str, str, tuple[str, ...]], _Plan | None] = {}


def _plan(connection: sa.Connection, table: sa.Table, names: tuple[str, ...]) -> _Plan | None:
    """The statement and each column's bind processor; None when a column left out has a Python-side default
    (SQLAlchemy's insert would fill it: that table keeps SQLAlchemy's insert)."""
    dialect = connection.dialect
    key = (dialect.name, table.name, names)
    if key in _PLANS:
        return _PLANS[key]
    plan: _Plan | None
    if any(column.default is not None for column in table.c if column.name not in names):
        plan = None
    else:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        quote = dialect.identifier_preparer.quote
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
            f"VALUES ({', '.join(mark for _ in names)})"
        )
        plan = (sql, [table.c[name].type.bind_processor(dialect) for name in names])
    _PLANS[key] = plan
    return plan


def insert_plain(connection: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (every row with the first row's keys) in one executemany, values converted as SQLAlchemy
    converts them; a table whose left-out columns have Python-side defaults goes through SQLAlchemy's insert."""
    if not rows:
        return
    names = tuple(rows[0])
    plan = _plan(connection, table, names)
    if plan is None:
        connection.execute(sa.insert(table), list(rows))
        return
    sql, processors = plan
    if not any(processors):
        values = [tuple(row[name] for name in names) for row in rows]
    else:
        pairs = list(zip(names, processors, strict=True))
        values = [tuple(row[n] if p is None else p(row[n]) for n, p in pairs) for row in rows]
    # The driver's cursor on the connection's own transaction: SQLAlchemy's execution context around a text
    # statement still cost a tenth of a millisecond each (a dozen a record). Its errors are wrapped as SQLAlchemy
    # wraps them (OperationalError, IntegrityError, ...), so a locked, full or read-only database is told as before.
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        if len(values) == 1:
            cursor.execute(sql, values[0])
        else:
            cursor.executemany(sql, values)
    except Exception as exc:
        error = connection.dialect.loaded_dbapi.Error
        if not isinstance(exc, error):
            raise
        raise sa.exc.DBAPIError.instance(sql, values, exc, error) from exc
    finally:
        cursor.close()
