"""The operator queue: handoff tickets and who owns a conversation.

Every change of ownership is one compare-and-set UPDATE whose WHERE clause states
what must still be true (``status = 'queued'`` for a claim); the affected-row count
says whether this caller won. On PostgreSQL concurrent updates of one row queue on
its row lock and re-check the WHERE clause, so exactly one claimer wins across any
number of sessions and processes; on SQLite writers are serialised by BEGIN IMMEDIATE.
Functions that change a ticket commit, so the lock is held for one statement's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import dialect_of
from bot.store.models import Conversation, ConversationState, HandoffTicket, TicketStatus, utcnow
from bot.store.prepared import Driver, driver_for, run, scalar
from bot.store.queue import OPEN
from bot.store.rows import affected


@dataclass(frozen=True)
class RequeuedTicket:
    """A ticket taken back from an operator who did not answer in time."""

    ticket_id: int
    conversation_id: int
    operator_id: int | None


async def create_ticket(
    where: AsyncSession | Driver,
    conversation_id: int,
    *,
    reason: str,
    priority: int = 0,
    department_id: int | None = None,
    note: Mapping[str, Any] | None = None,
    callback_at: datetime | None = None,
    state: ConversationState = ConversationState.QUEUED,
    now: datetime | None = None,
) -> int:
    """Hand a conversation to the operators; the open ticket's id if it already has one. Does not commit.

    ``note`` is what the operator sees first: escalation reason, intent, confidence,
    slots, a summary. ``state`` is ``after_hours`` when nobody is on duty and
    ``callback_at`` says when the ticket becomes due. Runs in a customer turn's
    transaction or an ORM session's (``where``).
    """
    driver = await driver_for(where)
    if driver.dialect.name == "postgresql":  # two escalations at once still make one ticket
        await run(driver, select(Conversation.id).where(Conversation.id == conversation_id).with_for_update())
    existing = await scalar(
        driver,
        select(HandoffTicket.id)
        .where(HandoffTicket.conversation_id == conversation_id, _is_open())
        .order_by(HandoffTicket.id.desc())
        .limit(1),
    )
    if existing is not None:
        return int(existing)
    now = now or utcnow()
    ticket_id = await scalar(
        driver,
        insert(HandoffTicket)
        .values(
            conversation_id=conversation_id,
            status=TicketStatus.QUEUED,
            priority=priority,
            department_id=department_id,
            reason=reason[:64],
            note=dict(note or {}),
            callback_at=callback_at,
            created_at=now,
            updated_at=now,
        )
        .returning(HandoffTicket.id),
    )
    handed: dict[str, Any] = {"state": state, "operator_id": None, "updated_at": now}
    if department_id is not None:
        handed["department_id"] = department_id
    await run(driver, update(Conversation).where(Conversation.id == conversation_id).values(**handed))
    return int(ticket_id)


def _is_open() -> ColumnElement[bool]:
    """Queued or claimed, without an expanding IN list (``bot.store.prepared.run``)."""
    return or_(HandoffTicket.status == TicketStatus.QUEUED, HandoffTicket.status == TicketStatus.CLAIMED)


async def claim_ticket(
    session: AsyncSession, ticket_id: int, operator_id: int, *, now: datetime | None = None
) -> bool:
    """Give a queued ticket to an operator; True for exactly one of any number of claimers. Commits."""
    now = now or utcnow()
    won = await _change(
        session,
        ticket_id,
        [HandoffTicket.status == TicketStatus.QUEUED],
        status=TicketStatus.CLAIMED,
        operator_id=operator_id,
        claimed_at=now,
        answered_at=None,
        updated_at=now,
    )
    if won:
        await _set_conversation(
            session, ticket_id, state=ConversationState.OPERATOR, operator_id=operator_id, updated_at=now
        )
    await session.commit()
    return won


async def release_ticket(
    session: AsyncSession, ticket_id: int, operator_id: int, *, now: datetime | None = None
) -> bool:
    """An operator puts a claimed ticket back in the queue. Commits."""
    now = now or utcnow()
    won = await _change(
        session,
        ticket_id,
        [HandoffTicket.status == TicketStatus.CLAIMED, HandoffTicket.operator_id == operator_id],
        status=TicketStatus.QUEUED,
        operator_id=None,
        claimed_at=None,
        answered_at=None,
        updated_at=now,
    )
    if won:
        await _set_conversation(
            session, ticket_id, state=ConversationState.QUEUED, operator_id=None, updated_at=now
        )
    await session.commit()
    return won


async def transfer_ticket(
    session: AsyncSession,
    ticket_id: int,
    *,
    to_operator_id: int | None = None,
    to_department_id: int | None = None,
    from_operator_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Pass an open ticket to another operator (claimed by them) or department (queued there). Commits.

    With ``from_operator_id`` only that operator's claimed ticket moves; without it
    (an admin) any open ticket does.
    """
    if (to_operator_id is None) == (to_department_id is None):
        raise ValueError("transfer to exactly one of an operator or a department")
    now = now or utcnow()
    where = _held_by(from_operator_id)
    if to_operator_id is not None:
        won = await _change(
            session,
            ticket_id,
            where,
            status=TicketStatus.CLAIMED,
            operator_id=to_operator_id,
            claimed_at=now,
            answered_at=None,
            updated_at=now,
        )
        if won:
            await _set_conversation(
                session,
                ticket_id,
                state=ConversationState.OPERATOR,
                operator_id=to_operator_id,
                updated_at=now,
            )
    else:
        won = await _change(
            session,
            ticket_id,
            where,
            status=TicketStatus.QUEUED,
            department_id=to_department_id,
            operator_id=None,
            claimed_at=None,
            answered_at=None,
            updated_at=now,
        )
        if won:
            await _set_conversation(
                session,
                ticket_id,
                state=ConversationState.QUEUED,
                operator_id=None,
                department_id=to_department_id,
                updated_at=now,
            )
    await session.commit()
    return won


