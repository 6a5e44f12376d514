"""Alembic, driven from Python: upgrade, current revision, new revisions, schema drift.

The migration scripts live in ``bot/store/migrations/versions`` and ship with the
package. Revisions are numbered ``0001``, ``0002``, ... so their order is obvious.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.db import reachable
from bot.store.errors import StoreError
from bot.store.models import Base, UTCDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x626F7464  # "botd": the PostgreSQL advisory lock held while migrating


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


SEARCH_OBJECTS = ("message_search", "customer_search", "ix_messages_search", "ix_customers_search")
"""The full-text search's own tables and indexes (migration 0008): not models, left out of comparisons."""


def include_name(name: str | None, kind: str, parents: dict[str, str | None]) -> bool:
    """Autogenerate's filter: SQLite's FTS5 tables (and their shadow tables) and PostgreSQL's
    expression indexes of the search are the migration's own, not the models'."""
    return not (name is not None and name.startswith(SEARCH_OBJECTS))


def context_options() -> dict[str, Any]:
    """What env.py configures: compare types, batch mode (SQLite's ALTER is limited), our types."""
    return {
        "target_metadata": Base.metadata,
        "compare_type": True,
        "render_as_batch": True,
        "render_item": render_item,
        "include_name": include_name,
    }


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types, so migrations do not import models."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def head_revision() -> str | None:
    """The newest revision shipped with this botdesk."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; returns the revision it is at afterwards."""

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    with reachable(engine.url), _alembic_errors():
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":  # several processes starting at once: one migrates
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await connection.run_sync(run)
    return await current_revision(engine)


async def downgrade(engine: AsyncEngine, revision: str) -> str | None:
    """Migrate the database back to ``revision`` (``"base"``: no tables at all)."""

    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    with reachable(engine.url), _alembic_errors():
        async with engine.begin() as connection:
            await connection.run_sync(run)
    return await current_revision(engine)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for a database never migrated."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    with reachable(engine.url):
        async with engine.connect() as connection:
            return await connection.run_sync(read)


async def differences(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would write: empty when models and migrations agree."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "target_metadata": Base.metadata, "include_name": include_name},
        )
        return list(compare_metadata(context, Base.metadata))

    with reachable(engine.url):
        async with engine.connect() as connection:
            return await connection.run_sync(compare)


async def revision(engine: AsyncEngine, message: str, autogenerate: bool = True) -> Path:
    """Write the next numbered migration, autogenerated against a database at head."""
    scripts = ScriptDirectory.from_config(alembic_config())
    latest = scripts.get_current_head()
    next_id = f"{int(latest) + 1:04d}" if latest and latest.isdigit() else "0001"
    written: list[Path] = []

    if autogenerate and not await differences(engine):
        raise StoreError(
            "the models match the migrations, so there is nothing to generate; "
            "change bot/store/models.py first, or use --empty for a hand-written migration"
        )

    def run(connection: Connection) -> None:
        script = command.revision(
            alembic_config(connection), message=message, autogenerate=autogenerate, rev_id=next_id
        )
        scripts_out = script if isinstance(script, list) else [script]
        written.extend(Path(s.path) for s in scripts_out if s is not None)

    with reachable(engine.url), _alembic_errors():
        async with engine.begin() as connection:
            await connection.run_sync(run)
    if not written:
        raise StoreError("alembic wrote no revision")
    return written[0]


@contextlib.contextmanager
def _alembic_errors() -> Iterator[None]:
    """Alembic's own errors ("target database is not up to date") as one StoreError sentence."""
    try:
        yield
    except CommandError as exc:
        raise StoreError(f"migration failed: {exc}") from None
