"""Reading the operator queue: what is waiting, what an operator holds, one ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import HandoffTicket, TicketStatus, utcnow

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
