"""The operator queue: ordering, the atomic claim, transfers and the requeue timer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import (
    Conversation,
    ConversationState,
    Database,
    HandoffTicket,
    Operator,
    Sender,
    TicketStatus,
    claim_ticket,
    claimed_by,
    close_ticket,
    create_operator,
    create_ticket,
    ensure_department,
    get_conversation,
    get_ticket,
    list_queue,
    release_ticket,
    requeue_unanswered,
    return_to_bot,
    store_outbound,
    transfer_ticket,
)
from bot.store.models import utcnow
from tests.helpers.store import new_conversation


async def _ticket(
    session: AsyncSession, external_id: str, priority: int = 0, **kwargs: object
) -> tuple[Conversation, HandoffTicket]:
    _, conversation = await new_conversation(session, external_id)
    ticket_id = await create_ticket(
        session,
        conversation.id,
        reason="asked_for_human",
        priority=priority,
        note={"intent": "order_status", "confidence": 0.41, "summary": "где заказ"},
        **kwargs,  # type: ignore[arg-type]
    )
    await session.commit()
    await session.refresh(conversation)  # queued by a statement, not through this object
    ticket = await get_ticket(session, ticket_id)
    assert ticket is not None
    return conversation, ticket


async def _operators(session: AsyncSession, count: int) -> list[Operator]:
    operators = [await create_operator(session, f"op{i}", f"Оператор {i}") for i in range(count)]
    await session.commit()
    return operators


async def test_create_ticket_queues_the_conversation_once(session: AsyncSession) -> None:
    conversation, ticket = await _ticket(session, "1")
    assert conversation.state == ConversationState.QUEUED
    assert ticket.status == TicketStatus.QUEUED and ticket.note["intent"] == "order_status"
    assert await create_ticket(session, conversation.id, reason="again") == ticket.id


async def test_queue_is_priority_then_oldest_first(session: AsyncSession) -> None:
    now = utcnow()
    _, low_old = await _ticket(session, "1", priority=0)
    _, high_new = await _ticket(session, "2", priority=5)
    _, low_new = await _ticket(session, "3", priority=0)
    _, high_newer = await _ticket(session, "4", priority=5)
    _, later = await _ticket(session, "5", priority=9, callback_at=now + timedelta(hours=2))
    low_old.created_at = now - timedelta(minutes=10)
    high_new.created_at = now - timedelta(minutes=5)
    low_new.created_at = now - timedelta(minutes=4)
    high_newer.created_at = now - timedelta(minutes=1)
    await session.commit()
    queue = await list_queue(session, now=now)
    assert [t.id for t in queue] == [high_new.id, high_newer.id, low_old.id, low_new.id]
    # The callback becomes due, and with the highest priority it comes first.
    due = await list_queue(session, now=now + timedelta(hours=3))
    assert due[0].id == later.id and len(due) == 5


async def test_queue_by_department(session: AsyncSession) -> None:
    sales = await ensure_department(session, "sales", "Продажи")
    service = await ensure_department(session, "service", "Сервис")
    await session.commit()
    _, for_sales = await _ticket(session, "1", department_id=sales)
    _, for_service = await _ticket(session, "2", department_id=service)
    _, for_anyone = await _ticket(session, "3")
    assert {t.id for t in await list_queue(session, sales)} == {for_sales.id, for_anyone.id}
    assert {t.id for t in await list_queue(session)} == {for_sales.id, for_service.id, for_anyone.id}
    assert await ensure_department(session, "sales") == sales


async def test_claim_moves_ownership_to_the_operator(session: AsyncSession) -> None:
    conversation, ticket = await _ticket(session, "1")
    anna, boris = await _operators(session, 2)
    assert await claim_ticket(session, ticket.id, anna.id)
    assert not await claim_ticket(session, ticket.id, boris.id)
    fresh = await get_ticket(session, ticket.id)
    assert fresh is not None and fresh.status == TicketStatus.CLAIMED and fresh.operator_id == anna.id
    assert fresh.claimed_at is not None
    owned = await get_conversation(session, conversation.id)
    assert owned is not None and owned.state == ConversationState.OPERATOR and owned.operator_id == anna.id
    assert [t.id for t in await claimed_by(session, anna.id)] == [ticket.id]
    assert await list_queue(session) == []


async def _race(databases: list[Database], ticket_id: int, operator_ids: list[int]) -> list[bool]:
    """Every operator claims the same ticket at once, each in a session of its own."""
    pre_read = databases[0].dialect == "postgresql"  # SQLite's BEGIN IMMEDIATE would serialise the reads
    barrier = asyncio.Barrier(len(operator_ids))

    async def claim(db: Database, operator_id: int) -> bool:
        async with db.sessions() as session:
            if pre_read:  # everyone has seen the ticket queued before anyone claims it
                seen = await session.get(HandoffTicket, ticket_id)
                assert seen is not None and seen.status == TicketStatus.QUEUED
                await barrier.wait()
            return await claim_ticket(session, ticket_id, operator_id)

    return await asyncio.gather(
        *(claim(databases[i % len(databases)], op) for i, op in enumerate(operator_ids))
    )


async def test_fifty_concurrent_claims_one_winner(db: Database, db_url: str) -> None:
    async with db.sessions() as session:
        _, ticket = await _ticket(session, "1")
        operators = await _operators(session, 50)
    async with Database.open(db_url, pool_size=55) as racing:
        results = await _race([racing], ticket.id, [op.id for op in operators])
    assert results.count(True) == 1
    winner = operators[results.index(True)].id
    async with db.sessions() as session:
        claimed = await get_ticket(session, ticket.id)
        assert claimed is not None and claimed.operator_id == winner


async def test_two_processes_claim_one_ticket(db: Database, db_url: str) -> None:
    """Two engines, as two server processes would have, share one database."""
    async with db.sessions() as session:
        _, ticket = await _ticket(session, "1")
        operators = await _operators(session, 50)
    async with Database.open(db_url, pool_size=30) as one, Database.open(db_url, pool_size=30) as two:
        results = await _race([one, two], ticket.id, [op.id for op in operators])
    assert results.count(True) == 1


async def test_release_transfer_return_close(session: AsyncSession) -> None:
    conversation, ticket = await _ticket(session, "1")
    anna, boris = await _operators(session, 2)
    service = await ensure_department(session, "service", "Сервис")
    await session.commit()

    assert await claim_ticket(session, ticket.id, anna.id)
    assert not await release_ticket(session, ticket.id, boris.id)  # not Boris's to release
    assert await release_ticket(session, ticket.id, anna.id)
    assert [t.id for t in await list_queue(session)] == [ticket.id]

    assert await claim_ticket(session, ticket.id, anna.id)
    assert not await transfer_ticket(session, ticket.id, to_operator_id=anna.id, from_operator_id=boris.id)
    assert await transfer_ticket(session, ticket.id, to_operator_id=boris.id, from_operator_id=anna.id)
    moved = await get_ticket(session, ticket.id)
    assert moved is not None and moved.operator_id == boris.id and moved.status == TicketStatus.CLAIMED

    assert await transfer_ticket(session, ticket.id, to_department_id=service)
    queued = await get_ticket(session, ticket.id)
    assert queued is not None and queued.status == TicketStatus.QUEUED and queued.department_id == service
    state = await get_conversation(session, conversation.id)
    assert state is not None and state.state == ConversationState.QUEUED and state.department_id == service

    assert await return_to_bot(session, ticket.id)
    back = await get_conversation(session, conversation.id)
    assert back is not None and back.state == ConversationState.BOT and back.operator_id is None
    assert not await close_ticket(session, ticket.id, "answered")  # returned tickets are finished

    _, second = await _ticket(session, "2")
    assert await claim_ticket(session, second.id, anna.id)
    assert not await close_ticket(session, second.id, "answered", operator_id=boris.id)
    assert await close_ticket(session, second.id, "answered", operator_id=anna.id)
    closed = await get_ticket(session, second.id)
    assert closed is not None and closed.status == TicketStatus.CLOSED and closed.resolution == "answered"
    done = await get_conversation(session, second.conversation_id)
    assert done is not None and done.state == ConversationState.CLOSED and done.closed_at is not None


async def test_requeue_unanswered(session: AsyncSession) -> None:
    anna, boris = await _operators(session, 2)
    silent_conversation, silent = await _ticket(session, "1")
    answered_conversation, answered = await _ticket(session, "2")
    _, fresh = await _ticket(session, "3")
    long_ago = utcnow() - timedelta(minutes=10)
    assert await claim_ticket(session, silent.id, anna.id, now=long_ago)
    assert await claim_ticket(session, answered.id, boris.id, now=long_ago)
    assert await claim_ticket(session, fresh.id, anna.id)
    await store_outbound(session, answered_conversation, "Добрый день, смотрю заказ", sender=Sender.OPERATOR,
                         operator_id=boris.id)  # fmt: skip
    await session.commit()

    moved = await requeue_unanswered(session, timedelta(minutes=5))
    assert [(m.ticket_id, m.conversation_id, m.operator_id) for m in moved] == [
        (silent.id, silent_conversation.id, anna.id)
    ]
    assert [t.id for t in await list_queue(session)] == [silent.id]
    back = await get_conversation(session, silent_conversation.id)
    assert back is not None and back.state == ConversationState.QUEUED and back.operator_id is None
    assert await requeue_unanswered(session, timedelta(minutes=5)) == []
    kept = await get_ticket(session, answered.id)
    assert kept is not None and kept.status == TicketStatus.CLAIMED and kept.answered_at is not None
