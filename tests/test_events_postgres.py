"""The PostgreSQL LISTEN/NOTIFY event bus: events cross processes, once, and survive a cut."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from bot.events import Event, Subscription
from bot.events_postgres import MAX_PAYLOAD_BYTES, PostgresEventBus, fit
from bot.events_shared import decode, encode
from bot.project import Project
from tests.faults.proxy import Proxy
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in
from tests.server.conftest import AppFactory, clock, make_app, project_with, serve, sqlite_url  # noqa: F401 (fixtures)
from tests.store.conftest import postgres_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@contextlib.asynccontextmanager
async def bus(url: str, channel: str) -> AsyncIterator[PostgresEventBus]:
    events = PostgresEventBus(url, channel)
    await events.start()
    try:
        yield events
    finally:
        await events.aclose()


async def next_event(subscription: Subscription, seconds: float = 5.0) -> Event:
    return await asyncio.wait_for(subscription.get(), seconds)


def channel() -> str:
    return f"botdesk-test-{uuid.uuid4().hex}"


async def test_an_event_published_in_one_process_reaches_the_others_once(pg_url: str) -> None:
    name = channel()
    async with bus(pg_url, name) as a, bus(pg_url, name) as b:
        assert await a.wait_connected(5) and await b.wait_connected(5)
        with a.subscribe() as on_a, b.subscribe() as on_b:
            a.emit("ticket", 7, ticket_id=3, status="queued", reason="human_request")
            assert (await next_event(on_b)).data["status"] == "queued"
            assert (await next_event(on_a)).data["status"] == "queued"
            b.emit("message", 7, text="Здравствуйте, " + "я" * 6000, sender="customer")  # 12 KB of text
            long = await next_event(on_a)
            assert (await next_event(on_b)).data["text"].endswith("я" * 6000)  # in-process: whole
            await asyncio.sleep(0.3)
            assert on_a._queue.empty() and on_b._queue.empty()  # nothing came back twice
    assert long.data["truncated"] is True and long.data["text"].startswith("Здравствуйте, яя")
    assert (a.received, b.received) == (1, 1)


async def test_the_bus_reconnects_after_the_database_connection_is_cut(pg_url: str) -> None:
    name = channel()
    async with Proxy("127.0.0.1", 5432) as proxy:
        cut_url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        async with bus(cut_url, name) as a, bus(pg_url, name) as b:
            assert await a.wait_connected(5) and await b.wait_connected(5)
            await proxy.cut()
            with a.subscribe() as on_a:
                a.emit("message", 1, text="during the outage")
                assert (await next_event(on_a)).data["text"] == "during the outage"  # local still works
            await proxy.start()
            assert await a.wait_connected(10)
            with a.subscribe() as on_a:
                for _ in range(100):
                    b.emit("message", 1, text="after")
                    with contextlib.suppress(TimeoutError):
                        if (await next_event(on_a, 0.3)).data["text"] == "after":
                            break
                else:
                    pytest.fail("events did not reach the reconnected listener")


def test_a_payload_over_the_notify_limit_is_shortened_but_still_an_event() -> None:
    event = Event("message", 5, {"text": "ж" * 10_000, "sender": "operator", "sender_name": "Анна"})
    fitted = fit(encode(event, "p1"))
    assert len(fitted.encode("utf-8")) <= MAX_PAYLOAD_BYTES
    decoded = decode(fitted)
    assert decoded is not None and decoded[1].data["sender_name"] == "Анна" and decoded[1].data["truncated"]
    small = encode(Event("ticket", 1, {"status": "queued"}), "p1")
    assert fit(small) == small


async def test_a_panel_on_one_process_hears_a_handoff_through_the_other_over_postgres(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, pg_url: str
) -> None:
    project = project_with(
        trained_ru,
        tmp_path / "bot",
        {
            'daily: "09:00-21:00"': 'daily: "00:00-24:00"',
            "events:\n  backend: memory\n": f"events:\n  backend: postgres\n  channel: {channel()}\n",
        },
    )
    first, second = make_app(project, database_url=pg_url), make_app(project, database_url=pg_url)
    async with serve(first) as (a, _), serve(second) as (b, _), httpx.AsyncClient(base_url=b) as customer:
        await add_operator(first, "anna")
        async with logged_in(a, "anna") as anna:
            cookie = f"botdesk_session={anna.cookies['botdesk_session']}"
            ws = a.replace("http://", "ws://") + "/api/events"
            async with websockets.connect(ws, additional_headers={"Cookie": cookie}, origin=a) as socket:
                await ask_for_a_person(customer, "pg-1")
                seen: list[dict[str, Any]] = []
                while not any(event["kind"] == "ticket" for event in seen):
                    seen.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
    ticket = next(event for event in seen if event["kind"] == "ticket")
    assert ticket["status"] == "queued" and ticket["reason"] == "human_request"
