"""The e-mail channel's threads: every mail by its Message-ID, with its conversation and subject.

- ``email_headers``: one row per mail a customer sent and per mail botdesk sent in the
  e-mail channel. A reply naming one of them (In-Reply-To/References) continues that
  conversation; botdesk's answers name the customer's latest mail under its subject;
  botdesk's own mail coming back is recognised. The rows go with their conversation
  (``ON DELETE CASCADE``), so forgetting a customer removes them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-18 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_headers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("header_id", sa.String(length=255), nullable=False),
        sa.Column("reply_to", sa.String(length=998), nullable=True),
        sa.Column("outbound", sa.Boolean(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_email_headers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_email_headers_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_headers")),
        sa.UniqueConstraint("header_id", name=op.f("uq_email_headers_header_id")),
    )
    with op.batch_alter_table("email_headers", schema=None) as batch_op:
        batch_op.create_index("ix_email_headers_conversation_id_id", ["conversation_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_email_headers_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_headers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_headers_message_id"))
        batch_op.drop_index("ix_email_headers_conversation_id_id")

    op.drop_table("email_headers")
