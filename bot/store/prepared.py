"""Core statements run on the database driver's own connection: SQLAlchemy's cost paid once.

Executing a statement through SQLAlchemy costs several times what SQLite on the event loop
needs to answer it (the cache key, an execution context, the greenlet bridge, result
wrapping; docs/benchmarks.md, store-writes). A customer turn runs four to six statements
hundreds of times a second, so ``bot.store.turns`` compiles each of its statements once per dialect
(``Prepared``) and runs the SQL text on the transaction's driver connection (``Driver``),
converting values with the column types' own bind and result processors: the rows are
exactly what SQLAlchemy would have written and read. Driver errors are raised as
SQLAlchemy's exceptions (``OperationalError``, ``IntegrityError``...), as from ``execute``.

The statement stays an ordinary SQLAlchemy Core construct, so the SQL is written once,
for both SQLite and PostgreSQL; drivers other than SQLite's and psycopg go through
SQLAlchemy as before.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from sqlalchemy import Insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

Processor = Callable[[Any], Any]
Row = tuple[Any, ...]
_names = itertools.count(1)  # server-side names of prepared statements (``JoinedPsycopgDriver``)


@dataclass(frozen=True)
class Parameter:
    """One placeholder: its name in the SQL, the caller's key for it, how to convert the value."""

    name: str
    key: str
    binder: Processor | None
    constant: Any = None  # a literal written in the statement (``state != 'closed'``), converted
    from_caller: bool = True


