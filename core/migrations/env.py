"""The Alembic environment: runs civic's revisions on the connection it is given.

:func:`civic.migrations.upgrade` passes an open connection, inside a transaction, as
``config.attributes["connection"]``; the revisions run in that transaction and the caller
commits. Logging is left to civic (no ``fileConfig``): Alembic's INFO lines show only
with ``civic --verbose``.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from civic import tables  # noqa: F401 -- registers the models: the target of autogenerate

if context.is_offline_mode():
    raise RuntimeError("civic's migrations run online only, through Storage.migrate()")

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("civic's migrations need config.attributes['connection']")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things: batch operations copy the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
