"""A partial index for the recovery sweep: customer messages without an NLU result.

The sweep (bot.store.stranded) ran over every message of the last two days, once a
minute in every process; the index holds only the few messages whose turn has not run.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPARSED = "nlu IS NULL AND sender = 'customer'"


def upgrade() -> None:
    op.create_index(
        "ix_messages_unparsed",
        "messages",
        ["created_at"],
        sqlite_where=sa.text(UNPARSED),
        postgresql_where=sa.text(UNPARSED),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unparsed", table_name="messages")
