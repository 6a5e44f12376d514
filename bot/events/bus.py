"""Live events inside one server process: what the operator panel shows without a reload.

The services publish after they commit ("a message was stored", "a ticket changed");
WebSocket handlers subscribe and forward what their user may see. Events are hints to
re-read or append, never the source of truth: a subscriber that falls behind loses
events (its ``lost`` counter grows) and should reload from the API, and a process
restart loses none of the data, only the notifications.

Across several server processes the same protocol is backed by a shared broker
(``bot.events.redis``: Redis pub/sub, chosen by config ``events.backend``); this
in-process bus is the default and the shared one's local half.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

log = logging.getLogger("botdesk.events")

EventKind = Literal["message", "ticket", "operator", "delivery", "account", "lead", "presence", "typing"]
"""``message``: a message was stored in a conversation (customer, bot, operator, system).
``ticket``: a handoff ticket was created or changed state (queued, claimed, released,
transferred, returned, closed, requeued). ``operator``: an operator's status changed.
``delivery``: a message for a customer's open connection, relayed between server
processes (``bot.channels.webchat``); never shown to operators. ``account``: an account
was disabled, logged out, got a new password or lost a role (``operator_id``, maybe
``session_id``): every process closes or rechecks that account's live feeds at once;
never shown to operators. ``lead``: a lead card was saved with its CRM push (``lead_id``):
the outbox worker delivers it now rather than at its next poll; never shown to operators.
``presence``: the operators whose panel feed is open on one process (``bot.events.presence``);
never shown to operators as it is. ``typing``: someone is typing in a conversation (the
customer in the widget, ``sender: "customer"``; an operator in the panel, ``sender:
"operator"``): panels and the customer's channel show it for a few seconds."""


@dataclass(frozen=True)
class Event:
    kind: EventKind
    conversation_id: int | None
    data: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "conversation_id": self.conversation_id,
            "at": self.at.isoformat(),
            **self.data,
        }


class Subscription:
    """One listener's queue; iterate it for events. Bounded: a slow reader loses the oldest.

    ``kinds``: the kinds it gets (None: every kind). A background listener names its own,
    so the "message" events of every customer turn do not wake it for nothing.
    """

    def __init__(self, limit: int, kinds: frozenset[str] | None = None) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(limit)
        self.kinds = kinds
        self.lost = 0

    def put(self, event: Event) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()
                    self.lost += 1

    async def get(self) -> Event:
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class EventBus:
    """Fan-out of events to every current subscriber; ``publish`` never blocks."""

    def __init__(self, queue_limit: int = 1000) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_limit = queue_limit

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscribers):
            if subscription.kinds is None or event.kind in subscription.kinds:
                subscription.put(event)

    def emit(self, kind: EventKind, conversation_id: int | None, **data: Any) -> None:
        self.publish(Event(kind, conversation_id, data))

    @contextlib.contextmanager
    def subscribe(self, *kinds: EventKind) -> Iterator[Subscription]:
        """``with bus.subscribe("ticket") as events: async for event in events: ...``

        Args:
            kinds: the kinds of event wanted; none named: every kind (the panel's feed).
        """
        subscription = Subscription(self._queue_limit, frozenset(kinds) if kinds else None)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        """Connect to a shared broker, if any (see ``bot.events.redis``); nothing to do in-process."""

    async def aclose(self) -> None:
        """Disconnect from a shared broker, if any."""


NO_EVENTS = EventBus()
"""A bus nobody listens to: the default for services used outside the server (CLI, tests)."""
