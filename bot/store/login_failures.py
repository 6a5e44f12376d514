"""Wrong passwords, counted in the database so every server process sees the same count.

The login throttle (``bot.server.throttle``) keeps one row per failed login attempt,
keyed by digests of the login and of the client's address. Counting and recording
happen in one transaction that holds a lock on those keys (``lock_keys``), so
concurrent attempts, in one process or many, cannot all read "4 failures so far"
and each try a fifth password.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.store.db import dialect_of
from bot.store.models import LoginFailure
from bot.store.rows import affected

LOCK_SPACE = 0x6C6F67  # "log": the first key of the two-key advisory locks held while counting


async def lock_keys(session: AsyncSession, keys: Iterable[str]) -> None:
    """Hold these keys until the transaction ends, across processes.

    PostgreSQL: a transaction-scoped advisory lock per key, taken in sorted order (no
    deadlock between two attempts that share one key). SQLite: nothing to do, the
    session's ``BEGIN IMMEDIATE`` already lets one writer in at a time, across
    processes too; the first statement below takes it.
    """
    if dialect_of(session) != "postgresql":
        return
    for key in sorted(set(keys)):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"), {"space": LOCK_SPACE, "key": key}
        )


async def recent_failures(
    session: AsyncSession, column: InstrumentedAttribute[str], key: str, since: datetime
) -> list[datetime]:
    """When each failure under ``key`` (in ``column``) since ``since`` happened, oldest first."""
    rows = await session.scalars(
        select(LoginFailure.failed_at)
        .where(column == key, LoginFailure.failed_at > since)
        .order_by(LoginFailure.failed_at)
    )
    return list(rows)


async def record_failure(session: AsyncSession, login_key: str, address_key: str, at: datetime) -> int:
    """One more failure; returns its id. Does not commit."""
    row = LoginFailure(login_key=login_key, address_key=address_key, failed_at=at)
    session.add(row)
    await session.flush()
    return int(row.id)


async def forget_login(session: AsyncSession, login_key: str) -> int:
    """A successful login clears that login's failures (not its address's). Does not commit."""
    return affected(await session.execute(delete(LoginFailure).where(LoginFailure.login_key == login_key)))


async def purge_failures(session: AsyncSession, before: datetime) -> int:
    """Delete failures too old to count. Does not commit."""
    return affected(await session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= before)))
