"""Every SQL statement civic runs.

The engine and the CLI talk to :class:`Storage`; plugins never do. Statements are
SQLAlchemy Core on the SQLModel tables of :mod:`civic.tables`, so the per-message path
stays cheap and the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlmodel import SQLModel

from civic import tables

log = logging.getLogger(__name__)

conversation_t = tables.Conversation.__table__
message_t = tables.Message.__table__
citizen_t = tables.Citizen.__table__
submission_t = tables.Submission.__table__
counter_t = tables.ProtocolCounter.__table__
rating_t = tables.Rating.__table__
setting_t = tables.Setting.__table__


class StorageError(RuntimeError):
    """The database cannot be opened or upgraded; the message says why."""


def utcnow() -> dt.datetime:
    """The current time as naive UTC, the form every timestamp is stored in."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def to_storage_time(value: dt.datetime) -> dt.datetime:
    """Convert an aware datetime to naive UTC; naive values are taken as UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def storable_text(text: str) -> str:
    """Text as the database can keep it: PostgreSQL refuses NUL characters."""
    return text.replace("\x00", "\ufffd")


# -- schema versions ------------------------------------------------------------------
# Each migration upgrades the schema by one version, inside one transaction. Version 1
# creates every table; later versions must only ALTER, so data is never lost. We keep this
# small runner instead of Alembic: civic owns a handful of tables, needs upgrades to run
# unattended on `civic` start-up on both SQLite and PostgreSQL, and plugins own no tables.


def _create_all(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn, tables=[t.__table__ for t in _TABLES])


_TABLES = (
    tables.Setting,
    tables.Citizen,
    tables.Conversation,
    tables.Message,
    tables.Submission,
    tables.ProtocolCounter,
    tables.Rating,
)

MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_create_all,)
SCHEMA_VERSION = len(MIGRATIONS)


class Storage:
    """A civic database. Create with a SQLAlchemy URL; :meth:`migrate` before use."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            self.engine: Engine = sa.create_engine(url, echo=echo, **_engine_options(url))
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StorageError(f"cannot use database URL {_safe_url(url)!r}: {exc}") from None
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        self._writer = self.engine.execution_options(civic_immediate=True)

    def __repr__(self) -> str:
        return f"<Storage {_safe_url(self.url)}>"

    def close(self) -> None:
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------
    def schema_version(self) -> int:
        """The schema version of the database (0 when it is empty)."""
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table(setting_t.name):
                    return 0
                value = conn.execute(
                    sa.select(setting_t.c.value).where(setting_t.c.key == "schema_version")
                ).scalar()
        except sa.exc.OperationalError as exc:
            raise StorageError(f"cannot open database {_safe_url(self.url)}: {exc.orig}") from None
        return int(value or 0)

    def migrate(self) -> int:
        """Bring the schema up to date; return the number of migrations applied."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"database {_safe_url(self.url)} has schema version {current}, newer than "
                f"this civic ({SCHEMA_VERSION}); upgrade civic"
            )
        for version in range(current, SCHEMA_VERSION):
            with self._writer.begin() as conn:
                MIGRATIONS[version](conn)
                _put_setting(conn, "schema_version", str(version + 1))
            log.info("database upgraded to schema version %d", version + 1)
        return SCHEMA_VERSION - current

    # -- transactions ---------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One write transaction: committed when the block ends, rolled back on error."""
        with self._writer.begin() as conn:
            yield Transaction(conn)

    @contextmanager
    def reading(self) -> Iterator[Transaction]:
        """A read-only view (never commits anything)."""
        with self.engine.connect() as conn:
            yield Transaction(conn)
            conn.rollback()


