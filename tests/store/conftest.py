"""Every store test runs on SQLite (a temp file) and on PostgreSQL (a schema of its own).

The schema is created by the Alembic migration, never by ``metadata.create_all``: the
migration is what production runs, so it is what the tests exercise.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import Database, upgrade

POSTGRES_URL = os.environ.get("BOTDESK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES_URL} is not available: {str(exc).strip().splitlines()[0]}"
    return None


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards."""
    problem = postgres_problem()
    if problem is not None:
        pytest.skip(problem)
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL nobody else uses: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    """A migrated PostgreSQL database, for the tests of what only PostgreSQL does."""
    with postgres_schema() as url:
        database = Database.open(url)
        await upgrade(database.engine)
        try:
            yield database
        finally:
            await database.close()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated database, closed after the test."""
    database = Database.open(db_url)
    await upgrade(database.engine)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    async with db.sessions() as session:
        yield session
