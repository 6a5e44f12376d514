"""WAL checkpoints off the event loop: the server's writer never waits for the disk there.

In WAL mode SQLite copies the log back into the database file (a checkpoint, with two
fsyncs) inside whichever commit pushes the log past ``wal_autocheckpoint`` (1,000) pages.
botdesk's turn writer commits on the event loop's thread (``bot.store.sqlite_writer``), so
that commit took orders of magnitude longer than the others (docs/benchmarks.md,
store-writes; more while the disk is slow) and every request in flight waited for it.

A server's turn writer therefore runs with automatic checkpoints off (``TurnStore(...,
background_checkpoints=True)``) and ``WalCheckpoints`` does them: every ``interval`` seconds,
when the log has grown, it takes the writer (in turn with the customer turns) and
checkpoints on a worker thread while the loop goes on parsing requests and running the NLU.
Holding the writer means nothing is appended by the turns meanwhile, so the checkpoint
completes and the next write starts the log from its beginning: the log holds at most
``interval`` seconds of writes. Other processes on the same file keep their own
checkpoints; PASSIVE never waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bot.store.turn_store import TurnStore

log = logging.getLogger("botdesk.store")

DEFAULT_INTERVAL = 0.2  # seconds: ~1,500 log pages at 1,000 turns/s, a few ms to copy back


@dataclass(frozen=True)
class Checkpoint:
    """What one checkpoint did: pages in the log, pages copied back, how long the writer was held."""

    log_pages: int
    copied_pages: int
    seconds: float


class WalCheckpoints:
    """Checkpoints of a SQLite file database's log, run on a worker thread (see the module docstring)."""

    def __init__(self, turns: TurnStore, interval: float = DEFAULT_INTERVAL) -> None:
        self.writer = turns.sqlite_writer
        self.interval = interval
        self._log = _log_file(self.writer.path) if self.writer is not None else None
        self._seen: tuple[int, int] | None = None

    @property
    def applies(self) -> bool:
        """Only a SQLite file has a log; other stores checkpoint by themselves."""
        return self._log is not None

    def _grown(self) -> bool:
        assert self._log is not None
        try:
            stat = self._log.stat()
        except FileNotFoundError:  # no write since the last connection closed
            return False
        seen = (stat.st_size, stat.st_mtime_ns)
        if seen == self._seen:
            return False
        self._seen = seen
        return True

    async def run_once(self) -> Checkpoint | None:
        """Checkpoint now if the log has grown; None when there was nothing to do."""
        if self.writer is None or not self.applies or not self._grown():
            return None
        started = time.perf_counter()
        done = await self.writer.checkpoint()  # the writer, in turn with the customers' turns
        held = time.perf_counter() - started
        if done is None:
            return None
        busy, log_pages, copied = done
        self._grown()  # the checkpoint itself touched the log: not a reason for the next one
        if busy:
            log.debug("WAL checkpoint partly done: another process holds the database")
        return Checkpoint(log_pages, copied, held)

    async def run(self, stopping: asyncio.Event) -> None:
        """Checkpoint every ``interval`` seconds until ``stopping`` is set; errors are logged."""
        while not stopping.is_set():
            try:
                await self.run_once()
            except Exception:  # the disk full or the file gone, say: logged, tried again
                log.exception("WAL checkpoint failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await stopping.wait()


def _log_file(database: str) -> Path:
    if database.startswith("file:"):  # a URI filename: the path before any ?options
        database = database[len("file:") :].split("?", 1)[0]
    return Path(os.path.abspath(database) + "-wal")
