"""The shared event buses, one test per promise, run against each broker: Redis and PostgreSQL.

Events published in one process reach the others once; a broker that is cut is
reconnected to; a broker that is down never blocks a customer's turn, and this process's
own listeners still hear everything; what is not botdesk's on the channel is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis
import websockets

from bot.events import Event, Presence, SharedEventBus, Subscription
from bot.events.postgres import MAX_PAYLOAD_BYTES, PostgresEventBus, fit
from bot.events.redis import RedisEventBus
from bot.events.shared import decode, encode
from bot.project import Project
from bot.settings import REDIS_URL_ENV, EventsSettings
from tests.faults.proxy import Proxy
from tests.helpers.postgres import postgres_problem, postgres_schema
from tests.helpers.server import AppFactory, project_with, serve
from tests.helpers.services import REDIS, redis_problem
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in


@dataclass(frozen=True)
class Broker:
    """How the tests reach one broker: its URL (and the same through another port), a raw publisher."""

    name: str
    url: str
    address: tuple[str, int]
    make: Callable[..., SharedEventBus]  # (url, channel, **options)
    publish_raw: Callable[[str, str, str], Awaitable[None]]

    def through(self, port: int) -> str:
        """The broker's URL through a proxy on ``port``."""
        host, real = self.address
        return self.url.replace(f"{host}:{real}", f"{host}:{port}")


async def _redis_publish(url: str, channel: str, payload: str) -> None:
    client = aioredis.from_url(url)
    try:
        await client.publish(channel, payload)
    finally:
        await client.aclose()


