"""Store helpers: customer turns and conversations written as the product writes them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import InboundMessage
from bot.store import (
    ChannelIdentity,
    Conversation,
    ConversationState,
    Customer,
    Database,
    Direction,
    Entered,
    Message,
    Sender,
    get_conversation,
)
from bot.store.models import utcnow


async def customer_says(
    db: Database,
    text: str,
    *,
    channel: str = "telegram",
    sender: str = "1001",
    message_id: str | None = None,
    profile: Mapping[str, Any] | None = None,
    nlu: Mapping[str, Any] | None = None,
    replies: tuple[str, ...] = (),
    now: datetime | None = None,
) -> Entered:
    """One customer message through the turn store (and the bot's ``replies``), committed."""
    now = now or utcnow()
    inbound = InboundMessage(channel, sender, text, message_id, (), dict(profile) if profile else None)
    async with db.turns.transaction() as turn:
        entered = await turn.enter(inbound, nlu=nlu, model_version=None, language="ru", now=now)
        if replies and not entered.duplicate:
            await turn.say(entered.conversation_id, replies, now)
        await turn.commit()
    return entered


async def new_conversation(
    session: AsyncSession, external_id: str = "1001", channel: str = "telegram"
) -> tuple[Customer, Conversation]:
    """A customer with one identity and an open bot conversation, committed (test data, no turn)."""
    customer = Customer(display_name="Анна")
    session.add(customer)
    await session.flush()
    session.add(
        ChannelIdentity(
            customer_id=customer.id, channel=channel, external_id=external_id, profile={"first_name": "Анна"}
        )
    )
    conversation = Conversation(
        customer_id=customer.id, channel=channel, state=ConversationState.BOT, slots={}
    )
    session.add(conversation)
    await session.commit()
    return customer, conversation


async def reload(session: AsyncSession, conversation_id: int) -> Conversation:
    """The conversation as the database has it now (store functions write through Core statements)."""
    found = await get_conversation(session, conversation_id)
    assert found is not None
    return found


async def inbound(
    session: AsyncSession, conversation: Conversation, text: str, *, created_at: datetime | None = None
) -> Message:
    """A customer message as test data (the turn store is how the product writes one), committed."""
    message = Message(
        conversation_id=conversation.id,
        direction=Direction.IN,
        sender=Sender.CUSTOMER,
        text=text,
        attachments=[],
        created_at=created_at or utcnow(),
    )
    session.add(message)
    await session.commit()
    return message


async def add_customer(
    session: AsyncSession, channel: str, external_id: str, profile: Mapping[str, Any] | None = None
) -> Customer:
    """A customer known in one channel, as test data (no turn, nothing committed)."""
    from bot.store.customers import display_name_of

    customer = Customer(display_name=display_name_of(profile or {}))
    session.add(customer)
    await session.flush()
    session.add(
        ChannelIdentity(
            customer_id=customer.id, channel=channel, external_id=external_id, profile=dict(profile or {})
        )
    )
    await session.flush()
    return customer


async def add_conversation(session: AsyncSession, customer: Customer, channel: str) -> Conversation:
    """An open bot conversation of ``customer``, as test data (nothing committed)."""
    conversation = Conversation(
        customer_id=customer.id, channel=channel, state=ConversationState.BOT, slots={}
    )
    session.add(conversation)
    await session.flush()
    return conversation
