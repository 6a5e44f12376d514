"""Conversations and their messages: persist first, answer second."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n.text import Text
from bot.store.errors import InputRejected, MessageTooLong
from bot.store.models import (
    MAX_MESSAGE_CHARS,
    Conversation,
    ConversationState,
    Direction,
    HandoffTicket,
    Message,
    Sender,
    StoredFileRow,
    TicketStatus,
    utcnow,
)
from bot.store.prepared import Driver, driver_for, run

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
            Text(
                "the message is {length} characters long; the limit is {limit} characters",
                length=len(text),
                limit=MAX_MESSAGE_CHARS,
            )
        )
    if "\x00" in text:
        raise InputRejected(Text("the message contains a NUL character; binary data is not a text message"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputRejected(
            Text("the message is not valid Unicode text (lone surrogate characters)")
        ) from None


def check_channel_message_id(value: str | None) -> None:
    if value is not None and (not value or len(value) > MAX_CHANNEL_MESSAGE_ID_CHARS or "\x00" in value):
        raise InputRejected(f"a channel message id must be 1 to {MAX_CHANNEL_MESSAGE_ID_CHARS} characters")


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
        raise ValueError("customer messages are written by the turn store (bot.store.TurnStore)")
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


async def redact_messages(where: AsyncSession | Driver, message_ids: Sequence[int]) -> int:
    """Blank messages that must not be kept (form answers given before consent was refused).

    The rows stay, so the conversation keeps its shape: the text becomes empty and the
    attachments and the NLU result (which repeats the text) are dropped; a file it carried
    belongs to no conversation any more (the file sweep deletes it). Does not commit.
    """
    driver = await driver_for(where)
    redacted = 0
    for message_id in message_ids:  # a form's few answers: one statement each
        done = await run(
            driver,
            update(Message)
            .where(Message.id == message_id)
            .values(text="", attachments=[], nlu=None)
            .returning(Message.id),
        )
        redacted += len(done)
        await run(
            driver,
            update(StoredFileRow)
            .where(StoredFileRow.message_id == message_id)
            .values(conversation_id=None, message_id=None)
            .returning(StoredFileRow.id),
        )
    return redacted


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
