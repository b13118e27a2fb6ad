"""Pieces every ``civic`` command shares: options, opening the database, failing clearly."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from civic import instance
from civic.storage import Storage, StorageError

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="CIVIC_DATABASE_URL",
        help="SQLAlchemy URL of the database (default: SQLite in the civic data folder; "
        "PostgreSQL: postgresql+psycopg://user@host/db).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` to standard error and exit with ``code``."""
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=code)


def open_storage(url: str | None) -> Storage:
    """Open and upgrade the database, or exit with a clear error."""
    try:
        storage = Storage(url or instance.default_database_url())
        storage.migrate()
    except StorageError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot create the civic data folder: {exc}")
    return storage