@dataclass(frozen=True)
class Compiled:
    """A statement as one dialect's SQL text, with how to convert its parameters and its rows."""

    sql: str
    positional: bool
    parameters: tuple[Parameter, ...]  # in placeholder order when ``positional``
    readers: tuple[Processor | None, ...]

    def bind(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for the caller's ``values``; None is SQL NULL (never JSON null).

        One comprehension, no call per parameter: a turn binds thirty-odd values.
        """
        converted = [
            p.constant
            if not p.from_caller
            # a KeyError names a parameter the caller forgot
            else value
            if (value := values[p.key]) is None or p.binder is None
            else p.binder(value)
            for p in self.parameters
        ]
        if self.positional:
            return converted
        return {p.name: value for p, value in zip(self.parameters, converted, strict=True)}

    @functools.cached_property
    def numbered(self) -> tuple[str, tuple[str, ...]]:
        """The SQL with PostgreSQL's ``$1, $2...`` for psycopg's named placeholders, and their names.

        For ``PREPARE`` (``JoinedPsycopgDriver``): the n-th name's value is the n-th ``EXECUTE`` argument.
        """
        if self.positional:
            raise ValueError("only a named-placeholder statement (psycopg's) is numbered")
        names: dict[str, int] = {}

        def number(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return "%"  # a literal percent sign, doubled for the driver
            return f"${names.setdefault(match.group(1), len(names) + 1)}"

        sql = _PLACEHOLDER.sub(number, self.sql)
        return sql, tuple(names)

    def row(self, raw: Sequence[Any]) -> Row:
        return tuple(
            reader(value) if reader is not None else value
            for reader, value in zip(self.readers, raw, strict=True)
        )


class Prepared:
    """A Core statement compiled once per dialect, for ``Driver.rows``.

    ``columns`` names what an INSERT or UPDATE sets (the keys every call passes); other
    values must be explicit ``bindparam``s or literals. A column that SQLAlchemy would
    fill in from a Python default is refused when the statement is compiled (it would
    silently stay NULL here): pass it.
    """

    def __init__(
        self,
        statement: ClauseElement | Mapping[str, ClauseElement],
        columns: Iterable[str] | None = None,
        *,
        reused: bool = True,
    ) -> None:
        self.statements = statement if isinstance(statement, Mapping) else None
        self.statement = statement if not isinstance(statement, Mapping) else None
        self.columns = list(columns) if columns is not None else None
        # Run again and again (a module's constant): worth a server-side prepared statement.
        # A statement built for one call (``run``) is not: it would pile up on the connection;
        # nor is a rare one whose plan must see the tables as they are when it runs.
        self.name = f"botdesk_{next(_names)}" if reused else None
        self._compiled: dict[str, Compiled] = {}

    def statement_for(self, dialect: Dialect) -> ClauseElement:
        """The statement itself; one per dialect name when given as a mapping (ON CONFLICT...)."""
        if self.statements is not None:
            return self.statements[dialect.name]
        assert self.statement is not None
        return self.statement

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> Compiled:
        statement = self.statement_for(dialect)
        compiler = statement.compile(dialect=dialect, column_keys=self.columns)
        assert isinstance(compiler, SQLCompiler)
        defaults = [c.key for c in (*compiler.insert_prefetch, *compiler.update_prefetch)]
        if defaults:
            raise ValueError(f"pass {', '.join(defaults)} explicitly: SQLAlchemy would fill them in")
        names = list(compiler.positiontup or ()) if compiler.positional else list(compiler.binds)
        caller_keys = set(self.columns or ())  # an INSERT's or UPDATE's columns the caller passes
        parameters = []
        for name in names:
            bind = compiler.binds[name]
            binder = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.callable is not None:
                raise ValueError(f"{name!r} has a callable value: pass it explicitly")
            if bind.required or (bind.value is None and bind.key in caller_keys):
                parameters.append(Parameter(name, bind.key, binder))
            else:
                constant = binder(bind.value) if binder is not None else bind.value
                parameters.append(Parameter(name, bind.key, binder, constant, from_caller=False))
        # What the SQL returns: the statement's columns, or the primary key an INSERT without
        # RETURNING gets on PostgreSQL (SQLAlchemy adds it to learn the new row's id).
        columns = list(statement.exported_columns) or list(compiler.returning or ())  # type: ignore[attr-defined]
        readers = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        return Compiled(str(compiler), compiler.positional, tuple(parameters), readers)


class Driver(Protocol):
    """Where a prepared statement runs: a transaction's connection, as the database driver sees it.

    Store functions that a customer turn and an operator's request both need take a
    ``Driver``: the turn passes its ``TurnTransaction``, an ORM caller
    ``await session_driver(session)``. The SQL is written once.
    """

    @property
    def dialect(self) -> Dialect:
        """The database's SQLAlchemy dialect (``dialect.name``: "sqlite", "postgresql")."""
        ...

    async def rows(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Row]:
        """Run ``prepared`` with ``values`` (keyed by bind name); the rows it returns, converted."""
        ...


class LaterDriver(Driver, Protocol):
    """A ``Driver`` that can send a statement with the transaction's next query."""

    async def rows_later(self, prepared: Prepared, values: Mapping[str, Any]) -> Later:
        """Run ``prepared`` with the transaction's next query (COMMIT at the latest); its rows then.

        For a statement whose rows the turn needs only once it has committed (the replies'
        ids): on PostgreSQL it goes out with the statements that follow, not in a round trip
        of its own. ``await later.rows()`` before that sends what waits at once.
        """
        ...


class TransactionDriver(LaterDriver, Protocol):
    """A ``Driver`` whose owner ends the transaction: the turn store's connections."""

    async def end(self, sql: Literal["COMMIT", "ROLLBACK"]) -> None:
        """COMMIT or ROLLBACK on the driver's connection (nothing when no transaction is open)."""
        ...


class Later:
    """The rows of a statement sent with a transaction's next query (``TransactionDriver.rows_later``)."""

    def __init__(self, send: Callable[[], Awaitable[None]] | None = None) -> None:
        self._send = send  # sends what waits on the connection now
        self._rows: list[Row] | None = None

    @classmethod
    def of(cls, rows: list[Row]) -> Later:
        """A statement that ran at once (every driver but PostgreSQL's joined one)."""
        later = cls()
        later._rows = rows
        return later

    def resolve(self, rows: list[Row]) -> None:
        self._rows = rows

    async def rows(self) -> list[Row]:
        """The statement's rows: sent now if it still waits. Raises if its query failed."""
        if self._rows is None and self._send is not None:
            await self._send()
        if self._rows is None:
            raise RuntimeError("the statement was not run: its transaction failed or was rolled back")
        return self._rows


class _DirectDriver:
    """Runs the compiled SQL on the driver's own connection; its errors become SQLAlchemy's."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self.connection = connection
        self._dialect = dialect

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    async def rows(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Row]:
        compiled = prepared.compiled(self._dialect)
        parameters = compiled.bind(values)
        error = self._driver_error()
        try:
            raw = await self._fetch(compiled.sql, parameters)
        except error as exc:
            raise DBAPIError.instance(compiled.sql, parameters, exc, error) from exc
        return [compiled.row(r) for r in raw]

    async def rows_later(self, prepared: Prepared, values: Mapping[str, Any]) -> Later:
        return Later.of(await self.rows(prepared, values))

    def _driver_error(self) -> type[Exception]:
        raise NotImplementedError

    async def _fetch(self, sql: str, parameters: Any) -> Sequence[Sequence[Any]]:
        raise NotImplementedError


class SQLiteDriver(_DirectDriver):
    """The SQLite turn writer's connection (``bot.store.sqlite_writer``): statements are plain calls.

    It runs on the event loop's thread; ``end`` commits or rolls back on the sqlite3 connection.
    """

    connection: sqlite3.Connection

    def _driver_error(self) -> type[Exception]:
        return sqlite3.Error

    async def end(self, sql: Literal["COMMIT", "ROLLBACK"]) -> None:
        if not self.connection.in_transaction:
            return
        try:
            self.connection.execute(sql)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, (), exc, sqlite3.Error) from exc

    async def _fetch(self, sql: str, parameters: Any) -> Sequence[Sequence[Any]]:
        return self.connection.execute(sql, parameters).fetchall()


class PsycopgDriver(_DirectDriver):
    """PostgreSQL through psycopg's async connection: one round trip per statement, no more."""

    async def end(self, sql: Literal["COMMIT", "ROLLBACK"]) -> None:
        error = self._driver_error()
        try:
            await (self.connection.commit() if sql == "COMMIT" else self.connection.rollback())
        except error as exc:
            raise DBAPIError.instance(sql, (), exc, error) from exc

    def _driver_error(self) -> type[Exception]:
        import psycopg  # installed with the postgres extra, imported only when it is used

        error: type[Exception] = psycopg.Error
        return error

    async def _fetch(self, sql: str, parameters: Any) -> Sequence[Sequence[Any]]:
        cursor = await self.connection.execute(sql, parameters)
        rows: Sequence[Sequence[Any]] = await cursor.fetchall() if cursor.description is not None else []
        return rows


class JoinedPsycopgDriver(PsycopgDriver):
    """A customer turn's PostgreSQL connection: few round trips, statements planned once.

    Each round trip to the server costs both sides CPU on a loaded machine; quoting the
    values into SQL text and psycopg's cursor around each query cost the client as much
    again (``benchmarks/client_costs.py``). So this driver speaks to libpq itself, in its
    pipeline mode, through psycopg's public ``pgconn`` and ``Transformer`` (the values
    dumped by the connection's own adapters, the rows loaded by its loaders):

    - a statement that returns nothing (the dialogue state's UPDATE), or whose rows are
      wanted only later (``rows_later``: the replies' ids, a lock taken again), waits to go
      out with the next one or with COMMIT, and the transaction's BEGIN with its first
      statement: the statements of one round trip are queued in one pipeline and sent
      with one sync;
    - the values travel as parameters of the extended protocol (text format, typed by
      the server from the statement), never as quoted SQL text;
    - a statement the store runs again and again (a ``Prepared`` constant) is prepared
      on the server the first time this connection sends it (a Parse in the same
      pipeline) and is then executed by name: the server parses and plans it once per
      connection, not at every turn.

    A returning customer's turn makes two round trips (``bot.store.turns``). An error in
    a statement that waited surfaces with the next one: the turn fails and rolls back as a
    whole, as it would have. After any failed query the connection's prepared statements
    are dropped (``DEALLOCATE ALL`` before its next transaction) and prepared again as they
    are used. A round trip interrupted on the client's side (cancelled, the connection
    lost) leaves the connection closed: the pool replaces it.
    """

    # What is prepared on each server connection; forgotten with the connection.
    _on_server: ClassVar[weakref.WeakKeyDictionary[Any, _ServerStatements]] = weakref.WeakKeyDictionary()

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        super().__init__(connection, dialect)
        self._begun = False
        self._waiting: list[_Statement] = []  # bound statements not sent yet, in order
        self._server = self._on_server.get(connection) or self._known(connection)

    @classmethod
    async def on(cls, connection: Any, dialect: Dialect) -> JoinedPsycopgDriver:
        if not connection.autocommit:
            await connection.set_autocommit(True)  # the BEGIN is ours to send
        connection.prepare_threshold = None  # the statements are prepared here, by name
        return cls(connection, dialect)

    def _known(self, connection: Any) -> _ServerStatements:
        """A fresh record of ``connection``'s prepared statements (none), with its value adapters."""
        from psycopg.adapt import Transformer

        known = _ServerStatements(Transformer(connection), connection.info.encoding)
        self._on_server[connection] = known
        return known

    async def rows(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Row]:
        statement = await self._statement(prepared, values)
        if not statement.returns_rows:
            self._wait(statement)
            return []
        return await self._send_with(statement)

    async def rows_later(self, prepared: Prepared, values: Mapping[str, Any]) -> Later:
        statement = await self._statement(prepared, values)
        statement.later = Later(self._send_waiting)
        self._wait(statement)
        return statement.later

    async def end(self, sql: Literal["COMMIT", "ROLLBACK"]) -> None:
        waiting, self._waiting = self._waiting, []
        begun, self._begun = self._begun, False
        if sql == "COMMIT":
            if begun:
                await self._send([*waiting, _Statement.plain("COMMIT")])
            return
        # Only what reached the server is rolled back there (a BEGIN that waited did not), also
        # after a failed COMMIT query: its statement that waited aborted the transaction, which
        # stays open on the server until it is rolled back.
        from psycopg.pq import TransactionStatus

        if self.connection.info.transaction_status != TransactionStatus.IDLE:
            await self._send([_Statement.plain("ROLLBACK")])

    def _wait(self, statement: _Statement) -> None:
        """Keep ``statement`` for the next query (after the BEGIN, which waits with it if not sent)."""
        if not self._begun:
            self._waiting.append(_Statement.plain("BEGIN"))
            self._begun = True
        self._waiting.append(statement)

    async def _send_with(self, statement: _Statement) -> list[Row]:
        """Send what waits and ``statement`` (BEGIN first if the transaction has not begun)."""
        head = [] if self._begun else [_Statement.plain("BEGIN")]
        rows = await self._send([*head, *self._waiting, statement])
        self._begun, self._waiting = True, []
        return rows

    async def _send_waiting(self) -> None:
        """Send the statements that wait now (someone needs a waiting statement's rows)."""
        if self._waiting:
            await self._send_with(self._waiting.pop())

    async def _statement(self, prepared: Prepared, values: Mapping[str, Any]) -> _Statement:
        """``prepared`` bound to ``values``: executed by name where it is prepared (or prepared with it)."""
        compiled = prepared.compiled(self._dialect)
        parameters: Any = compiled.bind(values)  # by name: this driver's SQL is in psycopg's pyformat
        if not self._begun and self._server.stale:
            await self._send([_Statement.plain("DEALLOCATE ALL")])
            self._server = self._known(self.connection)
        numbered_sql, names = compiled.numbered
        ordered = [parameters[key] for key in names]
        name = prepared.name
        prepare = name is not None and name not in self._server.names
        if name is not None and prepare:
            self._server.names.add(name)  # goes with this statement (a failed query makes all stale)
        return _Statement(numbered_sql, compiled.sql, parameters, compiled, ordered, name, prepare)

    async def _send(self, statements: list[_Statement]) -> list[Row]:
        """Run ``statements`` in one round trip; the last one's rows (a waiting one's go to its ``Later``)."""
        import psycopg
        from psycopg import errors
        from psycopg.pq import ExecStatus

        pgconn = self.connection.pgconn
        encoding = self._server.encoding
        try:
            results = await self._round_trip(pgconn, statements, encoding)
        except psycopg.Error as exc:  # the connection failed under the round trip
            self._server.stale = True
            self._abandon(pgconn)
            last = statements[-1]
            raise DBAPIError.instance(last.sql, last.parameters, exc, psycopg.Error) from exc
        except BaseException:  # cancelled mid-way: what the server did and sent back is unknown
            self._abandon(pgconn)
            raise
        transformer = self._server.transformer
        rows: list[Row] = []
        answers = iter(results)
        for statement in statements:  # one result per command, in order
            if statement.prepare:
                next(answers)
            result = next(answers)
            if result.status not in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK):
                # Which of the round trip's prepared statements were made is not followed: all are dropped.
                self._server.stale = True
                failed = next((r for r in results if r.status == ExecStatus.FATAL_ERROR), result)
                refused = errors.error_from_result(failed, encoding=encoding)
                raise DBAPIError.instance(
                    statement.sql, statement.parameters, refused, psycopg.Error
                ) from refused
            rows = []
            if statement.compiled is not None and result.status == ExecStatus.TUPLES_OK:
                transformer.set_pgresult(result)
                raw = transformer.load_rows(0, result.ntuples, tuple)
                rows = [statement.compiled.row(r) for r in raw]
            if statement.later is not None:
                statement.later.resolve(rows)
        return rows

    async def _round_trip(self, pgconn: Any, statements: list[_Statement], encoding: str) -> list[Any]:
        """Queue ``statements`` in libpq's pipeline, send them with one sync; every command's result."""
        from psycopg.adapt import PyFormat
        from psycopg.pq import ExecStatus

        dump = self._server.transformer.dump_sequence
        pgconn.enter_pipeline_mode()
        for statement in statements:
            values = (
                dump(statement.values, [PyFormat.TEXT] * len(statement.values)) if statement.values else None
            )
            if statement.name is None:
                pgconn.send_query_params(statement.query.encode(encoding), values)
                continue
            name = statement.name.encode()
            if statement.prepare:
                pgconn.send_prepare(name, statement.query.encode(encoding))
            pgconn.send_query_prepared(name, values)
        pgconn.pipeline_sync()
        while pgconn.flush():  # the socket took part of it: the rest when it is writable
            await self._ready(pgconn.socket, write=True)
            pgconn.consume_input()  # libpq's rule: read what arrived while waiting to write
        results: list[Any] = []
        while True:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the end of one command's results
                    continue
                if result.status == ExecStatus.PIPELINE_SYNC:
                    pgconn.exit_pipeline_mode()
                    return results
                results.append(result)
            await self._ready(pgconn.socket)

    @staticmethod
    async def _ready(socket: int, *, write: bool = False) -> None:
        """Return when ``socket`` can be read (or, with ``write``, written): one wake-up of the loop.

        Waiting to write also wakes on what the server sends meanwhile: a server whose
        answers nobody reads stops reading the rest of the pipeline (libpq's rule for
        ``PQflush``: read while waiting to write). The socket is unwatched before this
        returns or raises: a cancelled turn closes its connection right after, and the
        number may at once belong to the pool's next connection.
        """
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(socket, wake)
        if write:
            loop.add_writer(socket, wake)
        try:
            await ready
        finally:
            loop.remove_reader(socket)
            if write:
                loop.remove_writer(socket)

    @staticmethod
    def _abandon(pgconn: Any) -> None:
        """Close a connection left mid-round-trip: the pool discards it and opens another."""
        from psycopg.pq import ConnStatus

        if pgconn.status == ConnStatus.OK:  # still open on our side
            pgconn.finish()


