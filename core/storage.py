"""Every SQL statement civic runs.

The engine and the CLI talk to :class:`Storage`; plugins never do. Statements are
SQLAlchemy Core on the SQLModel tables of :mod:`civic.tables`, so the per-message path
stays cheap and the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
import threading
import zlib
import zoneinfo
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine, RowMapping
from sqlmodel import SQLModel

from civic import durations, migrations, protocol_numbers, tables
from civic.prepared import Prepared
from civic.values import Choice, Delivery, Reply

log = logging.getLogger(__name__)

#: A stored row as civic reads it, by column name: a :class:`RowMapping` from a query
#: (whose keys may also be column objects, so it is no ``Mapping[str, Any]``) or a dict.
Row: TypeAlias = RowMapping | Mapping[str, Any]


def _table(model: type[SQLModel]) -> sa.Table:
    """The Core table of one of :mod:`civic.tables`' classes."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]  # set by SQLModel, undeclared
    return table


def _inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the one row an INSERT statement added."""
    key = result.inserted_primary_key
    assert key is not None  # SQLAlchemy has one for every single-row INSERT
    return int(key[0])


conversation_t = _table(tables.Conversation)
message_t = _table(tables.Message)
citizen_t = _table(tables.Citizen)
submission_t = _table(tables.Submission)
counter_t = _table(tables.ProtocolCounter)
rating_t = _table(tables.Rating)
setting_t = _table(tables.Setting)
outbox_t = _table(tables.Outbox)
event_t = _table(tables.Event)
agent_t = _table(tables.Agent)
audit_t = _table(tables.Audit)
inbox_t = _table(tables.Inbox)
early_status_t = _table(tables.EarlyStatus)

#: Delivery statuses in the order they happen; a status never moves backwards.
OUTBOX_ORDER = {"pending": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


# Statements of the per-message path, compiled once per database and run on the driver's
# cursor (civic.prepared): the path every inbound message takes stays near the driver's
# own cost. Each is a function of the dialect so it compiles only when first used.
def _returning_id(statement: Any, table: sa.Table, dialect: Dialect) -> Any:
    """``statement`` that reports the new row's id: ``RETURNING id``, but on SQLite, where
    the driver's ``lastrowid`` does it (and SQLite before 3.35 has no ``RETURNING``)."""
    return statement if dialect.name == "sqlite" else statement.returning(table.c.id)


def _insert_new(table: sa.Table, dialect: Dialect, *unique: str) -> Any:
    """``INSERT ... ON CONFLICT (unique) DO NOTHING``: a row already there is reported
    (no row inserted) instead of raising, and no SELECT is needed before."""
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=list(unique))
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(unique))


_REPLY_MESSAGE = (
    "conversation_id",
    "direction",
    "author",
    "author_name",
    "text",
    "channel",
    "created_at",
)
_REPLY_OUTBOX = (
    "conversation_id", "in_reply_to", "channel", "address", "author", "agent", "payload",
    "status", "attempts", "created_at", "updated_at",
)  # fmt: skip


def _reply_statement(dialect: Dialect) -> Any:
    """PostgreSQL: a reply's message and its outbox row in one statement (one round trip):
    ``WITH m AS (INSERT INTO message ... RETURNING id) INSERT INTO outbox ... FROM m``.
    Parameters are the columns prefixed ``m_`` and ``o_``."""
    message = (
        message_t.insert()
        .values({c: sa.bindparam(f"m_{c}", type_=message_t.c[c].type) for c in _REPLY_MESSAGE})
        .returning(message_t.c.id)
        .cte("m")
    )
    values = [sa.bindparam(f"o_{c}", type_=outbox_t.c[c].type) for c in _REPLY_OUTBOX]
    return (
        outbox_t.insert()
        .from_select(["message_id", *_REPLY_OUTBOX], sa.select(message.c.id, *values))
        .returning(outbox_t.c.id, outbox_t.c.message_id)
        .add_cte(message)
    )


_HOT: dict[str, Callable[[Dialect], tuple[Any, tuple[str, ...] | None]]] = {
    "message_seen": lambda d: (
        sa.select(message_t.c.id, message_t.c.conversation_id).where(
            message_t.c.channel == sa.bindparam("channel"),
            message_t.c.channel_message_id == sa.bindparam("channel_message_id"),
        ),
        None,
    ),
    "add_message": lambda d: (
        _returning_id(message_t.insert(), message_t, d),
        (
            "conversation_id", "direction", "author", "author_name", "text", "channel",
            "channel_message_id", "created_at",
        ),
    ),
    "add_inbound": lambda d: (
        _returning_id(_insert_new(message_t, d, "channel", "channel_message_id"), message_t, d),
        (
            "conversation_id", "direction", "author", "author_name", "text", "channel",
            "channel_message_id", "created_at",
        ),
    ),
    "open_conversation": lambda d: (
        sa.select(conversation_t)
        .where(
            conversation_t.c.channel == sa.bindparam("channel"),
            conversation_t.c.address == sa.bindparam("address"),
            conversation_t.c.closed_at.is_(None),
        )
        .with_for_update(),
        None,
    ),
    "last_conversation": lambda d: (
        sa.select(conversation_t)
        .where(
            conversation_t.c.channel == sa.bindparam("channel"),
            conversation_t.c.address == sa.bindparam("address"),
        )
        .order_by(conversation_t.c.id.desc())
        .limit(1),
        None,
    ),
    "conversation": lambda d: (
        sa.select(conversation_t).where(conversation_t.c.id == sa.bindparam("row_id")),
        None,
    ),
    "recent_inbound": lambda d: (
        sa.select(sa.func.count().label("n")).where(
            message_t.c.conversation_id == sa.bindparam("conversation_id"),
            message_t.c.direction == sa.literal_column("'in'"),
            message_t.c.created_at >= sa.bindparam("since", type_=message_t.c.created_at.type),
        ),
        None,
    ),
    "create_conversation": lambda d: (
        _returning_id(conversation_t.insert(), conversation_t, d),
        (
            "channel", "address", "state", "department", "pinned_department", "context",
            "opened_at", "updated_at",
        ),
    ),
    "add_outbox": lambda d: (
        _returning_id(outbox_t.insert(), outbox_t, d),
        (
            "message_id", "conversation_id", "in_reply_to", "channel", "address", "author",
            "agent", "payload", "status", "attempts", "created_at", "updated_at",
        ),
    ),
    "citizen_by_hash": lambda d: (
        sa.select(citizen_t.c.id, citizen_t.c.name, citizen_t.c.cpf_encrypted).where(
            citizen_t.c.cpf_hash == sa.bindparam("cpf_hash")
        ),
        None,
    ),
    "add_citizen": lambda d: (
        _returning_id(_insert_new(citizen_t, d, "cpf_hash"), citizen_t, d),
        ("name", "cpf_hash", "cpf_masked", "cpf_encrypted", "created_at", "last_seen_at"),
    ),
    "add_rating": lambda d: (
        _returning_id(rating_t.insert(), rating_t, d),
        (
            "conversation_id", "department", "agent", "score", "scale_min", "scale_max",
            "comment", "answers", "created_at",
        ),
    ),
    "add_reply": lambda d: (_reply_statement(d), None),
    "add_event": lambda d: (
        event_t.insert(),
        ("conversation_id", "kind", "actor", "department", "note", "created_at"),
    ),
}  # fmt: skip


