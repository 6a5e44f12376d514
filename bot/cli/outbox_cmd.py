"""``botdesk outbox status | retry-dead | deliver``: the CRM outbox of a project's database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot.cli import outbox_app
from bot.cli.db_cmd import UrlOption, database_target
from bot.cli.options import JsonOption, ProjectOption
from bot.errors import ConfigError
from bot.project import Project
from bot.store import Database, retry_dead
from bot.store.db import display_url

if TYPE_CHECKING:
    from handoff.outbox import OutboxWorker, PassStats

console = Console(soft_wrap=True)


def _open(project_dir: Path, url: str | None) -> Database:
    target, base_dir = database_target(project_dir, url)
    return Database.open(target, base_dir=base_dir)


def _age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


@outbox_app.command("status")
def status(
    project_dir: ProjectOption = Path("."), url: UrlOption = None, as_json: JsonOption = False
) -> None:
    """Count the outbox items by status and show how long the oldest pending one has waited."""
    from bot.store.outbox import dead_items, outbox_summary

    async def run() -> tuple[str, dict[str, object], list[tuple[int, str, int, str | None]]]:
        async with _open(project_dir, url) as db:
            await db.check()
            async with db.sessions() as session:
                summary = await outbox_summary(session)
                dead = await dead_items(session) if summary.dead else []
            return display_url(db.url), {**summary.to_dict(), "_age": summary.oldest_pending_age}, dead

    where, data, dead = asyncio.run(run())
    age = data.pop("_age")
    if as_json:
        data["dead_items"] = [
            {"id": id_, "idempotency_key": key, "attempts": attempts, "last_error": error}
            for id_, key, attempts, error in dead
        ]
        console.print_json(json.dumps(data))
        return
    console.print(f"outbox of {where}", highlight=False)
    console.print(
        f"pending {data['pending']} (due now {data['due']}), sent {data['sent']}, dead {data['dead']}",
        highlight=False,
    )
    if isinstance(age, timedelta):
        console.print(f"oldest pending: {_age(age)} old", highlight=False)
    for id_, key, attempts, error in dead:
        console.print(f"dead #{id_} {key} after {attempts} attempts: {error or '?'}", highlight=False)
    if dead:
        console.print("fix the cause, then run `botdesk outbox retry-dead`", highlight=False, style="yellow")


@outbox_app.command("retry-dead")
def retry_dead_items(project_dir: ProjectOption = Path("."), url: UrlOption = None) -> None:
    """Give dead items a fresh set of attempts, after what refused them has been fixed."""

    async def run() -> int:
        async with _open(project_dir, url) as db:
            await db.check()
            async with db.sessions() as session:
                return await retry_dead(session)

    count = asyncio.run(run())
    console.print(f"re-queued {count} dead item{'s' if count != 1 else ''}", highlight=False)


OnceOption = Annotated[
    bool, typer.Option("--once", help="Deliver what is due now, then exit (for cron), instead of running on.")
]
IntervalOption = Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between polls.")]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Items claimed per pass.")]


@outbox_app.command("deliver")
def deliver(
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
    once: OnceOption = False,
    interval: IntervalOption = 2.0,
    batch_size: BatchOption = 20,
) -> None:
    """Push pending lead cards to the CRM of config.yml, in the foreground until Ctrl-C."""
    from handoff.outbox import OutboxWorker

    project = Project.open(project_dir)
    if not project.config.crm:
        raise ConfigError("no CRM in the crm section; the lead cards wait in the outbox", project.config_path)
    _show_logs()

    async def run() -> PassStats | None:
        async with _open(project_dir, url) as db:
            await db.check()
            async with OutboxWorker.from_config(
                db.sessions, project.config.crm, poll_interval=interval, batch_size=batch_size
            ) as worker:
                if once:
                    return await _deliver_due(worker)
                await _until_signalled(worker)
                return None

    total = asyncio.run(run())
    if total is not None:
        console.print(str(total), highlight=False)


async def _deliver_due(worker: OutboxWorker) -> PassStats:
    """Passes until one claims less than a full batch: everything due now, each item once."""
    from handoff.outbox import PassStats

    total = PassStats()
    while True:
        stats = await worker.run_once()
        total.add(stats)
        if stats.claimed < worker.batch_size:
            return total


async def _until_signalled(worker: OutboxWorker) -> None:
    """Run until Ctrl-C or SIGTERM, then let the pass in flight finish; a second Ctrl-C cuts it short."""
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()

    def on_signal() -> None:
        if worker.stopping and current is not None:
            current.cancel()
        else:
            console.print("stopping after the pushes in flight (Ctrl-C again to cut short)", highlight=False)
            worker.request_stop()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers on this platform
            loop.add_signal_handler(signum, on_signal)
            handled.append(signum)
    try:
        await worker.run()
    except asyncio.CancelledError:
        if current is not None:
            current.uncancel()
        console.print("stopped; unfinished pushes are retried when their lease ends", highlight=False)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    console.print(
        f"since start: delivered {worker.delivered} ({worker.duplicates} already in the CRM), "
        f"retried {worker.retried}, dead {worker.dead}",
        highlight=False,
    )


def _show_logs() -> None:
    """The worker's log lines on stderr, unless the host application set up logging already."""
    logger = logging.getLogger("botdesk")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