@dataclass
class _Statement:
    """A statement bound for ``JoinedPsycopgDriver``'s next round trip."""

    query: str  # SQL with ``$n`` placeholders
    sql: str  # the statement as compiled, for an error's text
    parameters: Any = ()
    compiled: Compiled | None = None  # converts its rows
    values: list[Any] = field(default_factory=list)  # its parameters in ``$n`` order
    name: str | None = None  # prepared on the server under this name
    prepare: bool = False  # ... by this round trip, before it runs
    later: Later | None = None  # wants its rows although it waited

    @classmethod
    def plain(cls, sql: str) -> _Statement:
        """A statement with no values and no rows: BEGIN, COMMIT, ROLLBACK, DEALLOCATE ALL."""
        return cls(sql, sql)

    @property
    def parts(self) -> list[str]:
        """What goes out, as text to read (the round-trip tests): PREPARE and EXECUTE by name, or the SQL."""
        if self.name is None:
            return [self.query]
        execute = f"EXECUTE {self.name}"
        return [f"PREPARE {self.name} AS {self.query}", execute] if self.prepare else [execute]

    @property
    def returns_rows(self) -> bool:
        return self.compiled is not None and bool(self.compiled.readers)


@dataclass
class _ServerStatements:
    """One server connection: the statements prepared on it, by name; its values' adapters."""

    transformer: Any  # psycopg's Transformer: dumps values, loads rows (the connection's adapters)
    encoding: str  # the connection's, for the SQL text and the server's messages
    names: set[str] = field(default_factory=set)
    stale: bool = False  # a query failed: DEALLOCATE ALL before the next transaction