async def return_to_bot(
    session: AsyncSession, ticket_id: int, *, operator_id: int | None = None, now: datetime | None = None
) -> bool:
    """End the handoff: the bot answers this conversation again. Commits."""
    now = now or utcnow()
    won = await _change(
        session, ticket_id, _held_by(operator_id), status=TicketStatus.RETURNED, updated_at=now
    )
    if won:
        await _set_conversation(
            session,
            ticket_id,
            state=ConversationState.BOT,
            operator_id=None,
            misunderstood_in_a_row=0,
            updated_at=now,
        )
    await session.commit()
    return won


async def close_ticket(
    session: AsyncSession,
    ticket_id: int,
    resolution: str,
    *,
    operator_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Close the ticket and its conversation with a resolution (e.g. "answered"). Commits."""
    now = now or utcnow()
    won = await _change(
        session,
        ticket_id,
        _held_by(operator_id),
        status=TicketStatus.CLOSED,
        resolution=resolution[:200],
        updated_at=now,
    )
    if won:
        await _set_conversation(
            session,
            ticket_id,
            state=ConversationState.CLOSED,
            closed_at=now,
            active_loop=None,
            updated_at=now,
        )
    await session.commit()
    return won


async def requeue_unanswered(
    session: AsyncSession, older_than: timedelta, *, now: datetime | None = None, commit: bool = True
) -> list[RequeuedTicket]:
    """Put back in the queue every ticket claimed longer than ``older_than`` ago and not answered.

    Returns which tickets moved and from whom, so the caller can tell the operators.
    Commits unless ``commit`` is False (the caller adds its messages to the same transaction).
    On PostgreSQL rows another worker is requeueing are skipped (SKIP LOCKED).
    """
    now = now or utcnow()
    stale = [
        HandoffTicket.status == TicketStatus.CLAIMED,
        HandoffTicket.answered_at.is_(None),
        HandoffTicket.claimed_at < now - older_than,
    ]
    query = select(HandoffTicket.id, HandoffTicket.conversation_id, HandoffTicket.operator_id).where(*stale)
    if dialect_of(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await session.execute(query)).all()
    if not rows:
        await session.commit()
        return []
    ids = [row.id for row in rows]
    await session.execute(
        update(HandoffTicket)
        .where(HandoffTicket.id.in_(ids), *stale)
        .values(status=TicketStatus.QUEUED, operator_id=None, claimed_at=None, updated_at=now)
    )
    await session.execute(
        update(Conversation)
        .where(
            Conversation.id.in_([row.conversation_id for row in rows]),
            Conversation.state == ConversationState.OPERATOR,
        )
        .values(state=ConversationState.QUEUED, operator_id=None, updated_at=now)
    )
    if commit:
        await session.commit()
    return [RequeuedTicket(row.id, row.conversation_id, row.operator_id) for row in rows]


def _held_by(operator_id: int | None) -> list[ColumnElement[bool]]:
    if operator_id is None:
        return [HandoffTicket.status.in_(OPEN)]
    return [HandoffTicket.status == TicketStatus.CLAIMED, HandoffTicket.operator_id == operator_id]


async def _change(
    session: AsyncSession, ticket_id: int, where: list[ColumnElement[bool]], **values: Any
) -> bool:
    """The compare-and-set: update the ticket only if ``where`` still holds; True if it did."""
    result = await session.execute(
        update(HandoffTicket).where(HandoffTicket.id == ticket_id, *where).values(**values)
    )
    return affected(result) == 1


async def _set_conversation(session: AsyncSession, ticket_id: int, **values: Any) -> None:
    """Update the ticket's conversation (the caller holds the ticket's row lock)."""
    conversation_id = await session.scalar(
        select(HandoffTicket.conversation_id).where(HandoffTicket.id == ticket_id)
    )
    await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))
