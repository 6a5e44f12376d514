"""SQLite on the event loop's own thread: no thread hop per statement.

aiosqlite runs every call (cursor, execute, fetch, commit) on a worker thread and waits
for the answer. On the machines botdesk is measured on a hop costs 0.2-0.8 ms, far more
than the statement itself (10-50 µs in WAL mode), so a customer turn spent most of its
time waiting for threads to wake up. Here the same aiosqlite connection runs each call
directly on the loop's thread; its worker thread is only used to open the connection.

Running SQLite on the loop's thread is safe only if it never waits for a lock there:

- one writer connection per process (``Database`` sizes its pool to 1), so writers in
  this process wait for it in the pool, asynchronously and first come first served;
- ``BEGIN IMMEDIATE`` is tried without SQLite's busy handler and, while another process
  holds the write lock, retried after ``asyncio.sleep`` (``begin_immediate``);
- in WAL mode nothing after ``BEGIN IMMEDIATE`` waits for a lock.

Readers (``Database.reader()``) stay on aiosqlite's threads: a long read (a month of KPIs)
would hold up the loop, and they are not on the customer's path.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import await_only

from bot.store.errors import StoreError


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling thread (the event loop's)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    @property
    def sqlite(self) -> sqlite3.Connection | None:
        """The sqlite3 connection itself, for statements run as plain calls (``bot.store.prepared``)."""
        connection: sqlite3.Connection | None = self._connection
        return connection


def inline_creator(database: str, *, uri: bool = False) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for ``create_async_engine``: inline connections to ``database``."""

    def connect() -> sqlite3.Connection:
        # check_same_thread=False: opened on aiosqlite's thread, used on the loop's.
        return sqlite3.connect(database, timeout=0, uri=uri, check_same_thread=False, isolation_level=None)

    async def create() -> InlineConnection:
        connection = InlineConnection(connect, iter_chunk_size=64)
        # Like SQLAlchemy's own aiosqlite dialect: the worker must not keep the process alive
        # (before aiosqlite 0.22 the connection itself was the thread).
        worker: Any = getattr(connection, "_thread", connection)
        worker.daemon = True
        await connection
        return connection

    return create


class _LockWait:
    """Tries of ``BEGIN IMMEDIATE`` while another process holds the write lock: 1 ms, doubling to 50."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.delay = 0.001

    def next_delay(self, exc: OperationalError | sqlite3.OperationalError) -> float:
        """How long to sleep before trying again; raises what ``exc`` means when it is not the lock."""
        reason = str(getattr(exc, "orig", None) or exc)
        if "locked" not in reason and "busy" not in reason:
            if isinstance(exc, sqlite3.OperationalError):
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            raise exc
        if time.monotonic() >= self.deadline:
            raise StoreError(
                f"the SQLite database stayed locked by another process for {self.timeout:g} s"
            ) from None
        delay, self.delay = self.delay, min(self.delay * 2, 0.05)
        return delay


def begin_immediate(connection: Any, timeout: float) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write lock without blocking the loop.

    Called from SQLAlchemy's ``begin`` event, which runs inside its greenlet bridge, so
    ``await_only`` can yield to the event loop between tries. On an inline connection
    the statement is a plain sqlite3 call (SQLAlchemy's execute costs ten times more). A
    transaction begun on the sqlite3 connection already (``begin_inline``) is joined.
    """
    driver = connection.connection.driver_connection
    sqlite = driver.sqlite if isinstance(driver, InlineConnection) else None
    if sqlite is not None and sqlite.in_transaction:
        return
    wait = _LockWait(timeout)
    while True:
        try:
            if sqlite is not None:
                sqlite.execute("BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except (OperationalError, sqlite3.OperationalError) as exc:
            delay = wait.next_delay(exc)
        await_only(asyncio.sleep(delay))


async def begin_inline(sqlite: sqlite3.Connection, timeout: float) -> None:
    """``BEGIN IMMEDIATE`` on the sqlite3 connection itself, for a transaction SQLAlchemy joins only if asked.

    A customer turn's usual statements and its commit run on the sqlite3 connection
    (``bot.store.transaction``): 5 µs of CPU for both instead of SQLAlchemy's 28
    (benchmarks/store_writes.py).
    """
    wait = _LockWait(timeout)
    while True:
        try:
            sqlite.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            delay = wait.next_delay(exc)
        await asyncio.sleep(delay)
