"""Start and stop: graceful shutdown, the ``botdesk run`` command, the channel router."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.channels import ChannelRouter
from bot.cli import main
from bot.messages import OutboundMessage
from bot.project import Project
from tests.helpers.server import AppFactory, count_messages, serve, state_of

WEBHOOK = "/webhooks/rest/webhook"


async def test_shutdown_lets_the_request_in_flight_finish(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app()
    async with serve(app) as (base, server), httpx.AsyncClient(base_url=base, timeout=10) as client:
        # Another writer holds the database: the request waits inside the handler. (In a
        # thread: blocking this event loop would stall the server's own transactions.)
        blocker = sqlite3.connect(
            sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )
        await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
        request = asyncio.create_task(client.post(WEBHOOK, json={"sender": "late", "message": "привет"}))
        await asyncio.sleep(0.3)
        server.should_exit = True  # what SIGTERM and Ctrl-C do
        await asyncio.sleep(0.3)
        assert not request.done()
        await asyncio.to_thread(blocker.execute, "ROLLBACK")
        blocker.close()
        response = await request
    assert response.status_code == 200 and response.json()[0]["sender"] == "bot"
    assert await count_messages(sqlite_url) == 1 + len(response.json())
    state = state_of(app)
    assert app.state.requests.count == 0 and not state.outbox.running


async def test_a_request_after_shutdown_began_is_told_to_come_back(make_app: AppFactory) -> None:
    app = make_app()
    async with app.router.lifespan_context(app):
        app.state.requests.close()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://botdesk.test")
        async with client:
            response = await client.post(WEBHOOK, json={"sender": "u", "message": "привет"})
    assert response.status_code == 503 and "shutting down" in response.json()["detail"]


def test_botdesk_run_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--project" in out and "gracefully" in out
    assert "--access-log" in out


def test_botdesk_run_with_a_broken_config_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.yml").write_text("pipeline: []\n", encoding="utf-8")
    assert main(["run", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "config.yml" in err and "Traceback" not in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("access_log", [False, True], ids=["quiet", "access-log"])
def test_botdesk_run_serves_and_stops_on_sigterm(
    trained_ru: Project, tmp_path: Path, access_log: bool
) -> None:
    port = free_port()
    env = {**os.environ, "BOTDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"}
    command = [sys.executable, "-c", "from bot.cli import run; run()", "run", "--port", str(port)]
    if access_log:
        command.append("--access-log")
    process = subprocess.Popen(
        [*command, "--project", str(trained_ru.root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout
                time.sleep(0.1)
        answer = httpx.post(
            f"http://127.0.0.1:{port}{WEBHOOK}", json={"sender": "cli", "message": "привет"}, timeout=5
        )
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert health.status_code == 200 and answer.status_code == 200
    assert "Application startup complete" in output and "botdesk stopped" in output
    assert "Application shutdown complete" in output
    # A line per request only when asked for (it holds the client's address).
    assert ('"POST /webhooks/rest/webhook HTTP/1.1" 200' in output) == access_log


def test_botdesk_run_with_the_shop_stub_answers_an_order_lookup(trained_ru: Project, tmp_path: Path) -> None:
    """`make run`'s demo: "где мой заказ 1234567" is answered from the bundled shop's API."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "BOTDESK_SHOP_URL"}
    env["BOTDESK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'run.db'}"
    command = [sys.executable, "-c", "from bot.cli import run; run()", "run", "--port", str(port)]
    command.append("--shop-stub")
    process = subprocess.Popen(
        [*command, "--project", str(trained_ru.root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout
                time.sleep(0.1)
        answer = httpx.post(
            f"http://127.0.0.1:{port}{WEBHOOK}",
            json={"sender": "demo", "message": "где мой заказ 1234567"},
            timeout=10,
        )
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    said = " ".join(reply.get("text", "") for reply in answer.json())
    assert "1234567" in said and "едет к вам" in said, said
    assert "order API (botdesk shop-stub)" in output


class Recorder:
    name = "telegram"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


def outbound(channel: str) -> OutboundMessage:
    return OutboundMessage(channel, "42", 1, "Анна: здравствуйте", "operator", "Анна", message_id=9)


async def test_the_router_sends_through_the_customers_own_channel() -> None:
    telegram = Recorder()
    router = ChannelRouter([telegram])
    await router(outbound("telegram"))
    await router(outbound("widget"))  # no such output channel: stays stored, no error
    assert [m.channel for m in telegram.sent] == ["telegram"]
    assert router.names == ["telegram"] and router.get("widget") is None
    with pytest.raises(ValueError, match="registered already"):
        router.register(Recorder())


async def test_the_server_checkpoints_its_sqlite_log_in_the_background(
    make_app: AppFactory, sqlite_url: str
) -> None:
    """Customer turns commit without copying the log back; the background task does it, then stops."""
    app = make_app()
    async with app.router.lifespan_context(app):
        state = state_of(app)
        writer = state.db.turns.sqlite_writer  # the customer turns' connection
        assert writer is not None
        async with writer.transaction() as driver:
            (autocheckpoint,) = driver.connection.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert autocheckpoint == 0
        running = [t for t in asyncio.all_tasks() if t.get_name() == "botdesk-wal-checkpoints"]
        assert len(running) == 1
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://botdesk.test")
        async with client:
            for n in range(3):
                response = await client.post(WEBHOOK, json={"sender": f"c{n}", "message": "привет"})
                assert response.status_code == 200
            await asyncio.sleep(0.5)  # the log, migrations included, is copied back meanwhile
            response = await client.post(WEBHOOK, json={"sender": "c9", "message": "привет"})
            assert response.status_code == 200
        with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as reader:
            _, pages, _ = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert pages < 40  # the last turn's pages only: the log started again from its beginning
    assert running[0].done()
