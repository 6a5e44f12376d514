"""Presence across server processes: announced on the bus, expired when a process goes silent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.events import NO_PRESENCE, EventBus, Presence
from bot.hours import Department, WorkingHours

SUPPORT = Department(key="support", name="Поддержка", hours=WorkingHours(schedule={"daily": "09:00-21:00"}))
NOON = datetime(2030, 3, 5, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
NIGHT = datetime(2030, 3, 5, 20, 0, tzinfo=UTC)  # 23:00


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_one_process_sees_the_operators_at_anothers_panel() -> None:
    bus = EventBus()  # stands for the shared broker: both "processes" hear each other
    seconds = Monotonic()
    first, second = Presence(bus, clock=seconds), Presence(bus, clock=seconds)
    await first.start()
    first.connect(7, online=True, department="support")
    await settle()
    await second.start()  # starts later: it asks, and the first answers at once
    await settle()
    try:
        assert second.online("support") and second.online_operators() == [7]
        assert not second.online("sales")  # an operator of "support" does not serve "sales"
    finally:
        await first.aclose()
        await second.aclose()


async def test_departments_status_changes_and_expiry() -> None:
    bus = EventBus()
    seconds = Monotonic()
    first, second = Presence(bus, clock=seconds), Presence(bus, clock=seconds)
    changes: list[bool] = []
    second.watch(lambda: changes.append(second.online("support")))
    await first.start()
    await second.start()
    await settle()
    try:
        first.connect(7, online=True, department="sales")
        first.connect(8, online=True, department=None)  # no department: serves every one
        first.connect(8, online=True, department=None)  # a second tab
        await settle()
        assert second.online_operators("sales") == [7, 8] and second.online_operators("support") == [8]

        bus.emit("operator", None, operator_id=8, status="away")  # the switch, heard by every process
        await settle()
        assert second.online_operators("support") == [] and not first.online("support")
        bus.emit("operator", None, operator_id=8, status="online")
        first.disconnect(8)  # one of two tabs closed: still there
        await settle()
        assert second.online("support")

        seconds.now += 31  # the first process went silent (killed): its announcement expires
        assert second.attendants() == []
        seen = [value for i, value in enumerate(changes) if i == 0 or changes[i - 1] != value]
        assert seen == [False, True, False, True]  # the widget's line follows every change
    finally:
        await first.aclose()
        await second.aclose()


def test_duty_says_who_answers_and_when_people_are_back() -> None:
    presence = Presence(EventBus())
    duty = presence.duty(SUPPORT, NOON)
    assert (duty.online, duty.open, duty.opening) == (False, True, None)  # hours, but nobody there
    presence.connect(7, online=True, department=None)
    night = presence.duty(SUPPORT, NIGHT)
    assert night.online and not night.open and night.opening is not None and night.opening.hour == 9
    untracked = NO_PRESENCE.duty(SUPPORT, NOON)  # a shell, story tests: the hours decide
    assert untracked.online and not NO_PRESENCE.duty(SUPPORT, NIGHT).online


async def test_closing_never_hangs_whatever_the_listener_has_in_hand() -> None:
    """aclose() at every point of the start-up: also while an event has just reached the listener.

    (On Python 3.11, ``asyncio.wait_for`` swallowed a cancel that met a finished ``get()``: the
    listener went on and a server whose start failed never finished stopping.)
    """
    for steps in range(8):
        bus = EventBus()
        presence = Presence(bus, clock=Monotonic())
        await presence.start()
        for _ in range(steps):
            await asyncio.sleep(0)
        bus.emit("operator", None, operator_id=7, status="online")
        await asyncio.sleep(0)
        closing = asyncio.create_task(presence.aclose())
        done, _ = await asyncio.wait([closing], timeout=5)
        assert closing in done, f"aclose() still waiting after 5 s ({steps} steps into the start)"
