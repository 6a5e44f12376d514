"""SQLite's one writer connection, handed from customer turn to customer turn while they queue.

A process has one writer connection on a SQLite file (``bot.store.db``). Checking it out
of SQLAlchemy's pool and back in costs 48-64 µs a turn here (the connection wrapper, the
pool's bookkeeping, two trips through the greenlet bridge; benchmarks/store_writes.py),
more than the turn's BEGIN and COMMIT themselves. Under load turns wait for the writer one
behind the other, so the lane hands the connection straight to the next waiting turn
instead, and gives it back to the pool when nobody waits, after ``MAX_STREAK`` turns in a
row (the operator panel and the workers take it from the pool: they wait for at most that
many turns), or when a turn failed (its transaction is rolled back as the pool takes the
connection).

Turns take the lane first come, first served: an ``asyncio.Lock`` serves its waiters in
order, while the pool's ``asyncio.Queue`` lets a newcomer take a connection just handed to
a waiter, who then queues again at the back: under load a turn could wait behind any
number of later ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MAX_STREAK = 16  # turns in a row on one checkout, at most


class WriterLane:
    """``async with lane.connection() as connection``: the writer, with no transaction begun."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._held: AsyncConnection | None = None
        self._streak = 0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        self._waiting += 1
        try:
            await self._lock.acquire()
        except BaseException:  # cancelled while waiting
            self._waiting -= 1
            if not self._waiting and not self._lock.locked():
                await self.close()  # kept for a turn that no longer comes
            raise
        self._waiting -= 1
        try:
            connection, self._held = self._held, None
            if connection is None or connection.closed or connection.invalidated:
                connection = await self.engine.connect()
                self._streak = 0
            try:
                yield connection
            except BaseException:
                await connection.close()
                raise
            if connection.in_transaction():  # left open by the caller: not for the next turn
                await connection.close()
            elif self._waiting and self._streak < MAX_STREAK:
                self._held, self._streak = connection, self._streak + 1
            else:
                await connection.close()
        finally:
            self._lock.release()

    async def close(self) -> None:
        """Give a connection kept for a next turn back to the pool (before the engine is disposed)."""
        connection, self._held = self._held, None
        if connection is not None:
            await connection.close()
