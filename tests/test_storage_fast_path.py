"""The per-message path of :mod:`civic.storage`: statements compiled once and run on the
driver's cursor (:mod:`civic.prepared`), transactions on the driver's connection, SQLite's
``synchronous`` setting, and a lost PostgreSQL connection."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from civic import storage as storage_module
from civic.cli import app
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Conflict, Storage, StorageError
from civic.values import Inbound

from .conftest import POSTGRES_URL, SECRET, make_storage

NOW = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)


def _conversation(storage: Storage, address: str = "5511999990000") -> int:
    with storage.transaction() as tx:
        return tx.create_conversation(
            channel="test", address=address, state="choosing", pinned_department=None, now=NOW
        )


def test_prepared_rows_read_as_sqlalchemy_reads_them(storage: Storage) -> None:
    conversation_id = _conversation(storage)
    with storage.transaction() as tx:
        fast = tx.open_conversation("test", "5511999990000")
        by_id = tx.conversation(conversation_id)
        slow = (
            tx.conn.execute(
                sa.select(storage_module.conversation_t).where(
                    storage_module.conversation_t.c.id == conversation_id
                )
            )
            .mappings()
            .one()
        )
    assert fast is not None and by_id is not None
    assert dict(fast) == dict(slow) == dict(by_id)
    assert fast["opened_at"] == NOW and fast["opened_at"].tzinfo is not None
    assert fast["closed_at"] is None


def test_inserts_return_increasing_ids_and_updates_set_only_what_is_given(
    storage: Storage,
) -> None:
    conversation_id = _conversation(storage)
    with storage.transaction() as tx:
        ids = [
            tx.add_message(
                conversation_id=conversation_id, direction="in", author="citizen",
                text=f"mensagem {n}", channel="test", created_at=NOW,
                channel_message_id=f"wamid.{n}",
            )
            for n in range(3)
        ]  # fmt: skip
        tx.update_conversation(conversation_id, state="department", department="procon")
        tx.update_conversation(conversation_id, context={"request": "olá"})
    assert ids == sorted(ids) and len(set(ids)) == 3
    with storage.reading() as tx:
        row = tx.conversation(conversation_id)
        assert tx.inbound_message_id("test", "wamid.2") == ids[2]
        assert tx.inbound_message_id("test", "wamid.9") is None
    assert row is not None
    assert (row["state"], row["department"], row["context"]) == (
        "department",
        "procon",
        '{"request": "olá"}',
    )


def test_a_failed_savepoint_undoes_only_its_own_writes(storage: Storage) -> None:
    conversation_id = _conversation(storage)
    with storage.transaction() as tx:
        tx.update_conversation(conversation_id, state="department")
        with pytest.raises(RuntimeError), tx.savepoint():
            tx.update_conversation(conversation_id, state="closed")
            raise RuntimeError("a plugin failed")
        with tx.savepoint():  # the transaction goes on
            tx.update_conversation(conversation_id, department="cac")
    with storage.reading() as tx:
        row = tx.conversation(conversation_id)
    assert row is not None and (row["state"], row["department"]) == ("department", "cac")


def test_an_error_rolls_the_whole_transaction_back(storage: Storage) -> None:
    with pytest.raises(ZeroDivisionError), storage.transaction() as tx:
        tx.create_conversation(
            channel="test", address="x", state="choosing", pinned_department=None, now=NOW
        )
        1 / 0  # noqa: B018  # the work fails after a write
    with storage.reading() as tx:
        assert tx.conversations() == []


def test_a_second_open_conversation_of_one_address_is_a_conflict(storage: Storage) -> None:
    _conversation(storage)
    with pytest.raises(Conflict):
        _conversation(storage)
    with storage.transaction() as tx:  # the connection is usable afterwards
        assert tx.open_conversation("test", "5511999990000") is not None


def test_a_duplicate_citizen_from_another_worker_is_found_not_doubled(
    storage: Storage,
) -> None:
    values = {"cpf_hash": "h" * 64, "cpf_masked": "***", "cpf_encrypted": "", "now": NOW}
    with storage.transaction() as tx:
        first, before = tx.find_or_add_citizen(name="Maria", **values)
        again, name = tx.find_or_add_citizen(name="Outra", **values)
    assert before is None and (again, name) == (first, "Maria")


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), ("normal", 1), ("FULL", 2)])
def test_sqlite_synchronous_is_normal_unless_set_to_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: int
) -> None:
    if setting is None:
        monkeypatch.delenv(storage_module.SYNCHRONOUS_ENV, raising=False)
    else:
        monkeypatch.setenv(storage_module.SYNCHRONOUS_ENV, setting)
    storage = Storage(f"sqlite:///{tmp_path / 'civic.db'}")
    try:
        storage.migrate()
        with storage.reading() as tx:
            found = tx.conn.exec_driver_sql("PRAGMA synchronous").scalar()
            journal = tx.conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    finally:
        storage.close()
    assert (found, journal) == (expected, "wal")


def test_an_unknown_synchronous_setting_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(storage_module.SYNCHRONOUS_ENV, "sometimes")
    with pytest.raises(StorageError, match="CIVIC_SQLITE_SYNCHRONOUS='sometimes'"):
        Storage(f"sqlite:///{tmp_path / 'civic.db'}")
    result = CliRunner().invoke(app, ["run"], input="oi\n")
    assert result.exit_code != 0
    assert "CIVIC_SQLITE_SYNCHRONOUS" in result.output
    assert "Traceback" not in result.output


def test_the_write_lock_is_taken_at_begin(tmp_path: Path) -> None:
    """``BEGIN IMMEDIATE``: a second writer waits at its BEGIN, never half-way through."""
    path = tmp_path / "civic.db"
    storage = Storage(f"sqlite:///{path}")
    storage.migrate()
    try:
        with storage.transaction():
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        storage.close()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs CIVIC_TEST_DATABASE_URL (PostgreSQL)")
def test_a_connection_the_server_closed_is_replaced_and_the_message_processed(
    tmp_path: Path,
) -> None:
    storage = make_storage("postgres", tmp_path)
    engine = Engine(storage, secret=SECRET, manager=load_plugins())
    engine.handle(Inbound(channel="test", address="5511", text="oi", channel_message_id="m1"))
    with contextlib.ExitStack() as stack:  # several connections wait in the pool
        for _ in range(4):
            stack.enter_context(storage.engine.connect())
    with storage.engine.connect() as conn:  # the server ends every other session of civic
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    outcome = engine.handle(
        Inbound(channel="test", address="5511", text="cac", channel_message_id="m2")
    )
    assert outcome.replies and not outcome.duplicate
    with storage.reading() as tx:
        assert tx.inbound_message_id("test", "m2") is not None
    storage.close()


@pytest.mark.parametrize("write", ["prepared", "sqlalchemy"])
def test_a_lazy_savepoint_is_taken_before_the_first_write_and_undoes_it(
    storage: Storage, write: str
) -> None:
    conversation_id = _conversation(storage)
    with storage.transaction() as tx:
        with pytest.raises(RuntimeError), tx.savepoint(lazy=True):
            tx.conversation(conversation_id)  # a read takes no savepoint
            if write == "prepared":
                tx.update_conversation(conversation_id, state="closed")
            else:
                tx.put_setting("probe", "written")
            raise RuntimeError("the turn failed after writing")
        tx.update_conversation(conversation_id, department="cac")
    with storage.reading() as tx:
        row = tx.conversation(conversation_id)
        assert tx.get_setting("probe") is None
    assert row is not None and (row["state"], row["department"]) == ("choosing", "cac")


def test_a_lazy_savepoint_that_only_reads_sends_no_statement(sqlite_storage: Storage) -> None:
    conversation_id = _conversation(sqlite_storage)
    sent: list[str] = []
    with sqlite_storage.transaction() as tx:
        raw = tx.conn.connection.dbapi_connection
        assert raw is not None
        raw.set_trace_callback(sent.append)
        try:
            with tx.savepoint(lazy=True):
                tx.conversation(conversation_id)
            with tx.savepoint(lazy=True), tx.savepoint():  # an inner one opens the outer
                pass
        finally:
            raw.set_trace_callback(None)
    savepoints = [s.split()[0:2] for s in sent if "SAVEPOINT" in s]
    assert savepoints == [
        ["SAVEPOINT", "civic_2"],
        ["SAVEPOINT", "civic_3"],
        ["RELEASE", "SAVEPOINT"],
        ["RELEASE", "SAVEPOINT"],
    ]


def _lose(tx: object) -> None:
    """The database goes away under a transaction (its driver connection closes)."""
    tx.conn.connection.dbapi_connection.close()  # type: ignore[attr-defined]


def test_after_a_lost_connection_nothing_more_runs_and_nothing_half_commits(
    sqlite_storage: Storage,
) -> None:
    with pytest.raises(sa.exc.DBAPIError) as lost, sqlite_storage.transaction() as tx:
        tx.create_conversation(
            channel="test", address="A", state="choosing", pinned_department=None, now=NOW
        )
        _lose(tx)
        with pytest.raises(sa.exc.DBAPIError):
            tx.open_conversation("test", "A")
        # someone swallowed the error and goes on: nothing may run on a new connection
        tx.create_conversation(
            channel="test", address="B", state="choosing", pinned_department=None, now=NOW
        )
    assert lost.value.connection_invalidated  # the caller may try the work again
    with sqlite_storage.reading() as tx:
        assert tx.conversations() == []
    assert _conversation(sqlite_storage, "C")  # and the storage works afterwards


@pytest.mark.parametrize("first", ["sqlalchemy", "driver"])
def test_a_loss_inside_a_turn_says_the_work_may_be_tried_again(
    sqlite_storage: Storage, first: str
) -> None:
    with pytest.raises(sa.exc.DBAPIError) as lost, sqlite_storage.transaction() as tx:
        if first == "sqlalchemy":
            tx.get_setting("probe")
        with tx.savepoint(lazy=True):
            tx.create_conversation(
                channel="test", address="A", state="choosing", pinned_department=None, now=NOW
            )
            _lose(tx)
            tx.open_conversation("test", "A")
    assert lost.value.connection_invalidated
    with sqlite_storage.reading() as tx:
        assert tx.conversations() == []


def test_a_driver_error_never_shows_the_values_it_was_given(storage: Storage) -> None:
    """An error of the per-message path is logged and stored (dead letters): the values
    (an address, a message) are hidden from its text."""
    _conversation(storage, "529.982.247-25")
    with pytest.raises(Conflict) as refused:
        _conversation(storage, "529.982.247-25")
    shown, error = [], refused.value  # every error a log's traceback would show
    while error is not None:
        shown.append(f"{error!r} {error}")
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    assert "529.982.247-25" not in " ".join(shown)
    assert "unique" in str(refused.value).lower()
