"""Pieces every ``civic`` command shares: options, opening the database, failing clearly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from civic import instance

if TYPE_CHECKING:  # the database stack is imported when a command opens the database
    from civic.engine import Engine
    from civic.storage import Storage

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
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="CIVIC_CONFIG",
        help="The city's civic.toml (default: built-in settings).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` to standard error and exit with ``code``."""
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=code)


def open_storage(url: str | None) -> Storage:
    """Open and upgrade the database, or exit with a clear error."""
    from civic.storage import Storage, StorageError

    try:
        storage = Storage(url or instance.default_database_url())
        storage.migrate()
    except StorageError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot create the civic data folder: {exc}")
    return storage


def open_engine(database_url: str | None, config: Path | None) -> Engine:
    """The engine over the instance's database and configuration, or a clear exit."""
    try:
        return instance.open_engine(config, database_url)
    except instance.InstanceError as exc:
        fail(str(exc))


def open_existing_storage(url: str | None) -> Storage:
    """Open an existing civic database for reading, or exit with a clear error."""
    import sqlalchemy as sa

    from civic.storage import Storage, StorageError

    if url is None:
        url = instance.default_database_url()
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        fail(f"--database-url {url!r} is not a database URL")
    name = parsed.database
    is_file = parsed.get_backend_name() == "sqlite" and name not in (None, "", ":memory:")
    if is_file and not Path(str(name)).is_file():  # connecting would create an empty file
        fail(f"no civic database at {name}")
    try:
        storage = Storage(url)
        version = storage.schema_version()
    except StorageError as exc:
        fail(str(exc))
    if version == 0:
        storage.close()
        fail(f"{storage!r} holds no civic data (is --database-url right?)")
    return storage
