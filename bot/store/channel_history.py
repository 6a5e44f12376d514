"""What a channel reads back of a customer's conversations: their messages, with who said them.

The channels' queries, written once here for every channel (``channel`` is a parameter):
the REST channel's polling and its answer to a resent message, the widget's history and
its acknowledgement of a resend, the e-mailed transcript. Each returns store rows; the
channel shapes them for its own protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ChannelIdentity, Conversation, Direction, Message, Operator

MAX_ROWS = 500


@dataclass(frozen=True)
class Said:
    """A stored message and, for an operator's, who they are (display name, photo URL)."""

    message: Message
    operator_name: str | None = None
    operator_photo: str | None = None


def _of_sender(channel: str, external_id: str) -> Any:
    """Messages of a sender's conversations in one channel, with the operator of each (a ``Select``)."""
    return (
        select(Message, Operator.display_name, Operator.photo_url)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
        .outerjoin(Operator, Operator.id == Message.operator_id)
        .where(
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
            Conversation.channel == channel,
        )
    )


async def said_to(
    session: AsyncSession, channel: str, external_id: str, *, after: int, limit: int = 100
) -> list[Said]:
    """What botdesk (bot, operators, system) said to a sender after message ``after``, oldest first."""
    query = (
        _of_sender(channel, external_id)
        .where(Message.direction == Direction.OUT, Message.id > after)
        .order_by(Message.id)
        .limit(min(limit, MAX_ROWS))
    )
    return [Said(message, name, photo) for message, name, photo in (await session.execute(query)).all()]


async def latest_messages(
    session: AsyncSession, channel: str, external_id: str, limit: int = 100
) -> list[Said]:
    """A sender's last ``limit`` messages both ways, over all their conversations, oldest first.

    Messages blanked when consent was refused are left out (no text, no attachments); a file
    sent without words stays.
    """
    query = (
        _of_sender(channel, external_id)
        .where(or_(Message.text != "", func.length(cast(Message.attachments, String)) > 2))  # not "[]"
        .order_by(Message.id.desc())
        .limit(min(limit, MAX_ROWS))
    )
    rows = (await session.execute(query)).all()
    return [Said(message, name, photo) for message, name, photo in reversed(rows)]


async def stored_inbound(
    session: AsyncSession, conversation_id: int, channel_message_id: str
) -> Message | None:
    """The customer's message stored under the channel's id (to acknowledge a resend)."""
    found: Message | None = await session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.channel_message_id == channel_message_id
        )
    )
    return found


async def answered_with(
    session: AsyncSession, conversation_id: int, channel_message_id: str, limit: int = 100
) -> list[Message]:
    """The messages that followed a customer's message until their next one: how it was answered."""
    original = await stored_inbound(session, conversation_id, channel_message_id)
    if original is None:
        return []
    following = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > original.id)
        .order_by(Message.id)
        .limit(min(limit, MAX_ROWS))
    )
    answer = []
    for message in following:
        if message.direction == Direction.IN:
            break  # the next customer message: what follows answers that one
        answer.append(message)
    return answer


async def external_id_of(session: AsyncSession, conversation_id: int, channel: str) -> str | None:
    """The customer's id in ``channel`` for one of their conversations."""
    found: str | None = await session.scalar(
        select(ChannelIdentity.external_id)
        .join(Conversation, Conversation.customer_id == ChannelIdentity.customer_id)
        .where(Conversation.id == conversation_id, ChannelIdentity.channel == channel)
    )
    return found


async def latest_conversation(session: AsyncSession, channel: str, external_id: str) -> int | None:
    """The sender's most recent conversation in that channel, open or closed."""
    found: int | None = await session.scalar(
        select(Conversation.id)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
        .where(
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
            Conversation.channel == channel,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return found


async def conversation_said(session: AsyncSession, conversation_id: int, limit: int = MAX_ROWS) -> list[Said]:
    """A conversation's messages with their operators, oldest first (at most ``limit``)."""
    rows = await session.execute(
        select(Message, Operator.display_name, Operator.photo_url)
        .outerjoin(Operator, Operator.id == Message.operator_id)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id)
        .limit(min(limit, MAX_ROWS))
    )
    return [Said(message, name, photo) for message, name, photo in rows.all()]


async def find_attachment(session: AsyncSession, channel: str, file_id: str) -> dict[str, Any] | None:
    """The stored attachment with this file id, from a customer's message in ``channel``."""
    rows = await session.scalars(
        select(Message.attachments)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.channel == channel,
            Message.direction == Direction.IN,
            cast(Message.attachments, String).contains(file_id, autoescape=True),
        )
        .order_by(Message.id.desc())
        .limit(10)
    )
    for attachments in rows:
        for item in attachments or []:
            if isinstance(item, dict) and item.get("file_id") == file_id:
                return item
    return None
