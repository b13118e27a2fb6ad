"""Protocol numbers looked up by their letters and digits: ``submission.protocol_key``.

A plugin may shape protocol numbers freely (``OUV/2026/7``, ``2026.0007-OUV``); the key
(``ouv20267``) is what a citizen's message is matched against, whatever the case and
separators, with one query on a unique index.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ALNUM = re.compile(r"[a-z0-9]+")


def _key(protocol: str) -> str:
    """The key of a stored number, written out here so this revision never changes."""
    text = unicodedata.normalize("NFKD", protocol.casefold())
    return "".join(_ALNUM.findall(text))[:64]


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("protocol_key", sa.String(length=64), nullable=True))
    submission = sa.table(
        "submission",
        sa.column("id", sa.Integer()),
        sa.column("protocol", sa.String()),
        sa.column("protocol_key", sa.String()),
    )
    conn = op.get_bind()
    taken: set[str] = set()
    rows = conn.execute(sa.select(submission.c.id, submission.c.protocol).order_by("id"))
    for row_id, protocol in rows.all():
        key = _key(protocol) or f"id{row_id}"
        if key in taken:  # two old numbers alike but for separators: the later one gets
            # a key of its own (the first keeps being found by the citizen's message)
            key = f"{key}id{row_id}"[-64:]
        taken.add(key)
        conn.execute(submission.update().where(submission.c.id == row_id).values(protocol_key=key))
    with op.batch_alter_table("submission") as batch:
        batch.alter_column("protocol_key", existing_type=sa.String(length=64), nullable=False)
    op.create_index("ix_submission_protocol_key", "submission", ["protocol_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_submission_protocol_key", table_name="submission")
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("protocol_key")
