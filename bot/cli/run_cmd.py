"""``botdesk run``: serve the bot over HTTP with uvicorn until Ctrl-C or SIGTERM.

What can be checked before the server starts is checked here, so a typo in config.yml,
a missing model or an unset CRM secret is one sentence and exit 2, not a traceback
from inside the server's start-up. Stopping is uvicorn's graceful shutdown: it stops
accepting, lets the requests in flight answer, then the app's lifespan stops the
workers and closes the database.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import app
from bot.cli.options import ProjectOption
from bot.cli.train_cmd import train_project
from bot.project import Project

console = Console(soft_wrap=True, stderr=True)
GRACEFUL_SHUTDOWN_SECONDS = 30
SHOP_URL = "BOTDESK_SHOP_URL"
SHOP_STUB_PORT = 8091  # where the default bot's HTTP action looks without BOTDESK_SHOP_URL (actions.yml)


async def _preflight(project: Project) -> None:
    """The database URL can be right and the CRM adapters can be built (their secrets are set)."""
    from handoff.outbox import OutboxWorker

    db = project.database()
    try:
        worker = OutboxWorker.from_config(db.sessions, project.config.crm)
        await worker.aclose()
    finally:
        await db.close()


def _start_shop_stub() -> None:
    """The bundled shop stub beside the server, for a demo that answers order lookups.

    On 127.0.0.1:8091 (where the default bot looks) or, when that port is taken, a free
    one; ``BOTDESK_SHOP_URL`` is set to it before the project is loaded, so the HTTP
    action finds it either way. Served by a daemon thread with its own event loop, so it
    ends with the process. A ``BOTDESK_SHOP_URL`` set by the caller means a real shop is
    configured: then nothing is started.
    """
    if os.environ.get(SHOP_URL):
        console.print(f"{SHOP_URL} is set: order lookups go there, no shop stub is started", highlight=False)
        return
    import uvicorn

    from bot.stubs.shop import create_shop_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", SHOP_STUB_PORT))
    except OSError:
        sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(create_shop_app(), log_level="warning", access_log=False, lifespan="off")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="shop-stub", daemon=True).start()
    os.environ[SHOP_URL] = url
    console.print(f"the demo shop's order API (botdesk shop-stub) on {url}/", highlight=False)


# Whose log lines `botdesk run` shows, from which level: botdesk's own, and the warnings of the
# PostgreSQL turns' connection pool (a connection the server dropped, one it refused).
SHOWN_LOGS = {"botdesk": logging.INFO, "psycopg.pool": logging.WARNING}


def _show_logs() -> None:
    """botdesk's log lines beside uvicorn's, unless logging is set up already."""
    if logging.getLogger("botdesk").handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
    for name, level in SHOWN_LOGS.items():
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)


@app.command()
def run(
    project_dir: ProjectOption = Path("."),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per HTTP request (client address, path, status). Off by default: "
            "the reverse proxy keeps one, and it costs CPU on every customer message (docs/benchmarks.md).",
        ),
    ] = False,
    shop_stub: Annotated[
        bool,
        typer.Option(
            "--shop-stub/--no-shop-stub",
            help=f"Also serve the bundled shop stub on 127.0.0.1:{SHOP_STUB_PORT}, so the default bot's "
            f"order lookups are answered (a demo; `make run` turns it on). Ignored when {SHOP_URL} is set.",
        ),
    ] = False,
) -> None:
    """Serve the bot: widget, operator panel, REST channel, /healthz, /metrics. Ctrl-C stops it gracefully."""
    import uvicorn

    from bot.server.app import create_app  # imported when serving: the other commands start faster
    from bot.server.connection_guard import fit_open_files, uvicorn_config

    if shop_stub:
        _start_shop_stub()
    project = Project.open(project_dir)
    info, trained = train_project(project)
    if trained:
        console.print(f"trained model {info.version} (the data or config had changed)", highlight=False)
    pipeline = project.models.load(project.config, info)
    asyncio.run(_preflight(project))
    _show_logs()
    limits = project.config.server
    open_files = fit_open_files(limits.max_connections)
    if open_files is not None:
        console.print(
            f"server.max_connections is {limits.max_connections}, but this process may open only "
            f"{open_files} files (ulimit -n): connections past that wait unaccepted",
            highlight=False,
        )
    config = uvicorn_config(  # limits from config.yml's server section (bot/server/connection_guard.py)
        create_app(project, pipeline=pipeline),
        host=host,
        port=port,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_level="info",
        access_log=access_log,
    )
    server = uvicorn.Server(config)
    # What is loaded by now (the model, spaCy, the libraries) stays for the process's life:
    # out of the collector's sight, a full collection no longer walks it in mid-request.
    # (No gc.collect() first: it would add a few hundred ms to the start.)
    gc.freeze()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(
        f"botdesk on http://{shown}:{port}/ : the demo shop with the chat widget; "
        f"operator panel at /panel, API docs at /docs",
        highlight=False,
    )
    server.run()
    if not server.started:
        raise typer.Exit(1)
