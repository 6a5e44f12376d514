"""Messages a crashed process stored but never answered are answered after, exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.conversation import ConversationService
from bot.messages import InboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, Message, Sender, upgrade
from bot.store.models import utcnow
from bot.store.stranded import stranded_ids
from tests.helpers.postgres import postgres_schema
from tests.helpers.server import AppFactory, serve


async def strand(db: Database, sender: str, text: str, *, age: timedelta = timedelta(minutes=1)) -> int:
    """A customer message stored as the REST channel stores it, whose turn then died."""
    await db.turns.keep_unanswered(InboundMessage("rest", sender, text), language="ru", now=utcnow() - age)
    async with db.session() as session:
        stored = (await session.scalars(select(Message).order_by(Message.id.desc()).limit(1))).one()
        return int(stored.id)


async def messages_of(db: Database) -> list[tuple[str, str, bool]]:
    async with db.reader() as session:
        rows = await session.execute(select(Message.sender, Message.text, Message.nlu).order_by(Message.id))
        return [(str(sender), text, nlu is not None) for sender, text, nlu in rows]


async def test_a_stranded_message_is_answered_when_the_server_starts(
    make_app: AppFactory, sqlite_url: str
) -> None:
    async with Database.open(sqlite_url) as db:
        await upgrade(db.engine)
        await strand(db, "crashed-1", "привет")
        await strand(db, "fresh-1", "привет", age=timedelta(0))  # its turn may still be running elsewhere
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        answers: list[dict[str, str]] = []

        async def poll() -> None:
            answer = await client.get("/webhooks/rest/messages", params={"sender": "crashed-1"})
            answers[:] = answer.json()

        for _ in range(250):
            await poll()
            if answers:
                break
            await asyncio.sleep(0.02)
        assert answers, "the stranded message was not answered"
    assert all(answer["sender"] == "bot" and answer["sender_name"] == "🤖 Бот" for answer in answers), answers
    async with Database.open(sqlite_url) as db:
        stored = await messages_of(db)
    customers = [row for row in stored if row[0] == "customer"]
    assert customers == [("customer", "привет", True), ("customer", "привет", False)]  # the young one waits
    assert [s for s, _, _ in stored].count("bot") == len(answers)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_two_processes_recovering_at_once_answer_once(
    backend: str, tmp_path: Path, trained_ru: Project, ru_pipeline: Pipeline
) -> None:
    with postgres_schema() if backend == "postgresql" else _sqlite(tmp_path) as url:
        async with Database.open(url) as db:
            await upgrade(db.engine)
            ids = [await strand(db, f"c{n}", "сколько стоит доставка?") for n in range(5)]
            services = [
                ConversationService(
                    trained_ru.config, db.turns, lambda: ru_pipeline, trained_ru.engine(seed=None)
                )
                for _ in range(2)
            ]
            results = await asyncio.gather(*(s.answer_stored(i) for i in ids for s in services))
            answered = [r for r in results if r is not None]
            async with db.reader() as session:
                bots = await session.scalar(
                    select(func.count()).select_from(Message).where(Message.sender == Sender.BOT)
                )
                left = await stranded_ids(session, before=utcnow(), after=utcnow() - timedelta(days=1))
    assert len(answered) == 5
    assert bots == sum(len(r.replies) for r in answered) and bots >= 5
    assert left == []


class _sqlite:
    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'recovery.db'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None
