"""SQLite's customer-turn writer: one sqlite3 connection, used on the event loop's thread.

A customer turn is four to six short statements. Through aiosqlite each call is a hop to
a worker thread and back, far more than the statement itself in WAL mode (the figures:
docs/benchmarks.md, store-writes, by benchmarks/store_writes.py). So the turn store (``bot.store.turn_store``)
keeps a plain ``sqlite3`` connection of its own and calls it directly. That is safe only
because nothing on it ever waits for a lock on the loop's thread:

- turns of this process take the connection one at a time, first come first served
  (``asyncio.Lock`` wakes its waiters in order; a newcomer never barges past them);
- ``BEGIN IMMEDIATE`` is tried without SQLite's busy handler, and while another connection
  (another process, or this process's ORM writer on aiosqlite's thread) holds the write
  lock it is tried again after an ``asyncio.sleep``;
- in WAL mode nothing after ``BEGIN IMMEDIATE`` waits for a lock.

The log is checkpointed by ``checkpoint`` on a worker thread while the writer is held
(``bot.store.checkpoints``), never inside a commit on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError

from bot.store.errors import StoreError
from bot.store.prepared import SQLiteDriver


class LockWait:
    """Tries of ``BEGIN IMMEDIATE`` while another connection holds the write lock: 1 ms, doubling to 50."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.delay = 0.001

    def next_delay(self, exc: sqlite3.OperationalError) -> float:
        """How long to sleep before trying again; raises what ``exc`` means when it is not the lock."""
        reason = str(exc)
        if "locked" not in reason and "busy" not in reason:
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        if time.monotonic() >= self.deadline:
            raise StoreError(
                f"the SQLite database stayed locked by another process for {self.timeout:g} s"
            ) from None
        delay, self.delay = self.delay, min(self.delay * 2, 0.05)
        return delay


async def begin_immediate(connection: sqlite3.Connection, timeout: float) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``timeout`` s (with asyncio, not the busy handler) for the lock."""
    wait = LockWait(timeout)
    while True:
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            delay = wait.next_delay(exc)
        await asyncio.sleep(delay)


class SQLiteWriter:
    """The turn writer of one SQLite file: ``async with writer.transaction() as driver``.

    Args:
        path: the database file (or a ``file:`` URI when ``uri``).
        dialect: SQLAlchemy's SQLite dialect, to compile statements and convert values.
        lock_timeout: how long a turn waits for another connection's write lock.
        background_checkpoints: the caller runs ``checkpoint`` now and then; automatic
            checkpoints (inside a commit, on the loop) are turned off.
    """

    def __init__(
        self,
        path: str,
        dialect: Dialect,
        *,
        uri: bool = False,
        lock_timeout: float = 10.0,
        background_checkpoints: bool = False,
    ) -> None:
        self.path = path
        self.dialect = dialect
        self.uri = uri
        self.lock_timeout = lock_timeout
        self.background_checkpoints = background_checkpoints
        self._lock = asyncio.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the sqlite3 module's.
        connection = sqlite3.connect(
            self.path, timeout=0, uri=self.uri, check_same_thread=False, isolation_level=None
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=0")  # never wait on the loop's thread
            if self.background_checkpoints:
                connection.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self._connection = self._connect()
            except sqlite3.Error as exc:
                raise OperationalError("connect", None, exc) from exc
        return self._connection

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteDriver]:
        """The writer in a ``BEGIN IMMEDIATE`` transaction; rolled back unless the caller committed."""
        async with self._lock:
            connection = self._open()
            await begin_immediate(connection, self.lock_timeout)
            driver = SQLiteDriver(connection, self.dialect)
            try:
                yield driver
            finally:
                if connection.in_transaction:
                    try:
                        connection.execute("ROLLBACK")
                    except sqlite3.Error:  # the connection is broken: open a new one next time
                        self._drop()

    async def checkpoint(self) -> tuple[int, int, int] | None:
        """``PRAGMA wal_checkpoint(PASSIVE)`` on a worker thread, holding the writer meanwhile.

        Returns SQLite's (busy, log pages, pages copied back); None before the first write.
        """
        async with self._lock:
            connection = self._connection
            if connection is None:
                return None
            busy, log_pages, copied = await asyncio.to_thread(
                lambda: connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            )
            return int(busy), int(log_pages), int(copied)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    async def close(self) -> None:
        """Close the connection once the turn holding it (if any) is done."""
        async with self._lock:
            self._drop()
