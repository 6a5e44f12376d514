"""Servers for the tests: the app under real uvicorn on 127.0.0.1, or in-process over ASGI."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import func, select

from bot.project import Project
from bot.server.connection_guard import uvicorn_config
from bot.server.lifespan import ServerState
from bot.store import Database, Message

HOLIDAYS = {"12-31", "01-01"}  # config.yml's; the clock never stands on one


class Clock:
    """Tomorrow 12:00 in Moscow: inside working hours, and later than any real timestamp."""

    def __init__(self) -> None:
        day = datetime.now(UTC).date() + timedelta(days=1)
        while day.strftime("%m-%d") in HOLIDAYS:
            day += timedelta(days=1)
        self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


AppFactory = Callable[..., FastAPI]


def project_with(trained_ru: Project, target: Path, replace: dict[str, str]) -> Project:
    """A copy of the default bot whose config.yml has some text replaced."""
    target.mkdir(parents=True)
    for name in ("intents", "stories"):
        shutil.copytree(trained_ru.root / name, target / name)
    text = trained_ru.config_path.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    (target / "config.yml").write_text(text, encoding="utf-8")
    return Project.open(target)


def state_of(app: FastAPI) -> ServerState:
    state: ServerState = app.state.botdesk
    return state


@contextlib.asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan run in this event loop, and a client that talks to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://botdesk.test") as client:
            yield client


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """``app`` under real uvicorn on 127.0.0.1 (a free port), in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, lifespan="on", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn did not start")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        await task
        sock.close()


def receiver(received: list[dict[str, Any]]) -> FastAPI:
    """A REST client's callback endpoint (Rasa's callback channel): keeps what it is sent."""
    app = FastAPI()

    @app.post("/bot-replies")
    async def hook(request: Request) -> dict[str, bool]:
        received.append(await request.json())
        return {"ok": True}

    return app


async def count_messages(url: str) -> int:
    async with Database.open(url) as db, db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until ``check()`` holds (background loops run in this event loop)."""
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    assert check()
