"""The turn store's backends: how a customer turn gets its transaction, and what it costs no one else."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import func, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.messages import InboundMessage
from bot.store import (
    Conversation,
    ConversationState,
    Customer,
    Database,
    HandoffTicket,
    StoreError,
    create_ticket,
    turn_store,
)
from bot.store.prepared import scalar
from bot.store.sqlite_writer import SQLiteWriter
from bot.store.turn_store import TurnStore
from tests.helpers.postgres import POSTGRES_URL
from tests.helpers.store import customer_says

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _inbound(sender: str, text: str = "позовите оператора") -> InboundMessage:
    return InboundMessage("rest", sender, text)


async def _count(db: Database, model: type[object]) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_turns_statements_and_its_effects_commit_together(db: Database) -> None:
    async with db.turns.transaction() as turn:
        entered = await turn.enter(_inbound("anna"), nlu=None, model_version=None, language="ru", now=NOW)
        ticket_id = await create_ticket(turn, entered.conversation_id, reason="human_request", now=NOW)
        assert await _count(db, HandoffTicket) == 0  # nothing is visible before the turn commits
        await turn.commit()
    async with db.reader() as session:
        ticket = await session.get_one(HandoffTicket, ticket_id)
        conversation = await session.get_one(Conversation, entered.conversation_id)
    assert ticket.conversation_id == entered.conversation_id
    assert conversation.state == ConversationState.QUEUED


async def test_a_turn_that_fails_after_its_effects_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError, match="the bot failed"):
        async with db.turns.transaction() as turn:
            entered = await turn.enter(_inbound("anna"), nlu=None, model_version=None, language="ru", now=NOW)
            await create_ticket(turn, entered.conversation_id, reason="human_request", now=NOW)
            raise RuntimeError("the bot failed")
    assert (await _count(db, Customer), await _count(db, HandoffTicket)) == (0, 0)


async def test_turns_of_one_process_take_the_writer_in_the_order_they_came(db: Database) -> None:
    order: list[str] = []

    async def turn(sender: str, hold: float) -> None:
        async with db.turns.transaction() as transaction:
            order.append(sender)
            await transaction.enter(_inbound(sender), nlu=None, model_version=None, language="ru", now=NOW)
            await asyncio.sleep(hold)  # the others queue meanwhile (on PostgreSQL: a pool of connections)
            await transaction.commit()

    await asyncio.gather(*(turn(f"c{n}", 0.01 if n == 0 else 0) for n in range(6)))
    assert await _count(db, Customer) == 6
    if db.dialect == "sqlite":
        assert order == [f"c{n}" for n in range(6)]


async def test_on_sqlite_a_turn_runs_on_the_event_loops_thread(db: Database) -> None:
    writer = db.turns.sqlite_writer
    if writer is None:
        pytest.skip("only a SQLite file has the one turn writer")
    await customer_says(db, "привет")  # opens the writer's connection
    seen: list[str] = []
    async with writer.transaction() as driver:
        driver.connection.set_trace_callback(lambda sql: seen.append(threading.current_thread().name))
        await driver.end("ROLLBACK")
        driver.connection.set_trace_callback(None)
    await customer_says(db, "ещё раз")
    assert seen and set(seen) == {threading.current_thread().name}


async def test_a_turn_waits_for_another_connections_write_lock_then_commits(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite's one write lock")
    async with db.session() as session:  # the ORM's writer, on its own connection, holds the lock
        await session.execute(text("UPDATE departments SET name = name"))
        waiting = asyncio.create_task(customer_says(db, "я подожду"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await session.commit()
    entered = await asyncio.wait_for(waiting, 5)
    assert not entered.duplicate


async def test_a_lock_held_too_long_is_a_clear_store_error(db: Database) -> None:
    writer = db.turns.sqlite_writer
    if writer is None:
        pytest.skip("SQLite's one write lock")
    impatient = SQLiteWriter(writer.path, writer.dialect, lock_timeout=0.05)
    async with db.session() as session:
        await session.execute(text("UPDATE departments SET name = name"))
        with pytest.raises(StoreError, match="stayed locked"):
            async with impatient.transaction():
                pass
        await session.rollback()
    await impatient.close()


@pytest.mark.postgres
async def test_a_connection_postgresql_dropped_costs_one_turn(pg_db: Database) -> None:
    async with pg_db.turns.transaction() as turn:  # the pool's one connection: which server process?
        pid = await scalar(turn, select(func.pg_backend_pid()))
        await turn.commit()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:  # as a restart would
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    outcomes = []
    for n in range(3):
        try:
            await customer_says(pg_db, "после перезапуска", sender=f"after-{n}")
            outcomes.append("ok")
        except DBAPIError:
            outcomes.append("failed")
    assert outcomes in (["failed", "ok", "ok"], ["ok", "ok", "ok"])
    assert await _count(pg_db, Customer) == outcomes.count("ok")


@pytest.mark.postgres
async def test_a_turn_that_finds_no_free_connection_is_refused_in_time(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_store, "TURN_POOL_SIZE", 1)
    monkeypatch.setattr(turn_store, "POOL_WAIT_SECONDS", 0.3)
    store = TurnStore(pg_db.engine.url, pg_db.engine)  # a pool of one connection
    try:
        async with store.transaction() as holding:  # takes it
            await holding.enter(_inbound("olga"), nlu=None, model_version=None, language="ru", now=NOW)
            started = asyncio.get_running_loop().time()
            with pytest.raises(PoolTimeout, match="no PostgreSQL connection"):  # the server answers 503
                async with store.transaction():
                    pass
            assert asyncio.get_running_loop().time() - started < 3
            await holding.commit()
        async with store.transaction() as turn:  # given back: the next turn gets it
            await turn.enter(_inbound("olga", "ещё"), nlu=None, model_version=None, language="ru", now=NOW)
            await turn.commit()
    finally:
        await store.close()
    assert await _count(pg_db, Customer) == 1


@pytest.mark.postgres
async def test_postgresql_out_of_reach_refuses_the_turn_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turn_store, "POOL_WAIT_SECONDS", 0.5)
    url = make_url("postgresql+psycopg://postgres@127.0.0.1:1/test")  # nothing listens there
    database = Database.open(url)
    try:
        with pytest.raises(PoolTimeout):
            async with database.turns.transaction():
                pass
    finally:
        await database.close()
