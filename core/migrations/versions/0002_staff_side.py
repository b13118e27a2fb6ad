"""The staff side: outbox, events, agents and audit; conversation hand-over times and
names; encrypted CPF columns; a submission's citizen.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def _conversation_columns() -> list[sa.Column[Any]]:
    """The conversation's new columns, all nullable: old rows keep working."""
    return [
        sa.Column("citizen_name", sa.Text(), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("handed_over_at", UTC_TIME, nullable=True),
        sa.Column("agent_first_response_at", UTC_TIME, nullable=True),
        sa.Column("resolved_at", UTC_TIME, nullable=True),
        sa.Column("last_citizen_at", UTC_TIME, nullable=True),
        sa.Column("close_reason", sa.String(length=16), nullable=True),
    ]


def upgrade() -> None:
    # Batch operations: plain ALTERs on PostgreSQL; on SQLite, ADD COLUMN where it can and
    # a copy of the table where it cannot (adding the submission's foreign key).
    with op.batch_alter_table("citizen") as batch:
        batch.add_column(sa.Column("cpf_encrypted", sa.Text(), nullable=True))
    with op.batch_alter_table("conversation") as batch:
        for column in _conversation_columns():
            batch.add_column(column)
        batch.create_index("ix_conversation_state", ["state", "department"])
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("secret_data", sa.Text(), nullable=True))
        batch.add_column(sa.Column("citizen_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("citizen_name", sa.Text(), nullable=True))
        batch.create_foreign_key("submission_citizen_id_fkey", "citizen", ["citizen_id"], ["id"])
        batch.create_index("ix_submission_citizen_id", ["citizen_id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("in_reply_to", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.ForeignKeyConstraint(["in_reply_to"], ["message.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_outbox_address_status", "outbox", ["channel", "address", "status"])
    op.create_index("ix_outbox_conversation_id", "outbox", ["conversation_id"])
    op.create_index("ix_outbox_in_reply_to", "outbox", ["in_reply_to"])
    op.create_index("ix_outbox_provider_message_id", "outbox", ["provider_message_id"])
    op.create_index("ix_outbox_status_due", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_event_conversation_id", "event", ["conversation_id"])

    op.create_table(
        "agent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("departments", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )

    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    for table in ("audit", "agent", "event", "outbox"):
        op.drop_table(table)
    with op.batch_alter_table("submission") as batch:
        batch.drop_index("ix_submission_citizen_id")
        batch.drop_constraint("submission_citizen_id_fkey", type_="foreignkey")
        for name in ("citizen_name", "citizen_id", "secret_data"):
            batch.drop_column(name)
    with op.batch_alter_table("conversation") as batch:
        batch.drop_index("ix_conversation_state")
        for column in reversed(_conversation_columns()):
            batch.drop_column(column.name)
    with op.batch_alter_table("citizen") as batch:
        batch.drop_column("cpf_encrypted")
