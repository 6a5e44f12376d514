"""Writing rows safely: insert unless it exists (race-safe), and how many rows an UPDATE hit."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Base

RowT = TypeVar("RowT", bound=Base)


async def insert_or_get(session: AsyncSession, row: RowT, lookup: Select[Any]) -> tuple[RowT, bool]:
    """``(row, True)`` when inserted, ``(existing, False)`` when ``lookup`` finds one.

    The insert runs in a savepoint: losing a race on a unique constraint rolls back
    only the savepoint, and the winner's row is read instead.
    """
    existing: RowT | None = (await session.execute(lookup)).scalar_one_or_none()
    if existing is not None:
        return existing, False
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = (await session.execute(lookup)).scalar_one_or_none()
        if existing is None:
            raise
        return existing, False
    return row, True


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched: how a compare-and-set learns whether it won."""
    return cast(CursorResult[Any], result).rowcount