async def _postgres_publish(url: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute("SELECT pg_notify(%s, %s)", (channel, payload))


@pytest.fixture(params=["redis", pytest.param("postgres", marks=pytest.mark.postgres)])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    if request.param == "redis":
        problem = redis_problem()
        if problem is not None:
            pytest.skip(problem)
        yield Broker("redis", "redis://127.0.0.1:6379/0", REDIS, RedisEventBus, _redis_publish)
        return
    problem = postgres_problem()
    if problem is not None:
        pytest.skip(problem)
    with postgres_schema() as url:
        yield Broker("postgres", url, ("127.0.0.1", 5432), PostgresEventBus, _postgres_publish)


@contextlib.asynccontextmanager
async def running(events: SharedEventBus) -> AsyncIterator[SharedEventBus]:
    await events.start()
    try:
        yield events
    finally:
        await events.aclose()


async def next_event(subscription: Subscription, seconds: float = 5.0) -> Event:
    return await asyncio.wait_for(subscription.get(), seconds)


def channel() -> str:
    return f"botdesk-test-{uuid.uuid4().hex}"


def free_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_an_event_published_in_one_process_reaches_the_others_once(broker: Broker) -> None:
    name = channel()
    async with running(broker.make(broker.url, name)) as a, running(broker.make(broker.url, name)) as b:
        assert await a.wait_connected(5) and await b.wait_connected(5)
        with a.subscribe() as on_a, b.subscribe() as on_b:
            a.emit("ticket", 7, ticket_id=3, status="queued", reason="human_request")
            remote, local = await next_event(on_b), await next_event(on_a)
            assert remote.to_dict() == local.to_dict()
            assert (remote.kind, remote.conversation_id, remote.data["status"]) == ("ticket", 7, "queued")
            b.emit("message", 7, text="Здравствуйте, <b>Анна</b>", sender="customer")
            assert (await next_event(on_a)).data["text"] == "Здравствуйте, <b>Анна</b>"
            assert (await next_event(on_b)).kind == "message"
            await asyncio.sleep(0.3)  # nothing comes back a second time
            assert on_a._queue.empty() and on_b._queue.empty()
            assert (a.received, b.received) == (1, 1)


async def test_an_operator_at_one_processs_panel_is_online_on_the_other(broker: Broker) -> None:
    name = channel()
    async with running(broker.make(broker.url, name)) as a, running(broker.make(broker.url, name)) as b:
        assert await a.wait_connected(5) and await b.wait_connected(5)
        here, there = Presence(a), Presence(b)
        await here.start()
        await there.start()
        try:
            here.connect(7, online=True, department="support")  # anna's panel is open on process a
            for _ in range(250):
                if there.online("support"):
                    break
                await asyncio.sleep(0.02)
            assert there.online_operators("support") == [7]
            here.disconnect(7)
            for _ in range(250):
                if not there.attendants():
                    break
                await asyncio.sleep(0.02)
            assert there.attendants() == []
        finally:
            await here.aclose()
            await there.aclose()


async def test_foreign_messages_on_the_channel_are_ignored(broker: Broker) -> None:
    name = channel()
    async with running(broker.make(broker.url, name)) as events:
        assert await events.wait_connected(5)
        with events.subscribe() as mine:
            await broker.publish_raw(broker.url, name, "not json")
            await broker.publish_raw(
                broker.url, name, '{"origin": "x", "kind": "shutdown", "conversation_id": 1}'
            )
            good = Event("operator", None, {"status": "online"})
            await broker.publish_raw(broker.url, name, encode(good, "another-process"))
            assert (await next_event(mine)).data == {"status": "online"}
            assert events.received == 1


async def test_a_dead_broker_never_blocks_publishing_and_local_listeners_still_hear(broker: Broker) -> None:
    events = broker.make(broker.through(free_port()), channel(), outgoing_limit=10)
    async with running(events):
        with events.subscribe() as mine:
            for n in range(50):  # more than the outgoing queue holds
                events.emit("message", 1, text=str(n))
            assert [(await next_event(mine)).data["text"] for _ in range(50)] == [str(n) for n in range(50)]
            assert not events.connected
        assert events.dropped >= 50 - 10  # the oldest unsent were dropped: memory stays bounded


async def test_the_bus_reconnects_after_the_broker_connection_is_cut(broker: Broker) -> None:
    name = channel()
    async with Proxy(*broker.address) as proxy:
        cut = broker.make(broker.through(proxy.port), name)
        async with running(cut) as a, running(broker.make(broker.url, name)) as b:
            assert await a.wait_connected(5) and await b.wait_connected(5)
            await proxy.cut()
            with a.subscribe() as on_a:
                a.emit("message", 1, text="during the outage")
                assert (await next_event(on_a)).data["text"] == "during the outage"  # local still works
            await proxy.start()  # the same port again
            assert await a.wait_connected(10)  # the listener is subscribed again
            for sender, receiver in ((a, b), (b, a)):  # both ways: the sender reconnected too
                with receiver.subscribe() as heard:
                    for _ in range(100):
                        sender.emit("message", 1, text="after")
                        with contextlib.suppress(TimeoutError):
                            if (await next_event(heard, 0.3)).data["text"] == "after":
                                break
                    else:
                        pytest.fail(f"events did not cross {broker.name} again after the cut")


def test_wire_format_round_trips_and_rejects_garbage() -> None:
    event = Event("ticket", 5, {"ticket_id": 1, "status": "claimed"})
    assert decode(encode(event, "p1")) == ("p1", event)
    assert decode(b"\xff\xfe") is None
    assert decode('{"origin": "p", "kind": "ticket", "conversation_id": "5", "at": "x", "data": {}}') is None


def test_a_payload_over_the_notify_limit_is_shortened_but_still_an_event() -> None:
    event = Event("message", 5, {"text": "ж" * 10_000, "sender": "operator", "sender_name": "Анна"})
    fitted = fit(encode(event, "p1"))
    assert len(fitted.encode("utf-8")) <= MAX_PAYLOAD_BYTES
    decoded = decode(fitted)
    assert decoded is not None and decoded[1].data["sender_name"] == "Анна" and decoded[1].data["truncated"]
    small = encode(Event("ticket", 1, {"status": "queued"}), "p1")
    assert fit(small) == small


def test_the_backend_is_chosen_by_config_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    assert EventsSettings().redis_url() is None
    assert EventsSettings(backend="redis").redis_url() == "redis://127.0.0.1:6379/0"
    assert EventsSettings(backend="redis", url="redis://cache:6379/2").redis_url() == "redis://cache:6379/2"
    monkeypatch.setenv(REDIS_URL_ENV, "redis://10.0.0.5:6379/1")
    assert EventsSettings().redis_url() == "redis://10.0.0.5:6379/1"


async def test_a_panel_on_one_process_hears_a_handoff_through_the_other(
    broker: Broker, make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    """Two servers on one PostgreSQL store; the customer talks to one, the operator's panel to the other."""
    with postgres_schema() as store:
        backend = f"backend: {broker.name}\n  url: {broker.url}\n  channel: {channel()}\n"
        project = project_with(
            trained_ru,
            tmp_path / "bot",
            {'daily: "09:00-21:00"': 'daily: "00:00-24:00"', "backend: memory\n": backend},
        )
        first, second = make_app(project, database_url=store), make_app(project, database_url=store)
        async with serve(first) as (a, _), serve(second) as (b, _), httpx.AsyncClient(base_url=b) as customer:
            await add_operator(first, "anna")
            async with logged_in(a, "anna") as anna:
                cookie = f"botdesk_session={anna.cookies['botdesk_session']}"
                ws = a.replace("http://", "ws://") + "/api/events"
                async with websockets.connect(ws, additional_headers={"Cookie": cookie}, origin=a) as socket_:
                    await ask_for_a_person(customer, "pg-1")
                    seen: list[dict[str, Any]] = []
                    while not any(event["kind"] == "ticket" for event in seen):
                        seen.append(json.loads(await asyncio.wait_for(socket_.recv(), 10)))
    ticket = next(event for event in seen if event["kind"] == "ticket")
    assert ticket["status"] == "queued" and ticket["reason"] == "human_request"
