"""Customer messages whose turn never ran: stored (and maybe acknowledged), then the process died.

"Stranded" means: a customer's message with no NLU result that is still the last message
of its conversation (nothing answered it, nothing came after it). An attachment-only
message in a dialogue a person owns is never parsed nor answered by the bot, so it is
not stranded. The server answers stranded messages at start-up and now and then after
(``bot.server.recovery``); ``ConversationService.answer_stored`` does one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.store.models import UNPARSED, ChannelIdentity, Conversation, ConversationState, Message

PERSON_OWNS = (ConversationState.QUEUED, ConversationState.OPERATOR)


def stranded_conditions() -> list[object]:
    """The WHERE terms of a stranded message (joined with its conversation)."""
    later = aliased(Message)
    return [
        # As written in the partial index ix_messages_unparsed (SQLite uses a partial index
        # only for a query that repeats its condition with the same constant).
        text(UNPARSED),
        ~exists().where(later.conversation_id == Message.conversation_id, later.id > Message.id),
        # No NOT IN list: the turn store runs this as a prepared statement (bot.store.prepared).
        or_(Message.text != "", and_(*(Conversation.state != state for state in PERSON_OWNS))),
    ]


async def stranded_ids(
    session: AsyncSession, *, before: datetime, after: datetime, limit: int = 100
) -> list[int]:
    """Stranded messages stored between ``after`` and ``before`` (live turns are younger), oldest first."""
    query = (
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.created_at < before, Message.created_at > after, *stranded_conditions())  # type: ignore[arg-type]
        .order_by(Message.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def stranded_message(
    session: AsyncSession, message_id: int
) -> tuple[Message, Conversation, str] | None:
    """The message, its conversation and the customer's id in its channel, if it is still stranded."""
    query = (
        select(Message, Conversation, ChannelIdentity.external_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(
            ChannelIdentity,
            and_(
                ChannelIdentity.customer_id == Conversation.customer_id,
                ChannelIdentity.channel == Conversation.channel,
            ),
        )
        .where(Message.id == message_id, *stranded_conditions())  # type: ignore[arg-type]
        .limit(1)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    message, conversation, external_id = row
    return message, conversation, str(external_id)
