"""Editor pages: annotations (proposals and applied labels) and model publications.

Written by hand after autogenerate's output, then checked against the models with
``differences`` (tests/store/test_migrations.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=4096), nullable=False),
        sa.Column(
            "action",
            _enum("annotation_action", "assign", "new_intent", "out_of_scope", "ignore"),
            nullable=False,
        ),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("response", sa.String(length=4096), nullable=True),
        sa.Column("file", sa.String(length=200), nullable=True),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            _enum("annotation_status", "proposed", "approved", "rejected", "applied"),
            nullable=False,
        ),
        sa.Column("proposed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_annotations_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"],
            ["operators.id"],
            name=op.f("fk_annotations_proposed_by_operators"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["operators.id"],
            name=op.f("fk_annotations_reviewed_by_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
    )
    op.create_index("ix_annotations_message_id", "annotations", ["message_id"])
    op.create_index("ix_annotations_status_id", "annotations", ["status", "id"])
    op.create_table(
        "model_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("previous_version", sa.String(length=64), nullable=True),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.Column("gate", sa.JSON(), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["operators.id"],
            name=op.f("fk_model_publications_published_by_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_publications")),
    )


def downgrade() -> None:
    op.drop_table("model_publications")
    op.drop_index("ix_annotations_status_id", table_name="annotations")
    op.drop_index("ix_annotations_message_id", table_name="annotations")
    op.drop_table("annotations")
