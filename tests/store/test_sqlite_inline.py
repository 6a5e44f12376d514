"""SQLite on the loop thread: writers queue in-process, wait for other processes without blocking."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.store import Customer, Database, StoreError, identify_customer
from bot.store import db as db_module
from bot.store.migrate import upgrade
from bot.store.transaction import write_transaction
from bot.store.turns import create_sender

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def test_statements_run_on_the_loop_thread(tmp_path: Path) -> None:
    async with Database.open("sqlite:///t.db", base_dir=tmp_path) as db:
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            sqlite_connection = raw.driver_connection._conn  # type: ignore[union-attr]
            seen: list[str] = []

            def whoami() -> int:
                seen.append(threading.current_thread().name)
                return 1

            sqlite_connection.create_function("whoami", 0, whoami)
            await connection.exec_driver_sql("SELECT whoami()")
        assert seen == [threading.current_thread().name]


async def test_concurrent_writers_queue_for_the_one_writer(tmp_path: Path) -> None:
    """Sixteen turns at once: none fails with "database is locked", all are stored."""
    async with Database.open("sqlite:///w.db", base_dir=tmp_path) as db:
        await upgrade(db.engine)

        async def write(index: int) -> None:
            async with db.session() as session:
                await identify_customer(session, "web", f"visitor-{index}")
                await asyncio.sleep(0.005)  # hold the writer across an await
                await session.commit()

        await asyncio.gather(*(write(i) for i in range(16)))
        async with db.reader() as reader:
            assert await reader.scalar(select(func.count()).select_from(Customer)) == 16


class Ticks:
    """Counts 10 ms sleeps: if the event loop is blocked, the count stalls."""

    def __init__(self) -> None:
        self.count = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.count += 1


async def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another process's writer, as SQLite sees it: a connection in BEGIN IMMEDIATE for ``seconds``.

    Returns once the lock is held; join the thread to wait for its release.
    """
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    await asyncio.to_thread(locked.wait, 5)
    return holder


async def write_customer(db: Database, how: str, external_id: str) -> None:
    """A write as the operator panel makes one (an ORM session) or as a customer turn does.

    A turn begins and commits on the sqlite3 connection itself (``bot.store.transaction``),
    a session through SQLAlchemy: both must wait for another process's lock the same way.
    """
    if how == "session":
        async with db.session() as session:
            await identify_customer(session, "web", external_id)
            await session.commit()
    else:
        async with write_transaction(db) as transaction:
            await create_sender(transaction.driver, "web", external_id, None, NOW)
            await transaction.commit()


WRITES = pytest.mark.parametrize("how", ["session", "turn"])


@WRITES
async def test_a_writer_waits_for_another_connection_without_blocking_the_loop(
    tmp_path: Path, how: str
) -> None:
    async with Database.open("sqlite:///x.db", base_dir=tmp_path) as db:
        await upgrade(db.engine)
        holder = await hold_write_lock(tmp_path / "x.db", 0.5)
        ticks = Ticks()
        ticker = asyncio.create_task(ticks.run())
        started = time.monotonic()
        await write_customer(db, how, "patient")
        waited = time.monotonic() - started
        ticker.cancel()
        holder.join()
        assert waited >= 0.4  # it did wait for the lock...
        assert ticks.count >= 20  # ...and the event loop kept running meanwhile


@WRITES
async def test_a_lock_held_too_long_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    async with Database.open("sqlite:///y.db", base_dir=tmp_path) as db:
        await upgrade(db.engine)
        holder = await hold_write_lock(tmp_path / "y.db", 1.0)
        with pytest.raises(StoreError, match="locked by another process"):
            await write_customer(db, how, "impatient")
        holder.join()
        await write_customer(db, how, "impatient")  # and once it is free, writing works again
        async with db.reader() as session:
            assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_a_long_read_does_not_hold_up_the_loop(tmp_path: Path) -> None:
    """Readers (KPIs, exports) run on aiosqlite's threads: the loop keeps serving meanwhile."""
    async with Database.open("sqlite:///r.db", base_dir=tmp_path) as db:
        await upgrade(db.engine)
        ticks = Ticks()
        ticker = asyncio.create_task(ticks.run())
        slow = text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
            "SELECT count(*) FROM n"
        )
        started = time.monotonic()
        async with db.reader() as reader:
            assert await reader.scalar(slow) == 3_000_000
        took = time.monotonic() - started
        ticker.cancel()
        assert took > 0.2 and ticks.count >= 0.5 * took / 0.01
