"""kill -9 of a real ``botdesk run`` in the middle of a REST load, on SQLite and on PostgreSQL.

After a restart every acknowledged message is stored and answered, every message that
was stored but not answered when the process died gets answered, the queued dialogue
is still queued and an operator reply that was waiting in the outbox goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.messages import OutboundMessage
from bot.project import Project
from bot.store import (
    Database,
    HandoffTicket,
    Message,
    OutboxItem,
    OutboxStatus,
    Sender,
    TicketStatus,
    enqueue,
)
from bot.store.models import utcnow
from bot.store.stranded import stranded_ids
from handoff.service import DELIVERY_KIND
from tests.helpers.postgres import postgres_schema
from tests.helpers.processes import Launch
from tests.server.api_helpers import WEBHOOK, ask_for_a_person

pytestmark = pytest.mark.slow  # real botdesk run processes, killed and restarted
QUESTIONS = ["сколько стоит доставка?", "привет", "какие способы оплаты", "доставка в Казань"]
SENDERS = 12
PER_SENDER = 25  # 300 messages at most
KILL_AFTER = 90  # acknowledged messages


@contextlib.contextmanager
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'killed.db'}"


async def load(base: str, acked: list[tuple[str, str]], enough: asyncio.Event) -> None:
    """Clients each send messages (each of a new customer: the bot answers a repeated
    question with a person) one after another until the server goes away;
    ``acked``: the messages answered with 200 and the bot's replies."""

    async def sender(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for k in range(PER_SENDER):
                message_id = f"m{n}-{k}"
                try:
                    answer = await client.post(
                        WEBHOOK,
                        json={
                            "sender": f"load-{n}-{k}",
                            "message": QUESTIONS[k % len(QUESTIONS)],
                            "message_id": message_id,
                        },
                    )
                except httpx.HTTPError:
                    return  # killed
                if answer.status_code == 200 and answer.json():
                    acked.append((f"load-{n}-{k}", message_id))
                    if len(acked) >= KILL_AFTER:
                        enough.set()

    await asyncio.gather(*(sender(n) for n in range(SENDERS)))
    enough.set()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_kill_9_under_load_loses_nothing_that_was_acknowledged(
    backend: str, tmp_path: Path, open_project: Project, botdesk: Launch
) -> None:
    with database(backend, tmp_path) as url:
        first = await botdesk(open_project, url).start()
        async with httpx.AsyncClient(base_url=first.url) as customer:
            await ask_for_a_person(customer, "waiting-1")
        acked: list[tuple[str, str]] = []
        enough = asyncio.Event()
        running = asyncio.create_task(load(first.url, acked, enough))
        await enough.wait()
        first.kill()
        await running
        assert len(acked) >= KILL_AFTER

        async with Database.open(url) as db:  # an operator reply that was still waiting to go out
            async with db.session() as session:
                reply = OutboundMessage(
                    "rest", "waiting-1", 1, "Анна: уже смотрю ваш заказ", "operator", "Анна"
                )
                await enqueue(session, DELIVERY_KIND, asdict(reply), "deliver-killed-1")
                await session.commit()

            second = await botdesk(open_project, url).start()
            for _ in range(300):  # stranded turns are answered once they are GRACE old
                async with db.reader() as session:
                    left = await stranded_ids(session, before=utcnow(), after=utcnow() - timedelta(hours=1))
                    outbox = await session.scalar(
                        select(OutboxItem.status).where(OutboxItem.idempotency_key == "deliver-killed-1")
                    )
                if not left and outbox == OutboxStatus.SENT:
                    break
                await asyncio.sleep(0.1)
            assert left == [] and outbox == OutboxStatus.SENT, (left, outbox, second.output())

            async with db.reader() as session:
                rows = (
                    await session.execute(
                        select(
                            Message.id,
                            Message.conversation_id,
                            Message.sender,
                            Message.channel_message_id,
                            Message.nlu,
                        ).order_by(Message.id)
                    )
                ).all()
                tickets = list(await session.scalars(select(HandoffTicket.status)))
    by_id = {row.channel_message_id: row for row in rows if row.channel_message_id}
    for _, message_id in acked:
        row = by_id[message_id]
        assert row.nlu is not None, message_id
        answered = [r for r in rows if r.conversation_id == row.conversation_id and r.id > row.id]
        assert any(r.sender == Sender.BOT for r in answered), message_id
    customer_rows = [row for row in rows if row.sender == Sender.CUSTOMER]
    assert all(row.nlu is not None for row in customer_rows)  # nothing stored is left unanswered
    assert len({row.channel_message_id for row in customer_rows}) == len(customer_rows)  # none stored twice
    assert tickets == [TicketStatus.QUEUED]
