"""Alembic revisions of the civic schema, numbered 0001, 0002, ... (see civic.migrations)."""
