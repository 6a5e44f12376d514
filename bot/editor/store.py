"""The editor's queries: inbox scans, annotations and model publications.

The editor's services (``inbox``, ``annotations``, ``stories``, ``training``) read and
write through these functions only, so every SQL statement of the package is here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import Conversation, HandoffTicket, Message, Sender
from bot.store.models import (
    Annotation,
    AnnotationAction,
    AnnotationStatus,
    Feedback,
    FeedbackAbout,
    ModelPublication,
)


@dataclass(frozen=True)
class InboxScan:
    """What the inbox is built from: recent customer messages and the signals about them."""

    customer_messages: list[Message]  # newest first
    tickets: list[HandoffTicket]
    unhelpful_surveys: list[Feedback]  # "did this answer help?" answered no, about the bot
    labelled: set[int]  # message ids with a live (not rejected) annotation


async def scan_inbox(session: AsyncSession, since: datetime, limit: int) -> InboxScan:
    """Customer messages since ``since`` (at most ``limit``, newest first) with tickets, surveys, labels."""
    customer = await session.scalars(
        select(Message)
        .where(Message.sender == Sender.CUSTOMER, Message.created_at >= since)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    tickets = await session.scalars(select(HandoffTicket).where(HandoffTicket.created_at >= since))
    surveys = await session.scalars(
        select(Feedback).where(
            Feedback.created_at >= since,
            Feedback.about == FeedbackAbout.BOT,
            Feedback.helpful.is_(False),
        )
    )
    labelled = await session.scalars(
        select(Annotation.message_id).where(
            Annotation.message_id.is_not(None), Annotation.status != AnnotationStatus.REJECTED
        )
    )
    return InboxScan(
        list(customer.all()),
        list(tickets.all()),
        list(surveys.all()),
        {i for i in labelled.all() if i is not None},
    )


async def messages_by_conversation(
    session: AsyncSession, conversation_ids: Collection[int]
) -> dict[int, list[Message]]:
    """Every message of these conversations, in order, by conversation."""
    found: dict[int, list[Message]] = {}
    if not conversation_ids:
        return found
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id.in_(list(conversation_ids)))
        .order_by(Message.conversation_id, Message.id)
    )
    for row in rows:
        found.setdefault(row.conversation_id, []).append(row)
    return found


async def conversation_with_messages(
    session: AsyncSession, conversation_id: int
) -> tuple[Conversation, list[Message]] | None:
    """A conversation and its messages in order; None when there is no such conversation."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    return conversation, (await messages_by_conversation(session, [conversation_id])).get(conversation_id, [])


async def customer_messages(session: AsyncSession, ids: Collection[int]) -> dict[int, Message]:
    """The customer messages among these ids, by id (others' messages are left out)."""
    rows = await session.scalars(
        select(Message).where(Message.id.in_(list(ids)), Message.sender == Sender.CUSTOMER)
    )
    return {m.id: m for m in rows}


async def already_labelled(session: AsyncSession, ids: Collection[int]) -> list[int]:
    """The ids among these whose message has a live (proposed or applied) annotation."""
    rows = await session.scalars(
        select(Annotation.message_id).where(
            Annotation.message_id.in_(list(ids)), Annotation.status != AnnotationStatus.REJECTED
        )
    )
    return [i for i in rows if i is not None]


async def annotations_by_id(session: AsyncSession, ids: Collection[int]) -> list[Annotation]:
    """The annotations with these ids that exist."""
    return list((await session.scalars(select(Annotation).where(Annotation.id.in_(list(ids))))).all())


async def list_annotations(
    session: AsyncSession, status: AnnotationStatus | None, limit: int
) -> list[Annotation]:
    """The newest annotations first, of one status or all."""
    query = select(Annotation).order_by(Annotation.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Annotation.status == status)
    return list((await session.scalars(query)).all())


async def applied_labels(session: AsyncSession, since: datetime | None) -> list[tuple[str, str]]:
    """``(text, intent)`` of the labels written into the training data since ``since`` (all: None)."""
    query = select(Annotation).where(
        Annotation.status == AnnotationStatus.APPLIED,
        Annotation.action != AnnotationAction.IGNORE,
        Annotation.intent.is_not(None),
    )
    if since is not None:
        query = query.where(Annotation.reviewed_at >= since)
    return [(r.text, str(r.intent)) for r in await session.scalars(query)]


async def last_published_at(session: AsyncSession) -> datetime | None:
    """When the newest model was published (None before the first publication)."""
    found: datetime | None = await session.scalar(
        select(ModelPublication.published_at).order_by(ModelPublication.id.desc()).limit(1)
    )
    return found


async def recent_publications(session: AsyncSession, limit: int) -> list[ModelPublication]:
    """The newest publications first."""
    rows = await session.scalars(select(ModelPublication).order_by(ModelPublication.id.desc()).limit(limit))
    return list(rows.all())
