"""WAL checkpoints on a worker thread: the writer's commits never copy the log back themselves."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import func, select, text

from bot.store import Customer, Database
from bot.store.checkpoints import WalCheckpoints
from bot.store.migrate import upgrade
from tests.helpers.store import customer_says

AUTOCHECKPOINT_PAGES = 1000  # SQLite's default wal_autocheckpoint


async def _write(db: Database, count: int, prefix: str = "c") -> None:
    """``count`` customer turns, one new customer each: at least one log page per commit."""
    for i in range(count):
        await customer_says(db, "привет", channel="rest", sender=f"{prefix}{i}")


async def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    async with Database.open("sqlite:///c.db", base_dir=tmp_path, background_checkpoints=True) as db:
        await upgrade(db.engine)
        checkpoints = WalCheckpoints(db.turns)
        assert checkpoints.applies
        await checkpoints.run_once()
        await _write(db, AUTOCHECKPOINT_PAGES + 200)
        done = await checkpoints.run_once()
        # No commit checkpointed on its own: the log holds every page written since.
        assert done is not None and done.log_pages > AUTOCHECKPOINT_PAGES
        assert done.copied_pages == done.log_pages  # all of it copied back: the writer was held
        await _write(db, 3, prefix="after")
        again = await checkpoints.run_once()
        # The next write started the log from its beginning: it does not grow without end.
        assert again is not None and again.log_pages < 50
        assert await checkpoints.run_once() is None  # nothing written since: nothing to do
        async with db.reader() as session:
            customers = await session.scalar(select(func.count()).select_from(Customer))
        assert customers == AUTOCHECKPOINT_PAGES + 203


async def test_without_the_option_commits_checkpoint_as_sqlite_does(tmp_path: Path) -> None:
    """CLI commands and tests: SQLite's own automatic checkpoints, nothing runs in the background."""
    async with Database.open("sqlite:///a.db", base_dir=tmp_path) as db:
        await upgrade(db.engine)
        await _write(db, AUTOCHECKPOINT_PAGES + 200)
        done = await WalCheckpoints(db.turns).run_once()
        assert done is not None and done.log_pages <= AUTOCHECKPOINT_PAGES + 50


async def test_the_checkpoint_runs_off_the_event_loop(tmp_path: Path) -> None:
    async with Database.open("sqlite:///t.db", base_dir=tmp_path, background_checkpoints=True) as db:
        await upgrade(db.engine)
        await _write(db, 20)
        writer = db.turns.sqlite_writer
        assert writer is not None
        sqlite_connection = writer._open()  # the turn writer's own sqlite3 connection
        seen: list[tuple[str, str]] = []
        sqlite_connection.set_trace_callback(lambda sql: seen.append((threading.current_thread().name, sql)))
        try:
            assert await WalCheckpoints(db.turns).run_once() is not None
        finally:
            sqlite_connection.set_trace_callback(None)
        threads = {name for name, sql in seen if "wal_checkpoint" in sql}
        assert threads and threading.current_thread().name not in threads


async def test_writers_wait_for_a_checkpoint_and_all_commit(tmp_path: Path) -> None:
    async with Database.open("sqlite:///w.db", base_dir=tmp_path, background_checkpoints=True) as db:
        await upgrade(db.engine)
        await _write(db, 300)
        checkpoints = WalCheckpoints(db.turns, interval=0.001)
        stopping = asyncio.Event()
        running = asyncio.create_task(checkpoints.run(stopping))
        await asyncio.gather(*(_write(db, 20, prefix=f"w{n}-") for n in range(8)))
        stopping.set()
        await asyncio.wait_for(running, 5)
        async with db.reader() as session:
            assert await session.scalar(select(func.count()).select_from(Customer)) == 300 + 8 * 20
            assert (await session.execute(text("PRAGMA integrity_check"))).scalar() == "ok"


async def test_only_a_sqlite_file_has_a_log_to_checkpoint(pg_db: Database) -> None:
    async with Database.open("sqlite://", background_checkpoints=True) as memory:
        for db in (memory, pg_db):
            checkpoints = WalCheckpoints(db.turns)
            assert not checkpoints.applies
            assert await checkpoints.run_once() is None
