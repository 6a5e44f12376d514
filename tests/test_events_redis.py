"""The Redis-backed event bus: events cross processes, once, and a dead broker blocks nobody."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.events import Event, Subscription
from bot.events_redis import RedisEventBus, decode, encode
from bot.settings import REDIS_URL_ENV, EventsSettings
from tests.faults.proxy import Proxy

REDIS = ("127.0.0.1", 6379)


def redis_up() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(REDIS, timeout=1):
        return True
    return False


needs_redis = pytest.mark.skipif(not redis_up(), reason="Redis is not running at 127.0.0.1:6379")


@contextlib.asynccontextmanager
async def bus(url: str, channel: str, **options: int) -> AsyncIterator[RedisEventBus]:
    events = RedisEventBus(url, channel, **options)
    await events.start()
    try:
        yield events
    finally:
        await events.aclose()


async def next_event(subscription: Subscription, seconds: float = 5.0) -> Event:
    return await asyncio.wait_for(subscription.get(), seconds)


def channel() -> str:
    return f"botdesk-test:{uuid.uuid4().hex}"


@needs_redis
async def test_an_event_published_in_one_process_reaches_the_others_once() -> None:
    name = channel()
    async with bus("redis://127.0.0.1:6379/0", name) as a, bus("redis://127.0.0.1:6379/0", name) as b:
        assert await a.wait_connected(5) and await b.wait_connected(5)
        with a.subscribe() as on_a, b.subscribe() as on_b:
            a.emit("ticket", 7, ticket_id=3, status="queued", reason="asked_for_human")
            remote = await next_event(on_b)
            local = await next_event(on_a)
            assert remote.to_dict() == local.to_dict()
            assert (remote.kind, remote.conversation_id, remote.data["status"]) == ("ticket", 7, "queued")
            b.emit("message", 7, text="Здравствуйте, <b>Анна</b>", sender="customer")
            assert (await next_event(on_a)).data["text"] == "Здравствуйте, <b>Анна</b>"
            assert (await next_event(on_b)).kind == "message"
            await asyncio.sleep(0.3)  # nothing comes back a second time
            assert on_a._queue.empty() and on_b._queue.empty()
            assert (a.received, b.received) == (1, 1)


@needs_redis
async def test_foreign_messages_on_the_channel_are_ignored() -> None:
    name = channel()
    async with bus("redis://127.0.0.1:6379/0", name) as events:
        assert await events.wait_connected(5)
        with events.subscribe() as mine:
            client = aioredis.from_url("redis://127.0.0.1:6379/0")
            try:
                await client.publish(name, "not json")
                await client.publish(name, '{"origin": "x", "kind": "shutdown", "conversation_id": 1}')
                good = Event("operator", None, {"status": "online"})
                await client.publish(name, encode(good, "another-process"))
            finally:
                await client.aclose()
            assert (await next_event(mine)).data == {"status": "online"}
            assert events.received == 1


async def test_a_dead_broker_never_blocks_publishing_and_local_listeners_still_hear() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with bus(f"redis://127.0.0.1:{port}/0", channel(), outgoing_limit=10) as events:
        with events.subscribe() as mine:
            for n in range(50):  # more than the outgoing queue holds
                events.emit("message", 1, text=str(n))
            assert [(await next_event(mine)).data["text"] for _ in range(50)] == [str(n) for n in range(50)]
            assert not events.connected
        assert events.dropped >= 50 - 10  # the oldest unsent were dropped: memory stays bounded


@needs_redis
async def test_the_bus_reconnects_after_the_broker_comes_back() -> None:
    name = channel()
    async with Proxy(*REDIS) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        async with bus(url, name) as a, bus("redis://127.0.0.1:6379/0", name) as b:
            assert await a.wait_connected(5) and await b.wait_connected(5)
            await proxy.cut()
            with a.subscribe() as on_a:
                a.emit("message", 1, text="during the outage")
                assert (await next_event(on_a)).data["text"] == "during the outage"
            await proxy.start()  # the same port again
            with b.subscribe() as on_b:
                for _ in range(100):  # until the sender has reconnected
                    a.emit("message", 1, text="after")
                    with contextlib.suppress(TimeoutError):
                        if (await next_event(on_b, 0.3)).data["text"] == "after":
                            break
                else:
                    pytest.fail("events did not cross again after Redis came back")
            assert await a.wait_connected(10)  # the listener is subscribed again too


def test_wire_format_round_trips_and_rejects_garbage() -> None:
    event = Event("ticket", 5, {"ticket_id": 1, "status": "claimed"})
    assert decode(encode(event, "p1")) == ("p1", event)
    assert decode(b"\xff\xfe") is None
    assert decode('{"origin": "p", "kind": "ticket", "conversation_id": "5", "at": "x", "data": {}}') is None


def test_the_backend_is_chosen_by_config_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    assert EventsSettings().redis_url() is None
    assert EventsSettings(backend="redis").redis_url() == "redis://127.0.0.1:6379/0"
    assert EventsSettings(backend="redis", url="redis://cache:6379/2").redis_url() == "redis://cache:6379/2"
    monkeypatch.setenv(REDIS_URL_ENV, "redis://10.0.0.5:6379/1")
    assert EventsSettings().redis_url() == "redis://10.0.0.5:6379/1"
