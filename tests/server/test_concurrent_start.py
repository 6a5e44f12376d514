"""Several server processes starting at once on one new database all come up.

Reproduces the outside durability test (issue 17, item 9): two ``botdesk run`` on a new
PostgreSQL database, one died with ``UniqueViolation ... uq_operators_login (admin)``:
both saw no admin, both inserted one, and the loser's insert was outside the
``except IntegrityError``. Here N instances (each with its own engine, as N processes)
run the whole start-up at once; on PostgreSQL a barrier holds every instance just
before its admin insert until all of them got there, so the race happens every time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

import handoff.accounts
from bot.store import Database, Operator, OperatorRole, upgrade
from tests.helpers.postgres import postgres_schema
from tests.helpers.server import AppFactory, state_of

INSTANCES = 4


async def start_and_stop(app: FastAPI, started: list[bool]) -> None:
    async with app.router.lifespan_context(app):
        started.append(state_of(app).ready)


@contextlib.asynccontextmanager
async def all_inserts_at_once(monkeypatch: pytest.MonkeyPatch, parties: int) -> AsyncIterator[list[int]]:
    """Every account insert waits until ``parties`` inserts are waiting (or a second passed)."""
    barrier = asyncio.Barrier(parties)
    real = handoff.accounts.create_operator
    arrived: list[int] = []

    async def together(*args: Any, **kwargs: Any) -> Operator:
        arrived.append(1)
        with contextlib.suppress(TimeoutError, asyncio.BrokenBarrierError):
            async with asyncio.timeout(10):
                await barrier.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(handoff.accounts, "create_operator", together)
    yield arrived


async def admins(url: str) -> list[tuple[str, OperatorRole]]:
    async with Database.open(url) as db, db.reader() as session:
        rows = await session.execute(select(Operator.login, Operator.role))
        return [(login, role) for login, role in rows.all()]


@pytest.mark.postgres
@pytest.mark.parametrize("migrated", [True, False], ids=["after-db-upgrade", "new-database"])
async def test_n_instances_start_at_once_on_a_new_postgres_database(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, migrated: bool
) -> None:
    with postgres_schema() as url:
        if migrated:  # `botdesk db upgrade` first, as in the report; or every instance migrates
            async with Database.open(url) as db:
                await upgrade(db.engine)
        apps = [make_app(database_url=url) for _ in range(INSTANCES)]
        started: list[bool] = []
        async with all_inserts_at_once(monkeypatch, INSTANCES) as arrived:
            results = await asyncio.gather(
                *(start_and_stop(app, started) for app in apps), return_exceptions=True
            )
        found = await admins(url)
    assert [r for r in results if r is not None] == [], results
    assert started == [True] * INSTANCES
    assert len(arrived) == INSTANCES, "every instance raced for the admin insert"
    assert found == [("admin", OperatorRole.ADMIN)], "exactly one first admin"


async def test_n_instances_start_at_once_on_a_new_sqlite_file(make_app: AppFactory, sqlite_url: str) -> None:
    apps = [make_app(database_url=sqlite_url) for _ in range(INSTANCES)]
    started: list[bool] = []
    results = await asyncio.gather(*(start_and_stop(app, started) for app in apps), return_exceptions=True)
    assert [r for r in results if r is not None] == [], results
    assert started == [True] * INSTANCES
    async with Database.open(sqlite_url) as db, db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Operator)) == 1
