"""Live events across server processes over Redis pub/sub (``events.backend: redis``).

The queueing, loop-back filtering and reconnecting are ``bot.events.shared``'s; this
module only talks to Redis. See docs/deploy.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.events.shared import SharedEventBus, decode, encode

__all__ = ["RedisEventBus", "decode", "encode"]

CONNECT_TIMEOUT = 2.0


class RedisEventBus(SharedEventBus):
    """An ``EventBus`` whose events also reach the other processes subscribed to ``channel``."""

    broker = "the Redis events broker"
    errors = (RedisError, OSError)

    def __init__(
        self, url: str, channel: str, *, queue_limit: int = 1000, outgoing_limit: int = 1000
    ) -> None:
        super().__init__(channel, queue_limit=queue_limit, outgoing_limit=outgoing_limit)
        self.url = url
        self._client: aioredis.Redis | None = None

    async def _connect(self) -> None:
        self._client = aioredis.from_url(
            self.url, socket_connect_timeout=CONNECT_TIMEOUT, socket_keepalive=True, health_check_interval=15
        )

    async def _disconnect(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _send_one(self, payload: str) -> None:
        assert self._client is not None
        await self._client.publish(self.channel, payload)

    @contextlib.asynccontextmanager
    async def _messages(self) -> AsyncIterator[AsyncIterator[str | bytes]]:
        assert self._client is not None
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            yield self._read(pubsub)
        finally:
            with contextlib.suppress(*self.errors):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    @staticmethod
    async def _read(pubsub: aioredis.client.PubSub) -> AsyncIterator[str | bytes]:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message.get("type") == "message":
                yield message["data"]
