"""The panel in the operator's language: each account's language and grammatical gender; quick phrases.

- ``operators.language``: the panel's language for this operator ("ru", "en"); empty
  means the bot's language from config.yml.
- ``operators.grammatical_gender``: "female" / "male", what sentences about the
  operator agree with ("Анна подключилась к чату"); empty: guessed from a Russian first
  name, else a neutral wording.
- ``quick_phrases``: operators' canned answers, managed by admins in the panel (seeded
  once from config.yml's ``operators.quick_phrases``); deleted ones keep their row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-14 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_PHRASE = "deleted_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("grammatical_gender", sa.String(length=8), nullable=True))
    op.create_table(
        "quick_phrases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shortcut", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["operators.id"],
            name=op.f("fk_quick_phrases_updated_by_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quick_phrases")),
    )
    op.create_index(
        "uq_quick_phrases_live_shortcut",
        "quick_phrases",
        ["shortcut"],
        unique=True,
        sqlite_where=sa.text(LIVE_PHRASE),
        postgresql_where=sa.text(LIVE_PHRASE),
    )


def downgrade() -> None:
    op.drop_index("uq_quick_phrases_live_shortcut", table_name="quick_phrases")
    op.drop_table("quick_phrases")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("grammatical_gender")
        batch.drop_column("language")
