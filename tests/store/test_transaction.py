"""The turn's transaction: prepared statements and an on-demand ORM session commit or roll back together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.store import ChannelIdentity, Customer, Database, create_operator
from bot.store.models import Operator
from bot.store.transaction import write_transaction
from bot.store.turns import create_sender

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def _counts(db: Database) -> tuple[int, int]:
    async with db.reader() as session:
        customers = await session.scalar(select(func.count()).select_from(Customer))
        operators = await session.scalar(select(func.count()).select_from(Operator))
    return int(customers or 0), int(operators or 0)


async def test_statements_and_orm_writes_commit_together(db: Database) -> None:
    async with write_transaction(db) as transaction:
        assert not transaction.has_session  # the usual turn never makes one
        assert await create_sender(transaction.driver, "rest", "anna", None, NOW) is not None
        session = await transaction.session()
        await create_operator(session, "boris", "Борис")
        await session.commit()  # the ORM's commit only flushes: the transaction is the turn's
        assert await _counts(db) == (0, 0)  # nothing visible outside before the turn commits
        await transaction.commit()
    assert await _counts(db) == (1, 1)


async def test_leaving_without_commit_rolls_both_back(db: Database) -> None:
    with pytest.raises(RuntimeError, match="the bot failed"):
        async with write_transaction(db) as transaction:
            await create_sender(transaction.driver, "rest", "anna", None, NOW)
            await create_operator(await transaction.session(), "boris", "Борис")
            await (await transaction.session()).commit()
            raise RuntimeError("the bot failed")
    assert await _counts(db) == (0, 0)
    async with write_transaction(db) as transaction:  # the writer is free again
        await create_sender(transaction.driver, "rest", "vera", None, NOW)
        await transaction.commit()
    assert await _counts(db) == (1, 0)


async def test_a_turn_without_the_orm_is_rolled_back_unless_committed(db: Database) -> None:
    with pytest.raises(RuntimeError, match="the bot failed"):
        async with write_transaction(db) as transaction:
            await create_sender(transaction.driver, "rest", "anna", None, NOW)
            raise RuntimeError("the bot failed")

    async def leaves_without_commit() -> None:
        async with write_transaction(db) as transaction:
            await create_sender(transaction.driver, "rest", "boris", None, NOW)
            await asyncio.sleep(0.01)  # vera asks for the writer meanwhile: it is handed to her

    async def commits() -> None:
        await asyncio.sleep(0)  # after boris took the writer
        async with write_transaction(db) as transaction:
            await create_sender(transaction.driver, "rest", "vera", None, NOW)
            await transaction.commit()

    await asyncio.gather(leaves_without_commit(), commits())
    async with db.reader() as session:
        assert (await session.scalars(select(ChannelIdentity.external_id))).all() == ["vera"]
    assert await _counts(db) == (1, 0)


async def test_on_sqlite_the_usual_turn_never_begins_sqlalchemy(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's transaction runs on the sqlite3 connection; PostgreSQL's through SQLAlchemy")
    async with write_transaction(db) as transaction:
        await create_sender(transaction.driver, "rest", "anna", None, NOW)
        assert not transaction.connection.in_transaction()  # begun and ended on the sqlite3 connection
        await transaction.session()
        assert transaction.connection.in_transaction()  # the ORM joined it: no second BEGIN
        await transaction.commit()
    assert await _counts(db) == (1, 0)


async def test_concurrent_transactions_all_commit(db: Database) -> None:
    """Four customers at once, each awaiting mid-transaction: every write lands (order: test_writer_lane)."""

    async def customer(index: int) -> None:
        for n in range(5):
            async with write_transaction(db) as transaction:
                await create_sender(transaction.driver, "rest", f"c{index}-{n}", None, NOW)
                await asyncio.sleep(0)  # the others ask for the writer meanwhile
                await transaction.commit()

    await asyncio.gather(*(customer(i) for i in range(4)))
    assert await _counts(db) == (20, 0)
