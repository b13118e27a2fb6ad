"""A write transaction that waits only so long (the webhook's store): SQLite locked by
this process's other writers or by another process raises ``Unavailable`` after the
wait, and the connection's usual busy timeout is restored afterwards."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from civic.storage import BUSY_TIMEOUT_MS, Storage, Unavailable


def test_another_process_holding_the_lock_makes_a_short_wait_give_up(
    sqlite_storage: Storage, tmp_path: Path
) -> None:
    holder = sqlite3.connect(tmp_path / "civic.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Unavailable), sqlite_storage.transaction(wait=0.2) as tx:
            tx.put_setting("never", "written")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with sqlite_storage.transaction(wait=0.2) as tx:  # free again
        tx.put_setting("written", "yes")
        timeout = tx.conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert timeout == BUSY_TIMEOUT_MS
    with sqlite_storage.reading() as tx:
        assert tx.get_setting("written") == "yes" and tx.get_setting("never") is None


def test_a_writer_of_this_process_holding_the_lock_makes_a_short_wait_give_up(
    sqlite_storage: Storage,
) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sqlite_storage.transaction():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(Unavailable), sqlite_storage.transaction(wait=0.1):
            pass
    finally:
        release.set()
        thread.join()
    with sqlite_storage.transaction(wait=0.1) as tx:
        tx.put_setting("after", "yes")
