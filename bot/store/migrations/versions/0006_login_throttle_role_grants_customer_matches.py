"""Security: a login throttle shared by processes, role grants, customer match suggestions and merge audit.

- ``login_failures``: wrong passwords by login and client address (as SHA-256 digests),
  read by every server process, so N processes no longer give N times the tries.
- ``operator_role_grants``: roles an admin gave an account on top of its own (an
  operator who also edits the bot's data), with who granted them and when.
- ``customers.phone_verified`` / ``email_verified``: only contacts the channel itself
  vouches for merge customers automatically. Contacts stored before this revision were
  not told apart, so they count as unverified (typed) from now on.
- ``customer_matches``: "possibly the same customer as ..." for a typed contact.
- ``customer_merges``: the audit of every merge (who, when, why); ids only.

Written by hand after autogenerate's output, then checked against the models with
``differences`` (tests/store/test_migrations.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:18:55
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login_key", sa.String(length=64), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_login_key_failed_at", "login_failures", ["login_key", "failed_at"])
    op.create_index("ix_login_failures_address_key_failed_at", "login_failures", ["address_key", "failed_at"])
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])

    op.create_table(
        "operator_role_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("role", _enum("granted_role", "operator", "editor", "admin"), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["operators.id"],
            name=op.f("fk_operator_role_grants_granted_by_operators"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_role_grants_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_role_grants")),
        sa.UniqueConstraint("operator_id", "role", name=op.f("uq_operator_role_grants_operator_id_role")),
    )

    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(
            sa.Column("phone_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("email_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "customer_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("other_customer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", _enum("match_status", "open", "merged", "dismissed"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_matches_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_matches_other_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["operators.id"],
            name=op.f("fk_customer_matches_resolved_by_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_matches")),
        sa.UniqueConstraint(
            "customer_id",
            "other_customer_id",
            "reason",
            name=op.f("uq_customer_matches_customer_id_other_customer_id_reason"),
        ),
    )
    op.create_index("ix_customer_matches_customer_id", "customer_matches", ["customer_id"])
    op.create_index("ix_customer_matches_other_customer_id", "customer_matches", ["other_customer_id"])

    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kept_customer_id", sa.Integer(), nullable=False),
        sa.Column("merged_customer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("operator_login", sa.String(length=64), nullable=True),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_customer_merges_operator_id_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    op.create_index("ix_customer_merges_kept_customer_id", "customer_merges", ["kept_customer_id"])
    op.create_index("ix_customer_merges_merged_customer_id", "customer_merges", ["merged_customer_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_merges_merged_customer_id", table_name="customer_merges")
    op.drop_index("ix_customer_merges_kept_customer_id", table_name="customer_merges")
    op.drop_table("customer_merges")
    op.drop_index("ix_customer_matches_other_customer_id", table_name="customer_matches")
    op.drop_index("ix_customer_matches_customer_id", table_name="customer_matches")
    op.drop_table("customer_matches")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("email_verified")
        batch_op.drop_column("phone_verified")
    op.drop_table("operator_role_grants")
    op.drop_index("ix_login_failures_failed_at", table_name="login_failures")
    op.drop_index("ix_login_failures_address_key_failed_at", table_name="login_failures")
    op.drop_index("ix_login_failures_login_key_failed_at", table_name="login_failures")
    op.drop_table("login_failures")
