"""Fresh, empty civic databases for one benchmark each, removed afterwards.

On SQLite a database is a file in a temporary folder; on PostgreSQL it is a database of
its own (``civic_bench_<label>_<pid>``) created next to the one ``--database-url`` names
and dropped at the end, so nothing of the benchmark stays on the server. Both carry
civic's schema as civic's migrations create it (:meth:`civic.storage.Storage.migrate`),
indexes included.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from civic.storage import Storage


@contextmanager
def fresh(label: str, database_url: str | None, *, migrate: bool = True) -> Iterator[str]:
    """The URL of a new, empty database (migrated unless ``migrate`` is false):
    SQLite in a temporary folder when ``database_url`` is ``None``, else a new
    PostgreSQL database on that server."""
    if database_url is None:
        with tempfile.TemporaryDirectory(prefix=f"civic-bench-{label}-") as folder:
            url = f"sqlite:///{Path(folder) / 'civic.db'}"
            if migrate:
                _migrate(url)
            yield url
        return
    with postgres_database(database_url, label) as url:
        if migrate:
            _migrate(url)
        yield url


@contextmanager
def postgres_database(database_url: str, label: str) -> Iterator[str]:
    """A new PostgreSQL database on the server of ``database_url``, dropped at the end."""
    name = f"civic_bench_{label}_{os.getpid()}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield (
                sa.engine.make_url(database_url)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def postgres_version(database_url: str) -> str:
    """The server's version (``SHOW server_version``)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg itself takes it."""
    return (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def _migrate(url: str) -> None:
    storage = Storage(url)
    try:
        storage.migrate()
    finally:
        storage.close()
