"""The turn's transaction: prepared statements and an on-demand ORM session commit or roll back together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.store import Customer, Database, create_operator
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