_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%")


class SQLAlchemyDriver:
    """Any other driver: the statement through SQLAlchemy, as an ordinary execute."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    @property
    def dialect(self) -> Dialect:
        return self.connection.dialect

    async def rows(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Row]:
        statement = prepared.statement_for(self.connection.dialect)
        assert isinstance(statement, Executable)
        result = await self.connection.execute(statement, dict(values))
        return [tuple(row) for row in result.all()] if result.returns_rows else []

    async def rows_later(self, prepared: Prepared, values: Mapping[str, Any]) -> Later:
        return Later.of(await self.rows(prepared, values))

    async def end(self, sql: Literal["COMMIT", "ROLLBACK"]) -> None:
        if self.connection.in_transaction():
            await (self.connection.commit() if sql == "COMMIT" else self.connection.rollback())


async def driver_of(connection: AsyncConnection) -> TransactionDriver:
    """The driver connection under ``connection`` (in its current transaction)."""
    sync = connection.sync_connection
    if sync is not None and not sync.invalidated:  # checked out already: no trip through a greenlet
        raw = sync.connection.driver_connection
    else:
        raw = (await connection.get_raw_connection()).driver_connection
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return PsycopgDriver(raw, dialect)
    return SQLAlchemyDriver(connection)


def insert_ignoring_conflict(dialect_name: str, table: Any, *unique: str) -> Insert:
    """``INSERT ... ON CONFLICT (unique) DO NOTHING`` for SQLite or PostgreSQL (both have it)."""
    dialect_insert = postgresql_insert if dialect_name == "postgresql" else sqlite_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=list(unique))


async def run(driver: Driver, statement: ClauseElement, values: Mapping[str, Any] | None = None) -> list[Row]:
    """Run a statement built for this one call (values bound in it) on ``driver``: the rarer steps.

    Compiled at each call: for what a turn does now and then (a ticket, a lead
    card), not for its usual statements, which are ``Prepared`` once at import. No expanding
    ``IN (...)`` lists: one statement per value instead.
    """
    return await driver.rows(Prepared(statement, reused=False), values or {})


async def scalar(
    driver: Driver, statement: ClauseElement | Prepared, values: Mapping[str, Any] | None = None
) -> Any:
    """The first column of the first row, or None when there is no row."""
    prepared = statement if isinstance(statement, Prepared) else Prepared(statement, reused=False)
    rows = await driver.rows(prepared, values or {})
    return rows[0][0] if rows else None


async def session_driver(session: AsyncSession) -> Driver:
    """The driver connection of ``session``'s transaction (begun if it was not), its changes flushed."""
    await session.flush()
    return await driver_of(await session.connection())


async def driver_for(where: AsyncSession | Driver) -> Driver:
    """Where a store function shared by turns and ORM callers runs its statements (see ``Driver``)."""
    return await session_driver(where) if isinstance(where, AsyncSession) else where
