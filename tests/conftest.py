"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and engines."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from sqlmodel import SQLModel

from civic.plugins import load_plugins
from civic.storage import Storage
from civic.testing.harness import sqlite_template

if TYPE_CHECKING:
    from civic.engine import Engine

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=1000)
# In CI the same examples run every time, so a red build always means a real regression.
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)


def _worker_url(url: str | None) -> str | None:
    """The PostgreSQL URL of this test process. Under pytest-xdist every worker has a
    database of its own, ``<name>_<worker>`` (``test_gw0``), so workers never drop each
    other's tables; :func:`_worker_database` creates it. Without xdist, ``url`` as is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(False)


POSTGRES_URL = _worker_url(os.environ.get("CIVIC_TEST_DATABASE_URL"))
SECRET = b"test-secret"

DATABASES = [pytest.param("sqlite", id="sqlite")]
if POSTGRES_URL:
    DATABASES.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


@pytest.fixture(scope="session", autouse=True)
def _worker_database() -> None:
    """Create this xdist worker's PostgreSQL database when it does not exist yet."""
    if not POSTGRES_URL or not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    import sqlalchemy as sa

    url = sa.engine.make_url(POSTGRES_URL)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).first()
            if found is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    finally:
        admin.dispose()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never touch the user's real civic folder or database."""
    home = tmp_path_factory.mktemp("civic-home")
    monkeypatch.setenv("CIVIC_HOME", str(home))
    monkeypatch.delenv("CIVIC_DATABASE_URL", raising=False)
    monkeypatch.delenv("CIVIC_SECRET", raising=False)
    return home


def make_storage(kind: str, path: Path) -> Storage:
    """A fresh, empty, migrated database of ``kind`` ("sqlite" or "postgres").

    The schema is built once per test process: SQLite tests copy a migrated template file,
    PostgreSQL tests empty the tables of the migrated schema (rebuilt from scratch when a
    test left it at another revision).
    """
    if kind == "postgres":
        assert POSTGRES_URL
        storage = Storage(POSTGRES_URL)
        if not _emptied(storage):
            with storage.engine.begin() as conn:  # no tables left, not even alembic_version
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
    else:
        target = path / "civic.db"
        shutil.copyfile(sqlite_template(), target)
        storage = Storage(f"sqlite:///{target}")
    storage.migrate()
    return storage


_POSTGRES_BUILT = False


def _emptied(storage: Storage) -> bool:
    """Empty every table of an up-to-date PostgreSQL schema; ``False`` when the schema is
    missing or at another revision (the caller rebuilds it)."""
    from civic import migrations

    global _POSTGRES_BUILT
    if not _POSTGRES_BUILT:  # the first time in this process: rebuild from scratch
        _POSTGRES_BUILT = True
        return False
    expected = {table.name: len(table.columns) for table in SQLModel.metadata.sorted_tables}
    try:
        if storage.schema_version() != migrations.revision_number(migrations.HEAD):
            return False
        with storage.engine.connect() as conn:
            found = dict(
                conn.exec_driver_sql(
                    "SELECT table_name, count(*) FROM information_schema.columns "
                    "WHERE table_schema = current_schema() GROUP BY table_name"
                ).all()
            )
        if any(found.get(name) != count for name, count in expected.items()):
            return False  # a test altered the schema
        tables = [t.name for t in SQLModel.metadata.sorted_tables if t.name != "civic_setting"]
        names = ", ".join(f'"{name}"' for name in tables)
        with storage.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            conn.exec_driver_sql("DELETE FROM civic_setting WHERE key <> 'schema_version'")
    except Exception:
        return False
    return True


@pytest.fixture(params=DATABASES)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A fresh database: SQLite, and PostgreSQL too when CIVIC_TEST_DATABASE_URL is set."""
    store = make_storage(request.param, tmp_path)
    yield store
    store.close()


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Iterator[Storage]:
    store = make_storage("sqlite", tmp_path)
    yield store
    store.close()


@pytest.fixture
def engine(storage: Storage) -> Engine:
    from civic.engine import Engine

    return Engine(storage, secret=SECRET, manager=load_plugins())


@pytest.fixture
def with_plugin(storage: Storage) -> Iterator[Callable[..., Engine]]:
    """Register plugins on the process's manager for one test (removed afterwards) and
    return an engine that uses them."""
    from civic.engine import Engine

    pm = load_plugins()
    added: list[object] = []

    def register(*plugins: object) -> Engine:
        for plugin in plugins:
            pm.register(plugin)
            added.append(plugin)
        return Engine(storage, secret=SECRET, manager=pm)

    try:
        yield register
    finally:
        for plugin in added:
            pm.unregister(plugin)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Captured output as UTF-8 can carry it: hostile-input tests log lone surrogates,
    which pytest-xdist cannot send from a worker (``DumpError``), failing the whole run."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    report.sections = [
        (title, text.encode("utf-8", "replace").decode("utf-8")) for title, text in report.sections
    ]
