"""Live events across server processes over PostgreSQL LISTEN/NOTIFY (``events.backend: postgres``).

For a deployment that has PostgreSQL and no Redis: the processes already share the
database, so they can share their events through it too. One connection per process
listens (outside the pool, in autocommit), another sends ``pg_notify``. A notification
carries at most 8000 bytes, so a long message's text is shortened in the event (the
panel shows the stored message in full once it loads it) and marked ``truncated``.
The queueing, loop-back filtering and reconnecting are ``bot.events.shared``'s.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import psycopg
from sqlalchemy import make_url

from bot.events.shared import SharedEventBus

MAX_PAYLOAD_BYTES = 7900  # PostgreSQL's limit is 8000 bytes, with the channel name
CONNECT_TIMEOUT = 3


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+psycopg://...) as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fit(payload: str) -> str:
    """The payload, with its ``text`` shortened when the whole is over the NOTIFY limit."""
    size = len(payload.encode("utf-8"))
    if size <= MAX_PAYLOAD_BYTES:
        return payload
    body = json.loads(payload)
    text = str(body["data"].get("text") or "")
    keep = max(0, len(text) - (size - MAX_PAYLOAD_BYTES))  # characters are at least one byte
    while True:
        body["data"]["text"], body["data"]["truncated"] = text[:keep], True
        fitted = json.dumps(body, ensure_ascii=False)
        if len(fitted.encode("utf-8")) <= MAX_PAYLOAD_BYTES or keep == 0:
            return fitted
        keep = max(0, keep - max(1, (len(fitted.encode("utf-8")) - MAX_PAYLOAD_BYTES)))


class PostgresEventBus(SharedEventBus):
    """An ``EventBus`` whose events also reach the other processes listening on ``channel``."""

    broker = "PostgreSQL LISTEN/NOTIFY"
    errors = (psycopg.Error, OSError)

    def __init__(
        self, url: str, channel: str, *, queue_limit: int = 1000, outgoing_limit: int = 1000
    ) -> None:
        super().__init__(channel, queue_limit=queue_limit, outgoing_limit=outgoing_limit)
        self.url = libpq_url(url)
        self._sender: psycopg.AsyncConnection[object] | None = None

    async def _disconnect(self) -> None:
        if self._sender is not None:
            sender, self._sender = self._sender, None
            await sender.close()

    async def _send_one(self, payload: str) -> None:
        if self._sender is None or self._sender.closed:
            self._sender = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        try:
            await self._sender.execute("SELECT pg_notify(%s, %s)", (self.channel, fit(payload)))
        except self.errors:
            with contextlib.suppress(*self.errors):
                await self._sender.close()
            self._sender = None
            raise

    @contextlib.asynccontextmanager
    async def _messages(self) -> AsyncIterator[AsyncIterator[str | bytes]]:
        connection = await psycopg.AsyncConnection.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            # A listener only reads: TCP keepalives notice a peer that vanished without closing.
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        try:
            await connection.execute(
                psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self.channel))
            )
            yield self._read(connection)
        finally:
            with contextlib.suppress(*self.errors):
                await connection.close()

    @staticmethod
    async def _read(connection: psycopg.AsyncConnection[object]) -> AsyncIterator[str | bytes]:
        async for notify in connection.notifies():
            yield notify.payload
