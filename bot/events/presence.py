"""Who is at the panel now: operators with a live feed open and their status "online", on any process.

Working hours say when people *should* answer; presence says whether someone *can* answer
now. An operator is present while a panel of theirs holds the live feed (``/api/events``)
open, and online while their status switch says "online" (logging in sets it, the switch
or logging out of the last session clears it). The widget's header, the handoff message
and the after-hours decision ask ``Presence.online(department)``: never "operators are
online" when nobody is.

Several server processes share it over the event bus (``bot.events``): each process
announces the operators whose feed is open on it (a ``presence`` event) whenever that
changes and, while it has any, every ``heartbeat`` seconds; every process keeps the others' announcements
until they expire (three heartbeats: a process that died drops out by itself). A process
that starts asks the others to announce at once. A status change (the ``operator`` event)
is applied everywhere as it arrives, before the owner's next announcement.

Presence is a hint like every event (the store is the truth for tickets), but a missed
one heals within a heartbeat.

Usage::

    presence = Presence(events)
    await presence.start()
    presence.connect(anna.id, online=True, department="support")   # her feed opened
    presence.online("support")                                      # True
    presence.disconnect(anna.id)                                    # closed
    await presence.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.events.bus import Event, EventBus
from bot.hours import Department

log = logging.getLogger("botdesk.events.presence")
HEARTBEAT_SECONDS = 10.0
EXPIRY_HEARTBEATS = 3


@dataclass(frozen=True)
class Attendant:
    """An operator with a live panel: ``online`` their status, ``department`` the key they serve."""

    operator_id: int
    online: bool
    department: str | None

    def serves(self, department: str | None) -> bool:
        """An operator of no department serves every one; ``department`` None asks about any."""
        return department is None or self.department is None or self.department == department

    def as_list(self) -> list[Any]:
        return [self.operator_id, self.online, self.department]

    @classmethod
    def from_list(cls, value: Any) -> Attendant | None:
        if not isinstance(value, list) or len(value) != 3:
            return None
        operator_id, online, department = value
        if not isinstance(operator_id, int) or not isinstance(online, bool):
            return None
        if department is not None and not isinstance(department, str):
            return None
        return cls(operator_id, online, department)


@dataclass(frozen=True)
class Duty:
    """Who answers a department now: ``online`` a person can (present and online), ``open`` its
    working hours, ``opening`` when they next begin (None when open now or never)."""

    online: bool
    open: bool
    opening: datetime | None


class Presence:
    """The operators at a live panel, on this process and (over a shared bus) the others.

    Args:
        events: the live event bus; presence travels on it as ``presence`` events.
        heartbeat: seconds between this process's announcements.
        clock: monotonic seconds (announcements expire on it).
    """

    tracked = True

    def __init__(
        self,
        events: EventBus,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events = events
        self.heartbeat = heartbeat
        self.clock = clock
        self.origin = uuid.uuid4().hex
        self._feeds: dict[int, int] = {}  # operator id -> open feeds on this process
        self._local: dict[int, Attendant] = {}
        self._remote: dict[str, tuple[float, dict[int, Attendant]]] = {}  # origin -> (expires, who)
        self._watchers: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._seen: tuple[Attendant, ...] = ()

    # ---- this process's feeds ------------------------------------------------------------
    def connect(self, operator_id: int, *, online: bool, department: str | None) -> None:
        """A live feed of this operator opened here (one operator may have several tabs)."""
        self._feeds[operator_id] = self._feeds.get(operator_id, 0) + 1
        self._local[operator_id] = Attendant(operator_id, online, department)
        self._changed(announce=True)

    def disconnect(self, operator_id: int) -> None:
        """One of this operator's feeds here closed; present until the last one does."""
        left = self._feeds.get(operator_id, 0) - 1
        if left > 0:
            self._feeds[operator_id] = left
            return
        self._feeds.pop(operator_id, None)
        self._local.pop(operator_id, None)
        self._changed(announce=True)

    def set_status(self, operator_id: int, online: bool) -> None:
        """The operator switched online or away (also heard from other processes: ``operator`` events)."""
        mine = self._local.get(operator_id)
        if mine is not None and mine.online != online:
            self._local[operator_id] = Attendant(operator_id, online, mine.department)
        for origin, (expires, who) in list(self._remote.items()):
            theirs = who.get(operator_id)
            if theirs is not None and theirs.online != online:
                who = {**who, operator_id: Attendant(operator_id, online, theirs.department)}
                self._remote[origin] = (expires, who)
        self._changed(announce=mine is not None)

    # ---- questions ------------------------------------------------------------------------
    def attendants(self) -> list[Attendant]:
        """Every operator with a live panel somewhere, by id (an operator open on two processes once)."""
        now = self.clock()
        merged: dict[int, Attendant] = {}
        for origin, (expires, who) in list(self._remote.items()):
            if expires < now:
                del self._remote[origin]
                continue
            for attendant in who.values():
                merged[attendant.operator_id] = _either_online(merged.get(attendant.operator_id), attendant)
        for attendant in self._local.values():
            merged[attendant.operator_id] = _either_online(merged.get(attendant.operator_id), attendant)
        return [merged[key] for key in sorted(merged)]

    def online_operators(self, department: str | None = None) -> list[int]:
        """Ids of the operators who can answer ``department`` now (None: any department)."""
        return [a.operator_id for a in self.attendants() if a.online and a.serves(department)]

    def online(self, department: str | None = None) -> bool:
        """Is anyone online for this department now (None: for any)?"""
        return bool(self.online_operators(department))

    def duty(self, department: Department, now: datetime) -> Duty:
        """Who answers ``department`` now: presence, and its hours for "when people are back"."""
        open_now = department.hours.is_open(now)
        opening = None if open_now else department.hours.next_opening(now)
        online = self.online(department.key) if self.tracked else open_now
        return Duty(online, open_now, opening)

    # ---- watching ---------------------------------------------------------------------------
    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (no arguments, must not block) whenever who is present or online changes."""
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._watchers.remove(callback)

    def _changed(self, *, announce: bool) -> None:
        if announce:
            self._announce()
        seen = tuple(self.attendants())
        if seen == self._seen:
            return
        self._seen = seen
        for callback in list(self._watchers):
            try:
                callback()
            except Exception:  # one watcher's trouble must not stop the others
                log.exception("presence watcher failed")

    # ---- sharing over the bus -----------------------------------------------------------
    def _announce(self, *, ask: bool = False) -> None:
        self.events.emit(
            "presence",
            None,
            origin=self.origin,
            operators=[a.as_list() for a in self._local.values()],
            ttl=self.heartbeat * EXPIRY_HEARTBEATS,
            ask=ask,
        )

    def heard(self, event: Event) -> None:
        """An event from the bus: another process's announcement, or a status change."""
        data = event.data
        if event.kind == "operator":
            operator_id, status = data.get("operator_id"), data.get("status")
            if isinstance(operator_id, int) and status in ("online", "away"):
                self.set_status(operator_id, status == "online")
            return
        if event.kind != "presence" or data.get("origin") == self.origin:
            return
        origin = str(data.get("origin"))
        ttl = data.get("ttl")
        ttl = (
            float(ttl)
            if isinstance(ttl, int | float) and 0 < ttl <= 3600
            else self.heartbeat * EXPIRY_HEARTBEATS
        )
        who = {a.operator_id: a for a in _attendants(data.get("operators"))}
        self._remote[origin] = (self.clock() + ttl, who)
        if data.get("ask") is True:
            self._announce()
        self._changed(announce=False)

    async def start(self) -> None:
        """Listen to the bus, announce now (asking the others to), then on every heartbeat."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="botdesk-presence")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        with self.events.subscribe("presence", "operator") as events:
            self._announce(ask=True)
            due = self.clock() + self.heartbeat
            while True:
                try:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
                    # meets an event already in hand, and aclose() would wait forever
                    async with asyncio.timeout(max(0.0, due - self.clock())):
                        event = await events.get()
                except TimeoutError:
                    if self._local:  # nobody here: the others' copy of us may expire, it is empty
                        self._announce()
                    self._changed(announce=False)  # expired announcements drop out
                    due = self.clock() + self.heartbeat
                    continue
                try:
                    self.heard(event)
                except Exception:
                    log.exception("presence event not applied")


class UntrackedPresence(Presence):
    """No presence known (a CLI shell, story tests): working hours alone say who answers."""

    tracked = False

    def __init__(self) -> None:
        super().__init__(EventBus())

    def _announce(self, *, ask: bool = False) -> None:
        return None

    async def start(self) -> None:
        return None


NO_PRESENCE: Presence = UntrackedPresence()
"""The default outside the server: nobody is tracked, the hours decide (``duty``)."""


def _either_online(first: Attendant | None, second: Attendant) -> Attendant:
    if first is None:
        return second
    return Attendant(second.operator_id, first.online or second.online, second.department)


def _attendants(value: Any) -> Iterable[Attendant]:
    if not isinstance(value, list):
        return []
    return [a for a in (Attendant.from_list(item) for item in value[:10_000]) if a is not None]
