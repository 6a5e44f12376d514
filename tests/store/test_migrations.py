"""The Alembic migration creates the whole schema and matches the models exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.dialects import sqlite

from bot.cli import main
from bot.store import (
    Conversation,
    Customer,
    Database,
    Message,
    StoreError,
    async_url,
    current_revision,
    head_revision,
    upgrade,
)
from bot.store.migrate import MIGRATIONS_DIR, SEARCH_OBJECTS, differences, downgrade
from bot.store.models import Base, utcnow
from bot.store.stranded import stranded_conditions
from tests.helpers.store import customer_says

TABLES = {
    "departments",
    "operators",
    "customers",
    "channel_identities",
    "conversations",
    "messages",
    "handoff_tickets",
    "leads",
    "outbox",
    "operator_sessions",
    "operator_notes",
    "feedback",
    "annotations",
    "model_publications",
    "login_failures",
    "operator_role_grants",
    "customer_matches",
    "customer_merges",
    "quick_phrases",
    "files",
    "email_headers",
    "conversation_labels",
}
HEAD = "0010"


def _table_names(connection: Connection) -> set[str]:
    """The models' tables: not the full-text search's own (SQLite's FTS5 tables and their shadows)."""
    return {name for name in inspect(connection).get_table_names() if not name.startswith(SEARCH_OBJECTS)}


async def test_upgrade_creates_every_table(db: Database) -> None:
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(_table_names)
    assert tables == TABLES | {"alembic_version"}
    assert set(Base.metadata.tables) == TABLES
    assert await current_revision(db.engine) == head_revision() == HEAD


async def test_autogenerate_finds_no_difference(db: Database) -> None:
    assert await differences(db.engine) == []


async def test_difference_check_is_not_blind(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_handoff_tickets_queue"))
    found = await differences(db.engine)
    assert [change[0] for change in found] == ["add_index"]


async def test_upgrade_twice_changes_nothing(db: Database) -> None:
    assert await upgrade(db.engine) == HEAD
    assert await differences(db.engine) == []


async def test_downgrade_to_base_and_back(db: Database) -> None:
    assert await downgrade(db.engine, "base") is None
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_table_names) == {"alembic_version"}
    assert await upgrade(db.engine) == HEAD
    assert await differences(db.engine) == []


def test_revision_refuses_to_write_an_empty_migration(capsys: pytest.CaptureFixture[str]) -> None:
    versions = sorted(MIGRATIONS_DIR.joinpath("versions").glob("*.py"))
    assert main(["db", "revision", "-m", "nothing changed"]) == 2
    assert "nothing to generate" in capsys.readouterr().err
    assert sorted(MIGRATIONS_DIR.joinpath("versions").glob("*.py")) == versions


def test_cli_upgrade_and_current(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--url", db_url]) == 1
    assert "run `botdesk db upgrade`" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", db_url]) == 0
    assert f"to revision {HEAD}" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", db_url]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["db", "current", "--url", db_url]) == 0
    assert capsys.readouterr().out.strip() == f"{HEAD} (head)"


def test_cli_uses_the_project_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.yml").write_text(
        "pipeline:\n- name: SpacyTokenizer\nstorage:\n  url: sqlite:///data.db\n", encoding="utf-8"
    )
    assert main(["db", "upgrade", "--project", str(tmp_path)]) == 0
    assert (tmp_path / "data.db").is_file()
    assert main(["db", "current", "--project", str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://user@host/db", "unsupported database 'mysql'"),
        (
            "postgresql://postgres:s3cret@127.0.0.1:1/test",
            "cannot use the database postgresql://postgres:***@",
        ),
        ("sqlite:////no/such/directory/x.db", "the directory /no/such/directory does not exist"),
    ],
)
def test_cli_errors_are_one_sentence(url: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--url", url]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err and "s3cret" not in err


def test_urls_are_translated_to_async_drivers(tmp_path: Path) -> None:
    assert str(async_url("sqlite:///bot.db", tmp_path)) == f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    assert str(async_url("sqlite:////abs/bot.db", tmp_path)) == "sqlite+aiosqlite:////abs/bot.db"
    assert async_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert async_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(StoreError, match="unsupported"):
        async_url("oracle://u@h/db")


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    async with (
        Database.open("sqlite:///wal.db", base_dir=tmp_path) as db,
        db.engine.connect() as connection,
    ):
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        # The ORM's writer waits for another connection's lock on aiosqlite's thread, not the loop's.
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000
    assert (tmp_path / "wal.db").is_file()


async def test_sqlite_readers_do_not_hold_up_writers(tmp_path: Path) -> None:
    async with Database.open("sqlite:///rw.db", base_dir=tmp_path) as db:
        await upgrade(db.engine)
        async with db.reader() as reader:
            assert await reader.scalar(select(func.count()).select_from(Customer)) == 0  # a read transaction
            await asyncio.wait_for(customer_says(db, "привет", sender="w1"), timeout=2)
            await reader.rollback()
            assert await reader.scalar(select(func.count()).select_from(Customer)) == 1


async def test_the_recovery_sweep_reads_only_unparsed_messages(tmp_path: Path) -> None:
    """The stranded-message query runs on the partial index, not over every recent message."""
    async with Database.open("sqlite:///plan.db", base_dir=tmp_path) as db:
        await upgrade(db.engine)
        statement = (
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.created_at < utcnow(), *stranded_conditions())  # type: ignore[arg-type]
        )
        # With bound parameters, as it runs (only the IN list spelled out, for EXPLAIN)
        compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True})
        values = tuple(str(compiled.params[name]) for name in compiled.positiontup or ())
        async with db.reader() as session:
            connection = await session.connection()
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)
            plan = [str(row[-1]) for row in rows]
        assert any("ix_messages_unparsed" in line for line in plan), plan
