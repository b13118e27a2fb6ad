"""The database tables, as SQLModel classes.

Only :mod:`civic.storage` uses these; plugins see :mod:`civic.values` snapshots instead.
Every time is UTC: ``timestamptz`` on PostgreSQL, ISO text on SQLite, and always an
aware ``datetime`` in Python.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Index,
    LargeBinary,
    Text,
    TextClause,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlmodel import Field, SQLModel

from civic import protocol_numbers


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A UTC timestamp: naive values are taken as UTC; values read back are aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
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
    """A person, recognised by a keyed hash of their CPF.

    The CPF is kept three ways: ``cpf_hash`` (HMAC with the instance secret) to recognise
    a returning citizen, ``cpf_masked`` for display, and ``cpf_encrypted`` (Fernet, see
    :mod:`civic.crypto`) for the staff who need it; revealing it is audited.
    """

    __tablename__ = "citizen"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(Text, nullable=False))
    cpf_hash: str = Field(max_length=64, unique=True, index=True)
    cpf_masked: str = Field(max_length=14)
    cpf_encrypted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = utc_field()
    last_seen_at: dt.datetime = utc_field()


def _where(condition: TextClause) -> dict[str, Any]:
    """A partial index's condition, on SQLite and PostgreSQL alike (``Index`` keywords)."""
    return {"sqlite_where": condition, "postgresql_where": condition}


def _duration_indexes(column: str, name: str) -> tuple[Index, Index]:
    """The indexes a report's median of ``column`` walks: overall, and per department
    (only conversations whose duration is known)."""
    known = text(f"{column} IS NOT NULL")
    return (
        Index(f"ix_conversation_{name}", column, "opened_at", **_where(known)),
        Index(
            f"ix_conversation_department_{name}", "department", column, "opened_at", **_where(known)
        ),
    )


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
        Index("ix_conversation_state", "state", "department"),
        # The address's latest conversation (open or closed), without a scan.
        Index("ix_conversation_address", "channel", "address", "id"),
        # Report medians walk these in order instead of sorting (see civic.durations);
        # opened_at lets a period be filtered inside the index.
        *_duration_indexes("first_response_seconds", "first_response"),
        *_duration_indexes("resolution_seconds", "resolution"),
        # Conversations closed by expiry, counted by reports.
        Index(
            "ix_conversation_abandoned",
            "opened_at",
            **_where(text("close_reason = 'abandoned'")),
        ),
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
    #: The name the citizen gave in this conversation (a CPF does not rename anyone).
    citizen_name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: The attendant who has the conversation (or had it when it closed).
    agent: str | None = Field(default=None, max_length=64)
    #: When the conversation was last handed to the team, and when an attendant first
    #: answered after that: the first-response time is the attendant's, not the bot's.
    handed_over_at: dt.datetime | None = utc_field(nullable=True)
    agent_first_response_at: dt.datetime | None = utc_field(nullable=True)
    #: When an attendant closed it (the resolution time runs from the hand-over).
    resolved_at: dt.datetime | None = utc_field(nullable=True)
    #: The citizen's last message, for expiry.
    last_citizen_at: dt.datetime | None = utc_field(nullable=True)
    #: Why it closed: ``completed`` (survey or goodbye), ``agent`` or ``abandoned``.
    close_reason: str | None = Field(default=None, max_length=16)
    #: What the channel needs to answer (JSON): the WhatsApp number the citizen wrote to
    #: (``account``), their phone when known, the time of their last message there.
    channel_data: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: Seconds to the first response and to the resolution (:mod:`civic.durations`),
    #: stored when they end; ``None`` until then.
    first_response_seconds: float | None = None
    resolution_seconds: float | None = None


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


def _protocol_key(context: DefaultExecutionContext) -> str:
    """The key of the protocol being inserted (the column's default)."""
    # SQLAlchemy leaves get_current_parameters unannotated.
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return protocol_numbers.key(parameters["protocol"])


class Submission(SQLModel, table=True):
    """A submitted form, with the protocol number given to the citizen."""

    __tablename__ = "submission"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    department: str = Field(max_length=64, index=True)
    form: str = Field(max_length=64)
    protocol: str = Field(max_length=64, unique=True, index=True)
    #: The protocol's letters and digits, lower-case (``civic.protocol_numbers.key``):
    #: what a citizen's message is looked up by; two numbers with one key are one. Any
    #: insert that does not give it computes it from ``protocol``.
    protocol_key: str = Field(
        max_length=64, unique=True, index=True, sa_column_kwargs={"default": _protocol_key}
    )
    status: str = Field(default="received", max_length=32)
    data: str = Field(sa_column=Column(Text, nullable=False))
    #: Answers that hold a document number (a CPF), Fernet-encrypted JSON; ``data``
    #: keeps them masked.
    secret_data: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", index=True)
    citizen_name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
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
    __table_args__ = (
        Index("ix_rating_created_at", "created_at"),
        # Reports count the scores given along it, without reading the table.
        Index(
            "ix_rating_score",
            "scale_min",
            "scale_max",
            "score",
            **_where(text("score IS NOT NULL")),
        ),
    )
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


