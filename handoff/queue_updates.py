"""Waiting customers hear when the queue moves: live in the widget, by message elsewhere.

Whenever a ticket changes (queued, claimed, released, closed...) on any process, and when
someone comes online or goes away, every process works out the waiting customers' places
(``bot.store.waiting``) and:

- a channel with a live line (``Capabilities.live_status``: the widget) gets the new place
  and wait for the customer's windows on this process, whenever they changed (and "no
  longer waiting" once the ticket left the queue);
- any other channel gets a stored message, "Очередь движется: вы 2-й…", only when the
  change is notable (``notable``: the customer is next, or the place at least halved since
  they were last told): a message per step would be spam. Which place the customer was
  last told is kept in the ticket's note, read under a row lock, so of several processes
  one tells them.

While nobody is online for the ticket's department nothing is promised (no place, no
wait); the customer was told so when they were queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot.clock import Clock
from bot.events import EventBus, Presence
from bot.messages import CustomerSignals, QueueStatus
from bot.settings import BotdeskConfig
from bot.store import Database
from bot.store.waiting import (
    Waiting,
    eta_minutes,
    lock_note,
    minutes_per_place,
    note_update,
    recent_waits,
    waiting_tickets,
)
from handoff.service import OperatorService

log = logging.getLogger("botdesk.handoff.queue")


def notable(told: int | None, position: int) -> bool:
    """Worth a message: the customer moved up to next, or to half the place they were told (or better)."""
    if told is None:
        return False  # never told a place (queued while nobody was online): the live line only
    return position < told and (position == 1 or position * 2 <= told)


class QueueUpdates:
    """Tells waiting customers their new place and wait (see the module docstring)."""

    def __init__(
        self,
        config: BotdeskConfig,
        db: Database,
        operators: OperatorService,
        signals: CustomerSignals,
        events: EventBus,
        presence: Presence,
        clock: Clock,
    ) -> None:
        self.config = config
        self.db = db
        self.operators = operators
        self.signals = signals
        self.events = events
        self.presence = presence
        self.clock = clock
        self._shown: dict[int, QueueStatus] = {}  # ticket -> what its live line shows on this process
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self._tasks:
            self.presence.watch(self._wanted.set)
            self._tasks = [
                asyncio.create_task(self._listen(), name="botdesk-queue-listen"),
                asyncio.create_task(self._work(), name="botdesk-queue-updates"),
            ]

    async def aclose(self) -> None:
        self.presence.unwatch(self._wanted.set)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def poke(self) -> None:
        """Refresh soon (the maintenance tick: a missed event heals within a tick)."""
        self._wanted.set()

    async def _listen(self) -> None:
        with self.events.subscribe("ticket") as events:
            async for event in events:
                if event.kind == "ticket":
                    self._wanted.set()

    async def _work(self) -> None:
        """One refresh at a time; a burst of ticket events makes one more, not one each."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await self.refresh()
            except Exception:  # the store went away, say: the next event or tick tries again
                log.exception("queue update failed")

    async def refresh(self) -> int:
        """Tell every waiting customer whose place or wait changed; how many were told."""
        now = self.clock()
        async with self.db.reader() as session:
            waiting = await waiting_tickets(session, now=now)
            per_place: dict[int | None, float] = {}
            for department_id in {w.department_id for w in waiting}:
                waits = await recent_waits(session, department_id, now=now)
                per_place[department_id] = minutes_per_place(
                    waits, self.config.escalation.average_handle_minutes
                )
        told = 0
        present = set()
        for item in waiting:
            present.add(item.ticket_id)
            if not self._staffed(item):
                continue
            minutes = eta_minutes(item.position, per_place[item.department_id])
            if self.signals.live(item.channel):
                told += await self._show(item, minutes)
            elif notable(_told_place(item.note), item.position):
                told += await self._tell(item, minutes)
        for ticket_id in list(self._shown):  # picked up, returned or closed: the live line goes
            if ticket_id not in present:
                status = self._shown.pop(ticket_id)
                await self.signals.queue_status(
                    QueueStatus(status.channel, status.recipient_id, status.conversation_id, 0, 0)
                )
        return told

    def _staffed(self, item: Waiting) -> bool:
        if not self.presence.tracked:
            return True
        department = item.note.get("department")
        return self.presence.online(department if isinstance(department, str) else None)

    async def _show(self, item: Waiting, minutes: int) -> int:
        status = QueueStatus(item.channel, item.recipient_id, item.conversation_id, item.position, minutes)
        if self._shown.get(item.ticket_id) == status:
            return 0
        self._shown[item.ticket_id] = status
        await self.signals.queue_status(status)
        return 1

    async def _tell(self, item: Waiting, minutes: int) -> int:
        """A stored message, once, by whichever process gets the ticket's row first."""
        async with self.db.session() as session:
            note = await lock_note(session, item.ticket_id)
            if note is None or not notable(_told_place(note), item.position):
                await session.rollback()
                return 0
            await note_update(session, item.ticket_id, {"told": [item.position, minutes]})
            await self.operators.tell_queue_moved(session, item.ticket_id, item.position, minutes)
        return 1


def _told_place(note: dict[str, Any]) -> int | None:
    told = note.get("told")
    if isinstance(told, list) and told and isinstance(told[0], int):
        return told[0]
    return None
