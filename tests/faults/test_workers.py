"""Background work runs once although every process runs the workers: two "processes" (two
engines, two services) on one PostgreSQL, at the same time."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from bot.project import Project
from bot.store import (
    Conversation,
    Database,
    Message,
    Operator,
    OperatorStatus,
    Sender,
    claim_ticket,
    create_lead,
    create_ticket,
    upgrade,
)
from bot.store.models import utcnow
from bot.store.sessions import create_session
from handoff.accounts import add_account
from handoff.assign import AutoAssigner
from handoff.outbox import OutboxWorker
from handoff.service import OperatorService
from tests.helpers.store import customer_says

pytestmark = pytest.mark.postgres
LEADS = 40


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[Database, Database]]:
    first, second = Database.open(pg_url), Database.open(pg_url)
    await upgrade(first.engine)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def conversation(db: Database, n: int) -> tuple[int, int]:
    entered = await customer_says(db, "позовите оператора", sender=f"w-{n}")
    return entered.customer_id, entered.conversation_id


async def test_two_outbox_workers_deliver_each_lead_exactly_once(two: tuple[Database, Database]) -> None:
    first, second = two
    for n in range(LEADS):
        customer_id, conversation_id = await conversation(first, n)
        async with first.session() as session:
            await create_lead(
                session,
                customer_id=customer_id,
                conversation_id=conversation_id,
                channel="telegram",
                name=f"Анна {n}",
                phone=f"+7916{3_000_000 + n:07d}",
                consent=True,
            )
            await session.commit()
    pushed: Counter[str] = Counter()

    async def crm(request: httpx.Request) -> httpx.Response:
        pushed[request.headers["Idempotency-Key"]] += 1
        await asyncio.sleep(0.01)  # a CRM that takes its time: the workers overlap
        return httpx.Response(201, json={"id": f"crm-{len(pushed)}"})

    crm_section = [{"adapter": "webhook", "url": "http://crm.test/leads", "secret_env": None}]
    workers = [
        OutboxWorker.from_config(db.sessions, crm_section, transport=httpx.MockTransport(crm), batch_size=5)
        for db in (first, second)
    ]
    stats = await asyncio.gather(*(worker.run_once() for worker in workers for _ in range(4)))
    for worker in workers:
        await worker.aclose()
    assert len(pushed) == LEADS and set(pushed.values()) == {1}, pushed
    assert sum(s.claimed for s in stats) == LEADS
    assert all(s.claimed for s in stats[:2])  # both processes did part of the work


async def test_two_processes_ticking_at_once_tell_each_customer_once(
    two: tuple[Database, Database], trained_ru: Project
) -> None:
    first, second = two
    long_ago = utcnow() - timedelta(hours=2)
    operator = await add_account(first, "anna", "correct horse battery", display_name="Анна")
    waiting, held = [], []
    for n in range(8):
        _, conversation_id = await conversation(first, n)
        async with first.session() as session:
            opened = await session.get_one(Conversation, conversation_id)
            ticket_id = await create_ticket(session, opened.id, reason="human_request", now=long_ago)
            await session.commit()
            if n % 2:
                await claim_ticket(session, ticket_id, operator.id, now=long_ago)  # and never answered
                held.append(conversation_id)
            else:
                waiting.append(conversation_id)
    services = [
        OperatorService(trained_ru.config, db, trained_ru.engine(seed=None)) for db in (first, second)
    ]
    results = await asyncio.gather(*(service.tick() for service in services for _ in range(3)))
    async with first.reader() as session:
        rows = (
            await session.execute(
                select(Message.conversation_id, Message.text).where(Message.sender == Sender.SYSTEM)
            )
        ).all()
    told: dict[int, list[str]] = {}
    for conversation_id, text in rows:
        told.setdefault(conversation_id, []).append(text)
    requeued = [t for r in results for t in r["requeued"]]
    offered = [t for r in results for t in r["callback_offered"]]
    assert len(requeued) == len(set(requeued)) == len(held)
    assert len(offered) == len(set(offered))
    assert sorted(told) == sorted(waiting + held)
    for conversation_id in waiting:  # "the queue is long, shall we call you back?", once
        assert len(told[conversation_id]) == 1, told[conversation_id]
    for conversation_id in held:  # "Анна left the chat", once (then perhaps the wait notice, once)
        texts = told[conversation_id]
        assert [text for text in texts if "Анна" in text] == texts[:1] and len(texts) <= 2, texts


async def test_auto_assignment_in_two_processes_never_gives_a_dialogue_twice(
    two: tuple[Database, Database], trained_ru: Project
) -> None:
    first, second = two
    config = trained_ru.config.model_copy(
        update={"operators": trained_ru.config.operators.model_copy(update={"auto_assign": True})}
    )
    operator = await add_account(first, "anna", "correct horse battery", display_name="Анна", max_parallel=2)
    async with first.session() as session:
        await session.execute(update(Operator).values(status=OperatorStatus.ONLINE))
        now = utcnow()
        await create_session(
            session, operator.id, "hash", "csrf", now=now, expires_at=now + timedelta(hours=1)
        )
        await session.commit()
    opened = [(await conversation(first, 100 + n))[1] for n in range(5)]
    async with first.session() as session:
        for conversation_id in opened:
            await create_ticket(session, conversation_id, reason="human_request")
        await session.commit()
    assigners = [
        AutoAssigner(config, db, OperatorService(config, db, trained_ru.engine(seed=None)), utcnow)
        for db in (first, second)
    ]
    given = await asyncio.gather(*(assigner.assign() for assigner in assigners for _ in range(3)))
    tickets = [ticket for pass_ in given for ticket, _ in pass_]
    async with first.reader() as session:
        joined = list(
            await session.scalars(
                select(Message.conversation_id).where(
                    Message.sender == Sender.SYSTEM, Message.text.contains("Анна")
                )
            )
        )
    assert len(tickets) == len(set(tickets)) == 2  # her limit, across both processes
    assert len(joined) == len(set(joined)) == 2  # "Анна joined the chat", once per dialogue


async def test_processes_starting_at_once_migrate_the_database_once(pg_url: str) -> None:
    engines = [Database.open(pg_url) for _ in range(3)]
    try:
        revisions = await asyncio.gather(*(upgrade(db.engine) for db in engines))
    finally:
        for db in engines:
            await db.close()
    assert len(set(revisions)) == 1 and revisions[0] is not None
