"""Live events across server processes over Redis pub/sub.

Several ``botdesk run`` processes behind one load balancer share PostgreSQL, but an
operator's panel WebSocket is open to one of them, and the customer who asks for a
person may be talking to another. ``RedisEventBus`` is the in-process ``EventBus``
plus a Redis channel: ``publish`` delivers to this process's subscribers at once and
hands the event to a background sender; a background listener delivers the events
other processes published. Each process tags what it sends with its own id and skips
its own events when they come back, so nobody sees an event twice.

A customer's turn never waits for Redis: ``publish`` only appends to a bounded queue
(the oldest dropped when full). When Redis is down, events still reach the operators
of the publishing process, the failures are logged once per outage and counted in
``dropped``, and both tasks reconnect with a capped backoff. Events are hints, the
store is the truth: a panel that missed some reloads from the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any, cast, get_args

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.events import Event, EventBus, EventKind

log = logging.getLogger("botdesk.events")

CONNECT_TIMEOUT = 2.0
FIRST_BACKOFF = 0.2
LONGEST_BACKOFF = 5.0
KINDS = frozenset(get_args(EventKind))


def encode(event: Event, origin: str) -> str:
    """The wire form: one JSON object, tagged with the publishing process."""
    return json.dumps(
        {
            "origin": origin,
            "kind": event.kind,
            "conversation_id": event.conversation_id,
            "at": event.at.isoformat(),
            "data": event.data,
        },
        ensure_ascii=False,
        default=str,
    )


def decode(raw: str | bytes) -> tuple[str, Event] | None:
    """``(origin, event)``, or None for anything that is not a botdesk event."""
    try:
        body = json.loads(raw)
        kind = body["kind"]
        conversation_id = body["conversation_id"]
        if kind not in KINDS or not isinstance(body["data"], dict):
            return None
        if conversation_id is not None and not isinstance(conversation_id, int):
            return None
        event = Event(
            cast(EventKind, kind), conversation_id, body["data"], datetime.fromisoformat(body["at"])
        )
        return str(body["origin"]), event
    except (ValueError, KeyError, TypeError):
        return None


class RedisEventBus(EventBus):
    """An ``EventBus`` whose events also reach the other processes subscribed to ``channel``."""

    def __init__(
        self, url: str, channel: str, *, queue_limit: int = 1000, outgoing_limit: int = 1000
    ) -> None:
        super().__init__(queue_limit)
        self.url = url
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self.dropped = 0  # events that did not reach the other processes
        self.received = 0  # events from the other processes
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(outgoing_limit)
        self._client: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._down: str | None = None

    @property
    def connected(self) -> bool:
        """The listener is subscribed: events from other processes arrive."""
        return self._subscribed.is_set()

    def publish(self, event: Event) -> None:
        super().publish(event)  # this process's operators first: they never wait for Redis
        if not self._tasks:
            return
        payload = encode(event, self.origin)
        while True:
            try:
                self._outgoing.put_nowait(payload)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._outgoing.get_nowait()
                    self.dropped += 1

    async def start(self) -> None:
        """Start the sender and the listener; returns at once, even when Redis is down."""
        if self._tasks:
            return
        self._client = aioredis.from_url(
            self.url, socket_connect_timeout=CONNECT_TIMEOUT, socket_keepalive=True, health_check_interval=15
        )
        self._tasks = [
            asyncio.create_task(self._send(), name="botdesk-events-send"),
            asyncio.create_task(self._listen(), name="botdesk-events-listen"),
        ]
        for task in self._tasks:
            task.add_done_callback(_log_crash)
        log.info("live events shared over Redis, channel %s", self.channel)

    async def wait_connected(self, timeout: float) -> bool:
        """True once subscribed (for start-up logs and tests)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        return self.connected

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._subscribed.clear()
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()
            self._client = None

    async def _send(self) -> None:
        assert self._client is not None
        backoff = FIRST_BACKOFF
        while True:
            payload = await self._outgoing.get()
            try:
                await self._client.publish(self.channel, payload)
            except (RedisError, OSError) as exc:
                self.dropped += 1
                self._went_down(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LONGEST_BACKOFF)
            else:
                backoff = FIRST_BACKOFF

    async def _listen(self) -> None:
        assert self._client is not None
        backoff = FIRST_BACKOFF
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                self._came_back()
                backoff = FIRST_BACKOFF
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._deliver(message["data"])
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                self._went_down(exc)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, LONGEST_BACKOFF)

    def _deliver(self, raw: Any) -> None:
        decoded = decode(raw)
        if decoded is None:
            log.debug("ignored a message on %s that is not a botdesk event", self.channel)
            return
        origin, event = decoded
        if origin != self.origin:
            self.received += 1
            super().publish(event)

    def _went_down(self, exc: BaseException) -> None:
        if self._down is None:
            log.warning(
                "Redis events broker unavailable (%s); panels see only this process's events till it is back",
                exc,
            )
        self._down = str(exc)

    def _came_back(self) -> None:
        if self._down is not None:
            log.info("Redis events broker reachable again")
        self._down = None


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %r", task.get_name(), task.exception(), exc_info=task.exception())