class Outbox(SQLModel, table=True):
    """Every message civic sends, with its delivery status.

    ``status`` moves forward only: pending, sent, delivered, read (or failed).
    ``in_reply_to`` is the inbound message that caused it, when one did; an attendant's
    reply, a protocol status change or a timeout notice has none.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_address_status", "channel", "address", "status"),
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    in_reply_to: int | None = Field(default=None, foreign_key="message.id", index=True)
    channel: str = Field(max_length=32)
    address: str = Field(max_length=128)
    author: str = Field(max_length=16)  # "bot", "agent" or "system"
    agent: str | None = Field(default=None, max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # {"text", "choices"}
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = utc_field(nullable=True)
    provider_message_id: str | None = Field(default=None, max_length=128, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = utc_field()
    updated_at: dt.datetime = utc_field()


class Event(SQLModel, table=True):
    """Something that happened to a conversation besides a message: handed over, taken,
    released, transferred, closed, expired. ``actor`` is an attendant's name, ``citizen``,
    ``bot`` or ``system``."""

    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=64)
    department: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = utc_field()


class Agent(SQLModel, table=True):
    """A member of the team who answers citizens (an attendant)."""

    __tablename__ = "agent"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    departments: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON
    is_admin: bool = False
    active: bool = True
    password_hash: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = utc_field()
    #: Sign-in throttling: failures in a row, and until when sign-in is refused.
    failed_logins: int = 0
    locked_until: dt.datetime | None = utc_field(nullable=True)
    password_changed_at: dt.datetime | None = utc_field(nullable=True)


class Audit(SQLModel, table=True):
    """Who saw what: every reveal of a CPF or other protected data."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    target: str = Field(max_length=128)  # "citizen:12", "protocol:PROCON-2026-000001"
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = utc_field()


class Inbox(SQLModel, table=True):
    """A channel's raw delivery, stored before it is acknowledged: nothing acknowledged is
    ever lost. ``status`` is ``received``, ``processed`` or ``dead`` (a dead letter:
    civic could not understand it; ``civic inbox retry`` processes it again).

    ``sender`` is the citizen's address when every message of the delivery is theirs: one
    sender's deliveries are processed one at a time, in ``id`` order, by whichever worker
    holds the oldest (``claimed_until``: until when a worker holds it)."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_status", "status", "id"),
        # The deliveries of one sender still to process, oldest first.
        Index(
            "ix_inbox_sender_received",
            "channel",
            "sender",
            "id",
            sqlite_where=text("status = 'received'"),
            postgresql_where=text("status = 'received'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="received", max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = 0
    received_at: dt.datetime = utc_field()
    processed_at: dt.datetime | None = utc_field(nullable=True)
    sender: str | None = Field(default=None, max_length=128)
    claimed_until: dt.datetime | None = utc_field(nullable=True)


class EarlyStatus(SQLModel, table=True):
    """A delivery status that arrived before civic recorded the message it is about
    (kept, and applied when the message's provider id is recorded)."""

    __tablename__ = "early_status"
    __table_args__ = (Index("ix_early_status_message", "channel", "provider_message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    provider_message_id: str = Field(max_length=128)
    status: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = utc_field()


class AgentSession(SQLModel, table=True):
    """A signed-in attendant's server-side session (the cookie holds a random token; only
    its hash is stored)."""

    __tablename__ = "agent_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: dt.datetime = utc_field()
    expires_at: dt.datetime = utc_field()
    last_seen_at: dt.datetime = utc_field()


class CannedResponse(SQLModel, table=True):
    """A ready answer a department's attendants use often (an admin edits them)."""

    __tablename__ = "canned_response"
    id: int | None = Field(default=None, primary_key=True)
    department: str = Field(max_length=64, index=True)
    title: str = Field(max_length=120)
    text: str = Field(sa_column=Column(Text, nullable=False))
    updated_by: str = Field(max_length=64)
    updated_at: dt.datetime = utc_field()


class ProtocolEvent(SQLModel, table=True):
    """A change of a protocol's status, with who, when, the note sent to the citizen and
    the internal note."""

    __tablename__ = "protocol_event"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    actor: str = Field(max_length=64)
    from_status: str = Field(max_length=32)
    to_status: str = Field(max_length=32)
    note_to_citizen: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    internal_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = utc_field()
