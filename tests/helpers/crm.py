"""CRM helpers: lead cards and the CRM stub served for real."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from bot.stubs.crm import create_stub_app
from handoff.crm import LeadCard

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


SECRET = "test-secret-Ж"


def make_card(**overrides: Any) -> LeadCard:
    data: dict[str, Any] = {
        "name": "Анна Петрова",
        "phone": "+7 999 123-45-67",
        "email": "anna@Example.RU",
        "consent": True,
        "consent_at": NOW,
        "channel": "telegram",
        "customer_id": "cust-1",
        "conversation_id": "conv-1",
        "interest": ["price_request", "delivery_terms"],
        "last_messages": [
            {"sender": "customer", "text": "Сколько стоит велосипед Stels?", "at": NOW},
            {"sender": "bot", "text": "От 15 000 ₽. Оставите телефон?", "at": NOW},
        ],
        "source": "velomarket-bot",
        "kind": "lead",
        "created_at": NOW,
    }
    data.update(overrides)
    return LeadCard.model_validate(data)


class StubServer:
    """The real stub under uvicorn in the test's event loop, on 127.0.0.1; restartable on one port."""

    def __init__(self, db_path: Path, secret: str | None) -> None:
        self.db_path = db_path
        self.secret = secret
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        app = create_stub_app(self.db_path, self.secret)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with asyncio.timeout(10):
            while not self._server.started:
                if self._task.done():
                    await self._task
                    raise RuntimeError("the stub exited during startup")
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await asyncio.wait_for(self._task, 10)
        self._server = self._task = None
