"""SQLite (or server) storage: tables, engine, migrations, repositories. No Qt."""
