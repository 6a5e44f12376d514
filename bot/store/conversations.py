"""Conversations and their messages: persist first, answer second."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import dialect_of
from bot.store.errors import InputRejected, MessageTooLong, StoreError
from bot.store.models import (
    MAX_MESSAGE_CHARS,
    Conversation,
    ConversationState,
    Customer,
    Direction,
    HandoffTicket,
    Message,
    Sender,
    TicketStatus,
    utcnow,
)
from bot.store.rows import affected

MAX_CHANNEL_MESSAGE_ID_CHARS = 255


class HistoryEntry(NamedTuple):
    """A message with the channel it came through (a customer may use several)."""

    message: Message
    channel: str


def check_text(text: str) -> None:
    """Refuse text the store cannot keep faithfully: too long, binary, broken Unicode."""
    if not isinstance(text, str):
        raise InputRejected(f"a message text must be a string, got {type(text).__name__}")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageTooLong(
            f"the message is {len(text)} characters long; the limit is {MAX_MESSAGE_CHARS} characters"
        )
    if "\x00" in text:
        raise InputRejected("the message contains a NUL character; binary data is not a text message")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputRejected("the message is not valid Unicode text (lone surrogate characters)") from None


def check_channel_message_id(value: str | None) -> None:
    if value is not None and (not value or len(value) > MAX_CHANNEL_MESSAGE_ID_CHARS or "\x00" in value):
        raise InputRejected(f"a channel message id must be 1 to {MAX_CHANNEL_MESSAGE_ID_CHARS} characters")


async def open_conversation(
    session: AsyncSession, customer: Customer, channel: str, *, language: str | None = None
) -> Conversation:
    """The customer's latest conversation on ``channel`` that is not closed, or a new one.

    On PostgreSQL the customer's row is locked first, so two messages arriving at once
    in two server processes cannot open two conversations. Does not commit.
    """
    if dialect_of(session) == "postgresql":
        await session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    found = await session.execute(
        select(Conversation)
        .where(
            Conversation.customer_id == customer.id,
            Conversation.channel == channel,
            Conversation.state != ConversationState.CLOSED,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    conversation = found.scalar_one_or_none()
    if conversation is None:
        conversation = Conversation(customer_id=customer.id, channel=channel, language=language, slots={})
        session.add(conversation)
        await session.flush()
    return conversation


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    """The conversation as the database has it now (another session may have changed it)."""
    return await session.get(Conversation, conversation_id, populate_existing=True)


async def close_conversation(
    session: AsyncSession, conversation: Conversation, *, now: datetime | None = None
) -> None:
    """Close it: the customer's next message opens a new conversation. Does not commit."""
    conversation.state = ConversationState.CLOSED
    conversation.closed_at = now or utcnow()
    conversation.active_loop = None
    await session.flush()


async def store_inbound(
    session: AsyncSession,
    conversation: Conversation,
    text: str,
    channel_message_id: str | None = None,
    attachments: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Message, bool]:
    """Store a customer's message and COMMIT: it is stored before anything answers it.

    The conversation's ``updated_at`` is left to the turn's own update of the
    conversation. Returns ``(message, created)``; a message redelivered with the same
    ``channel_message_id`` returns the stored row and ``created=False``, so it is
    answered once. Over-long or binary text raises ``InputRejected`` and writes nothing.
    """
    check_text(text)
    check_channel_message_id(channel_message_id)
    values: dict[str, Any] = {
        "conversation_id": conversation.id,
        "direction": Direction.IN,
        "sender": Sender.CUSTOMER,
        "text": text,
        "attachments": [dict(a) for a in attachments or ()],
        "channel_message_id": channel_message_id,
        "created_at": utcnow(),
    }
    if channel_message_id is None:
        message = Message(**values)
        session.add(message)
        await session.commit()
        return message, True
    # One round trip in the usual case: insert unless the (conversation, channel message
    # id) pair is stored already; only a redelivery reads the stored row.
    inserted = await session.scalar(
        _insert_for(session)(Message)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["conversation_id", "channel_message_id"])
        .returning(Message),
        execution_options={"populate_existing": True},
    )
    if inserted is not None:
        await session.commit()
        return inserted, True
    stored = await session.scalar(
        select(Message).where(
            Message.conversation_id == conversation.id, Message.channel_message_id == channel_message_id
        )
    )
    await session.commit()
    if stored is None:  # the conflicting row went in between (a concurrent forget_customer)
        raise StoreError(f"message {channel_message_id!r} of conversation {conversation.id} vanished")
    return stored, False


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    return postgresql_insert if dialect_of(session) == "postgresql" else sqlite_insert


