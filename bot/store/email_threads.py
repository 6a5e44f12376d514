"""The e-mail channel's threads in the store: which conversation a mail belongs to, what to answer.

Mail threads by Message-ID (``bot.channels.email.threads``); the rows here
(``EmailHeader``) tie each Message-ID, the customer's and ours, to its conversation. The
channel asks, for a new mail: was it stored already (``inbound_stored``: a restart never
answers twice), which of this customer's conversations does it continue
(``thread_conversation``), which conversation is open now (``open_conversation``) and, for
a new thread while the bot alone holds an older one, closes that one
(``close_bot_conversation``). For each mail sent it asks what to answer
(``reply_context``). Every query is limited to one customer's own identity in the channel,
so a forged In-Reply-To naming someone else's mail finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import dialect_of
from bot.store.models import (
    ChannelIdentity,
    Conversation,
    ConversationState,
    Direction,
    EmailHeader,
    Message,
    utcnow,
)
from bot.store.prepared import insert_ignoring_conflict

MAX_CHAIN = 50  # identifiers read back for one References header


@dataclass(frozen=True)
class OpenConversation:
    """A customer's conversation in a channel that is not closed, and who holds it."""

    conversation_id: int
    state: ConversationState


@dataclass(frozen=True)
class ReplyContext:
    """What an answer in a conversation's thread carries: the mail it answers, the chain, the subject."""

    in_reply_to: str | None
    references: list[str]
    subject: str


def _of_sender(channel: str, external_id: str) -> list[ColumnElement[bool]]:
    """Conditions: a conversation of this sender (their customer, in this channel)."""
    return [
        ChannelIdentity.channel == channel,
        ChannelIdentity.external_id == external_id,
        Conversation.customer_id == ChannelIdentity.customer_id,
        Conversation.channel == channel,
    ]


async def inbound_stored(session: AsyncSession, channel: str, external_id: str, key: str) -> bool:
    """Was this sender's message with this channel id stored already (in any of their conversations)?"""
    found = await session.scalar(
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
        .where(*_of_sender(channel, external_id), Message.channel_message_id == key)
        .limit(1)
    )
    return found is not None


async def open_conversation(session: AsyncSession, channel: str, external_id: str) -> OpenConversation | None:
    """The sender's open conversation in the channel (the one their next message goes to), if any."""
    row = (
        await session.execute(
            select(Conversation.id, Conversation.state)
            .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
            .where(*_of_sender(channel, external_id), Conversation.state != ConversationState.CLOSED)
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    ).first()
    return OpenConversation(int(row[0]), ConversationState(row[1])) if row else None


async def thread_conversation(
    session: AsyncSession, channel: str, external_id: str, keys: list[str]
) -> int | None:
    """The sender's conversation that holds one of these mails (the newest such), or None."""
    if not keys:
        return None
    found = await session.scalar(
        select(EmailHeader.conversation_id)
        .join(Conversation, Conversation.id == EmailHeader.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Conversation.customer_id)
        .where(*_of_sender(channel, external_id), EmailHeader.header_id.in_(keys[:MAX_CHAIN]))
        .order_by(EmailHeader.id.desc())
        .limit(1)
    )
    return int(found) if found is not None else None


async def sent_by_us(session: AsyncSession, keys: list[str]) -> bool:
    """Is any of these Message-IDs one botdesk sent (our own mail come back)?"""
    if not keys:
        return False
    found = await session.scalar(
        select(EmailHeader.id).where(EmailHeader.header_id.in_(keys), EmailHeader.outbound.is_(True)).limit(1)
    )
    return found is not None


async def close_bot_conversation(
    session: AsyncSession, conversation_id: int, now: datetime | None = None
) -> bool:
    """Close a conversation only the bot holds (compare-and-set: never a person's). Does not commit."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == ConversationState.BOT)
        .values(state=ConversationState.CLOSED, closed_at=now or utcnow(), active_loop=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def remember_header(
    session: AsyncSession,
    *,
    conversation_id: int,
    header_id: str,
    outbound: bool,
    subject: str,
    reply_to: str | None = None,
    message_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Keep a mail's Message-ID with its conversation (once: a second call changes nothing).

    Does not commit.
    """
    statement = insert_ignoring_conflict(dialect_of(session), EmailHeader, "header_id").values(
        conversation_id=conversation_id,
        message_id=message_id,
        header_id=header_id,
        reply_to=reply_to if reply_to != header_id else None,
        outbound=outbound,
        subject=subject[:255],
        created_at=now or utcnow(),
    )
    await session.execute(statement)


async def reply_context(session: AsyncSession, conversation_id: int) -> ReplyContext | None:
    """The customer's latest mail in the conversation and the thread's chain; None without one."""
    rows = (
        await session.execute(
            select(EmailHeader.header_id, EmailHeader.reply_to, EmailHeader.outbound, EmailHeader.subject)
            .where(EmailHeader.conversation_id == conversation_id)
            .order_by(EmailHeader.id.desc())
            .limit(MAX_CHAIN)
        )
    ).all()
    latest = next((row for row in rows if not row.outbound), None)
    if latest is None:
        return None
    chain = [_answerable(row.header_id, row.reply_to) for row in reversed(rows)]
    return ReplyContext(
        in_reply_to=_answerable(latest.header_id, latest.reply_to),
        references=[item for item in chain if item is not None],
        subject=latest.subject,
    )


def _answerable(header_id: str, reply_to: str | None) -> str | None:
    """The Message-ID to name in a header: the one sent, never a key made up without one."""
    if reply_to:
        return reply_to
    if header_id.startswith(("botdesk-noid:", "sha256:")):
        return None
    return header_id


async def latest_customer_message(session: AsyncSession, conversation_id: int) -> int | None:
    """The id of the customer's latest stored message in the conversation (to tie a mail to it)."""
    found = await session.scalar(
        select(Message.id)
        .where(Message.conversation_id == conversation_id, Message.direction == Direction.IN)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return int(found) if found is not None else None
