"""The customers waiting in the operator queue: their places, and how long they will wait.

What the queue's customers are told comes from here: the place of a waiting ticket among
its department's (the panel's order: priority, then the longest wait), every waiting
ticket with where its customer can be reached (to tell them when the queue moves), and
the wait, estimated from the department's recent pickups. A call-back booked for later is
not waiting. What a ticket's customer was last told is kept in its note (``note_update``),
so nothing is said twice, by any process.

The estimate is the place in the queue times the minutes one place takes, and those are
measured: the median, over the department's last pickups (20, within a week, queued while
someone was online), of the wait divided by the place the ticket was queued at. With fewer
than ``MIN_SAMPLES`` pickups there is nothing to measure and the caller's default per place
(``escalation.average_handle_minutes``) is said instead. The median, not the mean: one
customer forgotten over lunch does not make everybody's estimate an hour.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.store.db import dialect_of
from bot.store.models import ChannelIdentity, Conversation, HandoffTicket, TicketStatus
from bot.store.prepared import Driver, driver_for, run, scalar

RECENT_PICKUPS = 20
PICKUPS_WITHIN = timedelta(days=7)
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Waiting:
    """A queued ticket, its place among its department's, and where its customer is."""

    ticket_id: int
    conversation_id: int
    department_id: int | None
    position: int
    channel: str
    recipient_id: str
    note: dict[str, Any]


@dataclass(frozen=True)
class QueuedTicket:
    """The open, queued ticket of a conversation (what a waiting customer's message is about)."""

    ticket_id: int
    department_id: int | None
    note: dict[str, Any]


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        HandoffTicket.status == TicketStatus.QUEUED,
        or_(HandoffTicket.callback_at.is_(None), HandoffTicket.callback_at <= now),
    )


async def place_in_queue(where: AsyncSession | Driver, ticket_id: int, *, now: datetime) -> int:
    """Where a queued ticket stands among its department's waiting tickets: 1 is next."""
    driver = await driver_for(where)
    ticket = aliased(HandoffTicket)
    found = await run(
        driver,
        select(ticket.priority, ticket.created_at, ticket.id, ticket.department_id).where(
            ticket.id == ticket_id
        ),
    )
    if not found:
        return 1
    priority, created, _, department_id = found[0]
    same_department = (
        HandoffTicket.department_id.is_(None)
        if department_id is None
        else HandoffTicket.department_id == department_id
    )
    ahead = await scalar(
        driver,
        select(func.count(HandoffTicket.id)).where(
            _due(now),
            same_department,
            HandoffTicket.id != ticket_id,
            (HandoffTicket.priority > priority)
            | (
                (HandoffTicket.priority == priority)
                & (
                    (HandoffTicket.created_at < created)
                    | ((HandoffTicket.created_at == created) & (HandoffTicket.id < ticket_id))
                )
            ),
        ),
    )
    return int(ahead or 0) + 1


async def waiting_tickets(session: AsyncSession, *, now: datetime, limit: int = 1000) -> list[Waiting]:
    """Every waiting ticket with its place in its department's queue, in the queue's order."""
    query = (
        select(
            HandoffTicket.id,
            HandoffTicket.conversation_id,
            HandoffTicket.department_id,
            HandoffTicket.note,
            Conversation.channel,
            ChannelIdentity.external_id,
        )
        .join(Conversation, Conversation.id == HandoffTicket.conversation_id)
        .outerjoin(
            ChannelIdentity,
            and_(
                ChannelIdentity.customer_id == Conversation.customer_id,
                ChannelIdentity.channel == Conversation.channel,
            ),
        )
        .where(_due(now))
        .order_by(HandoffTicket.priority.desc(), HandoffTicket.created_at, HandoffTicket.id)
        .limit(limit)
    )
    places: dict[int | None, int] = {}
    waiting: list[Waiting] = []
    seen: set[int] = set()
    for ticket_id, conversation_id, department_id, note, channel, external_id in (
        await session.execute(query)
    ).all():
        if ticket_id in seen:  # one identity per channel and customer; a merged customer may have two
            continue
        seen.add(ticket_id)
        places[department_id] = places.get(department_id, 0) + 1
        waiting.append(
            Waiting(
                ticket_id,
                conversation_id,
                department_id,
                places[department_id],
                channel,
                external_id or "",
                dict(note or {}),
            )
        )
    return waiting


