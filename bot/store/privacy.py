"""Personal data: forgetting one customer everywhere, and deleting conversations past retention.

Both work from the table metadata as well as from the tables named here: any table
that points at a message, a conversation or a customer (a note, a survey answer, an
editor's annotation, added later) loses its rows with what it points at, so a new
feature that quotes customers cannot keep what was meant to be deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.errors import InputRejected
from bot.store.leads import lead_key
from bot.store.models import (
    Base,
    ChannelIdentity,
    Conversation,
    ConversationState,
    Customer,
    HandoffTicket,
    Lead,
    Message,
    OutboxItem,
    OutboxStatus,
    utcnow,
)
from bot.store.rows import affected

CHUNK = 500  # ids per IN (...) list: far below every backend's parameter limit
DELIVERY_KEY = "deliver-{}"  # the outbox key of a message's channel delivery (handoff.service)
# Handled explicitly below; every other table that points at these rows loses them with them.
HANDLED = frozenset(
    {"messages", "leads", "channel_identities", "conversations", "handoff_tickets", "customers", "files"}
)
# "files": their rows lose their conversation and message (ON DELETE SET NULL) instead, so that the
# file sweep (bot.files.service) finds them and deletes the bytes with the rows.
# Someone is answering these: retention never deletes them under an operator's hands.
LIVE_STATES = (ConversationState.QUEUED, ConversationState.OPERATOR, ConversationState.AFTER_HOURS)


class UnknownCustomer(InputRejected):
    """There is no customer with that id."""


@dataclass(frozen=True)
class Forgotten:
    """What ``forget_customer`` removed: counts only, for the audit log."""

    customer_id: int
    messages: int
    leads: int
    identities: int
    outbox_items: int
    other_rows: int = 0  # notes, feedback, annotations: rows of other tables that quoted the customer


@dataclass(frozen=True)
class Purged:
    """What one retention pass deleted."""

    conversations: int = 0
    messages: int = 0
    customers: int = 0

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            self.conversations + other.conversations,
            self.messages + other.messages,
            self.customers + other.customers,
        )


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _dependents(target: str) -> list[tuple[Table, Any]]:
    """``(table, column)`` of every table outside ``HANDLED`` with a foreign key to ``target``."""
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in HANDLED:
            continue
        for key in table.foreign_keys:
            if key.column.table.name == target:
                found.append((table, key.parent))
    return found


async def _delete_dependents(session: AsyncSession, target: str, ids: Sequence[int]) -> int:
    removed = 0
    for table, column in _dependents(target):
        for part in chunks(ids):
            removed += affected(await session.execute(delete(table).where(column.in_(part))))
    return removed


async def _scrub_outbox(session: AsyncSession, keys: Sequence[str]) -> int:
    """Unsent work under these keys is dropped; sent work keeps its key (not redone), not its data."""
    touched = 0
    for start in range(0, len(keys), CHUNK):
        part = keys[start : start + CHUNK]
        touched += affected(
            await session.execute(
                delete(OutboxItem)
                .where(OutboxItem.idempotency_key.in_(part), OutboxItem.status != OutboxStatus.SENT)
                .execution_options(synchronize_session=False)
            )
        )
        touched += affected(
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.idempotency_key.in_(part))
                .values(payload={"forgotten": True})
                .execution_options(synchronize_session=False)
            )
        )
    return touched


async def _ids(session: AsyncSession, query: Any) -> list[int]:
    return [int(value) for value in (await session.scalars(query))]


async def _delete_in(session: AsyncSession, model: Any, column: Any, ids: Sequence[int]) -> int:
    removed = 0
    for part in chunks(ids):
        removed += affected(
            await session.execute(
                delete(model).where(column.in_(part)).execution_options(synchronize_session=False)
            )
        )
    return removed


async def forget_customer(
    session: AsyncSession, customer_id: int, *, now: datetime | None = None
) -> Forgotten:
    """Delete a customer's personal data everywhere. Commits; ``UnknownCustomer`` if there is none.

    Gone: every message (and its pending delivery), lead (and its unsent CRM push),
    channel identity, the collected slots and dialogue state, the ticket notes, and
    the rows of any other table that point at the customer, their conversations or
    their messages (operator notes, feedback, annotations). Sent outbox items keep
    only their key. What stays: the customer row with no name, phone or e-mail
    (``forgotten_at`` set) and the conversations and tickets as bare counts for the KPIs.
    """
    now = now or utcnow()
    if await session.get(Customer, customer_id) is None:
        raise UnknownCustomer(f"there is no customer {customer_id}")
    owned = select(Conversation.id).where(Conversation.customer_id == customer_id)
    conversations = await _ids(session, owned)
    messages: list[int] = []
    for part in chunks(conversations):
        messages += await _ids(session, select(Message.id).where(Message.conversation_id.in_(part)))
    leads = list((await session.scalars(select(Lead).where(Lead.customer_id == customer_id))).all())
    keys = [lead_key(lead) for lead in leads] + [DELIVERY_KEY.format(id_) for id_ in messages]
    outbox = await _scrub_outbox(session, keys)
    other = await _delete_dependents(session, "messages", messages)
    other += await _delete_dependents(session, "conversations", conversations)
    other += await _delete_dependents(session, "customers", [customer_id])
    removed_messages = await _delete_in(session, Message, Message.id, messages)
    lead_rows = await _delete_in(session, Lead, Lead.id, [lead.id for lead in leads])
    identities = affected(
        await session.execute(
            delete(ChannelIdentity)
            .where(ChannelIdentity.customer_id == customer_id)
            .execution_options(synchronize_session=False)
        )
    )
    await session.execute(
        update(Conversation)
        .where(Conversation.customer_id == customer_id)
        .values(slots={}, active_loop=None, dialogue={})
        .execution_options(synchronize_session=False)
    )
    for part in chunks(conversations):
        await session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.conversation_id.in_(part))
            .values(note={})
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(
            display_name=None,
            phone=None,
            email=None,
            phone_verified=False,
            email_verified=False,
            forgotten_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    session.expunge_all()  # objects still in the session hold what was just deleted
    return Forgotten(customer_id, removed_messages, lead_rows, identities, outbox, other)


def _expired(before: datetime) -> ColumnElement[bool]:
    """Conversations nobody has written to since ``before`` and nobody is answering now."""
    recent = exists().where(Message.conversation_id == Conversation.id, Message.created_at >= before)
    return (
        (Conversation.started_at < before)
        & (Conversation.updated_at < before)
        & Conversation.state.not_in(LIVE_STATES)
        & ~recent
    )


async def purge_expired_batch(session: AsyncSession, *, before: datetime, limit: int = CHUNK) -> Purged:
    """Delete up to ``limit`` conversations last active before ``before``, with everything in them. Commits.

    Their messages, tickets, notes and other dependent rows go; leads stay (the CRM has
    them; ``forget_customer`` removes them) but lose the link. A customer left with no
    conversation and no lead, known since before ``before``, goes too, identities included.
    """
    conversations = await _ids(session, select(Conversation.id).where(_expired(before)).limit(limit))
    if not conversations:
        return Purged()
    messages: list[int] = []
    for part in chunks(conversations):
        messages += await _ids(session, select(Message.id).where(Message.conversation_id.in_(part)))
    await _scrub_outbox(session, [DELIVERY_KEY.format(id_) for id_ in messages])
    await _delete_dependents(session, "messages", messages)
    await _delete_dependents(session, "conversations", conversations)
    removed_messages = await _delete_in(session, Message, Message.id, messages)
    for part in chunks(conversations):
        await session.execute(
            update(Lead)
            .where(Lead.conversation_id.in_(part))
            .values(conversation_id=None)
            .execution_options(synchronize_session=False)
        )
    await _delete_in(session, HandoffTicket, HandoffTicket.conversation_id, conversations)
    removed = await _delete_in(session, Conversation, Conversation.id, conversations)
    customers = await _ids(
        session,
        select(Customer.id).where(
            Customer.created_at < before,
            ~exists().where(Conversation.customer_id == Customer.id),
            ~exists().where(Lead.customer_id == Customer.id),
        ),
    )
    await _delete_dependents(session, "customers", customers)
    await _delete_in(session, ChannelIdentity, ChannelIdentity.customer_id, customers)
    gone = await _delete_in(session, Customer, Customer.id, customers)
    await session.commit()
    session.expunge_all()
    return Purged(removed, removed_messages, gone)
