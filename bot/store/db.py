"""Engines and sessions: the URL a user writes in config.yml, made async and safe.

``sqlite:///botdesk.db`` becomes ``sqlite+aiosqlite`` (a relative path is relative to
the project directory), ``postgresql://`` becomes ``postgresql+psycopg``. SQLite runs
in WAL mode with foreign keys on, and every writing ORM transaction starts with
``BEGIN IMMEDIATE`` on the engine's one writer connection: one writer at a time, waited
for (in the pool, and in SQLite's busy handler on aiosqlite's thread while another
connection writes) rather than failed, so a read-then-write transaction can never hit
"database is locked" half way. The price: a session that has read holds the writer
until it commits, rolls back or closes, so never keep one open across network I/O;
read-only work uses ``Database.reader()``, which has connections of its own.

Customer turns do not come here: they are written by ``bot.store.turn_store``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import URL, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from bot.store.errors import StoreError
from bot.store.json_codec import dumps, loads
from bot.store.turn_store import TurnStore

SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another process's write lock
READ_ONLY = "botdesk_read_only"
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}
_POSTGRES_DRIVERS = {
    "postgres",
    "postgresql",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgresql+asyncpg",
    "postgresql+psycopg_async",
}


def async_url(url: str | URL, base_dir: Path | None = None) -> URL:
    """Translate a configured database URL to the async driver botdesk uses."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"{_shown(url)!r} is not a database URL; expected sqlite:///path.db or "
            "postgresql://user@host/dbname"
        ) from None
    driver = parsed.drivername
    if driver in _SQLITE_DRIVERS:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            if not path.is_absolute():
                path = (base_dir or Path.cwd()) / path
            parsed = parsed.set(database=str(path))
        return parsed
    if driver in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreError(
        f"unsupported database {driver!r} in {_shown(parsed)}; botdesk stores in SQLite "
        "(sqlite:///path.db) or PostgreSQL (postgresql://user@host/dbname)"
    )


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and (url.database or ":memory:") == ":memory:"


def make_engine(
    url: str | URL,
    *,
    base_dir: Path | None = None,
    echo: bool = False,
    pool_size: int | None = None,
    read_only: bool = False,
) -> AsyncEngine:
    """An async engine for a configured URL (see ``async_url``), tuned for its backend.

    A file SQLite engine is a writer (one connection; ``pool_size`` is ignored) unless
    ``read_only``: then its connections begin DEFERRED and never take the write lock, so a
    long read (a month of KPIs, an export) never holds up a writer.
    """
    target = async_url(url, base_dir)
    options: dict[str, Any] = {"echo": echo, "json_serializer": dumps, "json_deserializer": loads}
    sqlite = target.get_backend_name() == "sqlite"
    if sqlite:
        _check_sqlite_directory(target)
        if target.database and target.database.startswith("file:"):
            options["connect_args"] = {"uri": True}
        if is_sqlite_memory(target):
            options["poolclass"] = StaticPool  # one connection, or each would see its own empty database
        elif read_only:
            options["pool_size"] = pool_size or 5
        else:  # the one writer: writers of this process queue for it (see the module docstring)
            options.update(pool_size=1, max_overflow=0, pool_timeout=60)
    else:
        options["pool_pre_ping"] = True
        if pool_size is not None:
            options["pool_size"] = pool_size
    try:
        engine = create_async_engine(target, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot use the database URL {_shown(target)}: {exc}") from None
    if sqlite:
        _tune_sqlite(engine, wal=not is_sqlite_memory(target), read_only=read_only)
    elif read_only:
        engine = engine.execution_options(**{READ_ONLY: True})
    return engine


def _check_sqlite_directory(url: URL) -> None:
    """SQLite creates the file but not its directory; say so rather than "unable to open"."""
    if is_sqlite_memory(url) or (url.database or "").startswith("file:"):
        return
    path = Path(url.database or "")
    if not path.parent.is_dir():
        raise StoreError(
            f"cannot create the SQLite database {path}: the directory {path.parent} does not exist"
        )


def _tune_sqlite(engine: AsyncEngine, wal: bool, read_only: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module (see the module docstring).
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Waiting for another connection's lock happens on aiosqlite's thread, never the loop's.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if read_only or connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no lazy refresh in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def dialect_of(session: AsyncSession) -> str:
    """``"sqlite"`` or ``"postgresql"``: the few places that differ ask this."""
    return session.get_bind().dialect.name


@dataclass
class Database:
    """The engines and the session factory; ``async with Database.open(url) as db``.

    ``read_engine`` serves ``reader()``: on a SQLite file it has connections of its own
    (the writer engine has one); elsewhere it is ``engine`` with a read-only option.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine | None = None
    turns: TurnStore = field(init=False)  # customer turns are written here, and only here
    background_checkpoints: bool = False

    def __post_init__(self) -> None:
        self.turns = TurnStore(
            self.engine.url, self.engine, background_checkpoints=self.background_checkpoints
        )

    @classmethod
    def open(
        cls,
        url: str | URL,
        *,
        base_dir: Path | None = None,
        echo: bool = False,
        pool_size: int | None = None,
        background_checkpoints: bool = False,
    ) -> Database:
        """``background_checkpoints``: a long-running process that runs ``WalCheckpoints``."""
        engine = make_engine(url, base_dir=base_dir, echo=echo, pool_size=pool_size)
        if engine.dialect.name == "sqlite" and not is_sqlite_memory(engine.url):
            read_engine = make_engine(url, base_dir=base_dir, echo=echo, pool_size=pool_size, read_only=True)
        else:
            read_engine = engine.execution_options(**{READ_ONLY: True})
        return cls(engine, make_sessions(engine), read_engine, background_checkpoints)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> URL:
        return self.engine.url

    def session(self) -> AsyncSession:
        return self.sessions()

    def reader(self) -> AsyncSession:
        """A session for reading only (pages, KPIs, exports).

        On SQLite it begins DEFERRED on a connection of its own, so it never holds up
        writers however long it stays open; writing through it may fail with "database is
        locked". Elsewhere it is an ordinary session.
        """
        engine = self.read_engine or self.engine.execution_options(**{READ_ONLY: True})
        return AsyncSession(engine, expire_on_commit=False)

    async def check(self) -> None:
        """Connect once, so an unreachable database is one clear error at start-up."""
        with reachable(self.engine.url):
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.turns.close()
        if (
            self.read_engine is not None
            and self.read_engine.sync_engine.pool is not self.engine.sync_engine.pool
        ):
            await self.read_engine.dispose()
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


@contextlib.contextmanager
def reachable(url: URL) -> Iterator[None]:
    """Turn a failed connection into a StoreError that names the database (never its password)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise StoreError(f"cannot use the database {_shown(url)}: {_first_line(exc.orig)}") from None
    except OSError as exc:
        raise StoreError(f"cannot open the database {_shown(url)}: {exc}") from None


def _first_line(error: BaseException | None) -> str:
    lines = str(error or "unknown error").strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _shown(url: str | URL) -> str:
    """The URL as safe to print: the password hidden."""
    if isinstance(url, URL):
        return display_url(url)
    try:
        return display_url(make_url(url))
    except ArgumentError:
        return "<unparseable URL>" if "@" in url else url


def display_url(url: URL) -> str:
    """How a URL is shown to people: as they would write it, the password hidden."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


@contextlib.asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in a transaction: committed on success, rolled back on error."""
    async with sessions() as session, session.begin():
        yield session
