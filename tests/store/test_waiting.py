"""Waiting customers: places per department, the wait measured on recent pickups (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import claim_ticket, create_operator, create_ticket, ensure_department
from bot.store.models import utcnow
from bot.store.waiting import (
    estimate,
    eta_minutes,
    minutes_per_place,
    note_update,
    place_in_queue,
    queued_ticket_of,
    recent_waits,
    waiting_tickets,
)
from tests.helpers.store import new_conversation


async def queue(
    session: AsyncSession, who: str, *, department_id: int | None, priority: int = 0, **at: object
) -> int:
    _, conversation = await new_conversation(session, who)
    ticket_id = await create_ticket(
        session,
        conversation.id,
        reason="human_request",
        priority=priority,
        department_id=department_id,
        **at,  # type: ignore[arg-type]
    )
    await session.commit()
    return ticket_id


def test_the_wait_per_place_is_the_median_of_recent_pickups() -> None:
    assert minutes_per_place([], 3.0) == 3.0  # nothing measured: the configured default
    assert minutes_per_place([(60.0, 1), (120.0, 1)], 3.0) == 3.0  # two pickups are too few
    # 2 min for the first, 8 min at the 2nd place (4 a place), one forgotten over lunch: the median holds
    assert minutes_per_place([(120.0, 1), (480.0, 2), (3600.0, 1), (180.0, 1)], 3.0) == 3.5
    assert eta_minutes(2, 3.5) == 7
    assert eta_minutes(1, 0.1) == 1  # never "0 min"


async def test_places_count_within_a_department_in_the_queues_order(session: AsyncSession) -> None:
    now = utcnow()
    support = await ensure_department(session, "support", "Поддержка")
    sales = await ensure_department(session, "sales", "Продажи")
    first = await queue(session, "a", department_id=support, now=now - timedelta(minutes=5))
    other = await queue(session, "b", department_id=sales, now=now - timedelta(minutes=4))
    second = await queue(session, "c", department_id=support, now=now - timedelta(minutes=3))
    urgent = await queue(session, "d", department_id=support, priority=10, now=now - timedelta(minutes=1))
    later = await queue(
        session,
        "e",
        department_id=support,
        now=now - timedelta(minutes=9),
        callback_at=now + timedelta(hours=1),
    )

    places = {t: await place_in_queue(session, t, now=now) for t in (first, other, second, urgent)}
    waiting = await waiting_tickets(session, now=now)
    assert places == {urgent: 1, first: 2, second: 3, other: 1}
    assert [(w.ticket_id, w.position) for w in waiting] == [(urgent, 1), (first, 2), (other, 1), (second, 3)]
    assert later not in {w.ticket_id for w in waiting}  # a call-back booked for later is not waiting
    assert {w.recipient_id for w in waiting} == {"d", "a", "b", "c"} and waiting[0].channel == "telegram"


async def test_what_the_customer_was_told_is_kept_in_the_note(session: AsyncSession) -> None:
    _, conversation = await new_conversation(session, "a")
    assert await queued_ticket_of(session, conversation.id) is None  # the bot has it
    ticket = await create_ticket(session, conversation.id, reason="human_request", note={"intent": "x"})
    await session.commit()
    note = await note_update(session, ticket, {"told": [2, 6]})
    await session.commit()
    queued = await queued_ticket_of(session, conversation.id)
    assert note == {"intent": "x", "told": [2, 6]}
    assert queued is not None and queued.ticket_id == ticket and queued.note == note


async def test_the_estimate_is_measured_on_the_departments_recent_pickups(session: AsyncSession) -> None:
    now = utcnow()
    support = await ensure_department(session, "support", "Поддержка")
    anna = await create_operator(session, "anna", "Анна")
    await session.commit()
    for number, (minutes, place) in enumerate([(2, 1), (8, 2), (4, 1)]):
        ticket = await queue(
            session, f"done-{number}", department_id=support, now=now - timedelta(minutes=30)
        )
        await note_update(session, ticket, {"position": place})
        await session.commit()
        await claim_ticket(session, ticket, anna.id, now=now - timedelta(minutes=30 - minutes))
    unstaffed = await queue(session, "night", department_id=support, now=now - timedelta(hours=5))
    await note_update(session, unstaffed, {"unstaffed": True})  # nobody was online: says nothing of the pace
    await session.commit()
    await claim_ticket(session, unstaffed, anna.id, now=now - timedelta(minutes=1))

    waits = await recent_waits(session, support, now=now)
    assert sorted(waits) == [(120.0, 1), (240.0, 1), (480.0, 2)]
    assert await recent_waits(session, None, now=now) == []  # another department's pace is not ours
    assert await estimate(session, support, 3, default_per_place=10.0, now=now) == 12  # 4 min a place
    assert await estimate(session, None, 3, default_per_place=10.0, now=now) == 30