class _Statements:
    """The per-message statements of one database, each compiled on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.dbapi = dialect.loaded_dbapi
        self._compiled: dict[Any, Prepared] = {}

    def plain(self, sql: str) -> Prepared:
        """A statement without parameters, such as ``SAVEPOINT civic_1``."""
        prepared = self._compiled.get(sql)
        if prepared is None:
            prepared = self._compiled[sql] = Prepared(sa.text(sql), self.dialect)
        return prepared

    def __call__(self, name: str) -> Prepared:
        prepared = self._compiled.get(name)
        if prepared is None:
            statement, columns = _HOT[name](self.dialect)
            prepared = self._compiled[name] = Prepared(statement, self.dialect, columns)
        return prepared

    def update(self, table: sa.Table, columns: tuple[str, ...], by: str = "id") -> Prepared:
        """``UPDATE table SET <columns> WHERE <by> = :row_id``, for exactly those columns."""
        key = (table.name, columns, by)
        prepared = self._compiled.get(key)
        if prepared is None:
            statement = table.update().where(table.c[by] == sa.bindparam("row_id"))
            prepared = self._compiled[key] = Prepared(statement, self.dialect, columns)
        return prepared


# The inbox and the outbox, shared by every worker. Literal statuses, so the planner can
# use the partial index of deliveries still to process.
_INBOX_RECEIVED = inbox_t.c.status == sa.literal_column("'received'")
#: A PostgreSQL transaction lock on one sender of one channel: advisory locks keyed by
#: two integers, the first 1667855971 ("civc" in ASCII) for the inbox, the second
#: :func:`_sender_key`.
_LOCK_SENDER = sa.text("SELECT pg_advisory_xact_lock(1667855971, CAST(:key AS integer))")
_SENDER_WAITING = (
    sa.select(inbox_t.c.id)
    .where(
        inbox_t.c.channel == sa.bindparam("channel"),
        inbox_t.c.sender == sa.bindparam("sender"),
        _INBOX_RECEIVED,
    )
    .limit(1)
)
_SENDER_OLDEST = (
    sa.select(inbox_t)
    .where(
        inbox_t.c.channel == sa.bindparam("channel"),
        inbox_t.c.sender == sa.bindparam("sender"),
        _INBOX_RECEIVED,
    )
    .order_by(inbox_t.c.id)
    .limit(1)
)
_OUTBOX_DUE = sa.or_(
    outbox_t.c.next_attempt_at.is_(None), outbox_t.c.next_attempt_at <= sa.bindparam("now")
)
_earlier = outbox_t.alias("earlier")
#: Pending due messages of a channel, oldest first, but those behind an earlier message
#: to the same address that is not due (held by a worker, or waiting for its retry).
_CLAIMABLE = (
    sa.select(outbox_t, conversation_t.c.channel_data)
    .select_from(outbox_t.join(conversation_t, conversation_t.c.id == outbox_t.c.conversation_id))
    .where(
        outbox_t.c.channel == sa.bindparam("channel"),
        outbox_t.c.status == "pending",
        _OUTBOX_DUE,
        ~sa.exists().where(
            _earlier.c.channel == outbox_t.c.channel,
            _earlier.c.address == outbox_t.c.address,
            _earlier.c.status == "pending",
            _earlier.c.id < outbox_t.c.id,
            _earlier.c.next_attempt_at > sa.bindparam("now"),
        ),
    )
    .order_by(outbox_t.c.id)
    .limit(sa.bindparam("limit"))
)
_CLAIMABLE_LOCKED = _CLAIMABLE.with_for_update(skip_locked=True, of=outbox_t)


class StorageError(RuntimeError):
    """The database cannot be opened or upgraded; the message says why."""


class Conflict(StorageError):
    """Another worker wrote the same row first (a unique key); try again."""


class Unavailable(StorageError):
    """The database did not let this transaction begin within its wait (another
    writer holds SQLite's lock); try again later."""


class DuplicateProtocol(Conflict):
    """A protocol number (or one differing only in case and separators) is already
    stored; the transaction goes on without the refused submission."""


agent_session_t = _table(tables.AgentSession)


@attrs.frozen
class AgentRecord:
    """An attendant as stored: their account and what signing in checks."""

    id: int
    name: str
    departments: tuple[str, ...]
    is_admin: bool
    active: bool
    password_hash: str | None
    failed_logins: int
    locked_until: dt.datetime | None


@attrs.frozen
class SessionRecord:
    """A signed-in attendant's session as stored (its token only as a hash)."""

    id: int
    agent_id: int
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_seen_at: dt.datetime


def _agent_record(row: Row) -> AgentRecord:
    try:
        departments = json.loads(row["departments"] or "[]")
    except ValueError:
        departments = []
    return AgentRecord(
        id=row["id"],
        name=row["name"],
        departments=tuple(str(d) for d in departments) if isinstance(departments, list) else (),
        is_admin=bool(row["is_admin"]),
        active=bool(row["active"]),
        password_hash=row["password_hash"],
        failed_logins=int(row["failed_logins"] or 0),
        locked_until=row["locked_until"],
    )


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC (every timestamp civic stores is UTC)."""
    return dt.datetime.now(dt.UTC)


def to_storage_time(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; naive values are taken as UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def storable_text(text: str) -> str:
    """Text as every database can keep it: PostgreSQL refuses NUL characters, and no
    driver encodes a lone surrogate (what ``json.loads`` makes of ``"\\ud8da"``)."""
    text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


# -- schema versions ------------------------------------------------------------------
# The Alembic revisions of civic.migrations upgrade the schema, unattended, when civic
# starts (`Storage.migrate`). civic before Alembic kept a schema version in civic_setting
# instead: such a database (version 1) is stamped at revision 0001, then upgraded.

#: Serialises the upgrade of several workers starting at once on PostgreSQL (on SQLite
#: the BEGIN IMMEDIATE write transaction does); the key spells "civicmig".
_MIGRATION_LOCK = sa.text("SELECT pg_advisory_xact_lock(7163386877321242983)")
#: The civic_setting key of the pre-Alembic schema version. It is kept equal to the
#: number of the current revision, so an older civic refuses a newer database.
LEGACY_VERSION_KEY = "schema_version"


class Storage:
    """A civic database. Create with a SQLAlchemy URL; :meth:`migrate` before use."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            # hide_parameters: a database error's message never shows what a citizen wrote
            self.engine: Engine = sa.create_engine(
                url, echo=echo, hide_parameters=True, **_engine_options(url)
            )
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StorageError(f"cannot use database URL {_safe_url(url)!r}: {exc}") from None
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            database_file = _sqlite_file(self.engine.url)
            if database_file is not None:
                _make_owner_only(database_file)
            _tune_sqlite(self.engine, sqlite_synchronous())
        sa.event.listen(self.engine, "before_cursor_execute", _before_write)
        # Write transactions begin and commit on the driver's connection (the statement
        # below, then its commit()): SQLAlchemy's autobegin must not emit its own BEGIN.
        self._writer = self.engine.execution_options(civic_driver_transaction=True)
        self._statements = _Statements(self.engine.dialect)
        self._begin = "BEGIN IMMEDIATE" if self.is_sqlite else None
        # SQLite has one writer at a time. Threads of this process queue here, woken the
        # moment the writer before them commits, instead of in SQLite's busy handler,
        # which sleeps up to 100 ms between tries (other processes still wait there).
        self._write_lock: threading.RLock | None = threading.RLock() if self.is_sqlite else None

    def __repr__(self) -> str:
        return f"<Storage {_safe_url(self.url)}>"

    def close(self) -> None:
        self.engine.dispose()

    def compact(self) -> bool:
        """On SQLite, rewrite the database file and empty its write-ahead log, so what
        was anonymised or deleted leaves no copy in free pages or the log (``VACUUM``,
        then a truncating checkpoint). ``False`` when SQLite could not do it now (another
        process reading for longer than the busy timeout): run it again later. Nothing on
        PostgreSQL, whose old row versions autovacuum reclaims (``docs/privacy.md``)."""
        if not self.is_sqlite:
            return True
        with self._one_writer():
            raw = self.engine.raw_connection()
            try:
                driver: Any = raw.driver_connection
                driver.commit()  # VACUUM cannot run inside a transaction
                cursor = driver.cursor()
                try:
                    cursor.execute("VACUUM")
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    cursor.close()
            except self._statements.dbapi.Error as exc:
                log.warning("cannot compact the database now: %s", exc)
                return False
            finally:
                raw.close()
        return True

    # -- schema ---------------------------------------------------------------------
    def schema_version(self) -> int:
        """The schema version: 0 for an empty database, else its revision's number
        (revision ``0002`` is 2; a database of civic before Alembic reports its version)."""
        revision, _legacy = self._revision()
        try:
            return 0 if revision is None else migrations.revision_number(revision)
        except migrations.UnknownRevision as exc:
            raise StorageError(self._unknown_revision(exc.revision)) from None

    def migrate(self) -> int:
        """Bring the schema up to date; return the number of revisions applied.

        Several workers may start at once on a new database: one upgrades while the others
        wait for its lock (an advisory lock on PostgreSQL, the write transaction on
        SQLite), then find nothing left to do. Each upgrade is one transaction.
        """
        revision, legacy = self._revision()
        if revision == migrations.HEAD and not legacy:
            return 0  # the usual start: no lock taken, Alembic not even imported
        try:
            with self.engine.execution_options(civic_immediate=True).begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(_MIGRATION_LOCK)
                revision, legacy = _stored_revision(conn)  # again, now that we hold the lock
                applied = migrations.upgrade(conn, revision, stamp=legacy)
                if applied or legacy:
                    head = migrations.revision_number(migrations.HEAD)
                    _put_setting(conn, LEGACY_VERSION_KEY, str(head))
        except migrations.UnknownRevision as exc:
            raise StorageError(self._unknown_revision(exc.revision)) from None
        except sa.exc.DBAPIError as exc:
            raise StorageError(
                f"cannot set up database {_safe_url(self.url)}: {exc.orig}"
            ) from None
        if applied:
            log.info("database upgraded to schema revision %s", migrations.HEAD)
        return applied

    def _revision(self) -> tuple[str | None, bool]:
        """What :func:`_stored_revision` says, with errors as :class:`StorageError`."""
        try:
            with self.engine.connect() as conn:
                return _stored_revision(conn)
        except migrations.UnknownRevision as exc:
            raise StorageError(self._unknown_revision(exc.revision)) from None
        except sa.exc.DBAPIError as exc:  # unreachable server, not a database, no access
            raise StorageError(f"cannot open database {_safe_url(self.url)}: {exc.orig}") from None

    def _unknown_revision(self, revision: str) -> str:
        where = f"database {_safe_url(self.url)}"
        if not revision.isdigit():
            return (
                f"{where} holds Alembic revision {revision!r}, which is not civic's: "
                "give civic a database (or PostgreSQL schema) of its own"
            )
        return (
            f"{where} has schema revision {revision}, newer than this civic knows "
            f"({migrations.HEAD}): upgrade civic"
        )

    # -- transactions ---------------------------------------------------------------
    @contextmanager
    def transaction(self, *, wait: float | None = None) -> Iterator[Transaction]:
        """One write transaction: committed when the block ends, rolled back on error.

        On SQLite it is ``BEGIN IMMEDIATE``: the write lock is taken at once (so two
        workers never deadlock upgrading a read lock) and held until the commit, so the
        caller does its slow work (reading the message) before. The connection comes from
        the pool without a ping: a connection found dead raises a
        :class:`~sqlalchemy.exc.DBAPIError` with ``connection_invalidated`` set, and the
        next transaction gets a new one. A unique key taken by another worker raises
        :class:`Conflict`.

        ``wait`` bounds, in seconds, how long SQLite's write lock is waited for (this
        process's writers, then other processes': ``busy_timeout``), instead of 30 s:
        :class:`Unavailable` after it. A webhook passes a short one, so a locked
        database is answered with a 503 the provider retries, not a request that hangs.
        """
        with self._one_writer(wait), self._writer.connect() as conn:
            tx = Transaction(conn, self._statements)
            try:
                if self._begin:
                    if wait is None:
                        tx._plain(self._begin)
                    else:
                        self._begin_within(tx, wait)
                try:
                    yield tx
                except BaseException:
                    tx.rollback()
                    raise
                tx.commit()
            except sa.exc.IntegrityError as exc:
                raise Conflict(_unique_key_taken(exc)) from None  # no values in it
            finally:
                tx.close()

    def _begin_within(self, tx: Transaction, wait: float) -> None:
        """``BEGIN IMMEDIATE`` waiting at most ``wait`` seconds for another process's
        write lock (:class:`Unavailable` after), the usual busy timeout restored."""
        tx._plain(f"PRAGMA busy_timeout={max(int(wait * 1000), 0)}")
        try:
            tx._plain(self._begin or "BEGIN")
        except sa.exc.DBAPIError as exc:
            raise Unavailable(f"the database is locked: {exc.orig}") from exc
        finally:
            tx._plain(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    @contextmanager
    def _one_writer(self, wait: float | None = None) -> Iterator[None]:
        """Hold this process's SQLite write lock (nothing on PostgreSQL), waiting at
        most ``wait`` seconds for it when given (:class:`Unavailable` after)."""
        if self._write_lock is None:
            yield
            return
        if not self._write_lock.acquire(timeout=-1 if wait is None else max(wait, 0)):
            raise Unavailable("the database is busy: another writer of this process holds it")
        try:
            yield
        finally:
            self._write_lock.release()

    @contextmanager
    def reading(self) -> Iterator[Transaction]:
        """A read-only view (never commits anything)."""
        with self.engine.connect() as conn:
            tx = Transaction(conn, self._statements)
            try:
                yield tx
            finally:
                tx.close()
            conn.rollback()


class Transaction:
    """The statements of one unit of work, bound to one connection.

    The per-message statements run on the driver's cursor (:mod:`civic.prepared`), the
    others through SQLAlchemy's ``Connection``: both are the same connection and the same
    transaction.
    """

    def __init__(self, conn: Connection, statements: _Statements) -> None:
        self.conn = conn
        self._statements = statements
        self._cursor: Any = None
        self._savepoints = 0
        #: A lazy savepoint to take before the next write (:meth:`savepoint`).
        self._pending: str | None = None
        self._info = conn.info  # kept: read again after a loss, it would reconnect
        self._info[_TRANSACTION_KEY] = self  # for _before_write, on SQLAlchemy's path

    def close(self) -> None:
        """Release the driver's cursor (the transaction itself is the caller's)."""
        self._info.pop(_TRANSACTION_KEY, None)
        if self._cursor is not None:
            cursor, self._cursor = self._cursor, None
            try:
                cursor.close()
            except Exception:  # a dead connection's cursor: nothing left to release
                log.debug("closing a cursor failed", exc_info=True)

    def _run(self, prepared: Prepared, values: Mapping[str, Any]) -> Any:
        """Run a prepared statement on this transaction's cursor; returns the cursor.
        A lost connection is invalidated (the pool opens a new one) and the error says
        so (``connection_invalidated``), so the caller may try the work again."""
        if self._pending is not None and prepared.writes:
            self.open_pending()
        if self.conn.invalidated:  # lost earlier (here or on SQLAlchemy's path)
            self._cursor = None
            raise _connection_lost()
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self._driver().cursor()
        try:
            return prepared.run(cursor, values, self._statements.dbapi)
        except sa.exc.DBAPIError as exc:
            self._lost(exc, cursor)
            raise

    def _driver(self) -> Any:
        """The driver's own connection under this transaction's ``Connection`` (never a
        new one: after a loss, asking SQLAlchemy for it would connect again, and the
        rest of the transaction would run, and commit, without its beginning)."""
        raw = None if self.conn.invalidated else self.conn.connection.dbapi_connection
        if raw is None:
            raise _connection_lost()
        return raw

    def _lost(self, exc: sa.exc.DBAPIError, cursor: Any, *, retry: bool = True) -> None:
        """When ``exc`` says the connection is gone: invalidate it, and replace the pool's
        other connections (opened before, they are most likely gone too), as
        SQLAlchemy does on its own path. ``retry``: whether the error says the work may
        be tried again (not after a lost COMMIT: it may have been committed)."""
        if self.conn.invalidated:
            return
        raw = self.conn.connection.dbapi_connection
        orig: Any = exc.orig  # the driver's error (DB-API's Error, untyped here)
        if orig is not None and self._statements.dialect.is_disconnect(orig, raw, cursor):
            exc.connection_invalidated = retry
            self._cursor = None
            self.conn.invalidate()
            self.conn.engine.dispose(close=False)

    def commit(self) -> None:
        """Commit on the driver's connection (:meth:`Storage.transaction` does)."""
        raw = self._driver()
        dbapi = self._statements.dbapi
        try:
            raw.commit()
        except dbapi.Error as exc:
            error = sa.exc.DBAPIError.instance("COMMIT", None, exc, dbapi.Error)
            assert isinstance(error, sa.exc.DBAPIError)
            self._lost(error, None, retry=False)  # committed or not: nobody knows
            raise error from exc

    def rollback(self) -> None:
        """Roll back on the driver's connection; a connection that is gone is invalidated
        (there is nothing left to roll back) and the original error goes on."""
        if self.conn.invalidated:  # lost: nothing left to roll back
            return
        raw = self.conn.connection.dbapi_connection
        if raw is None:
            return
        dbapi = self._statements.dbapi
        try:
            raw.rollback()
        except dbapi.Error as exc:
            log.warning("rollback failed: %s", type(exc).__name__)
            self._cursor = None
            self.conn.invalidate()

    def _first(self, name: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
        prepared = self._statements(name)
        return prepared.row(self._run(prepared, values).fetchone())

    def _insert(self, name: str, values: Mapping[str, Any]) -> int:
        """Insert one row; returns its id."""
        prepared = self._statements(name)
        cursor = self._run(prepared, values)
        if prepared.columns:  # RETURNING id
            return int(cursor.fetchone()[0])
        return int(cursor.lastrowid)

    def _insert_new(self, name: str, values: Mapping[str, Any]) -> int | None:
        """Insert one row unless its unique key is taken (``ON CONFLICT DO NOTHING``);
        returns its id, or ``None`` when the row was there already."""
        prepared = self._statements(name)
        cursor = self._run(prepared, values)
        if prepared.columns:  # RETURNING id: no row when it was there already
            found = cursor.fetchone()
            return None if found is None else int(found[0])
        return int(cursor.lastrowid) if cursor.rowcount == 1 else None

    def _plain(self, sql: str) -> None:
        """A statement without parameters (SAVEPOINT and friends) on the cursor."""
        self._run(self._statements.plain(sql), {})

    @contextmanager
    def savepoint(self, *, lazy: bool = False) -> Iterator[None]:
        """A nested transaction: rolled back alone if the block raises.

        ``lazy``: the savepoint is taken just before the block's first write, so a block
        that only reads (most of a conversation's turns) costs no statement at all (on
        PostgreSQL, two round trips fewer).
        """
        if self._pending is not None:  # an enclosing lazy savepoint must come first
            self.open_pending()
        self._savepoints += 1
        name = f"civic_{self._savepoints}"
        if lazy:
            self._pending = name
        else:
            self._plain(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self._pending == name:
                self._pending = None  # nothing was written
            elif not self.conn.invalidated:  # else the whole transaction is gone
                self._plain(f"ROLLBACK TO SAVEPOINT {name}")
                self._plain(f"RELEASE SAVEPOINT {name}")
            raise
        if self._pending == name:
            self._pending = None
        else:
            self._plain(f"RELEASE SAVEPOINT {name}")

    def open_pending(self) -> None:
        """Take the lazy savepoint waiting for a write (before any write statement)."""
        name = self._pending
        if name is not None:
            self._pending = None  # _plain must not take it again
            try:
                self._plain(f"SAVEPOINT {name}")
            except BaseException:
                self._pending = name  # not taken: nothing to roll back to
                raise

    # -- settings -------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        return self.conn.execute(
            sa.select(setting_t.c.value).where(setting_t.c.key == key)
        ).scalar()

    def put_setting(self, key: str, value: str) -> None:
        _put_setting(self.conn, key, value)

    # -- messages -------------------------------------------------------------------
    def message_seen(self, channel: str, channel_message_id: str) -> bool:
        return self.inbound_message_id(channel, channel_message_id) is not None

    def add_message(
        self,
        *,
        conversation_id: int,
        direction: str,
        author: str,
        text: str,
        channel: str,
        created_at: dt.datetime,
        channel_message_id: str | None = None,
        author_name: str | None = None,
    ) -> int:
        return self._insert(
            "add_message",
            {
                "conversation_id": conversation_id,
                "direction": direction,
                "author": author,
                "author_name": author_name,
                "text": storable_text(text),
                "channel": channel,
                "channel_message_id": channel_message_id,
                "created_at": created_at,
            },
        )

    def add_inbound(
        self,
        *,
        conversation_id: int,
        text: str,
        channel: str,
        created_at: dt.datetime,
        channel_message_id: str | None,
    ) -> int | None:
        """Store a citizen's message; ``None`` when the channel delivered this
        ``channel_message_id`` before (nothing is stored then)."""
        return self._insert_new(
            "add_inbound",
            {
                "conversation_id": conversation_id,
                "direction": "in",
                "author": "citizen",
                "author_name": None,
                "text": storable_text(text),
                "channel": channel,
                "channel_message_id": channel_message_id,
                "created_at": created_at,
            },
        )

    def recent_inbound(self, conversation_id: int, since: dt.datetime) -> int:
        """How many citizen messages the conversation stored from ``since`` on (the
        current one included): what the rate limit counts (:mod:`civic.rate_limit`)."""
        found = self._first("recent_inbound", {"conversation_id": conversation_id, "since": since})
        return int(found["n"]) if found else 0

    def messages(self, conversation_id: int) -> list[RowMapping]:
        return list(
            self.conn.execute(
                sa.select(message_t)
                .where(message_t.c.conversation_id == conversation_id)
                .order_by(message_t.c.id)
            ).mappings()
        )

    def count_messages(self, *, direction: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(message_t)
        if direction:
            query = query.where(message_t.c.direction == direction)
        return int(self.conn.execute(query).scalar_one())

    # -- conversations --------------------------------------------------------------
    def open_conversation(self, channel: str, address: str) -> Row | None:
        """The address's open conversation, locked for this transaction (PostgreSQL)."""
        return self._first("open_conversation", {"channel": channel, "address": address})

    def last_conversation(self, channel: str, address: str) -> Row | None:
        """The address's most recent conversation, open or closed (along the index
        ``ix_conversation_address``)."""
        return self._first("last_conversation", {"channel": channel, "address": address})

    def conversation(self, conversation_id: int) -> Row | None:
        return self._first("conversation", {"row_id": conversation_id})

    def conversations(self) -> list[RowMapping]:
        return list(
            self.conn.execute(sa.select(conversation_t).order_by(conversation_t.c.id)).mappings()
        )

    def create_conversation(
        self,
        *,
        channel: str,
        address: str,
        state: str,
        pinned_department: str | None,
        now: dt.datetime,
    ) -> int:
        return self._insert(
            "create_conversation",
            {
                "channel": channel,
                "address": address,
                "state": state,
                "department": pinned_department,
                "pinned_department": pinned_department,
                "context": "{}",
                "opened_at": now,
                "updated_at": now,
            },
        )

    def update_conversation(self, conversation_id: int, **values: Any) -> None:
        """Set ``values`` (by column) on one conversation; only those columns are written."""
        if not values:
            return
        if "context" in values and not isinstance(values["context"], str):
            values["context"] = json.dumps(values["context"], ensure_ascii=False)
        # A channel's data (a contact's name) may hold what no driver stores.
        values = {k: storable_text(v) if isinstance(v, str) else v for k, v in values.items()}
        prepared = self._statements.update(conversation_t, tuple(values))
        self._run(prepared, {"row_id": conversation_id, **values})

    # -- citizens -------------------------------------------------------------------
    def find_or_add_citizen(
        self,
        *,
        name: str,
        cpf_hash: str,
        cpf_masked: str,
        cpf_encrypted: str,
        now: dt.datetime,
    ) -> tuple[int, str | None]:
        """Find the citizen by CPF hash or create one.

        Returns the citizen's id and the name stored before (``None`` for a new citizen).
        A known citizen is never renamed: the name typed now belongs to the conversation.
        """
        found = self._first("citizen_by_hash", {"cpf_hash": cpf_hash})
        if found is not None:
            values: dict[str, Any] = {"last_seen_at": now}
            if not found["cpf_encrypted"]:
                values["cpf_encrypted"] = cpf_encrypted
            prepared = self._statements.update(citizen_t, tuple(values))
            self._run(prepared, {"row_id": found["id"], **values})
            return int(found["id"]), str(found["name"])
        citizen_id = self._insert_new(
            "add_citizen",
            {
                "name": storable_text(name),
                "cpf_hash": cpf_hash,
                "cpf_masked": cpf_masked,
                "cpf_encrypted": cpf_encrypted,
                "created_at": now,
                "last_seen_at": now,
            },
        )
        if citizen_id is None:  # the same CPF, from another worker, just now
            return self.find_or_add_citizen(
                name=name,
                cpf_hash=cpf_hash,
                cpf_masked=cpf_masked,
                cpf_encrypted=cpf_encrypted,
                now=now,
            )
        return citizen_id, None

    def citizen(self, citizen_id: int) -> RowMapping | None:
        return (
            self.conn.execute(sa.select(citizen_t).where(citizen_t.c.id == citizen_id))
            .mappings()
            .first()
        )

    # -- submissions and protocol numbers -------------------------------------------
    def next_protocol_sequence(self, prefix: str, year: int) -> int:
        """Atomically take the next sequence number for ``prefix`` in ``year``."""
        for _ in range(2):
            value = self.conn.execute(
                counter_t.update()
                .where(counter_t.c.prefix == prefix, counter_t.c.year == year)
                .values(value=counter_t.c.value + 1)
                .returning(counter_t.c.value)
            ).scalar()
            if value is not None:
                return int(value)
            try:
                with self.conn.begin_nested():
                    self.conn.execute(counter_t.insert().values(prefix=prefix, year=year, value=1))
                return 1
            except sa.exc.IntegrityError:
                continue  # another worker created the row first: increment it
        raise StorageError(f"could not take a protocol number for {prefix}/{year}")

    def add_submission(
        self,
        *,
        conversation_id: int,
        department: str,
        form: str,
        protocol: str,
        data: Mapping[str, Any],
        now: dt.datetime,
        secret_data: str | None = None,
        citizen_id: int | None = None,
        citizen_name: str | None = None,
    ) -> int:
        """Store a submission under ``protocol``; :class:`DuplicateProtocol` when its
        :func:`~civic.protocol_numbers.key` is taken (the transaction stays usable)."""
        try:
            with self.conn.begin_nested():
                result = self.conn.execute(
                    submission_t.insert().values(
                        conversation_id=conversation_id,
                        department=department,
                        form=form,
                        protocol=protocol,
                        protocol_key=protocol_numbers.key(protocol),
                        status="received",
                        data=storable_text(json.dumps(data, ensure_ascii=False)),
                        secret_data=secret_data,
                        citizen_id=citizen_id,
                        citizen_name=storable_text(citizen_name) if citizen_name else None,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError as exc:
            taken = self.conn.execute(
                sa.select(submission_t.c.id).where(
                    (submission_t.c.protocol_key == protocol_numbers.key(protocol))
                    | (submission_t.c.protocol == protocol)
                )
            ).first()
            if taken is None:
                raise
            raise DuplicateProtocol(f"protocol {protocol!r} is already stored") from exc
        return _inserted_id(result)

    def submission(self, protocol: str) -> RowMapping | None:
        """The submission of ``protocol``, as typed: case and separators do not matter."""
        return (
            self.conn.execute(
                sa.select(submission_t).where(
                    submission_t.c.protocol_key == protocol_numbers.key(protocol)
                )
            )
            .mappings()
            .first()
        )

    def find_submission(self, keys: Sequence[str]) -> RowMapping | None:
        """The submission whose protocol key is one of ``keys`` (the longest when several
        are: ``procon2026000001`` rather than ``2026000001``), in one query on the key's
        unique index; ``None`` when none is."""
        if not keys:
            return None
        rows = (
            self.conn.execute(sa.select(submission_t).where(submission_t.c.protocol_key.in_(keys)))
            .mappings()
            .all()
        )
        return max(rows, key=lambda row: len(row["protocol_key"]), default=None)

    def set_submission_status(self, protocol: str, status: str, now: dt.datetime) -> bool:
        result = self.conn.execute(
            submission_t.update()
            .where(submission_t.c.protocol == protocol)
            .values(status=status, updated_at=now)
        )
        return bool(result.rowcount)

    # -- ratings --------------------------------------------------------------------
    def add_rating(
        self,
        *,
        conversation_id: int,
        department: str | None,
        score: int | None,
        scale_min: int,
        scale_max: int,
        comment: str | None,
        answers: Mapping[str, Any],
        now: dt.datetime,
        agent: str | None = None,
    ) -> int:
        return self._insert(
            "add_rating",
            {
                "conversation_id": conversation_id,
                "department": department,
                "agent": agent,
                "score": score,
                "scale_min": scale_min,
                "scale_max": scale_max,
                "comment": storable_text(comment) if comment is not None else None,
                "answers": json.dumps(answers, ensure_ascii=False),
                "created_at": now,
            },
        )

    def update_rating(
        self,
        conversation_id: int,
        *,
        comment: str | None = None,
        answers: Mapping[str, Any] | None = None,
    ) -> None:
        """Add the comment or the extra answers to a conversation's stored rating."""
        values: dict[str, Any] = {}
        if comment is not None:
            values["comment"] = storable_text(comment)
        if answers is not None:
            values["answers"] = json.dumps(answers, ensure_ascii=False)
        if values:
            prepared = self._statements.update(rating_t, tuple(values), by="conversation_id")
            self._run(prepared, {"row_id": conversation_id, **values})

    def ratings(self) -> list[RowMapping]:
        return list(self.conn.execute(sa.select(rating_t).order_by(rating_t.c.id)).mappings())

    # -- the outbox -----------------------------------------------------------------
    def inbound_message_id(self, channel: str, channel_message_id: str) -> int | None:
        """The id of the inbound message a channel already delivered, if any."""
        found = self._first(
            "message_seen", {"channel": channel, "channel_message_id": channel_message_id}
        )
        return None if found is None else int(found["id"])

    def message_conversation(self, message_id: int) -> int:
        return int(
            self.conn.execute(
                sa.select(message_t.c.conversation_id).where(message_t.c.id == message_id)
            ).scalar_one()
        )

    def add_reply(
        self,
        *,
        conversation_id: int,
        in_reply_to: int | None,
        channel: str,
        address: str,
        author: str,
        agent: str | None,
        text: str,
        payload: str,
        now: dt.datetime,
    ) -> tuple[int, int]:
        """Store an outgoing message in the log and in the outbox (pending); returns the
        ids of both (one statement on PostgreSQL, two on SQLite)."""
        message = {
            "conversation_id": conversation_id,
            "direction": "out",
            "author": author,
            "author_name": agent,
            "text": storable_text(text),
            "channel": channel,
            "created_at": now,
        }
        outbox = {
            "conversation_id": conversation_id,
            "in_reply_to": in_reply_to,
            "channel": channel,
            "address": address,
            "author": author,
            "agent": agent,
            "payload": storable_text(payload),
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        if self._statements.dialect.name == "postgresql":
            values = {f"m_{k}": v for k, v in message.items()}
            values.update({f"o_{k}": v for k, v in outbox.items()})
            outbox_id, message_id = self._run(self._statements("add_reply"), values).fetchone()
            return int(message_id), int(outbox_id)
        message_id = self._insert("add_message", {**message, "channel_message_id": None})
        outbox_id = self._insert("add_outbox", {**outbox, "message_id": message_id})
        return message_id, outbox_id

    def outbox_for(self, in_reply_to: int) -> list[Delivery]:
        """The messages stored in answer to one inbound message, in order."""
        query = (
            sa.select(outbox_t).where(outbox_t.c.in_reply_to == in_reply_to).order_by(outbox_t.c.id)
        )
        return [_delivery(row) for row in self.conn.execute(query).mappings()]

    def pending_outbox(
        self, channel: str, address: str | None = None, limit: int = 500
    ) -> list[Delivery]:
        """Messages not yet sent on ``channel`` (to ``address``), oldest first."""
        query = sa.select(outbox_t).where(
            outbox_t.c.channel == channel, outbox_t.c.status == "pending"
        )
        if address is not None:
            query = query.where(outbox_t.c.address == address)
        query = query.order_by(outbox_t.c.id).limit(limit)
        return [_delivery(row) for row in self.conn.execute(query).mappings()]

    def advance_outbox(
        self,
        ids: list[int],
        status: str,
        now: dt.datetime,
        *,
        provider_message_id: str | None = None,
        error: str | None = None,
    ) -> int:
        """Move outbox rows forward to ``status``; rows already past it are left alone
        (a "delivered" arriving after "read" changes nothing). Returns rows changed."""
        if status not in OUTBOX_ORDER:
            raise ValueError(f"unknown delivery status {status!r}")
        earlier = [name for name, rank in OUTBOX_ORDER.items() if rank < OUTBOX_ORDER[status]]
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if provider_message_id is not None:
            values["provider_message_id"] = provider_message_id
        if error is not None:
            values["error"] = storable_text(error)
        result = self.conn.execute(
            outbox_t.update()
            .where(outbox_t.c.id.in_(ids), outbox_t.c.status.in_(earlier))
            .values(**values)
        )
        return int(result.rowcount or 0)

    # -- events, agents, audit ------------------------------------------------------
    def add_event(
        self,
        *,
        conversation_id: int,
        kind: str,
        actor: str,
        department: str | None,
        note: str | None,
        now: dt.datetime,
    ) -> None:
        self._run(
            self._statements("add_event"),
            {
                "conversation_id": conversation_id,
                "kind": kind,
                "actor": actor,
                "department": department,
                "note": storable_text(note) if note else None,
                "created_at": now,
            },
        )

    def events(self, conversation_id: int) -> list[RowMapping]:
        query = (
            sa.select(event_t)
            .where(event_t.c.conversation_id == conversation_id)
            .order_by(event_t.c.id)
        )
        return list(self.conn.execute(query).mappings())

    def ensure_agent(self, name: str, now: dt.datetime) -> int:
        """The attendant's id, recording them on their first action."""
        found = self.conn.execute(sa.select(agent_t.c.id).where(agent_t.c.name == name)).scalar()
        if found is not None:
            return int(found)
        try:
            with self.conn.begin_nested():
                result = self.conn.execute(
                    agent_t.insert().values(name=name, departments="[]", created_at=now)
                )
            return _inserted_id(result)
        except sa.exc.IntegrityError:  # another worker recorded them first
            return int(
                self.conn.execute(
                    sa.select(agent_t.c.id).where(agent_t.c.name == name)
                ).scalar_one()
            )

    def agent(self, name: str) -> RowMapping | None:
        return (
            self.conn.execute(sa.select(agent_t).where(agent_t.c.name == name)).mappings().first()
        )

    def add_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        conversation_id: int | None,
        reason: str | None,
        now: dt.datetime,
    ) -> None:
        self.conn.execute(
            audit_t.insert().values(
                actor=actor,
                action=action,
                target=target,
                conversation_id=conversation_id,
                reason=storable_text(reason) if reason else None,
                created_at=now,
            )
        )

    def audits(self) -> list[RowMapping]:
        return list(self.conn.execute(sa.select(audit_t).order_by(audit_t.c.id)).mappings())

    # -- attendants' accounts and sessions (civic.accounts) ---------------------------
    def agent_record(self, name: str) -> AgentRecord | None:
        """The attendant called ``name``, with their password hash and sign-in failures."""
        row = self.conn.execute(sa.select(agent_t).where(agent_t.c.name == name)).mappings().first()
        return None if row is None else _agent_record(row)

    def agent_records(self) -> list[AgentRecord]:
        """Every attendant, by name."""
        rows = self.conn.execute(sa.select(agent_t).order_by(agent_t.c.name)).mappings()
        return [_agent_record(row) for row in rows]

    def add_agent_account(
        self,
        *,
        name: str,
        departments: tuple[str, ...],
        is_admin: bool,
        password_hash: str,
        now: dt.datetime,
    ) -> int:
        """Record a new attendant who can sign in; :class:`Conflict` when the name is taken."""
        try:
            with self.conn.begin_nested():
                result = self.conn.execute(
                    agent_t.insert().values(
                        name=name,
                        departments=json.dumps(list(departments)),
                        is_admin=is_admin,
                        active=True,
                        password_hash=password_hash,
                        created_at=now,
                        failed_logins=0,
                        password_changed_at=now,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"an attendant called {name!r} exists already") from exc
        return _inserted_id(result)

    def open_agent_account(
        self,
        agent_id: int,
        *,
        departments: tuple[str, ...],
        is_admin: bool,
        password_hash: str,
        now: dt.datetime,
    ) -> bool:
        """Give an attendant a staff action recorded (no password) an account that can sign
        in; ``False`` when they have a password already."""
        result = self.conn.execute(
            agent_t.update()
            .where(agent_t.c.id == agent_id, agent_t.c.password_hash.is_(None))
            .values(
                departments=json.dumps(list(departments)),
                is_admin=is_admin,
                active=True,
                password_hash=password_hash,
                failed_logins=0,
                locked_until=None,
                password_changed_at=now,
            )
        )
        return bool(result.rowcount)

    def set_agent_password(
        self, agent_id: int, password_hash: str, *, changed_at: dt.datetime | None
    ) -> None:
        """Store a password hash. ``changed_at`` when the password itself changed (it also
        lifts a sign-in lock); ``None`` for the same password hashed anew."""
        values: dict[str, Any] = {"password_hash": password_hash}
        if changed_at is not None:
            values.update(password_changed_at=changed_at, failed_logins=0, locked_until=None)
        self.conn.execute(agent_t.update().where(agent_t.c.id == agent_id).values(**values))

    def set_agent_active(self, agent_id: int, active: bool) -> None:
        self.conn.execute(agent_t.update().where(agent_t.c.id == agent_id).values(active=active))

    def count_sign_in_attempt(self, agent_id: int, now: dt.datetime) -> int | None:
        """One more sign-in attempt, counted as a failure until it succeeds; returns the
        failures in a row now, or ``None`` when the account is locked at ``now``
        (nothing counted). The check and the count are one statement, so attempts in
        parallel on any database see each other's counts and locks."""
        unlocked = sa.or_(agent_t.c.locked_until.is_(None), agent_t.c.locked_until <= now)
        counted = self.conn.execute(
            agent_t.update()
            .where(agent_t.c.id == agent_id, unlocked)
            .values(failed_logins=agent_t.c.failed_logins + 1)
        ).rowcount
        if not counted:
            return None
        found = self.conn.execute(
            sa.select(agent_t.c.failed_logins).where(agent_t.c.id == agent_id)
        ).scalar_one()
        return int(found)

    def lock_sign_in(self, agent_id: int, until: dt.datetime) -> None:
        self.conn.execute(
            agent_t.update().where(agent_t.c.id == agent_id).values(locked_until=until)
        )

    def clear_sign_in_failures(self, agent_id: int) -> None:
        self.conn.execute(
            agent_t.update()
            .where(agent_t.c.id == agent_id)
            .values(failed_logins=0, locked_until=None)
        )

    def add_agent_session(
        self,
        *,
        token_hash: str,
        agent_id: int,
        csrf_token: str,
        now: dt.datetime,
        expires_at: dt.datetime,
    ) -> None:
        self.conn.execute(
            agent_session_t.insert().values(
                token_hash=token_hash,
                agent_id=agent_id,
                csrf_token=csrf_token,
                created_at=now,
                expires_at=expires_at,
                last_seen_at=now,
            )
        )

    def agent_session(self, token_hash: str) -> tuple[SessionRecord, AgentRecord] | None:
        """The session whose token hashes to ``token_hash``, and its attendant."""
        s = agent_session_t.c
        query = (
            sa.select(
                s.id.label("session_id"),
                s.csrf_token,
                s.created_at.label("session_created_at"),
                s.expires_at,
                s.last_seen_at,
                agent_t,
            )
            .join_from(agent_session_t, agent_t, s.agent_id == agent_t.c.id)
            .where(s.token_hash == token_hash)
        )
        row = self.conn.execute(query).mappings().first()
        if row is None:
            return None
        session = SessionRecord(
            id=row["session_id"],
            agent_id=row["id"],
            csrf_token=row["csrf_token"],
            created_at=row["session_created_at"],
            expires_at=row["expires_at"],
            last_seen_at=row["last_seen_at"],
        )
        return session, _agent_record(row)

    def touch_agent_session(
        self, session_id: int, *, now: dt.datetime, expires_at: dt.datetime
    ) -> None:
        self.conn.execute(
            agent_session_t.update()
            .where(agent_session_t.c.id == session_id)
            .values(last_seen_at=now, expires_at=expires_at)
        )

    def delete_agent_session(self, token_hash: str) -> None:
        self.conn.execute(
            agent_session_t.delete().where(agent_session_t.c.token_hash == token_hash)
        )

    def delete_agent_sessions(self, agent_id: int) -> int:
        """End every session of one attendant; returns how many there were."""
        result = self.conn.execute(
            agent_session_t.delete().where(agent_session_t.c.agent_id == agent_id)
        )
        return int(result.rowcount or 0)

    def delete_expired_sessions(self, now: dt.datetime) -> int:
        result = self.conn.execute(
            agent_session_t.delete().where(agent_session_t.c.expires_at <= now)
        )
        return int(result.rowcount or 0)

    # -- the staff's views ----------------------------------------------------------
    def lock_conversation(self, conversation_id: int) -> RowMapping | None:
        """A conversation, locked for this transaction (PostgreSQL; SQLite's write
        transaction already excludes other writers)."""
        return (
            self.conn.execute(
                sa.select(conversation_t)
                .where(conversation_t.c.id == conversation_id)
                .with_for_update()
            )
            .mappings()
            .first()
        )

    def staff_conversations(
        self,
        *,
        department: str | None = None,
        state: str | None = None,
        agent: str | None = None,
        include_closed: bool = False,
        limit: int = 1000,
    ) -> list[RowMapping]:
        """Conversations for a staff listing: open ones (unless ``include_closed``),
        waiting the longest first."""
        query = sa.select(conversation_t)
        if department is not None:
            query = query.where(conversation_t.c.department == department)
        if state is not None:
            query = query.where(conversation_t.c.state == state)
        elif not include_closed:
            query = query.where(conversation_t.c.closed_at.is_(None))
        if agent is not None:
            query = query.where(conversation_t.c.agent == agent)
        waiting = sa.func.coalesce(conversation_t.c.handed_over_at, conversation_t.c.opened_at)
        query = query.order_by(waiting, conversation_t.c.id).limit(limit)
        return list(self.conn.execute(query).mappings())

    def messages_with_status(self, conversation_id: int) -> list[RowMapping]:
        """A conversation's messages, each outbound one with its delivery status."""
        query = (
            sa.select(message_t, outbox_t.c.status)
            .select_from(message_t.outerjoin(outbox_t, outbox_t.c.message_id == message_t.c.id))
            .where(message_t.c.conversation_id == conversation_id)
            .order_by(message_t.c.id)
        )
        return list(self.conn.execute(query).mappings())

    def submissions_of(self, conversation_id: int) -> list[RowMapping]:
        query = (
            sa.select(submission_t)
            .where(submission_t.c.conversation_id == conversation_id)
            .order_by(submission_t.c.id)
        )
        return list(self.conn.execute(query).mappings())

    # -- protocols and canned responses (civic.protocols, civic.canned) --------------
    def protocol_summaries(
        self,
        *,
        departments: tuple[str, ...] | None = None,
        status: str | None = None,
        created_from: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        text: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Protocols for the team's listing, newest first, without their answers.

        ``departments`` keeps only those (an empty tuple keeps none). ``text`` is looked
        for in the protocol number, the citizen's name and the answers (as stored: CPFs
        masked), each side folded by :func:`fold_for_search` (case, Portuguese accents);
        its ``%`` and ``_`` are taken literally.
        """
        if departments is not None and not departments:
            return []
        query = sa.select(*(submission_t.c[name] for name in _PROTOCOL_SUMMARY))
        if departments is not None:
            query = query.where(submission_t.c.department.in_(list(departments)))
        if status is not None:
            query = query.where(submission_t.c.status == status)
        if created_from is not None:
            query = query.where(submission_t.c.created_at >= created_from)
        if created_before is not None:
            query = query.where(submission_t.c.created_at < created_before)
        if text:
            pattern = "%" + _escape_like(text) + "%"
            query = query.where(
                sa.or_(
                    *(
                        _folded(self.conn, column).like(pattern, escape="\\")
                        for column in (
                            submission_t.c.protocol,
                            submission_t.c.citizen_name,
                            submission_t.c.data,
                        )
                    )
                )
            )
        query = query.order_by(submission_t.c.created_at.desc(), submission_t.c.id.desc())
        return [dict(row) for row in self.conn.execute(query.limit(limit)).mappings()]

    def lock_submission(self, protocol: str) -> dict[str, Any] | None:
        """A protocol's submission (answers not decoded), locked for this transaction
        (PostgreSQL; SQLite's write transaction already excludes other writers)."""
        row = (
            self.conn.execute(
                sa.select(submission_t)
                .where(submission_t.c.protocol_key == protocol_numbers.key(protocol))
                .with_for_update()
            )
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    def change_protocol_status(
        self,
        submission_id: int,
        *,
        from_status: str,
        to_status: str,
        actor: str,
        note_to_citizen: str | None,
        internal_note: str | None,
        now: dt.datetime,
    ) -> None:
        """Move a submission to ``to_status`` and record the change in its history."""
        self.conn.execute(
            submission_t.update()
            .where(submission_t.c.id == submission_id)
            .values(status=to_status, updated_at=now)
        )
        self.conn.execute(
            protocol_event_t.insert().values(
                submission_id=submission_id,
                actor=actor,
                from_status=from_status,
                to_status=to_status,
                note_to_citizen=storable_text(note_to_citizen) if note_to_citizen else None,
                internal_note=storable_text(internal_note) if internal_note else None,
                created_at=now,
            )
        )

    def protocol_events(self, submission_id: int) -> list[dict[str, Any]]:
        """A submission's status changes, oldest first."""
        query = (
            sa.select(protocol_event_t)
            .where(protocol_event_t.c.submission_id == submission_id)
            .order_by(protocol_event_t.c.created_at, protocol_event_t.c.id)
        )
        return [dict(row) for row in self.conn.execute(query).mappings()]

    def canned_responses(self, department: str) -> list[dict[str, Any]]:
        """A department's canned responses, by title."""
        query = (
            sa.select(canned_t)
            .where(canned_t.c.department == department)
            .order_by(canned_t.c.title, canned_t.c.id)
        )
        return [dict(row) for row in self.conn.execute(query).mappings()]

    def canned_response(self, canned_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(canned_t).where(canned_t.c.id == canned_id)).mappings()
        found = row.first()
        return None if found is None else dict(found)

    def save_canned_response(
        self,
        *,
        canned_id: int | None,
        department: str,
        title: str,
        text: str,
        updated_by: str,
        now: dt.datetime,
    ) -> int | None:
        """Add a canned response (``canned_id`` None) or replace one; returns its id,
        or ``None`` when there is no response ``canned_id`` to replace."""
        values = {
            "department": department,
            "title": storable_text(title),
            "text": storable_text(text),
            "updated_by": updated_by,
            "updated_at": now,
        }
        if canned_id is None:
            result = self.conn.execute(canned_t.insert().values(**values))
            return _inserted_id(result)
        changed = self.conn.execute(
            canned_t.update().where(canned_t.c.id == canned_id).values(**values)
        ).rowcount
        return canned_id if changed else None

    def delete_canned_response(self, canned_id: int) -> bool:
        """Delete a canned response; ``False`` when there was none."""
        result = self.conn.execute(canned_t.delete().where(canned_t.c.id == canned_id))
        return bool(result.rowcount)

    def expirable_conversations(
        self,
        *,
        idle_before: dt.datetime,
        survey_idle_before: dt.datetime,
        team_idle_before: dt.datetime | None,
        limit: int = 500,
    ) -> list[int]:
        """Open conversations quiet past the limits: no message and no staff action
        (each is re-checked on its locked row before it is closed)."""
        last = conversation_t.c.updated_at  # the last message or staff action
        team = ("waiting_human", "with_agent")
        rules = [
            sa.and_(conversation_t.c.state == "rating", last < survey_idle_before),
            sa.and_(conversation_t.c.state.not_in(("rating", *team)), last < idle_before),
        ]
        if team_idle_before is not None:
            rules.append(sa.and_(conversation_t.c.state.in_(team), last < team_idle_before))
        query = (
            sa.select(conversation_t.c.id)
            .where(conversation_t.c.closed_at.is_(None), sa.or_(*rules))
            .order_by(conversation_t.c.id)
            .limit(limit)
        )
        return [int(value) for value in self.conn.execute(query).scalars()]

    # -- channels: the inbox, sending, statuses -------------------------------------
    def add_inbox(
        self,
        channel: str,
        body: bytes,
        now: dt.datetime,
        *,
        sender: str | None = None,
        lease: dt.timedelta | None = None,
    ) -> tuple[int, bool]:
        """Store a channel's raw delivery before it is acknowledged; returns its id and
        whether the caller now holds it (to process it at once, for ``lease``).

        With a ``lease`` the caller holds the delivery, unless it has a ``sender`` with an
        earlier delivery still to process: the earlier ones come first
        (:meth:`next_inbox`). On PostgreSQL one sender's deliveries are stored one at a
        time (a transaction lock on the sender), so their ids follow the order in which
        they were committed; SQLite's write lock does the same for every delivery.
        """
        held = lease is not None
        if sender is not None:
            self.lock_sender(channel, sender)
            if held:
                waiting = self.conn.execute(
                    _SENDER_WAITING, {"channel": channel, "sender": sender}
                ).first()
                held = waiting is None
        result = self.conn.execute(
            inbox_t.insert().values(
                channel=channel,
                body=body,
                status="received",
                attempts=0,
                received_at=now,
                sender=sender,
                claimed_until=now + lease if held and lease is not None else None,
            )
        )
        return _inserted_id(result), held

    def lock_sender(self, channel: str, sender: str) -> None:
        """Until the end of this transaction, be the only one changing the sender's line
        of deliveries: storing one, taking the next, finishing one (PostgreSQL; SQLite's
        write lock already is). Take it before touching the sender's rows: every
        transaction locks in that order, so none waits for another that waits for it."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(_LOCK_SENDER, {"key": _sender_key(channel, sender)})

    def next_inbox(
        self, channel: str, sender: str, now: dt.datetime, lease: dt.timedelta
    ) -> RowMapping | None:
        """Take the sender's oldest delivery still to process, for ``lease``; ``None``
        when there is none, or another worker holds it (that worker takes the next one
        when it is done). Under the sender's lock (:meth:`lock_sender`), so a delivery
        stored meanwhile is either seen here or stored seeing this one finished."""
        self.lock_sender(channel, sender)
        row = (
            self.conn.execute(_SENDER_OLDEST, {"channel": channel, "sender": sender})
            .mappings()
            .first()
        )
        if row is None or (row["claimed_until"] is not None and row["claimed_until"] > now):
            return None
        return row if self.claim_inbox(row["id"], now, lease) else None

    def claim_inbox(self, inbox_id: int, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Hold a delivery still to process for ``lease``, unless another worker holds
        it; returns whether this worker now does."""
        taken = self.conn.execute(
            inbox_t.update()
            .where(
                inbox_t.c.id == inbox_id,
                _INBOX_RECEIVED,
                sa.or_(inbox_t.c.claimed_until.is_(None), inbox_t.c.claimed_until <= now),
            )
            .values(claimed_until=now + lease)
        ).rowcount
        return bool(taken)

    def mark_inbox(
        self, inbox_id: int, status: str, now: dt.datetime, error: str | None = None
    ) -> None:
        """``processed``, or ``dead`` with the reason (a dead letter for staff)."""
        self.conn.execute(
            inbox_t.update()
            .where(inbox_t.c.id == inbox_id)
            .values(
                status=status,
                error=storable_text(error) if error else None,
                attempts=inbox_t.c.attempts + 1,
                processed_at=now,
                claimed_until=None,
            )
        )

    def fail_inbox(self, inbox_id: int, now: dt.datetime, error: str, *, give_up_after: int) -> str:
        """Count a failed processing and let the delivery go (the next worker to look
        tries it again); after ``give_up_after`` tries it becomes a dead letter (kept,
        listed for staff). Returns its status."""
        attempts = 1 + int(
            self.conn.execute(
                sa.select(inbox_t.c.attempts).where(inbox_t.c.id == inbox_id)
            ).scalar_one()
        )
        status = "dead" if attempts >= give_up_after else "received"
        self.conn.execute(
            inbox_t.update()
            .where(inbox_t.c.id == inbox_id)
            .values(
                attempts=attempts,
                status=status,
                error=storable_text(error)[:2000],
                claimed_until=None,
            )
        )
        return status

    def inbox_item(self, inbox_id: int) -> RowMapping | None:
        return (
            self.conn.execute(sa.select(inbox_t).where(inbox_t.c.id == inbox_id)).mappings().first()
        )

    def inbox_items(
        self, status: str, *, received_before: dt.datetime | None = None, limit: int = 100
    ) -> list[RowMapping]:
        """Inbox rows with ``status`` (dead letters; deliveries not yet processed)."""
        query = sa.select(inbox_t).where(inbox_t.c.status == status)
        if received_before is not None:
            query = query.where(inbox_t.c.received_at < received_before)
        return list(self.conn.execute(query.order_by(inbox_t.c.id).limit(limit)).mappings())

    def claim_outbox(
        self, channel: str, now: dt.datetime, lease: dt.timedelta, limit: int = 20
    ) -> list[tuple[Delivery, str, str | None]]:
        """Take due pending messages of ``channel``, oldest first, for ``lease``: other
        workers skip them until it ends (a crashed sender's messages come back). Returns
        each delivery with its address and its conversation's channel data.

        A message is not taken while an earlier one to the same address is pending and
        not due (another worker holds it, or it waits to be tried again): each citizen
        gets their messages in order. On PostgreSQL the rows are locked with ``FOR
        UPDATE SKIP LOCKED``, so workers claiming at once take different rows without
        waiting for each other; SQLite's write lock makes claimers take turns.
        """
        until = now + lease
        postgres = self.conn.dialect.name == "postgresql"
        rows = list(
            self.conn.execute(
                _CLAIMABLE_LOCKED if postgres else _CLAIMABLE,
                {"channel": channel, "now": now, "limit": limit},
            ).mappings()
        )
        if postgres and rows:
            rows = self._first_in_line(channel, rows)
        if not rows:
            return []
        taken = set(
            self.conn.execute(
                outbox_t.update()
                .where(outbox_t.c.id.in_([row["id"] for row in rows]), _OUTBOX_DUE)
                .values(next_attempt_at=until)
                .returning(outbox_t.c.id),
                {"now": now},
            ).scalars()
        )
        return [
            (_delivery(row), row["address"], row["channel_data"])
            for row in rows
            if row["id"] in taken
        ]

    def _first_in_line(self, channel: str, rows: list[RowMapping]) -> list[RowMapping]:
        """The locked rows that no pending row outside them precedes on their address.
        An earlier row another worker is claiming at this very moment was skipped as
        locked: the later ones of its address wait for the next round."""
        ours = {row["id"] for row in rows}
        earlier = self.conn.execute(
            sa.select(outbox_t.c.id, outbox_t.c.address)
            .where(
                outbox_t.c.channel == channel,
                outbox_t.c.address.in_(sorted({row["address"] for row in rows})),
                outbox_t.c.status == "pending",
                outbox_t.c.id <= max(ours),
            )
            .order_by(outbox_t.c.id)
        )
        behind: set[str] = set()
        first = set()
        for outbox_id, address in earlier:
            if address in behind:
                continue
            if outbox_id in ours:
                first.add(outbox_id)
            else:
                behind.add(address)
        return [row for row in rows if row["id"] in first]

    def release_outbox(self, ids: Collection[int], claimed_until: dt.datetime) -> int:
        """Give back claimed messages this worker did not send (due again at once);
        those another worker claimed since are left alone. Returns rows released."""
        if not ids:
            return 0
        result = self.conn.execute(
            outbox_t.update()
            .where(
                outbox_t.c.id.in_(list(ids)),
                outbox_t.c.status == "pending",
                outbox_t.c.next_attempt_at == claimed_until,
            )
            .values(next_attempt_at=None)
        )
        return int(result.rowcount or 0)

    def record_attempt(
        self,
        outbox_id: int,
        now: dt.datetime,
        *,
        provider_id: str | None = None,
        error: str | None = None,
        retry_at: dt.datetime | None = None,
    ) -> None:
        """The result of one send: sent (with the provider's id, applying any status
        that arrived early), retried at ``retry_at``, or failed for good."""
        if provider_id is not None:
            self.advance_outbox([outbox_id], "sent", now, provider_message_id=provider_id)
            channel = self.conn.execute(
                sa.select(outbox_t.c.channel).where(outbox_t.c.id == outbox_id)
            ).scalar_one()
            early = list(
                self.conn.execute(
                    sa.select(early_status_t).where(
                        early_status_t.c.channel == channel,
                        early_status_t.c.provider_message_id == provider_id,
                    )
                ).mappings()
            )
            for status in early:
                self.advance_outbox([outbox_id], status["status"], now, error=status["error"])
            if early:
                self.conn.execute(
                    early_status_t.delete().where(
                        early_status_t.c.id.in_([status["id"] for status in early])
                    )
                )
            return
        values: dict[str, Any] = {
            "attempts": outbox_t.c.attempts + 1,
            "error": storable_text(error or "not sent"),
            "updated_at": now,
            "next_attempt_at": retry_at,
        }
        if retry_at is None:
            values["status"] = "failed"
        self.conn.execute(
            outbox_t.update()
            .where(outbox_t.c.id == outbox_id, outbox_t.c.status == "pending")
            .values(**values)
        )

    def outbox_attempts(self, outbox_id: int) -> int:
        return int(
            self.conn.execute(
                sa.select(outbox_t.c.attempts).where(outbox_t.c.id == outbox_id)
            ).scalar_one()
        )

    def apply_status(
        self,
        channel: str,
        provider_message_id: str,
        status: str,
        now: dt.datetime,
        error: str | None = None,
        *,
        outbox_id: int | None = None,
    ) -> bool:
        """A provider's delivery status for a message it sent; kept for later when the
        message is not recorded yet. Returns whether a message was found.

        ``outbox_id`` is the outbox row the provider names (WhatsApp echoes the
        ``biz_opaque_callback_data`` civic sent): a row of ``channel`` still pending is
        then recorded sent with ``provider_message_id``, even when its sender died
        before recording it (see :mod:`civic.delivery`)."""
        found = self.conn.execute(
            sa.select(outbox_t.c.id).where(
                outbox_t.c.channel == channel,
                outbox_t.c.provider_message_id == provider_message_id,
            )
        ).scalar()
        if found is None and outbox_id is not None:
            found = self.conn.execute(
                sa.select(outbox_t.c.id).where(
                    outbox_t.c.id == outbox_id,
                    outbox_t.c.channel == channel,
                    outbox_t.c.status == "pending",
                )
            ).scalar()
            if found is not None:
                self.advance_outbox(
                    [int(found)], "sent", now, provider_message_id=provider_message_id
                )
        if found is not None:
            if status in OUTBOX_ORDER:
                self.advance_outbox([int(found)], status, now, error=error)
            return True
        self.conn.execute(
            early_status_t.insert().values(
                channel=channel,
                provider_message_id=provider_message_id,
                status=status,
                error=storable_text(error) if error else None,
                created_at=now,
            )
        )
        return False


# -- helpers --------------------------------------------------------------------------


def _sender_key(channel: str, sender: str) -> int:
    """The second half of a sender's PostgreSQL advisory lock: a signed 32-bit hash of
    the channel and address (two senders sharing one only wait for each other)."""
    text = f"{channel}\n{sender}".encode("utf-8", "surrogatepass")
    return zlib.crc32(text) - 2**31


def _delivery(row: Row) -> Delivery:
    payload = json.loads(row["payload"])
    scale = payload.get("scale")
    reply = Reply(
        text=payload.get("text", ""),
        choices=tuple(
            Choice(str(value), str(label)) for value, label in payload.get("choices", [])
        ),
        scale=(int(scale[0]), int(scale[1]))
        if isinstance(scale, list) and len(scale) == 2
        else None,
    )
    return Delivery(
        row["id"], reply, row["author"], row["agent"], row["status"], row["conversation_id"]
    )


def _put_setting(conn: Connection, key: str, value: str) -> None:
    updated = conn.execute(
        setting_t.update().where(setting_t.c.key == key).values(value=value)
    ).rowcount
    if not updated:
        conn.execute(setting_t.insert().values(key=key, value=value))


def _unique_key_taken(exc: sa.exc.IntegrityError) -> str:
    """What a unique-key error says, without the values (PostgreSQL's ``DETAIL`` names
    them: an address, a phone): the constraint, or SQLite's message, which holds only
    column names."""
    orig: Any = exc.orig
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if constraint:
        return f"a unique key is taken: {constraint}"
    first_line = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    return first_line if "DETAIL" not in first_line else type(orig).__name__


def _connection_lost() -> sa.exc.DBAPIError:
    """The error of a transaction whose connection was lost earlier: the work may be
    tried again in a new transaction (``connection_invalidated``)."""
    return sa.exc.OperationalError(
        None, None, ConnectionError("the database connection was lost"),
        connection_invalidated=True,
    )  # fmt: skip


#: Where a connection's :class:`Transaction` is found by :func:`_before_write`.
_TRANSACTION_KEY = "civic_transaction"


def _before_write(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    """Before a statement on SQLAlchemy's path: a lazy savepoint waiting for a write is
    taken first. Every statement there counts (reads too): on PostgreSQL a failed read
    aborts the transaction, and only a savepoint taken before it can undo that."""
    tx = conn.info.get(_TRANSACTION_KEY)
    if tx is not None:
        tx.open_pending()


#: How long a SQLite transaction waits for another process's write lock, by default.
BUSY_TIMEOUT_MS = 30000


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No ping per checkout (a round trip per message): a connection found dead is
    # invalidated when a statement fails (Transaction._lost), and the work is tried again.
    return {"pool_pre_ping": False}


#: How SQLite makes a commit durable: ``normal`` (the default: in WAL mode a commit
#: survives a crash of civic, and a power cut may lose the last commits, never corrupt the
#: database) or ``full`` (an fsync per commit: survives a power cut, costs a disk flush
#: per message). https://www.sqlite.org/pragma.html#pragma_synchronous
SYNCHRONOUS_ENV = "CIVIC_SQLITE_SYNCHRONOUS"
_SYNCHRONOUS = ("normal", "full")


def sqlite_synchronous() -> str:
    """The SQLite ``synchronous`` setting from :data:`SYNCHRONOUS_ENV` (``normal`` when
    unset); :class:`StorageError` for any other value."""
    value = os.environ.get(SYNCHRONOUS_ENV, "").strip().lower() or "normal"
    if value not in _SYNCHRONOUS:
        raise StorageError(f"{SYNCHRONOUS_ENV}={value!r} is not one of: {', '.join(_SYNCHRONOUS)}")
    return value


def _tune_sqlite(engine: Engine, synchronous: str = "normal") -> None:
    """WAL, ``synchronous``, foreign keys, a busy timeout; write transactions are
    ``BEGIN IMMEDIATE`` (:meth:`Storage.transaction`) so workers never deadlock."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("civic_driver_transaction"):
            return  # Storage.transaction began it on the driver's connection
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("civic_immediate") else "BEGIN")


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def _stored_revision(conn: Connection) -> tuple[str | None, bool]:
    """The database's schema revision (``None`` when it is empty), and whether it comes
    from the schema version of civic before Alembic (no ``alembic_version`` yet)."""
    inspector = sa.inspect(conn)
    if inspector.has_table("alembic_version"):
        found = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
        if len(found) > 1:  # branches: not civic's straight line of revisions
            raise migrations.UnknownRevision(" ".join(sorted(found)))
        if found:
            return str(found[0]), False
    if inspector.has_table(setting_t.name):
        version = conn.execute(
            sa.select(setting_t.c.value).where(setting_t.c.key == LEGACY_VERSION_KEY)
        ).scalar()
        if version:
            if not version.isdigit():
                raise migrations.UnknownRevision(version)
            return migrations.revision_id(int(version)), True
    return None, False


def _sqlite_file(url: sa.URL) -> Path | None:
    """The database file of a SQLite URL; ``None`` in memory or for a ``file:`` URI."""
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _make_owner_only(path: Path) -> None:
    """Keep a SQLite database readable by its owner only (0600).

    A new file is created owner-only before SQLite would create it with the umask's
    mode; an existing one, and its ``-wal`` and ``-shm`` companions, lose any group and
    other permissions (SQLite gives companions it creates the database file's mode).
    Problems are logged, not raised: connecting reports an unusable file better.
    """
    try:
        if path.parent.is_dir():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        log.warning("cannot create %s owner-only: %s", path, exc)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                file.chmod(mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot make %s readable by its owner only: %s", file, exc)


# -- encryption at rest ---------------------------------------------------------------

#: The columns that hold Fernet tokens (see civic.crypto), as (table, column).
ENCRYPTED_COLUMNS = ((citizen_t, "cpf_encrypted"), (submission_t, "secret_data"))


def rotate_encrypted(tx: Transaction, rotate: Callable[[str], str], *, batch: int = 500) -> int:
    """Replace every encrypted value with ``rotate(value)``; return how many there were.

    Used by ``civic keys rotate`` with :meth:`civic.crypto.Vault.rotate`. Rows are read
    ``batch`` at a time in id order, so memory stays flat; everything happens in ``tx``,
    so a value no key opens leaves every row as it was.
    """
    count = 0
    for table, name in ENCRYPTED_COLUMNS:
        column = table.c[name]
        update = (
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values({name: sa.bindparam("token")})
        )
        last_id = -1
        while True:
            rows = tx.conn.execute(
                sa.select(table.c.id, column)
                .where(column.is_not(None), table.c.id > last_id)
                .order_by(table.c.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            tokens = [{"row_id": row_id, "token": rotate(value)} for row_id, value in rows]
            tx.conn.execute(update, tokens)
            count += len(rows)
            last_id = rows[-1][0]
    return count


# -- reports --------------------------------------------------------------------------
# Aggregates behind `civic report` and `civic export`. Every figure is computed by the
# database (GROUP BY, index walks) so only one small row per group and score reaches
# Python, whatever the number of ratings. The same statements run on SQLite and
# PostgreSQL; the few dialect differences are isolated in `_report_key`. Reports read;
# they never write. A report over a million conversations must stay within a second,
# so the figures of a whole report (no grouping) are read along indexes: counts from
# narrow indexes, medians from the stored durations (civic.durations) walked in order.

#: The ways a report can split its figures; each maps a conversation to one group key.
REPORT_GROUPINGS = ("department", "day", "week", "month", "agent")
#: Group key of conversations without a department, and of ratings without an agent.
NO_DEPARTMENT = "(none)"
BOT_AGENT = "(bot)"
#: The ends a median duration can be measured to, and the stored column of each
#: (:mod:`civic.durations` says where each duration starts and ends).
DURATION_ENDS = durations.COLUMNS


@attrs.frozen
class ReportFilter:
    """Which conversations a report query covers: opened between ``since`` and ``until``
    (inclusive days in ``timezone``), of ``department`` when given."""

    since: dt.date | None = None
    until: dt.date | None = None
    department: str | None = None
    timezone: str = "UTC"


def _report_key(dialect: str, by: str, timezone: str = "UTC") -> sa.ColumnElement[Any]:
    """The group key of one conversation (a string) for the grouping ``by``; days, weeks
    and months are the city's, in ``timezone``."""
    opened = _local_wall_clock(dialect, conversation_t.c.opened_at, timezone)
    if by == "department":
        return sa.func.coalesce(conversation_t.c.department, NO_DEPARTMENT)
    if by == "agent":  # the attendant who had the conversation, else the one rated
        return sa.func.coalesce(conversation_t.c.agent, rating_t.c.agent, BOT_AGENT)
    if dialect == "sqlite":
        if by == "day":
            return sa.func.strftime("%Y-%m-%d", opened)
        if by == "week":  # the ISO week's Monday
            return sa.func.date(opened, "weekday 0", "-6 days")
        if by == "month":
            return sa.func.strftime("%Y-%m", opened)
    else:
        if by == "day":
            return sa.func.to_char(opened, "YYYY-MM-DD")
        if by == "week":
            return sa.func.to_char(sa.func.date_trunc("week", opened), "YYYY-MM-DD")
        if by == "month":
            return sa.func.to_char(opened, "YYYY-MM")
    raise ValueError(f"unknown grouping {by!r}; expected one of {', '.join(REPORT_GROUPINGS)}")


def _local_wall_clock(dialect: str, column: Any, timezone: str) -> Any:
    """The column as a wall-clock timestamp in ``timezone``.

    PostgreSQL converts each value with the zone's rules. SQLite has no time zones, so
    the zone's current UTC offset is applied to every value: exact for zones without
    daylight saving time (Brazil has none since 2019), approximate for others.
    """
    if dialect == "sqlite":
        if timezone == "UTC":
            return column
        offset = dt.datetime.now(zoneinfo.ZoneInfo(timezone)).utcoffset() or dt.timedelta()
        return sa.func.datetime(column, f"{int(offset.total_seconds() // 60):+d} minutes")
    impl = getattr(column.type, "impl", column.type)
    return sa.func.timezone(timezone, column) if getattr(impl, "timezone", False) else column


def _day_start(day: dt.date, timezone: str) -> dt.datetime:
    """The first instant of ``day`` in ``timezone``."""
    return dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(timezone))


def _report_where(only: ReportFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a :class:`ReportFilter` on the conversation table."""
    where: list[sa.ColumnElement[bool]] = []
    if only.since is not None:
        where.append(conversation_t.c.opened_at >= _day_start(only.since, only.timezone))
    if only.until is not None:
        end = _day_start(only.until + dt.timedelta(days=1), only.timezone)
        where.append(conversation_t.c.opened_at < end)
    if only.department is not None:
        where.append(conversation_t.c.department == only.department)
    return where


def _report_select(
    dialect: str,
    by: tuple[str, ...],
    columns: list[sa.ColumnElement[Any]],
    only: ReportFilter,
    *,
    with_rating: bool = False,
) -> sa.Select[Any]:
    """SELECT keys..., columns... FROM conversation [LEFT JOIN rating], filtered and grouped.

    The rating is joined only when ``with_rating`` or grouping by agent needs it.
    """
    keys = [_report_key(dialect, name, only.timezone).label(f"key{i}") for i, name in enumerate(by)]
    source: Any = conversation_t
    if with_rating or "agent" in by:
        source = conversation_t.outerjoin(
            rating_t, rating_t.c.conversation_id == conversation_t.c.id
        )
    query = sa.select(*keys, *columns).select_from(source)
    query = query.where(*_report_where(only))
    return query.group_by(*keys) if keys else query


def report_conversation_counts(
    tx: Transaction,
    *,
    by: tuple[str, ...] = (),
    only: ReportFilter = ReportFilter(),
) -> list[tuple[Any, ...]]:
    """``(keys..., conversations, contacts, abandoned)`` per group; contacts are distinct
    citizens, abandoned the conversations closed by expiry."""
    c = conversation_t.c
    is_abandoned = c.close_reason == sa.literal_column("'abandoned'")  # the partial index's
    if not by:  # each count along its own narrow index, not one pass over the table
        where = _report_where(only)
        citizens = sa.select(c.citizen_id).where(*where, c.citizen_id.is_not(None)).distinct()
        counts = (
            sa.select(sa.func.count()).select_from(conversation_t).where(*where),
            sa.select(sa.func.count()).select_from(citizens.subquery()),
            sa.select(sa.func.count()).select_from(conversation_t).where(*where, is_abandoned),
        )
        together = sa.select(*(count.scalar_subquery() for count in counts))
        return [tuple(row) for row in tx.conn.execute(together)]
    abandoned = sa.func.count(sa.case((is_abandoned, 1)))
    query = _report_select(
        tx.conn.dialect.name,
        by,
        [sa.func.count(), sa.func.count(sa.distinct(c.citizen_id)), abandoned],
        only,
    )
    return [tuple(row) for row in tx.conn.execute(query)]


def report_score_counts(
    tx: Transaction,
    *,
    by: tuple[str, ...] = (),
    only: ReportFilter = ReportFilter(),
) -> list[tuple[Any, ...]]:
    """``(keys..., scale_min, scale_max, score, count)`` for every score given."""
    scale = [rating_t.c.scale_min, rating_t.c.scale_max, rating_t.c.score]
    if not by and only == ReportFilter(timezone=only.timezone):
        # Every rating is counted: no need to join its conversation (a foreign key
        # guarantees it exists); ix_rating_score holds everything counted, in order.
        every = sa.select(*scale, sa.func.count()).where(rating_t.c.score.is_not(None))
        return [tuple(row) for row in tx.conn.execute(every.group_by(*scale))]
    query = _report_select(
        tx.conn.dialect.name,
        by,
        [*scale, sa.func.count()],
        only,
        with_rating=True,
    )
    query = query.where(rating_t.c.score.is_not(None)).group_by(*scale)
    return [tuple(row) for row in tx.conn.execute(query)]


def report_answer_counts(
    tx: Transaction,
    keys: Sequence[str],
    *,
    counted_only: Collection[str] = (),
    by: tuple[str, ...] = (),
    only: ReportFilter = ReportFilter(),
) -> list[tuple[Any, ...]]:
    """``(group keys..., question, value, count)``: how often each answer was given to
    each of the survey's extra questions ``keys`` (the rating's ``answers``).

    ``value`` is the answer as text: ``true``/``false`` for a yes-or-no, a number as
    JSON writes it (``5``, ``4.5``), a choice's string as it is; ``None`` for the
    questions of ``counted_only`` (free text: only how many answered is counted, never
    what). A missing or ``null`` answer is not counted.
    """
    if not keys:
        return []
    dialect = tx.conn.dialect.name
    if dialect == "sqlite":
        each: sa.FromClause = sa.func.json_each(rating_t.c.answers).table_valued(
            "key", "value", "type"
        )
        text: sa.ColumnElement[Any] = sa.case(
            (each.c.type == "true", "true"),
            (each.c.type == "false", "false"),
            else_=sa.cast(each.c.value, sa.Text),
        )
        present = each.c.type != "null"
    else:
        from sqlalchemy.dialects.postgresql import JSONB

        each = (
            sa.func.jsonb_each_text(sa.cast(rating_t.c.answers, JSONB))
            .table_valued("key", "value")
            .lateral()
        )
        text = each.c.value
        present = each.c.value.is_not(None)
    free = list(counted_only)
    value = sa.case((each.c.key.in_(free), sa.null()), else_=text) if free else text
    source = conversation_t.join(rating_t, rating_t.c.conversation_id == conversation_t.c.id)
    answers = (
        sa.select(
            *(
                _report_key(dialect, name, only.timezone).label(f"key{i}")
                for i, name in enumerate(by)
            ),
            each.c.key.label("question"),
            value.label("answer"),
        )
        .select_from(source.join(each, sa.true()))
        .where(*_report_where(only), each.c.key.in_(list(keys)), present)
        .subquery()
    )  # grouped outside, so PostgreSQL sees plain columns
    columns = [answers.c[f"key{i}"] for i in range(len(by))]
    columns += [answers.c.question, answers.c.answer]
    query = sa.select(*columns, sa.func.count()).group_by(*columns)
    return [tuple(row) for row in tx.conn.execute(query)]


def report_submission_counts(
    tx: Transaction,
    *,
    by: tuple[str, ...] = (),
    only: ReportFilter = ReportFilter(),
) -> list[tuple[Any, ...]]:
    """``(keys..., submissions)``: forms submitted in the conversations of each group."""
    query = _report_select(
        tx.conn.dialect.name,
        by,
        [sa.func.count(submission_t.c.id)],
        only,
    )
    query = query.join(submission_t, submission_t.c.conversation_id == conversation_t.c.id)
    return [tuple(row) for row in tx.conn.execute(query)]


# -- protocols: the team's search, and the report's protocol figures ------------------
# Protocols are counted in the conversations a report covers, grouped like every figure.
# Searching folds case and the accents of Portuguese in the database, the same way on
# PostgreSQL (translate) and SQLite (whose lower() knows ASCII only, and whose parser
# refuses 48 nested replace() calls: a Python function registered on the connection).

protocol_event_t = _table(tables.ProtocolEvent)
canned_t = _table(tables.CannedResponse)
_PROTOCOL_SUMMARY = (
    "protocol", "department", "form", "status", "created_at", "updated_at",
    "citizen_name", "conversation_id",
)  # fmt: skip
_ACCENTED = "ÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑáàâãäéèêëíìîïóòôõöúùûüçñ"
_PLAIN = "AAAAAEEEEIIIIOOOOOUUUUCNaaaaaeeeeiiiiooooouuuucn"
_UNACCENT = str.maketrans(_ACCENTED, _PLAIN)


def fold_for_search(text: str) -> str:
    """``text`` as the protocol search compares it: Portuguese accents removed, lower case."""
    return text.translate(_UNACCENT).lower()


def _fold_or_null(text: str | None) -> str | None:
    return None if text is None else fold_for_search(text)


def _folded(conn: Connection, column: Any) -> Any:
    """``column`` folded in the database as :func:`fold_for_search` folds in Python."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.create_function("civic_fold", 1, _fold_or_null, deterministic=True)
        return sa.func.civic_fold(column)
    return sa.func.lower(sa.func.translate(column, _ACCENTED, _PLAIN))


def _escape_like(needle: str) -> str:
    """A folded needle for ``LIKE ... ESCAPE '\\'``, its wildcards taken literally."""
    folded = fold_for_search(needle)
    return folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def report_protocol_counts(
    tx: Transaction,
    *,
    by: tuple[str, ...] = (),
    only: ReportFilter = ReportFilter(),
) -> list[tuple[Any, ...]]:
    """``(keys..., status, protocols)``: protocols filed in the conversations of each
    group, by their current status."""
    query = _report_select(
        tx.conn.dialect.name, by, [submission_t.c.status, sa.func.count(submission_t.c.id)], only
    )
    query = query.join(submission_t, submission_t.c.conversation_id == conversation_t.c.id)
    return [tuple(row) for row in tx.conn.execute(query.group_by(submission_t.c.status))]


def _local_day(dialect: str, column: Any, timezone: str) -> Any:
    """The city's day of a timestamp (text ``YYYY-MM-DD`` on SQLite, a date elsewhere)."""
    local = _local_wall_clock(dialect, column, timezone)
    return sa.func.date(local) if dialect == "sqlite" else sa.cast(local, sa.Date)


def _days_after(dialect: str, day: Any, days: Any) -> Any:
    """The day ``days`` after ``day`` (both as :func:`_local_day` gives them)."""
    if dialect == "sqlite":
        return sa.func.date(day, sa.func.printf("%+d days", days))
    return day + days


def report_deadline_counts(
    tx: Transaction,
    deadlines: Mapping[str, int],
    today: dt.date,
    *,
    by: tuple[str, ...] = (),
    only: ReportFilter = ReportFilter(),
) -> list[tuple[Any, ...]]:
    """``(keys..., due, met)`` over the protocols of departments with a deadline.

    A protocol's deadline is its department's ``deadlines[slug]`` days after the city's
    day it was filed (``timezone`` of ``only``); the last day counts as within, as
    Lei 9.784/1999 art. 66 counts (the first day excluded, the last included). It is
    *met* when its first ``answered`` event falls on or before that day; it is *due*
    when it was answered, or when the deadline ended before ``today`` without an answer.
    Protocols still within their deadline and unanswered are in neither.
    """
    dialect = tx.conn.dialect.name
    if not deadlines:
        return [] if by else [(0, 0)]
    first_answer = (
        sa.select(
            protocol_event_t.c.submission_id,
            sa.func.min(protocol_event_t.c.created_at).label("answered_at"),
        )
        .where(protocol_event_t.c.to_status == "answered")
        .group_by(protocol_event_t.c.submission_id)
        .subquery()
    )
    days = sa.case(dict(deadlines), value=submission_t.c.department)
    last_day = _days_after(
        dialect, _local_day(dialect, submission_t.c.created_at, only.timezone), days
    )
    answered_day = _local_day(dialect, first_answer.c.answered_at, only.timezone)
    answered = first_answer.c.answered_at.is_not(None)
    settled = submission_t.c.status.in_(("answered", "closed"))  # before events were kept
    overdue = sa.and_(sa.not_(answered), sa.not_(settled), last_day < sa.literal(today, sa.Date))
    due = sa.func.count(sa.case((sa.and_(days.is_not(None), sa.or_(answered, overdue)), 1)))
    met = sa.func.count(sa.case((sa.and_(days.is_not(None), answered_day <= last_day), 1)))
    query = (
        _report_select(dialect, by, [due, met], only)
        .join(submission_t, submission_t.c.conversation_id == conversation_t.c.id)
        .outerjoin(first_answer, first_answer.c.submission_id == submission_t.c.id)
    )
    return [tuple(row) for row in tx.conn.execute(query)]


def report_comments(
    tx: Transaction, *, only: ReportFilter = ReportFilter(), limit: int = 10
) -> list[tuple[dt.datetime, str | None, str]]:
    """``(rated_at, department, comment)``: the latest survey comments of the
    conversations covered, newest first (as stored: CPFs were masked when written)."""
    query = (
        sa.select(rating_t.c.created_at, conversation_t.c.department, rating_t.c.comment)
        .select_from(
            conversation_t.join(rating_t, rating_t.c.conversation_id == conversation_t.c.id)
        )
        .where(*_report_where(only), rating_t.c.comment.is_not(None), rating_t.c.comment != "")
        .order_by(rating_t.c.created_at.desc(), rating_t.c.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1], str(row[2])) for row in tx.conn.execute(query)]


def report_median_seconds(
    tx: Transaction,
    end: str,
    *,
    by: tuple[str, ...] = (),
    only: ReportFilter = ReportFilter(),
) -> list[tuple[Any, ...]]:
    """``(keys..., median)``: the median duration to ``end`` per group, in seconds.

    ``end`` is one of :data:`DURATION_ENDS` (:mod:`civic.durations` says where each
    duration starts and ends); conversations that have not reached it are left out, and
    so are groups where none has. The median is what :func:`statistics.median` gives: the
    middle duration, or the mean of the two middle ones.

    Durations are stored and indexed, so a median is read, not sorted: the whole
    report's (and each department's, along the index that starts with the department)
    is the middle row of the index, reached by ``ORDER BY ... LIMIT 2 OFFSET (n - 1) / 2``.
    Other groupings number each group's durations in order (a window) and average the
    middle ones: a sort, of the conversations the report covers.
    """
    seconds = conversation_t.c[DURATION_ENDS[end]]
    known = [*_report_where(only), seconds.is_not(None)]
    if not by:
        return [(_median(tx, seconds, known),)]
    if by == ("department",):
        department = conversation_t.c.department
        groups = [(slug, department == slug) for slug in _departments(tx, known)]
        groups.append((NO_DEPARTMENT, department.is_(None)))
        found = [(key, _median(tx, seconds, [*known, same])) for key, same in groups]
        return [(key, median) for key, median in found if median is not None]
    dialect = tx.conn.dialect.name
    keys = [_report_key(dialect, name, only.timezone) for name in by]
    ranked = (
        _report_select(
            dialect,
            by,
            [
                seconds.label("seconds"),
                sa.func.row_number().over(partition_by=keys, order_by=seconds).label("rank"),
                sa.func.count().over(partition_by=keys).label("size"),
            ],
            only,
        )
        .where(seconds.is_not(None))
        .group_by(None)  # one row per conversation: the window does the grouping
        .subquery()
    )
    middle = sa.and_(
        ranked.c.rank >= (ranked.c.size + 1) // 2, ranked.c.rank <= (ranked.c.size + 2) // 2
    )
    out_keys = [ranked.c[f"key{i}"] for i in range(len(by))]
    query = sa.select(*out_keys, sa.func.avg(ranked.c.seconds)).where(middle).group_by(*out_keys)
    return [(*row[:-1], _float(row[-1])) for row in tx.conn.execute(query)]


def _median(
    tx: Transaction, seconds: sa.Column[Any], where: list[sa.ColumnElement[bool]]
) -> float | None:
    """The median of ``seconds`` over the conversations matching ``where`` (which holds
    ``seconds IS NOT NULL``), ``None`` when there are none.

    One statement, so the count and the rows it points to come from one snapshot: count
    the rows, skip the first ``(n - 1) // 2`` along the index on ``seconds`` and read
    two, then keep one of them when ``n`` is odd.
    """
    counted = sa.select(seconds).where(*where)
    if tx.conn.dialect.name == "postgresql":
        # PostgreSQL prices counting along the index above scanning the table, which
        # reads several times the pages; asked for the rows in order, it walks the index.
        counted = counted.order_by(seconds)
    size = sa.select(sa.func.count().label("n")).select_from(counted.subquery()).cte()
    middle = (
        sa.select(seconds, sa.select(size.c.n).scalar_subquery())
        .where(*where)
        .order_by(seconds)
        .limit(2)
        .offset(sa.select((size.c.n - 1) // 2).scalar_subquery())
    )
    rows = tx.conn.execute(middle).all()
    if not rows:
        return None
    values = [float(value) for value, _ in rows[: 2 - rows[0][1] % 2]]
    return sum(values) / len(values)


def _departments(tx: Transaction, where: Sequence[sa.ColumnElement[bool]] = ()) -> list[str]:
    """The departments of the conversations matching ``where``, sorted.

    A skip scan: each step asks the index that starts with the department for the next
    department after the last one found, so a handful of departments cost a handful of
    index lookups, not a pass over every conversation.
    """
    department = conversation_t.c.department
    found = (
        sa.select(sa.func.min(department).label("department"))
        .where(*where)
        .cte("found", recursive=True)
    )
    following = sa.select(sa.func.min(department)).where(*where, department > found.c.department)
    steps = found.union_all(
        sa.select(following.scalar_subquery()).where(found.c.department.is_not(None))
    )
    query = sa.select(steps.c.department).where(steps.c.department.is_not(None))
    return [str(value) for value in tx.conn.execute(query).scalars()]


def report_departments(tx: Transaction) -> list[str]:
    """Every department that has at least one conversation, sorted."""
    return _departments(tx)


def report_opened_range(
    tx: Transaction, *, department: str | None = None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last ``opened_at`` (of one department's conversations, if given)."""
    query = sa.select(
        sa.func.min(conversation_t.c.opened_at), sa.func.max(conversation_t.c.opened_at)
    ).where(*_report_where(ReportFilter(department=department)))
    first, last = tx.conn.execute(query).one()
    return _datetime(first), _datetime(last)


def export_conversation_rows(
    tx: Transaction,
    *,
    only: ReportFilter = ReportFilter(),
    batch: int = 1000,
) -> Iterator[RowMapping]:
    """Stream one row per conversation, oldest first, ``batch`` rows at a time.

    Rows carry the conversation's times, department, its rating (if any, with its
    ``answers`` as stored: JSON text) and ``protocols``: its submissions' protocol
    numbers separated by spaces (or ``None``).
    PostgreSQL uses a server-side cursor, so memory stays flat on any number of rows.
    """
    protocols = (
        sa.select(sa.func.aggregate_strings(submission_t.c.protocol, " "))
        .where(submission_t.c.conversation_id == conversation_t.c.id)
        .scalar_subquery()
        .label("protocols")
    )
    query = (
        sa.select(
            conversation_t.c.id.label("conversation_id"),
            protocols,
            conversation_t.c.department,
            conversation_t.c.channel,
            conversation_t.c.opened_at,
            conversation_t.c.first_response_at,
            conversation_t.c.closed_at,
            rating_t.c.agent,
            rating_t.c.score,
            rating_t.c.scale_min,
            rating_t.c.scale_max,
            rating_t.c.comment,
            rating_t.c.answers,
        )
        .select_from(
            conversation_t.outerjoin(rating_t, rating_t.c.conversation_id == conversation_t.c.id)
        )
        .where(*_report_where(only))
        .order_by(conversation_t.c.opened_at, conversation_t.c.id)
    )
    result = tx.conn.execution_options(yield_per=batch).execute(query)
    yield from result.mappings()


def insert_rows(tx: Transaction, table: str, rows: list[Mapping[str, Any]]) -> None:
    """Insert many rows into ``table`` in one executemany (seeding tests, benchmarks).

    Conversations get their stored durations from their times, as the engine stores them
    (:func:`civic.durations.durations`), unless a row gives them.
    """
    if table == conversation_t.name:
        rows = [{**durations.durations({}, row), **row} for row in rows]
    if rows:
        tx.conn.execute(SQLModel.metadata.tables[table].insert(), rows)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _datetime(value: Any) -> dt.datetime | None:
    """A datetime from a MIN/MAX result (SQLite returns text for aggregates)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


# -- citizens' rights and retention (civic.rights, civic.retention) ----------------------
# What the LGPD's data-subject rights (art. 18) and retention (art. 16) need: everything
# held about one citizen, and anonymising it in place. Rows are kept and only their
# personal contents replaced, so every count and score of the reports stays as it was.

#: The address an anonymised conversation gets (``~anon-<id>``): no phone is left, and
#: purges recognise what is already done.
ANONYMOUS_ADDRESS = "~anon-"
#: The ``cpf_hash`` prefix of a forgotten citizen: no CPF can be recognised again.
FORGOTTEN_HASH = "forgotten:"
#: Statuses of inbox deliveries that were handled (``received`` ones are still to do).
_HANDLED_INBOX = ("processed", "dead")


def citizen_by_hash(tx: Transaction, cpf_hash: str) -> dict[str, Any] | None:
    """The citizen whose CPF has this keyed hash (``None``: unknown, or forgotten)."""
    query = sa.select(citizen_t).where(citizen_t.c.cpf_hash == cpf_hash)
    found = tx.conn.execute(query).mappings().first()
    return None if found is None else dict(found)


def citizen_conversation_ids(tx: Transaction, citizen_id: int) -> list[int]:
    """The conversations of a citizen, oldest first: those in which they identified
    themselves, and those from the same channel addresses in which nobody did (a phone is
    its owner's; a conversation another citizen identified in is that citizen's)."""
    c = conversation_t.c
    addresses = sa.select(c.channel, c.address).where(c.citizen_id == citizen_id)
    query = (
        sa.select(c.id)
        .where(
            sa.or_(
                c.citizen_id == citizen_id,
                sa.and_(c.citizen_id.is_(None), sa.tuple_(c.channel, c.address).in_(addresses)),
            )
        )
        .order_by(c.id)
    )
    return [int(row_id) for row_id in tx.conn.execute(query).scalars()]


def rows_where_in(
    tx: Transaction, table_name: str, column: str, values: Collection[Any]
) -> list[dict[str, Any]]:
    """Every row of ``table_name`` whose ``column`` is one of ``values``, in id order."""
    if not values:
        return []
    table = SQLModel.metadata.tables[table_name]
    query = sa.select(table).where(table.c[column].in_(list(values))).order_by(table.c.id)
    return [dict(row) for row in tx.conn.execute(query).mappings()]


def audits_about(
    tx: Transaction, citizen_id: int, conversation_ids: Collection[int], protocols: Collection[str]
) -> list[dict[str, Any]]:
    """The audit entries about a citizen: their CPF revealed, their conversations' and
    protocols' protected data seen, their own requests (show, export, forget)."""
    a = audit_t.c
    targets = [f"citizen:{citizen_id}", *(f"protocol:{p}" for p in protocols)]
    about = [a.target.in_(targets)]
    if conversation_ids:
        about.append(a.conversation_id.in_(list(conversation_ids)))
    query = sa.select(audit_t).where(sa.or_(*about)).order_by(a.id)
    return [dict(row) for row in tx.conn.execute(query).mappings()]


def anonymise_citizen(tx: Transaction, citizen_id: int, *, token: str, placeholder: str) -> None:
    """Make a citizen's row a tombstone: no name, no CPF in any form. The row stays, so
    reports still count one citizen where there was one; ``token`` (random) keeps the
    ``cpf_hash`` column unique and unrecognisable."""
    tx.conn.execute(
        citizen_t.update()
        .where(citizen_t.c.id == citizen_id)
        .values(
            name=placeholder,
            cpf_hash=FORGOTTEN_HASH + token,
            cpf_masked="***.***.***-**",
            cpf_encrypted=None,
        )
    )


def anonymise_conversations(
    tx: Transaction,
    conversation_ids: Collection[int],
    *,
    placeholder: str,
    scrub: Callable[[str], str],
) -> dict[str, int]:
    """Replace the personal contents of these conversations, keeping every row.

    The conversation loses its address (the phone), the name given in it, what the
    channel kept and its context; every message and outbound text becomes
    ``placeholder`` (channel message ids, which can encode the phone, are dropped; a
    delivery still pending is failed); forms' answers are emptied, keeping the protocol's
    number, department, form, status and dates; the survey comment is deleted, the score
    and the answers to the city's questions kept (``scrub`` applied to them); notes of
    events and protocol changes and the audit's reasons go through ``scrub``. Returns how
    many rows of each kind changed.
    """
    ids = list(conversation_ids)
    if not ids:
        return {}
    c, m, o = conversation_t.c, message_t.c, outbox_t.c
    anonymous = sa.literal(ANONYMOUS_ADDRESS) + sa.cast(c.id, sa.String)
    counts: dict[str, int] = {}
    counts["conversations"] = tx.conn.execute(
        conversation_t.update()
        .where(c.id.in_(ids))
        .values(address=anonymous, citizen_name=None, channel_data=None, context="{}")
    ).rowcount
    counts["messages"] = tx.conn.execute(
        message_t.update()
        .where(
            m.conversation_id.in_(ids),
            sa.or_(m.text != placeholder, m.channel_message_id.is_not(None)),
        )
        .values(text=placeholder, channel_message_id=None)
    ).rowcount
    payload = json.dumps({"text": placeholder, "choices": []}, ensure_ascii=False)
    tx.conn.execute(
        outbox_t.update()
        .where(o.conversation_id.in_(ids), o.status == "pending")
        .values(status="failed", error="anonymised")
    )
    tx.conn.execute(
        outbox_t.update()
        .where(o.conversation_id.in_(ids))
        .values(
            payload=payload,
            address=sa.literal(ANONYMOUS_ADDRESS) + sa.cast(o.conversation_id, sa.String),
            provider_message_id=None,
            error=sa.case((o.error.is_(None), sa.null()), else_="anonymised"),
        )
    )
    counts["submissions"] = tx.conn.execute(
        submission_t.update()
        .where(submission_t.c.conversation_id.in_(ids))
        .values(data="{}", secret_data=None, citizen_name=None)
    ).rowcount
    submission_ids = sa.select(submission_t.c.id).where(submission_t.c.conversation_id.in_(ids))
    _scrub_column(
        tx,
        protocol_event_t,
        "note_to_citizen",
        protocol_event_t.c.submission_id.in_(submission_ids),
        scrub,
    )
    _scrub_column(
        tx,
        protocol_event_t,
        "internal_note",
        protocol_event_t.c.submission_id.in_(submission_ids),
        scrub,
    )
    _scrub_column(tx, event_t, "note", event_t.c.conversation_id.in_(ids), scrub)
    counts["ratings"] = tx.conn.execute(
        rating_t.update()
        .where(rating_t.c.conversation_id.in_(ids), rating_t.c.comment.is_not(None))
        .values(comment=None)
    ).rowcount
    _scrub_column(tx, rating_t, "answers", rating_t.c.conversation_id.in_(ids), scrub)
    return counts


def scrub_audits(tx: Transaction, audit_ids: Collection[int], scrub: Callable[[str], str]) -> None:
    """Pass the reasons of these audit entries through ``scrub`` (the entries stay: who
    saw what is the controller's record, LGPD art. 37)."""
    if audit_ids:
        _scrub_column(tx, audit_t, "reason", audit_t.c.id.in_(list(audit_ids)), scrub)


def _scrub_column(
    tx: Transaction,
    table: sa.Table,
    column: str,
    where: sa.ColumnElement[bool],
    scrub: Callable[[str], str],
) -> None:
    """Rewrite ``column`` as ``scrub`` returns it, in the rows ``where`` selects."""
    rows = tx.conn.execute(
        sa.select(table.c.id, table.c[column]).where(where, table.c[column].is_not(None))
    ).all()
    changed = [
        {"row_id": row_id, "value": new} for row_id, value in rows if (new := scrub(value)) != value
    ]
    if changed:
        tx.conn.execute(
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values({column: sa.bindparam("value")}),
            changed,
        )


def delete_deliveries_from(
    tx: Transaction, addresses: Collection[tuple[str, str]], *, before: dt.datetime | None = None
) -> int:
    """Delete the handled inbox deliveries (the channel's raw bodies) sent from these
    ``(channel, address)`` pairs, by sender or, for a delivery that names none, by the
    address found in its body; only those received ``before`` when given."""
    if not addresses:
        return 0
    i = inbox_t.c
    handled: list[sa.ColumnElement[bool]] = [i.status.in_(_HANDLED_INBOX)]
    if before is not None:
        handled.append(i.received_at < before)
    pairs = list(addresses)
    deleted = tx.conn.execute(
        inbox_t.delete().where(*handled, sa.tuple_(i.channel, i.sender).in_(pairs))
    ).rowcount
    by_channel: dict[str, list[bytes]] = {}
    for channel, address in pairs:
        by_channel.setdefault(channel, []).append(address.encode("utf-8"))
    for channel, needles in by_channel.items():
        last_id = -1
        while True:  # deliveries naming no sender: look inside, 500 at a time
            rows = tx.conn.execute(
                sa.select(i.id, i.body)
                .where(*handled, i.channel == channel, i.sender.is_(None), i.id > last_id)
                .order_by(i.id)
                .limit(500)
            ).all()
            if not rows:
                break
            last_id = rows[-1][0]
            doomed = [row_id for row_id, body in rows if any(n in bytes(body) for n in needles)]
            if doomed:
                deleted += tx.conn.execute(inbox_t.delete().where(i.id.in_(doomed))).rowcount
    return deleted


def retention_departments(tx: Transaction) -> list[str | None]:
    """Every department a conversation or protocol was in (``None``: none reached)."""
    query = sa.union(sa.select(conversation_t.c.department), sa.select(submission_t.c.department))
    found = {row[0] for row in tx.conn.execute(query)}
    return sorted(found, key=lambda d: (d is not None, d or ""))


def _department_is(
    column: sa.ColumnElement[str | None], department: str | None
) -> sa.ColumnElement[bool]:
    """``column`` is ``department`` (``IS NULL`` for none)."""
    return column.is_(None) if department is None else column == department


def _expired_conversations(department: str | None, before: dt.datetime) -> Any:
    """The closed conversations of ``department`` closed ``before``, not anonymised yet."""
    c = conversation_t.c
    return sa.select(c.id).where(
        _department_is(c.department, department),
        c.closed_at.is_not(None),
        c.closed_at < before,
        sa.not_(c.address.startswith(ANONYMOUS_ADDRESS, autoescape=True)),
    )


def purge_messages(
    tx: Transaction,
    department: str | None,
    before: dt.datetime,
    *,
    placeholder: str,
    dry_run: bool,
) -> int:
    """Anonymise the conversations of ``department`` closed ``before`` (messages, phone,
    name, raw deliveries) as :func:`anonymise_conversations` does, except their forms and
    ratings (those have periods of their own). Returns how many conversations."""
    ids = [
        int(row_id)
        for row_id in tx.conn.execute(_expired_conversations(department, before)).scalars()
    ]
    if dry_run or not ids:
        return len(ids)
    c, m, o = conversation_t.c, message_t.c, outbox_t.c
    for chunk in _chunks(ids):
        addresses = tx.conn.execute(sa.select(c.channel, c.address).where(c.id.in_(chunk))).all()
        delete_deliveries_from(tx, [(ch, a) for ch, a in addresses], before=before)
        tx.conn.execute(
            conversation_t.update()
            .where(c.id.in_(chunk))
            .values(
                address=sa.literal(ANONYMOUS_ADDRESS) + sa.cast(c.id, sa.String),
                citizen_name=None,
                channel_data=None,
                context="{}",
            )
        )
        tx.conn.execute(
            message_t.update()
            .where(m.conversation_id.in_(chunk))
            .values(text=placeholder, channel_message_id=None)
        )
        tx.conn.execute(
            outbox_t.update()
            .where(o.conversation_id.in_(chunk))
            .values(
                payload=json.dumps({"text": placeholder, "choices": []}, ensure_ascii=False),
                address=sa.literal(ANONYMOUS_ADDRESS) + sa.cast(o.conversation_id, sa.String),
                provider_message_id=None,
            )
        )
    return len(ids)


def purge_submissions(
    tx: Transaction, department: str | None, before: dt.datetime, *, dry_run: bool
) -> int:
    """Empty the answers of ``department``'s protocols unchanged since ``before`` whose
    conversation is closed; their number, form, status and dates stay. Returns how many."""
    s, c = submission_t.c, conversation_t.c
    closed = sa.select(c.id).where(c.closed_at.is_not(None))
    where = [
        _department_is(s.department, department),
        s.updated_at < before,
        s.conversation_id.in_(closed),
        sa.or_(s.data != "{}", s.secret_data.is_not(None), s.citizen_name.is_not(None)),
    ]
    if dry_run:
        count = sa.select(sa.func.count()).select_from(submission_t).where(*where)
        return int(tx.conn.execute(count).scalar_one())
    return int(
        tx.conn.execute(
            submission_t.update()
            .where(*where)
            .values(data="{}", secret_data=None, citizen_name=None)
        ).rowcount
    )


def purge_ratings(
    tx: Transaction, department: str | None, before: dt.datetime, *, dry_run: bool
) -> int:
    """Delete the survey comments of ``department``'s ratings given ``before`` (the
    score and the answers to the city's questions stay). Returns how many."""
    r, c = rating_t.c, conversation_t.c
    mine = sa.select(c.id).where(_department_is(c.department, department), c.closed_at.is_not(None))
    where = [r.conversation_id.in_(mine), r.created_at < before, r.comment.is_not(None)]
    if dry_run:
        count = sa.select(sa.func.count()).select_from(rating_t).where(*where)
        return int(tx.conn.execute(count).scalar_one())
    return int(tx.conn.execute(rating_t.update().where(*where).values(comment=None)).rowcount)


def purge_citizens(tx: Transaction, before: dt.datetime, *, placeholder: str, dry_run: bool) -> int:
    """Make tombstones (:func:`anonymise_citizen`) of the citizens last seen ``before``
    who have no open conversation. Returns how many."""
    import secrets

    ct, c = citizen_t.c, conversation_t.c
    open_ = sa.select(c.citizen_id).where(c.closed_at.is_(None), c.citizen_id.is_not(None))
    query = sa.select(ct.id).where(
        ct.last_seen_at < before,
        ct.id.not_in(open_),
        sa.not_(ct.cpf_hash.startswith(FORGOTTEN_HASH, autoescape=True)),
    )
    ids = [int(row_id) for row_id in tx.conn.execute(query).scalars()]
    if not dry_run:
        for citizen_id in ids:
            anonymise_citizen(tx, citizen_id, token=secrets.token_hex(16), placeholder=placeholder)
    return len(ids)


def purge_deliveries(tx: Transaction, before: dt.datetime, *, dry_run: bool) -> int:
    """Delete the handled inbox deliveries received ``before``. Returns how many."""
    i = inbox_t.c
    where = [i.status.in_(_HANDLED_INBOX), i.received_at < before]
    if dry_run:
        return int(
            tx.conn.execute(
                sa.select(sa.func.count()).select_from(inbox_t).where(*where)
            ).scalar_one()
        )
    return int(tx.conn.execute(inbox_t.delete().where(*where)).rowcount)


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