class Transaction:
    """The statements of one unit of work, bound to one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- settings -------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        return self.conn.execute(
            sa.select(setting_t.c.value).where(setting_t.c.key == key)
        ).scalar()

    def put_setting(self, key: str, value: str) -> None:
        _put_setting(self.conn, key, value)

    # -- messages -------------------------------------------------------------------
    def message_seen(self, channel: str, channel_message_id: str) -> bool:
        found = self.conn.execute(
            sa.select(message_t.c.id).where(
                message_t.c.channel == channel,
                message_t.c.channel_message_id == channel_message_id,
            )
        ).first()
        return found is not None

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
        result = self.conn.execute(
            message_t.insert().values(
                conversation_id=conversation_id,
                direction=direction,
                author=author,
                author_name=author_name,
                text=storable_text(text),
                channel=channel,
                channel_message_id=channel_message_id,
                created_at=created_at,
            )
        )
        return int(result.inserted_primary_key[0])

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
    def open_conversation(self, channel: str, address: str) -> RowMapping | None:
        """The address's open conversation, locked for this transaction (PostgreSQL)."""
        return (
            self.conn.execute(
                sa.select(conversation_t)
                .where(
                    conversation_t.c.channel == channel,
                    conversation_t.c.address == address,
                    conversation_t.c.closed_at.is_(None),
                )
                .with_for_update()
            )
            .mappings()
            .first()
        )

    def conversation(self, conversation_id: int) -> RowMapping | None:
        return (
            self.conn.execute(sa.select(conversation_t).where(conversation_t.c.id == conversation_id))
            .mappings()
            .first()
        )

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
        result = self.conn.execute(
            conversation_t.insert().values(
                channel=channel,
                address=address,
                state=state,
                department=pinned_department,
                pinned_department=pinned_department,
                context="{}",
                opened_at=now,
                updated_at=now,
            )
        )
        return int(result.inserted_primary_key[0])

    def update_conversation(self, conversation_id: int, **values: Any) -> None:
        if "context" in values and not isinstance(values["context"], str):
            values["context"] = json.dumps(values["context"], ensure_ascii=False)
        self.conn.execute(
            conversation_t.update().where(conversation_t.c.id == conversation_id).values(**values)
        )

    # -- citizens -------------------------------------------------------------------
    def upsert_citizen(
        self, *, name: str, cpf_hash: str, cpf_masked: str, now: dt.datetime
    ) -> tuple[int, bool]:
        """Find the citizen by CPF hash (updating the name) or create one.

        Returns the citizen's id and whether they were already known.
        """
        found = self.conn.execute(
            sa.select(citizen_t.c.id).where(citizen_t.c.cpf_hash == cpf_hash)
        ).scalar()
        if found is not None:
            self.conn.execute(
                citizen_t.update()
                .where(citizen_t.c.id == found)
                .values(name=storable_text(name), last_seen_at=now)
            )
            return int(found), True
        result = self.conn.execute(
            citizen_t.insert().values(
                name=storable_text(name),
                cpf_hash=cpf_hash,
                cpf_masked=cpf_masked,
                created_at=now,
                last_seen_at=now,
            )
        )
        return int(result.inserted_primary_key[0]), False

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
    ) -> int:
        result = self.conn.execute(
            submission_t.insert().values(
                conversation_id=conversation_id,
                department=department,
                form=form,
                protocol=protocol,
                status="received",
                data=json.dumps(data, ensure_ascii=False),
                created_at=now,
                updated_at=now,
            )
        )
        return int(result.inserted_primary_key[0])

    def submission(self, protocol: str) -> RowMapping | None:
        return (
            self.conn.execute(sa.select(submission_t).where(submission_t.c.protocol == protocol))
            .mappings()
            .first()
        )

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
        result = self.conn.execute(
            rating_t.insert().values(
                conversation_id=conversation_id,
                department=department,
                agent=agent,
                score=score,
                scale_min=scale_min,
                scale_max=scale_max,
                comment=storable_text(comment) if comment is not None else None,
                answers=json.dumps(answers, ensure_ascii=False),
                created_at=now,
            )
        )
        return int(result.inserted_primary_key[0])

    def ratings(self) -> list[RowMapping]:
        return list(self.conn.execute(sa.select(rating_t).order_by(rating_t.c.id)).mappings())


# -- helpers --------------------------------------------------------------------------


def _put_setting(conn: Connection, key: str, value: str) -> None:
    updated = conn.execute(
        setting_t.update().where(setting_t.c.key == key).values(value=value)
    ).rowcount
    if not updated:
        conn.execute(setting_t.insert().values(key=key, value=value))


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True}


def _tune_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE for writes so workers never deadlock."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("civic_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url
