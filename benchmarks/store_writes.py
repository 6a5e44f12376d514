"""The SQLite writer's own costs, in process: what bot/store's turn machinery is measured against.

    python benchmarks/store_writes.py [--turns 3000] [--no-write]

- the CPU of one empty write transaction (``BEGIN IMMEDIATE`` + ``COMMIT``) taken three
  ways: an ORM ``AsyncSession`` (aiosqlite, a thread hop per call), a SQLAlchemy connection
  checked out of the pool, and a customer turn's transaction of ``bot.store.TurnStore``
  (the sqlite3 connection on the event loop's thread, ``bot.store.sqlite_writer``);
- the commits of a stream of one-row turn transactions with SQLite's automatic
  checkpoints (each ~1,000 log pages, inside a commit, on the event loop) and with the
  server's ``background_checkpoints`` (``bot.store.checkpoints``): how many took over 2 ms
  and the slowest.

A new SQLite file in a temporary directory; nothing else runs. Section "store-writes" of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import bindparam, insert

from benchmarks.docs import write_section
from bot.store import Database, upgrade
from bot.store.checkpoints import WalCheckpoints
from bot.store.models import Department
from bot.store.prepared import Prepared

INSERT = Prepared(insert(Department).values(key=bindparam("key"), name="x"))


async def cpu_per_call(call: Callable[[], Awaitable[None]], count: int) -> float:
    """Microseconds of process CPU per call, after a warm-up."""
    for _ in range(200):
        await call()
    started = time.process_time()
    for _ in range(count):
        await call()
    return 1e6 * (time.process_time() - started) / count


async def transaction_costs(db: Database, count: int) -> list[tuple[str, float]]:
    async def with_session() -> None:
        async with db.session() as session:
            await session.connection()
            await session.commit()

    async def checked_out() -> None:
        async with db.engine.connect() as connection:
            await connection.begin()
            await connection.commit()

    async def turn_transaction() -> None:
        async with db.turns.transaction() as turn:
            await turn.commit()

    return [
        ("an ORM AsyncSession (aiosqlite)", await cpu_per_call(with_session, count)),
        ("a SQLAlchemy connection checked out (aiosqlite)", await cpu_per_call(checked_out, count)),
        ("a customer turn's transaction (TurnStore)", await cpu_per_call(turn_transaction, count)),
    ]


async def commit_times(db: Database, count: int, background: bool) -> list[float]:
    """Seconds each commit of ``count`` one-row transactions took on the event loop."""
    checkpoints = WalCheckpoints(db.turns)
    stopping = asyncio.Event()
    running = asyncio.create_task(checkpoints.run(stopping)) if background else None
    times = []
    for n in range(count):
        async with db.turns.transaction() as turn:
            await turn.rows(INSERT, {"key": f"k{background}-{n}"})
            started = time.perf_counter()
            await turn.commit()
            times.append(time.perf_counter() - started)
        if n % 50 == 0:
            await asyncio.sleep(0.01)  # the load's pauses, when the background task gets its turn
    stopping.set()
    if running is not None:
        await running
    return times


async def main_async(turns: int) -> str:
    lines = [
        "## The SQLite writer (in process)",
        "",
        f"`python benchmarks/store_writes.py --turns {turns}`: a new SQLite file, nothing else running.",
        "",
        "| empty write transaction (BEGIN IMMEDIATE + COMMIT) | CPU µs |",
        "|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        async with Database.open(f"sqlite:///{Path(tmp) / 'costs.db'}") as db:
            await upgrade(db.engine)
            for name, micros in await transaction_costs(db, turns):
                lines.append(f"| {name} | {micros:.0f} |")
        lines += [
            "",
            f"| {turns} one-row commits | commits over 2 ms | slowest ms | median ms |",
            "|---|---|---|---|",
        ]
        for background in (False, True):
            url = f"sqlite:///{Path(tmp) / f'commits-{background}.db'}"
            async with Database.open(url, background_checkpoints=background) as db:
                await upgrade(db.engine)
                times = await commit_times(db, turns, background)
            label = "checkpoints on a worker thread" if background else "SQLite's automatic checkpoints"
            slow = sum(t > 0.002 for t in times)
            lines.append(
                f"| {label} | {slow} | {1000 * max(times):.1f} | {1000 * statistics.median(times):.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=3000, help="transactions per measurement (3000)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    args = parser.parse_args()
    report = asyncio.run(main_async(args.turns))
    print(report)
    if not args.no_write:
        write_section("store-writes", report)
        print("written to docs/benchmarks.md (section store-writes)")


if __name__ == "__main__":
    main()
