"""Alembic environment: runs on the connection that triage_app.storage.migrate hands it."""

from __future__ import annotations

from alembic import context

from triage_app.storage import models

target_metadata = models.SQLModel.metadata


def run_migrations_online() -> None:
    """Migrate on the caller's connection, in one transaction, batch mode for SQLite's ALTER TABLE."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through triage_app.storage.migrate, which supplies the connection")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
