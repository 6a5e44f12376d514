"""Labels on dialogues, full-text search over conversations, the pickups index of the queue's estimate.

- ``conversation_labels``: the labels operators put on a dialogue (one row per label).
- Full-text search (``bot.store.search``) over what customers and operators wrote (not the
  bot's canned answers: they would match every dialogue, and indexing them would double a
  turn's write cost): on SQLite, FTS5 tables kept by triggers — ``message_search`` over
  ``messages.text`` and ``customer_search`` over the customers' names and e-mails
  (external content: the text is not stored twice); on PostgreSQL, partial GIN indexes
  over ``to_tsvector('russian', text) || to_tsvector('simple', text)`` (word forms and
  exact tokens such as order numbers) and over the customers' names. The FTS tables and
  the expression indexes are not in the models (``bot.store.migrate.SEARCH_OBJECTS``).
- ``ix_handoff_tickets_pickups``: a department's latest pickups (the wait estimate).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGES_VECTOR = "(to_tsvector('russian', text) || to_tsvector('simple', text))"
NAMES_VECTOR = "to_tsvector('simple', coalesce(display_name, '') || ' ' || coalesce(email, ''))"

SEARCHED = "sender IN ('customer', 'operator')"  # the bot's canned answers would match every one

NAMED = "({row}.display_name IS NOT NULL OR {row}.email IS NOT NULL)"  # a nameless customer: nothing to find

SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE message_search USING fts5(text, content='messages', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', detail=none, columnsize=0)",
    f"CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.{SEARCHED} BEGIN "
    "INSERT INTO message_search(rowid, text) VALUES (new.id, new.text); END",
    f"CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN old.{SEARCHED} BEGIN "
    "INSERT INTO message_search(message_search, rowid, text) VALUES ('delete', old.id, old.text); END",
    f"CREATE TRIGGER message_search_update AFTER UPDATE OF text ON messages WHEN old.{SEARCHED} BEGIN "
    "INSERT INTO message_search(message_search, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO message_search(rowid, text) VALUES (new.id, new.text); END",
    f"INSERT INTO message_search(rowid, text) SELECT id, text FROM messages WHERE {SEARCHED}",
    "CREATE VIRTUAL TABLE customer_search USING fts5(display_name, email, content='customers', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2', detail=none, columnsize=0)",
    f"CREATE TRIGGER customer_search_insert AFTER INSERT ON customers WHEN {NAMED.format(row='new')} BEGIN "
    "INSERT INTO customer_search(rowid, display_name, email) "
    "VALUES (new.id, new.display_name, new.email); END",
    f"CREATE TRIGGER customer_search_delete AFTER DELETE ON customers WHEN {NAMED.format(row='old')} BEGIN "
    "INSERT INTO customer_search(customer_search, rowid, display_name, email) "
    "VALUES ('delete', old.id, old.display_name, old.email); END",
    "CREATE TRIGGER customer_search_update AFTER UPDATE OF display_name, email ON customers BEGIN "
    "INSERT INTO customer_search(customer_search, rowid, display_name, email) "
    f"SELECT 'delete', old.id, old.display_name, old.email WHERE {NAMED.format(row='old')}; "
    "INSERT INTO customer_search(rowid, display_name, email) "
    f"SELECT new.id, new.display_name, new.email WHERE {NAMED.format(row='new')}; END",
    "INSERT INTO customer_search(rowid, display_name, email) "
    f"SELECT id, display_name, email FROM customers WHERE {NAMED.format(row='customers')}",
]


def upgrade() -> None:
    op.create_table(
        "conversation_labels",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_labels_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_conversation_labels_operator_id_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "label", name=op.f("pk_conversation_labels")),
    )
    op.create_index("ix_conversation_labels_label", "conversation_labels", ["label", "conversation_id"])
    op.create_index("ix_handoff_tickets_pickups", "handoff_tickets", ["department_id", "claimed_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX ix_messages_search ON messages USING gin ({MESSAGES_VECTOR}) WHERE {SEARCHED}"
        )
        op.execute(f"CREATE INDEX ix_customers_search ON customers USING gin ({NAMES_VECTOR})")
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_customers_search")
        op.execute("DROP INDEX ix_messages_search")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER customer_search_{trigger}")
            op.execute(f"DROP TRIGGER message_search_{trigger}")
        op.execute("DROP TABLE customer_search")
        op.execute("DROP TABLE message_search")
    op.drop_index("ix_handoff_tickets_pickups", table_name="handoff_tickets")
    op.drop_index("ix_conversation_labels_label", table_name="conversation_labels")
    op.drop_table("conversation_labels")
