"""Deliveries in order: each inbox row names its sender, and a worker claims it.

The deliveries of one sender are processed one at a time, oldest first, whichever worker
stored them (:mod:`civic.channels.inbox`); the partial index finds a sender's deliveries
still to process.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
RECEIVED = sa.text("status = 'received'")


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("sender", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("claimed_until", UTC_TIME, nullable=True))
    op.create_index(
        "ix_inbox_sender_received",
        "inbox",
        ["channel", "sender", "id"],
        sqlite_where=RECEIVED,
        postgresql_where=RECEIVED,
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_sender_received", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("sender")
