"""Every request body is bounded while it is read: 413 before the body, memory flat under a flood.

Through real HTTP on 127.0.0.1: every HTTP route of the app (and a path no route has)
answers a declared 100 MB body with 413 before a byte of it is sent; a body streamed
without a length is refused once past the limit; a prefix in ``server.body_limits`` gives
a route more or less; a body that stops coming gets 408. And the flood the outside test
sent, against a real ``botdesk run``: ten 100 MB bodies at once, half with a length and
half chunked, each streamed from a generator: all get 413, /healthz answers throughout,
and the server's memory stays within the bound docs/security.md states.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from bot.project import Project
from tests.helpers.logs import project_serving
from tests.helpers.processes import BotdeskProcess
from tests.helpers.server import AppFactory, serve
from tests.security.rawhttp import MB, Connection, read_answer, upload
from tests.server.api_helpers import WEBHOOK

JSON = "application/json"
FLOOD_BODIES = 10
FLOOD_BYTES = 100 * MB
# docs/security.md states these bounds (section "Request bodies").
FLOOD_PEAK_GROWTH = 64 * MB
FLOOD_GROWTH_AFTER = 32 * MB


def http_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route the app includes, path parameters filled in, and a path
    no route has (static files: one under their mount)."""
    found = [("POST", "/no/such/route")]
    for context in iter_route_contexts(app.routes):
        kind = type(context.original_route).__name__
        path = re.sub(r"\{[^}]+\}", "1", context.path or "")
        if kind == "Mount":
            found.append(("GET", f"{path}/panel.css"))
        elif "WebSocket" not in kind:
            found += [(method, path) for method in sorted((context.methods or set()) - {"HEAD"})]
    return found


async def declare_huge_body(base: str, method: str, path: str) -> tuple[int | None, bytes]:
    """Send only the head of a request that declares 100 MB of body; the answer (within 10 s)."""
    connection = await Connection.open(base)
    try:
        head = (
            f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {100 * MB}\r\n\r\n"
        )
        await connection.send(head.encode())
        return await asyncio.wait_for(read_answer(connection.reader), 10)
    finally:
        await connection.close()


async def test_every_route_answers_a_declared_huge_body_413_before_reading_it(make_app: AppFactory) -> None:
    app = make_app()
    routes = http_routes(app)
    assert {("POST", "/api/login"), ("POST", WEBHOOK), ("POST", "/panel/login")} <= set(routes)
    async with serve(app) as (base, _):
        for method, path in routes:
            status, head = await declare_huge_body(base, method, path)
            assert status == 413, (method, path, head)
        async with httpx.AsyncClient(base_url=base) as client:  # the server is fine afterwards
            assert (await client.get("/healthz")).status_code == 200


async def test_a_body_streamed_without_a_length_is_refused_past_the_limit(make_app: AppFactory) -> None:
    form = "application/x-www-form-urlencoded"  # read by FastAPI itself, counted as it reads
    async with serve(make_app()) as (base, _):
        for path, content_type in (("/api/login", JSON), ("/panel/login", form), (WEBHOOK, JSON)):
            outcome = await upload(base, path, FLOOD_BYTES, chunked=True, content_type=content_type)
            assert outcome.status == 413, (path, outcome)
            assert outcome.sent < FLOOD_BYTES, "the answer came before the body was sent"
            assert outcome.answer.endswith(b"bytes, this route's limit\"}"), outcome.answer


async def test_a_prefix_limit_gives_a_route_more_or_less(
    trained_ru: Project, make_app: AppFactory, tmp_path: Path
) -> None:
    project = project_serving(
        trained_ru,
        tmp_path / "bot",
        max_body_bytes=4096,
        body_limits={"/api/admin": 65536, "/api/login": 2048},
    )
    three_kb = {"login": "nobody", "password": "p" * 3000}
    ten_kb = {"login": "nobody", "password": "p" * 10_000}
    async with serve(make_app(project)) as (base, _), httpx.AsyncClient(base_url=base) as client:
        assert (await client.post("/api/login", json=three_kb)).status_code == 413  # its own 2 KiB
        assert (await client.put("/api/me/status", json=three_kb)).status_code == 401  # the default 4 KiB
        assert (await client.put("/api/me/status", json=ten_kb)).status_code == 413
        assert (await client.post("/api/admin/operators", json=ten_kb)).status_code == 401  # 64 KiB under it
        # A prefix covers the path and what is under it, not every path that starts with its letters.
        assert (await client.post("/api/administrators", json=ten_kb)).status_code == 413
        refused = await client.post("/api/login", json=three_kb)
    assert refused.json()["detail"] == "the request body is over 2048 bytes, this route's limit"


async def test_a_body_that_stops_coming_gets_408(
    trained_ru: Project, make_app: AppFactory, tmp_path: Path
) -> None:
    project = project_serving(trained_ru, tmp_path / "bot", body_timeout_seconds=1)
    async with serve(make_app(project)) as (base, _):
        for path in ("/api/login", WEBHOOK):
            connection = await Connection.open(base)
            await connection.send(
                f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                f'content-length: 100\r\n\r\n{{"sender": "'.encode()
            )
            status, head = await asyncio.wait_for(read_answer(connection.reader), 10)
            await connection.close()
            assert status == 408, (path, head)


def rss(pid: int) -> int:
    """The process's resident memory in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_a_flood_of_huge_bodies_gets_413_and_leaves_memory_flat(
    trained_ru: Project, tmp_path: Path
) -> None:
    """Ten 100 MB bodies at once to `botdesk run` (no login needed for /api/login), from generators."""
    server = BotdeskProcess(trained_ru, f"sqlite:///{tmp_path / 'flood.db'}", tmp_path / "botdesk.log")
    await server.start()
    try:
        assert server.process is not None
        pid = server.process.pid
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            # What a server that has worked has loaded: a refused login, a customer's turn.
            login = await client.post("/api/login", json={"login": "x", "password": "wrong!"})
            turn = await client.post(WEBHOOK, json={"sender": "flood-1", "message": "привет"})
            assert login.status_code == 401 and turn.status_code == 200
            before = rss(pid)
            peak = before
            health: list[int] = []
            flooding = True

            async def watch() -> None:
                nonlocal peak
                while flooding:
                    peak = max(peak, rss(pid))
                    await asyncio.sleep(0.01)

            async def probe() -> None:
                while flooding:
                    health.append((await client.get("/healthz")).status_code)
                    await asyncio.sleep(0.05)

            watcher, prober = asyncio.create_task(watch()), asyncio.create_task(probe())
            outcomes = await asyncio.gather(
                *(
                    upload(server.url, "/api/login", FLOOD_BYTES, chunked=i % 2 == 1)
                    for i in range(FLOOD_BODIES)
                )
            )
            await asyncio.sleep(0.5)  # what the server does right after (drains, closes)
            flooding = False
            await asyncio.gather(watcher, prober)
            after = rss(pid)
            assert (await client.get("/healthz")).status_code == 200
    finally:
        server.stop()
    assert [o.status for o in outcomes] == [413] * FLOOD_BODIES, outcomes
    assert all(o.sent < FLOOD_BYTES for o in outcomes), [o.sent for o in outcomes]
    assert health and set(health) == {200}, health
    print(f"RSS before {before / MB:.1f} MB, peak {peak / MB:.1f} MB, after {after / MB:.1f} MB")
    assert peak - before <= FLOOD_PEAK_GROWTH, (before, peak)
    assert after - before <= FLOOD_GROWTH_AFTER, (before, after)
