"""Durations stored on the conversation, and the indexes reports and the message path read.

``conversation.first_response_seconds`` and ``conversation.resolution_seconds`` hold the
seconds :mod:`civic.durations` describes, written when they end; existing rows are
filled here from their timestamps, to the microsecond, as the engine computes them. Partial
indexes over the known durations let a report's median walk to the middle row instead of
sorting every conversation; ``ix_conversation_abandoned`` counts expired ones and
``ix_rating_score`` the scores given, without reading either table; and
``ix_conversation_address`` finds an address's latest conversation (the after-close
lookup of every message) without a scan.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The stored columns, each with the ends of its duration for a conversation the bot
#: served and for one handed to the team (written out so this revision never changes).
DURATIONS = {
    "first_response_seconds": ("first_response_at", "agent_first_response_at"),
    "resolution_seconds": ("closed_at", "resolved_at"),
}
DURATION_INDEXES = {
    "first_response_seconds": "first_response",
    "resolution_seconds": "resolution",
}


def _seconds(dialect: str, start: str, end: str) -> str:
    """SQL for the seconds from ``start`` to ``end`` (NULL when either is), exact to the
    microsecond as Python's ``timedelta.total_seconds()`` gives them."""
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end}) - ({start}))"
    # SQLite keeps times as text, 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format):
    # whole seconds from julianday() (exact once rounded), microseconds from the text.
    whole = f"round((julianday(substr({end}, 1, 19)) - julianday(substr({start}, 1, 19))) * 86400)"
    micro = f"(CAST(substr({end}, 21, 6) AS INTEGER) - CAST(substr({start}, 21, 6) AS INTEGER))"
    return f"(CAST({whole} AS INTEGER) * 1000000 + {micro}) / 1000000.0"


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("conversation") as batch:
        for column in DURATIONS:
            batch.add_column(sa.Column(column, sa.Float(), nullable=True))
    start = "COALESCE(handed_over_at, opened_at)"
    assignments = ", ".join(
        f"{column} = "
        + _seconds(
            conn.dialect.name,
            start,
            f"CASE WHEN handed_over_at IS NULL THEN {bot_end} ELSE {team_end} END",
        )
        for column, (bot_end, team_end) in DURATIONS.items()
    )
    op.execute(f"UPDATE conversation SET {assignments}")
    for column, name in DURATION_INDEXES.items():
        known = sa.text(f"{column} IS NOT NULL")
        for index, columns in (
            (f"ix_conversation_{name}", [column, "opened_at"]),
            (f"ix_conversation_department_{name}", ["department", column, "opened_at"]),
        ):
            op.create_index(
                index, "conversation", columns, sqlite_where=known, postgresql_where=known
            )
    abandoned = sa.text("close_reason = 'abandoned'")
    op.create_index(
        "ix_conversation_abandoned",
        "conversation",
        ["opened_at"],
        sqlite_where=abandoned,
        postgresql_where=abandoned,
    )
    op.create_index("ix_conversation_address", "conversation", ["channel", "address", "id"])
    scored = sa.text("score IS NOT NULL")
    op.create_index(
        "ix_rating_score",
        "rating",
        ["scale_min", "scale_max", "score"],
        sqlite_where=scored,
        postgresql_where=scored,
    )


def downgrade() -> None:
    op.drop_index("ix_rating_score", table_name="rating")
    op.drop_index("ix_conversation_address", table_name="conversation")
    op.drop_index("ix_conversation_abandoned", table_name="conversation")
    for name in DURATION_INDEXES.values():
        op.drop_index(f"ix_conversation_department_{name}", table_name="conversation")
        op.drop_index(f"ix_conversation_{name}", table_name="conversation")
    with op.batch_alter_table("conversation") as batch:
        for column in DURATIONS:
            batch.drop_column(column)
