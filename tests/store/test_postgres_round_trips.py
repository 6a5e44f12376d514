"""A PostgreSQL turn's round trips: BEGIN and COMMIT ride with a neighbour (``JoinedPsycopgDriver``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from bot.messages import InboundMessage
from bot.store import Conversation, Database, Message
from bot.store.prepared import run

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every query psycopg sends to the server from here on (one round trip each)."""
    sent: list[str] = []
    original = psycopg.AsyncCursor.execute

    async def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", execute)
    yield sent


async def _turn(db: Database, sender: str, text: str) -> int:
    async with db.turns.transaction() as turn:
        entered = await turn.enter(
            InboundMessage("rest", sender, text), nlu=None, model_version=None, language="ru", now=NOW
        )
        await turn.say(entered.conversation_id, ["Курьером — 1–2 дня."], NOW)
        await turn.save_dialogue(
            entered.conversation_id,
            dialogue={"turns": 1},
            slots={},
            active_loop=None,
            misunderstood=0,
            now=NOW,
        )
        await turn.commit()
    return entered.conversation_id


async def test_a_returning_customers_turn_is_four_round_trips(pg_db: Database, queries: list[str]) -> None:
    await _turn(pg_db, "anna", "привет")  # the first contact creates the customer
    queries.clear()
    conversation_id = await _turn(pg_db, "anna", "сколько стоит доставка")
    assert len(queries) == 4, queries
    assert queries[0].startswith("BEGIN; ")  # with the sender's row and its lock
    assert queries[-1].startswith("UPDATE") and queries[-1].endswith("; COMMIT")  # the dialogue state
    async with pg_db.reader() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert conversation.dialogue == {"turns": 1}
    assert texts[-2:] == ["сколько стоит доставка", "Курьером — 1–2 дня."]


async def test_a_failing_statement_that_waited_for_the_commit_fails_the_whole_turn(pg_db: Database) -> None:
    conversations = Conversation.__table__
    with pytest.raises(DBAPIError):
        async with pg_db.turns.transaction() as turn:
            entered = await turn.enter(
                InboundMessage("rest", "boris", "привет"),
                nlu=None,
                model_version=None,
                language="ru",
                now=NOW,
            )
            breaking = update(conversations).where(conversations.c.id == entered.conversation_id)
            assert await run(turn, breaking.values(state=None, updated_at=NOW)) == []  # waits: not sent yet
            await turn.commit()  # sent with the COMMIT: the NOT NULL refuses it
    async with pg_db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
    await _turn(pg_db, "boris", "привет")  # the connection went back usable
