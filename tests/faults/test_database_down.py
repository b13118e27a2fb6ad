"""The database locked or gone, against the running server.

The webhook answers 503 (Meta sends the delivery again later) instead of acknowledging
what it could not store, nothing acknowledged is lost, and ``civic serve`` serves again
by itself once the database is back, without a restart.

- SQLite: another process holds the write lock (``BEGIN IMMEDIATE``) longer than the
  webhook waits (:data:`civic.channels.whatsapp.STORE_WAIT`, 5 s).
- PostgreSQL: a database of the test's own is made unavailable (``ALTER DATABASE ...
  ALLOW_CONNECTIONS false`` and its sessions ended), then allowed again; the shared
  server is never stopped. ``/readyz`` says 503 meanwhile.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL
from tests.faults.running import (
    Civic,
    FakeMeta,
    get,
    message,
    own_database,
    post,
    rows,
    terminate,
    texts_to,
    wait_for,
)

MARIA = "Maria José dos Santos 529.982.247-25"
QUICK = {"CIVIC_INBOX_LEASE_SECONDS": "1", "CIVIC_INBOX_RETRY_SECONDS": "1"}


def as_meta(port: int, body: bytes, *, tries: int = 60) -> list[int]:
    """Deliver ``body`` as Meta does: again after each non-2xx answer, until one is
    2xx; returns every status seen."""
    seen = []
    for _ in range(tries):
        seen.append(post(port, body))
        if 200 <= seen[-1] < 300:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"never acknowledged: {seen}")


def answered(server: Civic, message_ids: list[str]) -> bool:
    """Every inbound of ``message_ids`` is stored and has a reply sent."""
    quoted = ", ".join(f"'{mid}'" for mid in message_ids)
    found = rows(
        server.database_url,
        "SELECT m.channel_message_id, count(o.id) FROM message m "
        "LEFT JOIN outbox o ON o.in_reply_to = m.id AND o.status <> 'pending' "
        f"WHERE m.channel_message_id IN ({quoted}) GROUP BY m.channel_message_id",
    )
    return len(found) == len(message_ids) and all(count > 0 for _, count in found)


@pytest.fixture
def sqlite_civic(tmp_path: Path) -> Iterator[tuple[Civic, FakeMeta, Path]]:
    with FakeMeta() as meta, own_database("sqlite", tmp_path, "locked") as url:
        server = Civic(tmp_path, url, meta, QUICK)
        server.start()
        try:
            yield server, meta, tmp_path / "civic.db"
        finally:
            server.stop()


def test_a_locked_sqlite_database_is_answered_503_and_nothing_is_lost(
    sqlite_civic: tuple[Civic, FakeMeta, Path],
) -> None:
    server, meta, path = sqlite_civic
    phone = "5535977770001"
    first = message(phone, "wamid.locked.1", MARIA)
    assert post(server.port, first) == 200
    wait_for(lambda: answered(server, ["wamid.locked.1"]), 30, "the first answer")

    holder = sqlite3.connect(path, timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer, for longer than 5 s
    try:
        second = message(phone, "wamid.locked.2", "1")
        assert post(server.port, second) == 503  # not stored, so not acknowledged
        assert get(server.port, "/healthz") == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert as_meta(server.port, second)[-1] == 200  # Meta's retry, once the lock is gone
    third = message(phone, "wamid.locked.3", "quero falar com um atendente")
    assert as_meta(server.port, third) == [200]
    ids = ["wamid.locked.1", "wamid.locked.2", "wamid.locked.3"]
    wait_for(lambda: answered(server, ids), 60, "every acknowledged message answered")
    assert rows(server.database_url, "SELECT count(*) FROM message WHERE direction = 'in'") == [
        (3,)
    ]
    assert texts_to(meta, phone)


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="CIVIC_TEST_DATABASE_URL is not set")
def test_postgres_unavailable_is_answered_503_and_served_again_when_back(
    tmp_path: Path,
) -> None:
    assert POSTGRES_URL
    admin = sa.create_engine(
        sa.engine.make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with FakeMeta() as meta, own_database("postgres", tmp_path, "down") as url:
        database = sa.engine.make_url(url).database
        server = Civic(tmp_path, url, meta, QUICK)
        server.start()
        try:
            phone = "5535977770002"
            first = message(phone, "wamid.down.1", MARIA)
            assert post(server.port, first) == 200
            wait_for(lambda: answered(server, ["wamid.down.1"]), 30, "the first answer")
            assert get(server.port, "/readyz") == 200

            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                terminate(conn, str(database))
            try:
                second = message(phone, "wamid.down.2", "1")
                assert get(server.port, "/readyz") == 503
                assert post(server.port, second) == 503
                assert get(server.port, "/healthz") == 200
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

            # Back: no restart; Meta's retries get through once the pool has reconnected.
            assert as_meta(server.port, second)[-1] == 200
            wait_for(lambda: get(server.port, "/readyz") == 200, 30, "/readyz to recover")
            third = message(phone, "wamid.down.3", "quero falar com um atendente")
            assert as_meta(server.port, third)[-1] == 200
            ids = ["wamid.down.1", "wamid.down.2", "wamid.down.3"]
            wait_for(lambda: answered(server, ids), 60, "every acknowledged message answered")
            assert server.process is not None and server.process.poll() is None
        finally:
            server.stop()
    admin.dispose()
