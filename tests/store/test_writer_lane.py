"""The SQLite writer handed from turn to turn while turns queue, and back to the pool otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from bot.store import Customer, Database, upgrade
from bot.store.writer_lane import MAX_STREAK, WriterLane


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.open(f"sqlite:///{tmp_path / 'lane.db'}")
    await upgrade(database.engine)
    try:
        yield database
    finally:
        await database.close()


def lane_of(db: Database) -> WriterLane:
    lane = db.writer_lane()
    assert lane is not None
    return lane


def count_checkouts(db: Database) -> list[int]:
    checkouts = [0]

    def checked_out(*_: Any) -> None:
        checkouts[0] += 1

    event.listen(db.engine.sync_engine.pool, "checkout", checked_out)
    return checkouts


async def turn(lane: WriterLane, name: str) -> None:
    """A customer turn in miniature: a write that awaits in the middle, as a real turn does."""
    async with lane.connection() as connection:
        await connection.begin()
        await connection.execute(
            text("INSERT INTO customers (display_name, created_at) VALUES (:n, '2026-12-04 12:00:00')"),
            {"n": name},
        )
        await asyncio.sleep(0)
        await connection.commit()


async def test_queued_turns_share_one_checkout_in_order(sqlite_db: Database) -> None:
    lane, checkouts, order = lane_of(sqlite_db), count_checkouts(sqlite_db), []

    async def customer(index: int) -> None:
        for n in range(5):
            await turn(lane, f"c{index}-{n}")
            order.append(index)  # no await between turns: asks again at once

    await asyncio.gather(*(customer(i) for i in range(4)))
    assert order == [0, 1, 2, 3] * 5  # first come, first served: nobody jumps the queue
    assert checkouts[0] <= 2  # handed from turn to turn, not checked out twenty times
    assert sqlite_db.engine.sync_engine.pool.checkedout() == 0  # back in the pool when nobody waits
    async with sqlite_db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 20


async def test_turns_one_at_a_time_check_out_each_time(sqlite_db: Database) -> None:
    lane, checkouts = lane_of(sqlite_db), count_checkouts(sqlite_db)
    for n in range(5):
        await turn(lane, f"c{n}")
        assert sqlite_db.engine.sync_engine.pool.checkedout() == 0
    assert checkouts[0] == 5


async def test_the_panel_gets_the_writer_within_a_streak(sqlite_db: Database) -> None:
    """Turns without end do not keep the operator panel (the pool's other users) waiting."""
    lane, done = lane_of(sqlite_db), asyncio.Event()
    turns = 0

    async def customer(index: int) -> None:
        nonlocal turns
        n = 0
        while not done.is_set():
            await turn(lane, f"c{index}-{n}")
            turns, n = turns + 1, n + 1

    customers = [asyncio.create_task(customer(i)) for i in range(4)]
    await asyncio.sleep(0.05)
    before = turns
    async with sqlite_db.session() as session:
        await session.execute(text("INSERT INTO departments (key, name) VALUES ('sales', 'Продажи')"))
        await session.commit()
    waited = turns - before
    done.set()
    await asyncio.gather(*customers)
    assert waited <= MAX_STREAK + 4


async def test_a_failed_turn_gives_its_connection_back_rolled_back(sqlite_db: Database) -> None:
    lane = lane_of(sqlite_db)
    with pytest.raises(RuntimeError):
        async with lane.connection() as connection:
            await connection.begin()
            await connection.execute(text("INSERT INTO departments (key, name) VALUES ('x', 'X')"))
            raise RuntimeError("the bot failed")
    assert sqlite_db.engine.sync_engine.pool.checkedout() == 0
    await turn(lane, "next")  # the writer is usable: no transaction left open on it
    async with sqlite_db.reader() as session:
        assert await session.scalar(text("SELECT count(*) FROM departments")) == 0


async def test_a_turn_cancelled_while_waiting_does_not_keep_the_writer(sqlite_db: Database) -> None:
    lane, entered = lane_of(sqlite_db), asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with lane.connection():
            entered.set()
            await release.wait()

    async def second() -> None:
        async with lane.connection():
            pass

    holder = asyncio.create_task(first())
    await entered.wait()
    waiter = asyncio.create_task(second())
    await asyncio.sleep(0)  # the second turn queues
    release.set()
    waiter.cancel()  # gone (its request cancelled) before the first turn ends
    await holder  # the first turn kept the writer for the second...
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert sqlite_db.engine.sync_engine.pool.checkedout() == 0  # ...which gave it back to the pool


async def test_only_a_sqlite_file_has_a_lane(tmp_path: Path) -> None:
    async with Database.open("sqlite://") as memory:
        assert memory.writer_lane() is None
