"""The one write path of a customer turn: ``TurnStore``.

A customer's message is stored, answered and the dialogue state saved in one transaction,
always through this module::

    async with store.transaction() as turn:
        entered = await turn.enter(inbound, nlu=parsed, model_version="v3", language="ru", now=now)
        ...                          # the dialogue engine; its effects write through ``turn``
        await turn.say(entered.conversation_id, ["Курьером — 1–2 дня."], now)
        await turn.save_dialogue(entered.conversation_id, dialogue={...}, slots={}, ..., now=now)
        await turn.commit()          # not committed: rolled back

``enter`` identifies the sender (a new customer on first contact), finds or opens the
conversation and stores the message, with statements compiled once per dialect and run on
the database driver's own connection (``bot.store.turns``, ``bot.store.prepared``): on
PostgreSQL a turn is two round trips, the look-up with the message and then the replies
and the dialogue state with the COMMIT. A failed turn keeps its message through ``keep_unanswered`` and a
message a crashed process left unanswered is taken up again through ``stranded`` and
``TurnTransaction.claim``: the same statements, so there is one way a customer message
gets into the store.

How the speed is had stays here, behind ``transaction()``, as httpx keeps pooling behind
its transport: on a SQLite file the turns of a process share one sqlite3 connection on the
event loop's thread (``bot.store.sqlite_writer``); on PostgreSQL psycopg's own pool, no
ping per turn; any other database goes through SQLAlchemy.
``TurnTransaction`` is itself a ``Driver``, so the store functions of the rarer steps
(a ticket, a lead card, a survey answer) run in the turn's transaction too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import URL
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyPoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import InboundMessage
from bot.store import turns
from bot.store.conversations import check_channel_message_id, check_text
from bot.store.errors import StoreError
from bot.store.models import ConversationState
from bot.store.prepared import (
    Driver,
    JoinedPsycopgDriver,
    Later,
    Prepared,
    PsycopgDriver,
    Row,
    TransactionDriver,
    driver_of,
)
from bot.store.sqlite_writer import SQLiteWriter

log = logging.getLogger("botdesk.store")
# PostgreSQL connections for customer turns, per process: at most TURN_POOL_SIZE, opened as
# turns in flight need them and then kept, so the usual load never opens one (a connection
# opened and closed per turn cost 16 clients 20-30% of their speed, docs/benchmarks.md); one
# idle for POOL_IDLE_SECONDS is closed, down to one.
TURN_POOL_SIZE = 24
POOL_IDLE_SECONDS = 600.0
POOL_WAIT_SECONDS = 30.0  # a turn waits this long for a connection, then is refused (503)


@dataclass(frozen=True)
class Entered:
    """A customer message in the store: who sent it, in which conversation, and its state.

    ``message_id`` is None when the channel had delivered this message before (same
    channel message id): it was answered then, once.
    """

    customer_id: int
    conversation_id: int
    state: ConversationState
    dialogue: dict[str, Any]
    message_id: int | None
    first_contact: bool = False  # the customer was created by this turn: no earlier dialogue

    @property
    def duplicate(self) -> bool:
        return self.message_id is None


@dataclass(frozen=True)
class Stranded:
    """A stored customer message that nothing answered (its process died, the bot failed)."""

    message_id: int
    inbound: InboundMessage


class TurnTransaction:
    """One turn's writes in one transaction; a ``Driver`` for the store functions its effects use.

    A turn that must wait on the network (a custom action on the shop's server) calls
    ``release`` first: what is written is committed (the message stays "stranded", without
    its NLU result, so a crash meanwhile leaves it for recovery) and the connection goes
    back; the next statement takes a connection again (``resume``), on PostgreSQL with the
    customer's row locked again, and restores the NLU result. So a slow action server never
    holds SQLite's one writer or a pooled connection, and the turn still commits as one.
    """

    def __init__(self, backend: _Backend, dialect: Dialect) -> None:
        self._backend = backend
        self._dialect = dialect
        self._stack = contextlib.AsyncExitStack()
        self._connection: TransactionDriver | None = None
        self._entered: Entered | None = None
        self._nlu: tuple[Mapping[str, Any] | None, str | None] = (None, None)
        self._released = False
        self.committed = False

    async def _open(self) -> TransactionDriver:
        self._connection = await self._stack.enter_async_context(self._backend.connection())
        return self._connection

    async def _close(self, error: BaseException | None = None) -> None:
        stack, self._stack = self._stack, contextlib.AsyncExitStack()
        self._connection = None
        if error is None:
            await stack.aclose()
        else:  # the backend sees the failure (a dropped PostgreSQL connection replaces the pool)
            await stack.__aexit__(type(error), error, error.__traceback__)

    async def _driver(self) -> TransactionDriver:
        if self._connection is None:
            await self.resume()
        assert self._connection is not None
        return self._connection

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    async def rows(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Row]:
        return await (await self._driver()).rows(prepared, values)

    async def rows_later(self, prepared: Prepared, values: Mapping[str, Any]) -> Later:
        return await (await self._driver()).rows_later(prepared, values)

    async def release(self) -> None:
        """Commit what the turn wrote so far and give the connection back, before network I/O.

        The stored message is left without its NLU result until the turn completes: if the
        process dies meanwhile, recovery answers it (``bot.store.stranded``). A no-op when
        the turn has released already.
        """
        if self._connection is None:
            return
        entered = self._entered
        if entered is not None and entered.message_id is not None and self._nlu[0] is not None:
            await turns.clear_nlu(self._connection, entered.message_id)
        await self._connection.end("COMMIT")
        await self._close()
        self._released = True

    async def resume(self) -> None:
        """Take a connection again after ``release`` (the next statement does it by itself)."""
        if self._connection is not None:
            return
        driver = await self._open()
        entered = self._entered
        if not self._released or entered is None:
            return
        await turns.lock_customer(driver, entered.customer_id)  # PostgreSQL: as ``enter`` did
        nlu, version = self._nlu
        if entered.message_id is not None and nlu is not None:
            await turns.set_nlu(driver, entered.message_id, nlu, version)

    async def enter(
        self,
        inbound: InboundMessage,
        *,
        nlu: Mapping[str, Any] | None,
        model_version: str | None,
        language: str | None,
        now: datetime,
    ) -> Entered:
        """Identify the sender, find or open their conversation, store the message with its NLU result.

        Raises ``InputRejected`` (over-long or binary text, a bad sender id) before writing.
        """
        check_text(inbound.text)
        check_channel_message_id(inbound.message_id)
        channel, sender_id, profile = inbound.channel, inbound.sender_id, inbound.profile
        message = turns.InboundRow(
            inbound.text, inbound.message_id, inbound.attachments, nlu, model_version, now
        )
        # The message goes in with the look-up, and a new sender is made in it too (one round trip
        # on PostgreSQL): a returning customer's usual turn and a first contact alike.
        arrival = await turns.sender_with_message(self, channel, sender_id, profile, language, message)
        if arrival.sender is None and arrival.new_sender is None:
            # the same new sender's other message, in another process, won: theirs, now
            arrival = await turns.sender_with_message(self, channel, sender_id, profile, language, message)
        if arrival.new_sender is not None:
            customer_id, conversation_id = arrival.new_sender
            state = ConversationState.BOT
            entered = Entered(customer_id, conversation_id, state, {}, arrival.message_id, first_contact=True)
            return self._entered_as(entered, nlu, model_version)
        sender, message_id = arrival.sender, arrival.message_id
        if sender is None:
            raise StoreError(f"the new {channel} sender {sender_id} vanished (forgotten meanwhile?)")
        customer_id = sender.customer_id
        if sender.needs_update(profile):
            await turns.update_sender(self, channel, sender_id, sender, profile)
        if sender.conversation_id is not None:
            conversation_id = sender.conversation_id  # the message is stored (None: it was before)
            state = sender.state or ConversationState.BOT
            dialogue = sender.dialogue
        else:
            conversation_id = await turns.start_conversation(self, customer_id, channel, language, now)
            state, dialogue = ConversationState.BOT, {}
            message_id = await turns.insert_inbound(self, conversation_id, message)
        entered = Entered(customer_id, conversation_id, state, dialogue, message_id)
        return self._entered_as(entered, nlu, model_version)

    def _entered_as(
        self, entered: Entered, nlu: Mapping[str, Any] | None, model_version: str | None
    ) -> Entered:
        """The turn's message, kept for ``release`` and ``resume`` with the NLU result stored with it."""
        self._entered, self._nlu = entered, (nlu, model_version)
        return entered

    async def claim(
        self, stranded: Stranded, *, nlu: Mapping[str, Any] | None, model_version: str | None
    ) -> Entered | None:
        """Take up a stranded message in this transaction, its NLU result stored with it.

        The message's row is locked first, so of several processes recovering at once one
        answers it and the others, once the lock is free, find it answered: None.
        """
        claimed = await turns.lock_unparsed(self, stranded.message_id)
        if not claimed:
            return None
        found = await turns.stranded_turn(self, stranded.message_id)  # again, under the lock
        if found is None:
            return None
        if nlu is not None:
            await turns.set_nlu(self, stranded.message_id, nlu, model_version)
        entered = Entered(
            found.customer_id, found.conversation_id, found.state, found.dialogue, stranded.message_id
        )
        return self._entered_as(entered, nlu, model_version)

    async def set_nlu(self, message_id: int, nlu: Mapping[str, Any]) -> None:
        """Replace the stored NLU result of this turn's message (the dialogue's reading added)."""
        await turns.update_nlu(self, message_id, nlu)

    async def say(
        self,
        conversation_id: int,
        texts: Sequence[str],
        now: datetime,
        attachments: Sequence[list[dict[str, Any]]] | None = None,
    ) -> turns.StoredReplies:
        """Store the bot's replies of this turn, in order (with what each keeps: its buttons).

        Their ids come with ``await stored.ids()``: on PostgreSQL the INSERT goes out with the
        commit, so ask after ``commit`` unless the ids must be written in this transaction.
        """
        return await turns.insert_replies(self, conversation_id, texts, now, attachments)

    async def save_dialogue(
        self,
        conversation_id: int,
        *,
        dialogue: dict[str, Any],
        slots: dict[str, Any],
        active_loop: str | None,
        misunderstood: int,
        now: datetime,
    ) -> None:
        """The conversation's dialogue state after a bot turn."""
        await turns.save_dialogue(
            self,
            conversation_id,
            dialogue=dialogue,
            slots=slots,
            active_loop=active_loop,
            misunderstood=misunderstood,
            now=now,
        )

    async def touch(self, conversation_id: int, now: datetime) -> None:
        """Mark the conversation active (a message the bot stays silent on: a person owns it)."""
        await turns.touch_conversation(self, conversation_id, now)

    async def commit(self) -> None:
        await (await self._driver()).end("COMMIT")
        self.committed = True

    async def close(self, error: BaseException | None = None) -> None:
        """Give the connection back; a transaction not committed is rolled back."""
        await self._close(error)


class _Backend(Protocol):
    def connection(self) -> contextlib.AbstractAsyncContextManager[TransactionDriver]: ...

    async def close(self) -> None: ...


class _SQLiteBackend:
    """A SQLite file: the process's one turn writer (``bot.store.sqlite_writer``)."""

    def __init__(self, writer: SQLiteWriter) -> None:
        self.writer = writer

    def connection(self) -> contextlib.AbstractAsyncContextManager[TransactionDriver]:
        return self.writer.transaction()

    async def close(self) -> None:
        await self.writer.close()


class _PostgresBackend:
    """PostgreSQL: psycopg's own pool (``psycopg_pool``), its connections in autocommit mode.

    Up to ``TURN_POOL_SIZE`` connections kept open, no ping per turn and no reset on return:
    every turn commits or rolls back itself. Not SQLAlchemy's pool: checking a connection
    out and back through its async bridge cost more of a turn's CPU than the driver's own
    pool (docs/benchmarks.md). A connection PostgreSQL dropped (a restart, a failover)
    fails the turn it was given to; the pool then checks the idle ones, so one failed turn
    is all a restart costs. A turn that gets no connection in ``POOL_WAIT_SECONDS`` is
    refused with SQLAlchemy's pool timeout, which the server answers with a 503.
    """

    def __init__(self, url: URL, dialect: Dialect) -> None:
        try:
            from psycopg_pool import AsyncConnectionPool, PoolTimeout  # the postgres extra: when used
        except ImportError as exc:
            needed = "PostgreSQL needs botdesk's postgres extra: pip install 'botdesk[postgres]'"
            raise StoreError(needed) from exc

        # The connection arguments exactly as SQLAlchemy's psycopg dialect derives them from the URL.
        arguments, options = dialect.create_connect_args(url)  # type: ignore[no-untyped-call]
        conninfo = " ".join(str(argument) for argument in arguments)
        self.dialect = dialect
        self.pool = AsyncConnectionPool(
            conninfo,
            kwargs={**options, "autocommit": True},
            min_size=1,
            max_size=TURN_POOL_SIZE,
            max_idle=POOL_IDLE_SECONDS,
            timeout=POOL_WAIT_SECONDS,
            open=False,
            name="botdesk-turns",
        )
        self._opened = False
        self._timed_out: type[Exception] = PoolTimeout

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[TransactionDriver]:
        try:
            if not self._opened:  # on the event loop: the pool's workers are tasks of it
                self._opened = True
                # Waits for its first connection, which this turn then gets (none grown for it).
                await self.pool.open(wait=True, timeout=POOL_WAIT_SECONDS)
            connection = await self.pool.getconn()
        except self._timed_out as exc:  # said as SQLAlchemy's pool says it: the turn is refused with a 503
            waited = f"no PostgreSQL connection for a turn in {POOL_WAIT_SECONDS:g} s"
            raise SQLAlchemyPoolTimeout(waited) from exc
        driver = await JoinedPsycopgDriver.on(connection, self.dialect)
        ended = False
        try:
            yield driver
            ended = True
        except DBAPIError:
            if connection.broken or connection.closed:
                await self.pool.check()  # the others went with the server: replaced before they fail a turn
            raise
        finally:
            if not ended or _in_transaction(driver):
                with contextlib.suppress(DBAPIError):
                    await driver.end("ROLLBACK")
            await self.pool.putconn(connection)  # a broken one is discarded, a new one opened

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()


class _PooledBackend:
    """SQLite in memory or any other database: the ORM engine's pool, through SQLAlchemy.

    A connection the database dropped fails the turn it was given to; the whole pool is
    then replaced.
    """

    def __init__(self, engine: AsyncEngine, owned: bool) -> None:
        self.engine = engine
        self.owned = owned

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[TransactionDriver]:
        async with self.engine.connect() as connection:
            driver = await driver_of(connection)
            await connection.begin()
            ended = False
            try:
                yield driver
                ended = True
            except DBAPIError as exc:
                if exc.connection_invalidated or _broken(driver):
                    await connection.invalidate()
                    await self.engine.dispose(close=False)  # the others went with the server
                raise
            finally:
                if not ended or _in_transaction(driver):
                    with contextlib.suppress(DBAPIError):
                        await driver.end("ROLLBACK")

    async def close(self) -> None:
        if self.owned:
            await self.engine.dispose()


def _broken(driver: Driver) -> bool:
    return isinstance(driver, PsycopgDriver) and bool(getattr(driver.connection, "broken", False))


def _in_transaction(driver: Driver) -> bool:
    if isinstance(driver, PsycopgDriver):
        from psycopg.pq import TransactionStatus

        return bool(driver.connection.info.transaction_status != TransactionStatus.IDLE)
    return True


class TurnStore:
    """Where customer turns are written: ``async with store.transaction() as turn`` (see the module).

    Made by ``Database.open`` (one per database and process: ``database.turns``).

    Args:
        url: the database, as ``bot.store.db.async_url`` made it; it says which backend.
        engine: the database's ORM engine: its dialect, and its connections where no
            faster backend applies (SQLite in memory, other databases).
        background_checkpoints: a long-running server checkpoints a SQLite log itself
            (``bot.store.checkpoints``) rather than inside commits on the event loop.
    """

    def __init__(self, url: URL, engine: AsyncEngine, *, background_checkpoints: bool = False) -> None:
        self.dialect: Dialect = engine.dialect
        self.sqlite_writer: SQLiteWriter | None = None
        self._backend: _Backend
        backend = url.get_backend_name()
        if backend == "sqlite" and (url.database or ":memory:") != ":memory:":
            database_path = url.database or ""
            self.sqlite_writer = SQLiteWriter(
                database_path,
                self.dialect,
                uri=database_path.startswith("file:"),
                background_checkpoints=background_checkpoints,
            )
            self._backend = _SQLiteBackend(self.sqlite_writer)
        elif backend == "postgresql" and engine.dialect.driver == "psycopg":
            self._backend = _PostgresBackend(url, engine.dialect)
        else:  # SQLite in memory (one connection, shared with the ORM), or another database
            self._backend = _PooledBackend(engine, owned=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[TurnTransaction]:
        """One turn's transaction; rolled back unless ``commit`` was called."""
        transaction = TurnTransaction(self._backend, self.dialect)
        await transaction.resume()
        try:
            yield transaction
        except BaseException as error:
            await transaction.close(error)
            raise
        await transaction.close()

    async def keep_unanswered(self, inbound: InboundMessage, *, language: str | None, now: datetime) -> None:
        """Store a message whose turn failed, with no NLU result and no answer: recovery answers it later."""
        async with self.transaction() as turn:
            await turn.enter(inbound, nlu=None, model_version=None, language=language, now=now)
            await turn.commit()

    async def stranded(self, message_id: int) -> Stranded | None:
        """The stranded message ``message_id`` as the channel had delivered it; None once answered."""
        async with self.transaction() as turn:
            found = await turns.stranded_turn(turn, message_id)
        if found is None:
            return None
        inbound = InboundMessage(
            found.channel,
            found.external_id,
            found.text,
            found.channel_message_id,
            tuple(found.attachments),
        )
        return Stranded(message_id, inbound)

    async def close(self) -> None:
        await self._backend.close()