async def queued_ticket_of(where: AsyncSession | Driver, conversation_id: int) -> QueuedTicket | None:
    """The conversation's queued ticket (None when it has none, or a person holds it)."""
    driver = await driver_for(where)
    rows = await run(
        driver,
        select(HandoffTicket.id, HandoffTicket.department_id, HandoffTicket.note)
        .where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.status == TicketStatus.QUEUED)
        .order_by(HandoffTicket.id.desc())
        .limit(1),
    )
    if not rows:
        return None
    ticket_id, department_id, note = rows[0]
    return QueuedTicket(int(ticket_id), department_id, dict(note or {}))


async def note_update(where: AsyncSession | Driver, ticket_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Merge ``values`` into a ticket's note (what the customer was last told); the new note.

    On PostgreSQL the ticket's row is locked until the caller commits, so two processes
    telling the same customer at once see each other's mark. Does not commit.
    """
    driver = await driver_for(where)
    query = select(HandoffTicket.note).where(HandoffTicket.id == ticket_id)
    if driver.dialect.name == "postgresql":
        query = query.with_for_update()
    rows = await run(driver, query)
    note = {**dict((rows[0][0] if rows else None) or {}), **values}
    await run(
        driver,  # what the customer was told is no change of the ticket: its updated_at stays
        update(HandoffTicket)
        .where(HandoffTicket.id == ticket_id)
        .values(note=note, updated_at=HandoffTicket.updated_at),
    )
    return note


async def lock_note(session: AsyncSession, ticket_id: int) -> dict[str, Any] | None:
    """A ticket's note as it is now, row-locked on PostgreSQL till commit; None when no longer queued."""
    query = select(HandoffTicket.note).where(
        HandoffTicket.id == ticket_id, HandoffTicket.status == TicketStatus.QUEUED
    )
    if dialect_of(session) == "postgresql":
        query = query.with_for_update()
    found = (await session.execute(query)).first()
    return None if found is None else dict(found[0] or {})


async def recent_waits(
    where: AsyncSession | Driver,
    department_id: int | None,
    *,
    now: datetime,
    limit: int = RECENT_PICKUPS,
    within: timedelta = PICKUPS_WITHIN,
) -> list[tuple[float, int]]:
    """The department's latest pickups: (seconds from queued to claimed, the place it was queued at).

    Only tickets queued while someone was online count (a night's wait says nothing about
    the day's pace); a call-back's wait starts when it became due.
    """
    driver = await driver_for(where)
    same_department = (
        HandoffTicket.department_id.is_(None)
        if department_id is None
        else HandoffTicket.department_id == department_id
    )
    rows = await run(
        driver,
        select(
            HandoffTicket.created_at, HandoffTicket.callback_at, HandoffTicket.claimed_at, HandoffTicket.note
        )
        .where(
            same_department,
            HandoffTicket.claimed_at.is_not(None),
            HandoffTicket.claimed_at >= now - within,
        )
        .order_by(HandoffTicket.claimed_at.desc())
        .limit(limit),
    )
    waits: list[tuple[float, int]] = []
    for created, callback, claimed, note in rows:
        note = dict(note or {})
        if note.get("unstaffed") or note.get("after_hours"):
            continue
        started = max(created, callback) if callback is not None else created
        place = note.get("position")
        waits.append(
            (
                max(0.0, (claimed - started).total_seconds()),
                place if isinstance(place, int) and place > 0 else 1,
            )
        )
    return waits


def minutes_per_place(waits: list[tuple[float, int]], default: float) -> float:
    """The median wait per place in the queue, in minutes; ``default`` with too few pickups."""
    if len(waits) < MIN_SAMPLES:
        return default
    return statistics.median(seconds / place for seconds, place in waits) / 60.0


def eta_minutes(position: int, per_place: float) -> int:
    """Whole minutes to say for this place in the queue (at least 1: "0 min" promises too much)."""
    return max(1, round(position * per_place))


async def estimate(
    where: AsyncSession | Driver,
    department_id: int | None,
    position: int,
    *,
    default_per_place: float,
    now: datetime,
) -> int:
    """Minutes until a customer at ``position`` in ``department_id``'s queue is likely picked up."""
    waits = await recent_waits(where, department_id, now=now)
    return eta_minutes(position, minutes_per_place(waits, default_per_place))
