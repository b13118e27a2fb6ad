"""The database tables, as SQLModel classes.

Only :mod:`civic.storage` uses these; plugins see :mod:`civic.values` snapshots instead.
Every time is UTC: ``timestamptz`` on PostgreSQL, ISO text on SQLite, and always an
aware ``datetime`` in Python.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, DateTime, Dialect, Index, Text, TypeDecorator, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A UTC timestamp: naive values are taken as UTC; values read back are aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite keeps no offset; we only ever store UTC
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utc_field(*, nullable: bool = False) -> Any:
    """A UTC timestamp column."""
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable)


class Setting(SQLModel, table=True):
    """Instance-wide key/value settings (schema version, secret fingerprint)."""

    __tablename__ = "civic_setting"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))


class Citizen(SQLModel, table=True):
    """A person, recognised by a keyed hash of their CPF; the CPF itself is never stored."""

    __tablename__ = "citizen"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(Text, nullable=False))
    cpf_hash: str = Field(max_length=64, unique=True, index=True)
    cpf_masked: str = Field(max_length=14)
    created_at: dt.datetime = utc_field()
    last_seen_at: dt.datetime = utc_field()


class Conversation(SQLModel, table=True):
    """One conversation on one channel address, from first message to closing."""

    __tablename__ = "conversation"
    __table_args__ = (
        # At most one open conversation per address, even with several workers.
        Index(
            "ix_conversation_open_address",
            "channel",
            "address",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_conversation_opened_at", "opened_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    address: str = Field(max_length=128)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", index=True)
    state: str = Field(max_length=32)
    department: str | None = Field(default=None, max_length=64, index=True)
    pinned_department: str | None = Field(default=None, max_length=64)
    context: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    opened_at: dt.datetime = utc_field()
    updated_at: dt.datetime = utc_field()
    first_response_at: dt.datetime | None = utc_field(nullable=True)
    closed_at: dt.datetime | None = utc_field(nullable=True)


class Message(SQLModel, table=True):
    """Every message in or out; ``author`` is citizen, bot or agent."""

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("channel", "channel_message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    direction: str = Field(max_length=3)  # "in" or "out"
    author: str = Field(max_length=16)  # "citizen", "bot" or "agent"
    author_name: str | None = Field(default=None, max_length=128)
    text: str = Field(sa_column=Column(Text, nullable=False))
    channel: str = Field(max_length=32)
    channel_message_id: str | None = Field(default=None, max_length=128)
    created_at: dt.datetime = utc_field()


class Submission(SQLModel, table=True):
    """A submitted form, with the protocol number given to the citizen."""

    __tablename__ = "submission"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    department: str = Field(max_length=64, index=True)
    form: str = Field(max_length=64)
    protocol: str = Field(max_length=64, unique=True, index=True)
    status: str = Field(default="received", max_length=32)
    data: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = utc_field()
    updated_at: dt.datetime = utc_field()


class ProtocolCounter(SQLModel, table=True):
    """The last protocol sequence number used per prefix and year."""

    __tablename__ = "protocol_counter"
    prefix: str = Field(primary_key=True, max_length=32)
    year: int = Field(primary_key=True)
    value: int = 0


class Rating(SQLModel, table=True):
    """The closing survey of one conversation; ``score`` is NULL when the citizen declined."""

    __tablename__ = "rating"
    __table_args__ = (Index("ix_rating_created_at", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", unique=True)
    department: str | None = Field(default=None, max_length=64, index=True)
    agent: str | None = Field(default=None, max_length=128)
    score: int | None = None
    scale_min: int = 0
    scale_max: int = 10
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answers: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = utc_field()
