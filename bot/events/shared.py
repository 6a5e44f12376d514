"""Live events across server processes: the part every broker shares.

Several ``botdesk run`` processes behind one load balancer share the database, but an
operator's panel WebSocket is open to one of them, and the customer who asks for a
person may be talking to another. A ``SharedEventBus`` is the in-process ``EventBus``
plus a broker channel (Redis pub/sub in ``bot.events.redis``, PostgreSQL LISTEN/NOTIFY
in ``bot.events.postgres``): ``publish`` delivers to this process's subscribers at once
and hands the event to a background sender; a background listener delivers the events
other processes published. Each process tags what it sends with its own id and skips
its own events when they come back, so nobody sees an event twice.

A customer's turn never waits for the broker: ``publish`` only appends to a bounded
queue (the oldest dropped when full). When the broker is down, events still reach the
operators of the publishing process, the failure is logged once per outage and counted
in ``dropped``, and both tasks reconnect with a capped backoff. Events are hints, the
store is the truth: a panel that missed some reloads from the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast, get_args

from bot.events.bus import Event, EventBus, EventKind

log = logging.getLogger("botdesk.events")

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
        at = datetime.fromisoformat(body["at"])
        return str(body["origin"]), Event(cast(EventKind, kind), conversation_id, body["data"], at)
    except (ValueError, KeyError, TypeError):
        return None


class SharedEventBus(EventBus):
    """An ``EventBus`` whose events also reach the other processes on the broker's ``channel``.

    A broker subclass says what its errors are and implements ``_connect``,
    ``_disconnect``, ``_send_one`` and ``_messages``.
    """

    broker = "the events broker"
    errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, channel: str, *, queue_limit: int = 1000, outgoing_limit: int = 1000) -> None:
        super().__init__(queue_limit)
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self.dropped = 0  # events that did not reach the other processes
        self.received = 0  # events from the other processes
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(outgoing_limit)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._down: str | None = None

    # ---- what a broker implements -------------------------------------------------------
    async def _connect(self) -> None:
        """Prepare clients (no network yet is fine: the loops connect and reconnect)."""

    async def _disconnect(self) -> None:
        """Release what ``_connect`` made."""

    async def _send_one(self, payload: str) -> None:
        raise NotImplementedError

    def _messages(self) -> contextlib.AbstractAsyncContextManager[AsyncIterator[str | bytes]]:
        """Subscribe; the iterator yields raw payloads until the connection fails."""
        raise NotImplementedError

    # ---- the shared part ----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """The listener is subscribed: events from other processes arrive."""
        return self._subscribed.is_set()

    def publish(self, event: Event) -> None:
        super().publish(event)  # this process's operators first: they never wait for the broker
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
        """Start the sender and the listener; returns at once, even when the broker is down."""
        if self._tasks:
            return
        await self._connect()
        self._tasks = [
            asyncio.create_task(self._send(), name="botdesk-events-send"),
            asyncio.create_task(self._listen(), name="botdesk-events-listen"),
        ]
        for task in self._tasks:
            task.add_done_callback(_log_crash)
        log.info("live events shared through %s, channel %s", self.broker, self.channel)

    async def send_now(self, events: list[Event]) -> None:
        """For a short-lived process (``botdesk operator disable``): hand events to the broker and wait.

        No listener is started; the broker's errors are raised to the caller.
        """
        await self._connect()
        try:
            for event in events:
                await self._send_one(encode(event, self.origin))
        finally:
            with contextlib.suppress(*self.errors):
                await self._disconnect()

    async def wait_connected(self, timeout: float) -> bool:
        """True once subscribed (for start-up logs and tests)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._subscribed.wait()
        return self.connected

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._subscribed.clear()
        with contextlib.suppress(*self.errors):
            await self._disconnect()

    async def _send(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            payload = await self._outgoing.get()
            try:
                await self._send_one(payload)
            except self.errors as exc:
                self.dropped += 1
                self._went_down(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LONGEST_BACKOFF)
            else:
                backoff = FIRST_BACKOFF

    async def _listen(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            try:
                async with self._messages() as messages:
                    self._subscribed.set()
                    self._came_back()
                    backoff = FIRST_BACKOFF
                    async for raw in messages:
                        self._deliver(raw)
            except self.errors as exc:
                self._went_down(exc)
            self._subscribed.clear()
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
                "%s unavailable (%s); panels see only this process's events till it is back",
                self.broker,
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )
        self._down = str(exc)

    def _came_back(self) -> None:
        if self._down is not None:
            log.info("%s reachable again", self.broker)
        self._down = None


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %r", task.get_name(), task.exception(), exc_info=task.exception())
