"""A write transaction on one connection: prepared statements first, the ORM only when asked for.

A customer turn runs its usual statements on the driver connection (``bot.store.prepared``)
and needs the ORM only for its rarer steps: a changed profile, a ticket, a lead card, a
survey answer. An ``AsyncSession`` for every turn cost 26-42 µs of CPU more than a plain
connection here (the session's own transaction bookkeeping on top of the connection's;
benchmarks/store_writes.py), so ``write_transaction`` begins on a plain connection and
makes the session on first use, bound to that connection and joining its transaction:
everything the turn writes, through either, commits or rolls back together.

On SQLite the transaction itself starts on the sqlite3 connection (``BEGIN IMMEDIATE``,
``SQLiteDriver.begin``): SQLAlchemy's begin and commit, each a trip through its greenlet
bridge and its events, took 28 µs of CPU a turn, against 5 µs on the sqlite3 connection
(benchmarks/store_writes.py). When a turn asks for the ORM, SQLAlchemy begins too and joins
the open transaction (its begin listener sees it open and issues nothing); the commit then
goes through SQLAlchemy, and otherwise straight to the sqlite3 connection. Not committed,
it is rolled back either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.store import db as store_db
from bot.store.db import Database
from bot.store.prepared import Driver, SQLiteDriver, driver_of


class Transaction:
    """``driver`` for prepared statements, ``await session()`` for the ORM; ``commit()`` ends it."""

    def __init__(self, connection: AsyncConnection, driver: Driver) -> None:
        self.connection = connection
        self.driver = driver
        self._sqlite = driver if isinstance(driver, SQLiteDriver) else None  # began on sqlite3
        self._session: AsyncSession | None = None

    @property
    def has_session(self) -> bool:
        return self._session is not None

    async def session(self) -> AsyncSession:
        """An ORM session in this transaction (made once).

        Its ``commit()`` only flushes: the transaction is this object's. Its ``rollback()``
        rolls the whole transaction back.
        """
        if self._session is None:
            if not self.connection.in_transaction():
                await self.connection.begin()  # joins the one begun on the sqlite3 connection
            # SQLAlchemy's default join mode ("conditional_savepoint") for a connection in a
            # transaction: commit() does not end it, rollback() rolls it back.
            self._session = AsyncSession(bind=self.connection, expire_on_commit=False)
        return self._session

    async def flush(self) -> None:
        """The ORM's pending changes to the database, before statements that bypass it."""
        if self._session is not None:
            await self._session.flush()

    async def commit(self) -> None:
        await self.flush()
        if self._sqlite is None or self.connection.in_transaction():
            await self.connection.commit()
        elif self._sqlite.in_transaction:  # not rolled back by the ORM meanwhile
            await self._sqlite.end("COMMIT")

    async def close(self) -> None:
        """End the ORM session; a transaction on the sqlite3 connection not committed is rolled back."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        # SQLAlchemy's own transaction, if it began one, is rolled back as the pool takes the connection.
        if self._sqlite is not None and self._sqlite.in_transaction and not self.connection.in_transaction():
            await self._sqlite.end("ROLLBACK")


@contextlib.asynccontextmanager
async def write_transaction(db: Database) -> AsyncIterator[Transaction]:
    """A transaction on the writer (SQLite: ``BEGIN IMMEDIATE``); rolled back unless committed.

    On a SQLite file turns take the writer through ``Database.writer_lane()``: in the order
    they asked for it, and handed from one to the next while they queue.
    """
    lane = db.writer_lane()
    async with lane.connection() if lane is not None else db.engine.connect() as connection:
        driver = await driver_of(connection)
        if isinstance(driver, SQLiteDriver):
            await driver.begin(store_db.SQLITE_BUSY_TIMEOUT_MS / 1000)
        else:
            await connection.begin()
        transaction = Transaction(connection, driver)
        try:
            yield transaction
        finally:
            await transaction.close()