async def store_outbound(
    session: AsyncSession,
    conversation: Conversation,
    text: str,
    *,
    sender: Sender = Sender.BOT,
    operator_id: int | None = None,
    attachments: Sequence[Mapping[str, Any]] | None = None,
    channel_message_id: str | None = None,
) -> Message:
    """Store a reply from the bot, an operator or the system. Does not commit.

    An operator's message also marks that operator's claimed ticket for this
    conversation as answered, which stops ``requeue_unanswered`` from taking it back.
    """
    if sender == Sender.CUSTOMER:
        raise ValueError("customer messages are stored with store_inbound")
    if sender == Sender.OPERATOR and operator_id is None:
        raise ValueError("an operator's message needs the operator_id")
    check_text(text)
    check_channel_message_id(channel_message_id)
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        direction=Direction.OUT,
        sender=sender,
        operator_id=operator_id,
        text=text,
        attachments=[dict(a) for a in attachments or ()],
        channel_message_id=channel_message_id,
        created_at=now,
    )
    session.add(message)
    conversation.updated_at = now
    if sender == Sender.OPERATOR:
        await session.execute(
            update(HandoffTicket)
            .where(
                HandoffTicket.conversation_id == conversation.id,
                HandoffTicket.status == TicketStatus.CLAIMED,
                HandoffTicket.operator_id == operator_id,
                HandoffTicket.answered_at.is_(None),
            )
            .values(answered_at=now, updated_at=now)
        )
    await session.flush()
    return message


def add_replies(session: AsyncSession, conversation: Conversation, texts: Sequence[str]) -> list[Message]:
    """The bot's replies of one turn, added for the next flush (one round trip for all).

    Unlike ``store_outbound`` it leaves the conversation alone: the turn updates it anyway.
    """
    now = utcnow()
    messages = []
    for text in texts:
        check_text(text)
        message = Message(
            conversation_id=conversation.id,
            direction=Direction.OUT,
            sender=Sender.BOT,
            text=text,
            attachments=[],
            created_at=now,
        )
        session.add(message)
        messages.append(message)
    return messages


async def set_nlu(
    session: AsyncSession, message: Message, result: Mapping[str, Any], model_version: str | None = None
) -> None:
    """Keep the NLU's parse result with the message (editors and KPIs read it). Does not commit."""
    message.nlu = dict(result)
    version = model_version if model_version is not None else result.get("model_version")
    message.model_version = str(version) if version is not None else None


async def redact_messages(session: AsyncSession, message_ids: Sequence[int]) -> int:
    """Blank messages that must not be kept (form answers given before consent was refused).

    The rows stay, so the conversation keeps its shape: the text becomes empty and the
    attachments and the NLU result (which repeats the text) are dropped. Does not commit.
    """
    if not message_ids:
        return 0
    result = await session.execute(
        update(Message)
        .where(Message.id.in_(list(message_ids)))
        .values(text="", attachments=[], nlu=None)
        .execution_options(synchronize_session="fetch")
    )
    return affected(result)


async def history(
    session: AsyncSession, customer_id: int, limit: int = 50, *, before_id: int | None = None
) -> list[HistoryEntry]:
    """The customer's last ``limit`` messages over all channels, oldest first.

    ``before_id`` pages further back (the id of the oldest message already shown).
    """
    query = (
        select(Message, Conversation.channel)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(Conversation.customer_id == customer_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = (await session.execute(query)).all()
    return [HistoryEntry(message, channel) for message, channel in reversed(rows)]


async def conversation_messages(
    session: AsyncSession, conversation_id: int, limit: int = 200
) -> list[Message]:
    """The last ``limit`` messages of one conversation, oldest first."""
    result = await session.execute(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(reversed(result.scalars().all()))
