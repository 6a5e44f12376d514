"""Requests in flight, so shutdown can wait for them before closing the database.

uvicorn already stops accepting and lets running requests finish before it runs the
lifespan's shutdown; this makes the same promise hold under any ASGI server (and in
tests that drive the app directly): once shutdown starts, new requests get 503 and the
lifespan waits until the running ones have answered.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Receive, Scope, Send

SHUTTING_DOWN = "the server is shutting down; try again in a moment"


class InFlight:
    """Counts HTTP requests being served; ``close()`` refuses new ones."""

    def __init__(self) -> None:
        self.count = 0
        self.closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    def close(self) -> None:
        self.closing = True

    async def wait_idle(self, timeout: float) -> bool:
        """True when every request answered within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class InFlightMiddleware:
    """Pure ASGI middleware around the whole app (streaming-safe, no BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, tracker: InFlight) -> None:
        self.app = app
        self.tracker = tracker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.tracker.closing:
            await refuse_shutting_down(send)
            return
        self.tracker.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.tracker.leave()


async def refuse_shutting_down(send: Send) -> None:
    """503 with Retry-After, the connection closed: another process (or this one, restarted) answers."""
    body = json.dumps({"detail": SHUTTING_DOWN}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"retry-after", b"5"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
