"""Slow and greedy clients cannot hold the server: a deadline for request heads, their size, a connection cap.

Raw sockets on 127.0.0.1 against botdesk under real uvicorn (``uvicorn_config``, as
``botdesk run`` serves), with the limits of config.yml's ``server:`` section made small so
the tests are short: a client sending one header line a second is dropped at the header
deadline while a normal client is served all along; a connection that sends nothing is
closed; an oversized head gets 431; connections past ``max_connections`` get 503 and are
closed, and the server serves again once some are gone.
"""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import httpx

from bot.project import Project
from bot.server.connection_guard import fit_open_files
from tests.helpers.logs import project_serving
from tests.helpers.server import AppFactory, serve
from tests.security.rawhttp import Connection, read_answer, status_of

HEADER_TIMEOUT = 2.0


async def test_a_client_sending_a_header_line_a_second_is_dropped_while_others_are_served(
    trained_ru: Project, make_app: AppFactory, tmp_path: Path
) -> None:
    project = project_serving(trained_ru, tmp_path / "bot", header_timeout_seconds=HEADER_TIMEOUT)
    async with serve(make_app(project)) as (base, _), httpx.AsyncClient(base_url=base) as client:
        slow = await Connection.open(base)
        served: list[int] = []
        lines_sent = 0
        closed: bytes | None = None
        assert await slow.send(b"GET /healthz HTTP/1.1\r\n")
        for second in range(20):  # a header line every second, as the attack did every five
            served.append((await client.get("/healthz")).status_code)
            closed = await slow.closed_by_server(within=1.0)
            if closed is not None:
                break
            if not await slow.send(f"x-slow-{second}: y\r\n".encode()):
                closed = await slow.closed_by_server(within=5.0) or b""
                break
            lines_sent += 1
        await slow.close()
        served.append((await client.get("/healthz")).status_code)
    assert closed is not None, "the slow client was still connected after 20 header lines"
    assert status_of(closed) == 408, closed
    assert lines_sent >= 1, "dropped before it was slow"
    assert set(served) == {200} and len(served) >= 2, served


async def test_a_connection_that_sends_nothing_is_closed(
    trained_ru: Project, make_app: AppFactory, tmp_path: Path
) -> None:
    project = project_serving(trained_ru, tmp_path / "bot", header_timeout_seconds=HEADER_TIMEOUT)
    async with serve(make_app(project)) as (base, _):
        idle = await Connection.open(base)
        said = await idle.closed_by_server(within=HEADER_TIMEOUT + 10)
        await idle.close()
    assert said == b"", "closed without a word: nothing was asked"


async def test_an_oversized_request_head_gets_431(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        connection = await Connection.open(base)
        cookie = "a" * (80 * 1024)  # over the default 64 KiB of request line and headers
        await connection.send(f"GET /healthz HTTP/1.1\r\nhost: x\r\ncookie: {cookie}\r\n\r\n".encode())
        status, head = await asyncio.wait_for(read_answer(connection.reader), 10)
        await connection.close()
        assert status == 431, head
        assert (await client.get("/healthz")).status_code == 200


async def test_connections_past_the_cap_are_refused_and_the_server_goes_on(
    trained_ru: Project, make_app: AppFactory, tmp_path: Path
) -> None:
    cap = 20
    project = project_serving(trained_ru, tmp_path / "bot", max_connections=cap, header_timeout_seconds=30)
    async with serve(make_app(project)) as (base, _):
        held = [await Connection.open(base) for _ in range(cap)]
        for connection in held[:3]:  # they are real connections: each can still ask
            await connection.send(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            status, _ = await asyncio.wait_for(read_answer(connection.reader), 10)
            assert status == 200
        refused = []
        for _ in range(10):
            extra = await Connection.open(base)
            refused.append(await extra.closed_by_server(within=10))
            await extra.close()
        for connection in held[: cap // 2]:
            await connection.close()
        await asyncio.sleep(0.2)  # the server sees them go
        async with httpx.AsyncClient(base_url=base) as client:
            health = await client.get("/healthz")
        for connection in held[cap // 2 :]:
            await connection.close()
    assert all(said is not None and status_of(said) == 503 for said in refused), refused
    assert health.status_code == 200


def test_the_open_file_limit_is_raised_to_fit_the_cap() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert fit_open_files(soft - 256) is None  # fits already
    if hard != resource.RLIM_INFINITY:
        assert fit_open_files(hard) == hard  # cannot fit: the limit is said
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard  # raised as far as it goes
