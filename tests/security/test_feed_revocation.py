"""A live feed ends the moment its session does, in every process (issue 17, item 7).

The outside test disabled an account and its panel WebSocket stayed open for up to 5 s,
receiving customer texts meanwhile: the feed rechecked its session only every 5 s. Here
the periodic recheck is pushed out to an hour, so only the revocation itself can close
the feed: disabling the account, a new password, logging out (that session's feed only)
and revoking a role close it at once, and no customer text written afterwards reaches
it. Across processes the ``account`` event travels over the shared bus (PostgreSQL
LISTEN/NOTIFY, Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from bot.cli import main
from bot.project import Project
from bot.store import OperatorRole
from tests.helpers.postgres import postgres_schema
from tests.helpers.server import AppFactory, project_with, serve
from tests.helpers.services import redis_problem
from tests.server.api_helpers import WEBHOOK, add_operator, ask_for_a_person, logged_in

SECRET_TEXT = "мой новый адрес: Лесная, 7"
Action = Callable[[httpx.AsyncClient, httpx.AsyncClient], Awaitable[None]]


@pytest.fixture(autouse=True)
def no_periodic_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the revocation can close a feed within these tests."""
    monkeypatch.setattr("bot.server.routes.api_events.RECHECK_SECONDS", 3600.0)


@contextlib.asynccontextmanager
async def feed(base: str, client: httpx.AsyncClient) -> AsyncIterator[Any]:
    cookie = f"botdesk_session={client.cookies['botdesk_session']}"
    ws = base.replace("http://", "ws://") + "/api/events"
    async with websockets.connect(ws, additional_headers={"Cookie": cookie}, origin=base) as socket:
        yield socket


async def next_of_kind(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if event["kind"] == kind:
            return event


async def until_closed(socket: Any) -> tuple[list[dict[str, Any]], int | None, str]:
    """What the feed still said, then how it was closed (code, reason)."""
    said: list[dict[str, Any]] = []
    try:
        while True:
            said.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
    except websockets.ConnectionClosed as closed:
        received = closed.rcvd
        return said, received.code if received else None, received.reason if received else ""


async def disable(boss: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    assert (await boss.post("/api/admin/operators/anna/disable")).status_code == 200


async def new_password(boss: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    assert (await boss.post("/api/admin/operators/anna/password", json={})).status_code == 200


async def log_out(boss: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    assert (await anna.post("/api/logout")).status_code == 200


async def revoke_operator_role(boss: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    assert (await boss.delete("/api/admin/operators/anna/roles/operator")).status_code == 200


def assert_closed_before_the_text(said: list[dict[str, Any]], code: int | None, reason: str) -> None:
    assert code == 1008 and "log in again" in reason
    assert all(SECRET_TEXT not in str(event.get("text")) for event in said), said


@pytest.mark.parametrize(
    ("action", "own_role"),
    [
        (disable, OperatorRole.OPERATOR),
        (new_password, OperatorRole.OPERATOR),
        (log_out, OperatorRole.OPERATOR),
        (revoke_operator_role, OperatorRole.EDITOR),  # an editor who was granted the operator role
    ],
    ids=["disabled", "new-password", "logged-out", "role-revoked"],
)
async def test_the_feed_closes_at_once_and_hears_no_more_customer_text(
    make_app: AppFactory, action: Action, own_role: OperatorRole
) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", own_role)
        await add_operator(app, "boss", OperatorRole.ADMIN)
        async with logged_in(base, "boss") as boss, logged_in(base, "anna") as anna:
            if own_role != OperatorRole.OPERATOR:
                assert (await boss.put("/api/admin/operators/anna/roles/operator")).status_code == 200
            async with feed(base, anna) as socket:
                await ask_for_a_person(customer, "visitor-1")
                assert (await next_of_kind(socket, "ticket"))["status"] == "queued"  # the feed works
                await action(boss, anna)
                answer = await customer.post(WEBHOOK, json={"sender": "visitor-1", "message": SECRET_TEXT})
                assert answer.status_code == 200
                said, code, reason = await until_closed(socket)
    assert_closed_before_the_text(said, code, reason)


async def test_logging_out_closes_that_session_s_feed_only(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        async with (
            logged_in(base, "anna") as laptop,
            logged_in(base, "anna") as phone,
            feed(base, laptop) as on_laptop,
            feed(base, phone) as on_phone,
        ):
            await ask_for_a_person(customer, "visitor-2")
            await next_of_kind(on_laptop, "ticket")
            await next_of_kind(on_phone, "ticket")
            assert (await laptop.post("/api/logout")).status_code == 200
            said, code, reason = await until_closed(on_laptop)
            await ask_for_a_person(customer, "visitor-3")
            still = await next_of_kind(on_phone, "ticket")
    assert_closed_before_the_text(said, code, reason)
    assert still["status"] == "queued", "the other session's feed goes on"


def shared_project(trained_ru: Project, target: Path, backend: str) -> Project:
    channel = f"botdesk-test-{uuid.uuid4().hex}"
    events = f"events:\n  backend: {backend}\n  channel: {channel}\n"
    if backend == "redis":
        events = f"events:\n  backend: redis\n  url: redis://127.0.0.1:6379/0\n  channel: {channel}\n"
    return project_with(trained_ru, target, {"events:\n  backend: memory\n": events})


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_disabling_on_one_process_closes_the_feed_on_another(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, pg_url: str, backend: str
) -> None:
    if backend == "redis" and redis_problem() is not None:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    project = shared_project(trained_ru, tmp_path / "bot", backend)
    first, second = make_app(project, database_url=pg_url), make_app(project, database_url=pg_url)
    async with (
        serve(first) as (a, _),
        serve(second) as (b, _),
        httpx.AsyncClient(base_url=b) as customer,
    ):
        await add_operator(first, "anna")
        await add_operator(first, "boss", OperatorRole.ADMIN)
        async with (
            logged_in(a, "anna") as anna,
            logged_in(b, "boss") as boss,
            feed(a, anna) as socket,  # the feed on process A
        ):
            await ask_for_a_person(customer, "visitor-4")  # the customer on process B
            assert (await next_of_kind(socket, "ticket"))["status"] == "queued"  # B's events reach A
            await disable(boss, anna)  # the admin on process B
            answer = await customer.post(WEBHOOK, json={"sender": "visitor-4", "message": SECRET_TEXT})
            assert answer.status_code == 200
            said, code, reason = await until_closed(socket)
    assert_closed_before_the_text(said, code, reason)


@pytest.mark.postgres
async def test_disabling_from_the_command_line_closes_the_feed_through_the_shared_bus(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, pg_url: str
) -> None:
    project = shared_project(trained_ru, tmp_path / "bot", "postgres")
    app = make_app(project, database_url=pg_url)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as anna, feed(base, anna) as socket:
            await ask_for_a_person(customer, "visitor-5")
            assert (await next_of_kind(socket, "ticket"))["status"] == "queued"
            command = ["operator", "disable", "anna", "--project", str(project.root), "--url", pg_url]
            assert await asyncio.to_thread(main, command) == 0
            answer = await customer.post(WEBHOOK, json={"sender": "visitor-5", "message": SECRET_TEXT})
            assert answer.status_code == 200
            said, code, reason = await until_closed(socket)
    assert_closed_before_the_text(said, code, reason)
