"""Reading the operator queue: what is waiting, what an operator holds, what the customer said last."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import dialect_of
from bot.store.models import HandoffTicket, Message, Sender, TicketStatus, utcnow

OPEN = (TicketStatus.QUEUED, TicketStatus.CLAIMED)


async def get_ticket(session: AsyncSession, ticket_id: int) -> HandoffTicket | None:
    """The ticket as the database has it now (another session may have changed it)."""
    return await session.get(HandoffTicket, ticket_id, populate_existing=True)


async def open_ticket_for(session: AsyncSession, conversation_id: int) -> HandoffTicket | None:
    """The conversation's queued or claimed ticket, if any."""
    result = await session.execute(
        select(HandoffTicket)
        .where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.status.in_(OPEN))
        .order_by(HandoffTicket.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def list_queue(
    session: AsyncSession,
    department_id: int | None = None,
    *,
    now: datetime | None = None,
    limit: int = 100,
) -> list[HandoffTicket]:
    """Queued tickets, highest priority first, then oldest first.

    A callback not yet due (``callback_at`` in the future) is left out. With
    ``department_id``, that department's tickets and those of no department.
    """
    now = now or utcnow()
    query = (
        select(HandoffTicket)
        .where(
            HandoffTicket.status == TicketStatus.QUEUED,
            or_(HandoffTicket.callback_at.is_(None), HandoffTicket.callback_at <= now),
        )
        .order_by(HandoffTicket.priority.desc(), HandoffTicket.created_at, HandoffTicket.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if department_id is not None:
        query = query.where(
            or_(HandoffTicket.department_id == department_id, HandoffTicket.department_id.is_(None))
        )
    return list((await session.execute(query)).scalars())


async def claimed_by(session: AsyncSession, operator_id: int) -> list[HandoffTicket]:
    """The tickets an operator holds now, oldest claim first."""
    result = await session.execute(
        select(HandoffTicket)
        .where(HandoffTicket.status == TicketStatus.CLAIMED, HandoffTicket.operator_id == operator_id)
        .order_by(HandoffTicket.claimed_at, HandoffTicket.id)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def overdue_in_queue(session: AsyncSession, *, created_before: datetime) -> list[HandoffTicket]:
    """Queued tickets waiting since before ``created_before`` that were not offered a call-back yet.

    On PostgreSQL the rows are locked until the caller commits, and rows another process
    holds are skipped (it is handling them); SQLite's writers take turns anyway.
    """
    query = select(HandoffTicket).where(
        HandoffTicket.status == TicketStatus.QUEUED,
        HandoffTicket.created_at <= created_before,
        HandoffTicket.callback_at.is_(None),
    )
    if dialect_of(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    result = await session.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())


async def last_customer_text(session: AsyncSession, conversation_id: int) -> str | None:
    """What the customer wrote last in this conversation (the queue shows it)."""
    text: str | None = await session.scalar(
        select(Message.text)
        .where(Message.conversation_id == conversation_id, Message.sender == Sender.CUSTOMER)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return text


async def last_customer_reading(session: AsyncSession, conversation_id: int) -> dict[str, Any] | None:
    """The NLU result of the customer's last understood message (an operator's suggestions come from it)."""
    nlu: dict[str, Any] | None = await session.scalar(
        select(Message.nlu)
        .where(
            Message.conversation_id == conversation_id,
            Message.sender == Sender.CUSTOMER,
            Message.nlu.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return nlu
