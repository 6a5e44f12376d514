"""Full-text search over conversations: a customer's name, phone or e-mail, message words, an order number.

One function, ``search_conversations``, for both databases; each uses its own full-text
index (migration 0008):

- SQLite: FTS5 tables kept by triggers (``message_search`` over the messages' text,
  ``customer_search`` over the customers' names and e-mails); every word of the query
  must appear, as a word or the start of one ("возврат" finds "возврата"), case and
  accents folded (unicode61).
- PostgreSQL: ``to_tsvector('russian', text) || to_tsvector('simple', text)``, so a word
  is found in any of its forms ("возврата" finds "возвратом": the Russian stemmer) and an
  order number or a code as typed (the simple configuration), also as a prefix; the
  customers' names and e-mails with the simple configuration.

What customers and operators wrote is searched, not the bot's canned answers (they would
match every dialogue that got the same answer). A phone is matched on its digits ("8 (912)
345-67-89" finds +79123456789) and an e-mail as a substring. The query is data: only its
words (letters and digits) reach the index, as bound parameters, never as search syntax.
Results are conversations, the most recently active first, each with the text that matched.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, TextClause, func, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import dialect_of
from bot.store.models import Conversation, ConversationLabel, Customer

log = logging.getLogger("botdesk.store.search")
MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MAX_TERM_CHARS = 50
MIN_PHONE_DIGITS = 5
SNIPPET_CHARS = 200
WORD = re.compile(r"\w+")
SEARCHED = "sender IN ('customer', 'operator')"  # as the index (migration 0008): not the bot's answers


@dataclass(frozen=True)
class Found:
    """A conversation that matched: who, where, and the text that matched (``matched``: what kind)."""

    conversation_id: int
    customer_id: int
    customer_name: str | None
    channel: str
    state: str
    started_at: datetime
    updated_at: datetime
    matched: str  # "message" or "customer"
    snippet: str


def terms_of(query: str) -> list[str]:
    """The query's words, folded, at most ``MAX_TERMS``: what reaches the index."""
    words = WORD.findall(query[:MAX_QUERY_CHARS].casefold().replace("_", " "))
    return [word[:MAX_TERM_CHARS] for word in words][:MAX_TERMS]


async def search_conversations(
    session: AsyncSession, query: str, *, label: str | None = None, limit: int = 30
) -> list[Found]:
    """Conversations whose messages or customer match every word of ``query``, newest activity first.

    Args:
        session: a reading session.
        query: what the operator typed (a name, a phone, an e-mail, words, an order number).
        label: only conversations with this label (``bot.store.labels``), in its normal form.
        limit: at most this many conversations.
    """
    terms = terms_of(query)
    if not terms:
        return []
    limit = max(1, min(limit, 100))
    hits: dict[int, tuple[str, str]] = {}  # conversation -> (what matched, its text)
    for _, conversation_id, said in await _messages(session, terms, limit * 5):
        hits.setdefault(conversation_id, ("message", said))  # newest first: its latest matching message
    for customer in await _customers(session, query, terms, limit):
        contact = " · ".join(part for part in (customer.display_name, customer.phone, customer.email) if part)
        conversations = await session.scalars(
            select(Conversation.id)
            .where(Conversation.customer_id == customer.id)
            .order_by(Conversation.id.desc())
            .limit(limit)
        )
        for conversation_id in conversations:
            hits.setdefault(conversation_id, ("customer", contact))
    if not hits:
        return []
    rows = select(Conversation, Customer).join(Customer, Customer.id == Conversation.customer_id)
    rows = rows.where(Conversation.id.in_(hits), Customer.forgotten_at.is_(None))
    if label is not None:
        rows = rows.where(
            Conversation.id.in_(
                select(ConversationLabel.conversation_id).where(
                    ConversationLabel.label == " ".join(label.split()).casefold()
                )
            )
        )
    found = (await session.execute(rows.order_by(Conversation.updated_at.desc()).limit(limit))).all()
    return [
        Found(
            conversation.id,
            customer.id,
            customer.display_name,
            conversation.channel,
            str(conversation.state),
            conversation.started_at,
            conversation.updated_at,
            hits[conversation.id][0],
            hits[conversation.id][1][:SNIPPET_CHARS],
        )
        for conversation, customer in found
    ]


async def _messages(session: AsyncSession, terms: list[str], limit: int) -> list[tuple[int, int, str]]:
    """(message id, conversation id, text) of the newest messages that have every term."""
    values: dict[str, object] = {"limit": limit}
    if dialect_of(session) == "postgresql":
        conditions = []
        for i, term in enumerate(terms):
            values[f"t{i}"] = f"{term}:*"
            conditions.append(f"(to_tsquery('russian', :t{i}) || to_tsquery('simple', :t{i}))")
        sql = (
            "SELECT id, conversation_id, text FROM messages "
            f"WHERE {SEARCHED} AND (to_tsvector('russian', text) || to_tsvector('simple', text)) @@ "
            f"({' && '.join(conditions)}) ORDER BY id DESC LIMIT :limit"
        )
    else:
        values["match"] = " ".join(f'"{term}"*' for term in terms)
        sql = (
            "SELECT m.id, m.conversation_id, m.text FROM message_search "
            "JOIN messages AS m ON m.id = message_search.rowid "
            "WHERE message_search MATCH :match ORDER BY m.id DESC LIMIT :limit"
        )
    try:
        rows = await session.execute(text(sql), values)
    except OperationalError as exc:  # a word the index's tokenizer reads as two: nothing to match
        log.debug("search terms the index cannot match: %s", type(exc).__name__)
        return []
    return [(int(i), int(c), str(t)) for i, c, t in rows.all()]


async def _customers(session: AsyncSession, query: str, terms: list[str], limit: int) -> list[Customer]:
    """Customers whose name or e-mail has every term, whose phone has the query's digits, or whose
    e-mail contains the query."""
    values: dict[str, object] = {}
    if dialect_of(session) == "postgresql":
        conditions = []
        for i, term in enumerate(terms):
            values[f"t{i}"] = f"{term}:*"
            conditions.append(f"to_tsquery('simple', :t{i})")
        by_name = text(
            "customers.id IN (SELECT id FROM customers WHERE "
            "to_tsvector('simple', coalesce(display_name, '') || ' ' || coalesce(email, '')) @@ "
            f"({' && '.join(conditions)}))"
        ).bindparams(**values)
    else:
        by_name = text(
            "customers.id IN (SELECT rowid FROM customer_search WHERE customer_search MATCH :match)"
        ).bindparams(match=" ".join(f'"{term}"*' for term in terms))
    matches: list[ColumnElement[bool] | TextClause] = [by_name]
    digits = re.sub(r"\D", "", query)
    if len(digits) >= MIN_PHONE_DIGITS:
        matches.append(Customer.phone.contains(digits[-10:], autoescape=True))  # without the country code
    if "@" in query:
        matches.append(func.lower(Customer.email).contains(query.strip().casefold(), autoescape=True))
    rows = await session.scalars(
        select(Customer)
        .where(or_(*matches), Customer.forgotten_at.is_(None))
        .order_by(Customer.id.desc())
        .limit(limit)
    )
    return list(rows.all())
