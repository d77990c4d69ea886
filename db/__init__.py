"""Alembic environment and revisions for the triage database (shipped inside the app as triage_app.db)."""
