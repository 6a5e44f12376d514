"""Real ``botdesk run`` processes for the scale-out and fault tests, and their shared project.

Each process is the installed CLI in a subprocess on a free port of 127.0.0.1, with its
database (and, for scale-out, its Redis events channel) given through the environment
as in production. The project is the default bot open around the clock (a handoff
always queues, whatever the time of the run), trained once here so no process trains.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.project import Project
from tests.server.conftest import clock, make_app, project_with, sqlite_url  # noqa: F401 (fixtures)
from tests.store.conftest import postgres_schema

BOTDESK = Path(sys.executable).parent / "botdesk"
ADMIN_PASSWORD = "admin password for the fault tests"
READY_SECONDS = 60.0


@pytest.fixture(scope="session")
def open_project(trained_ru: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default bot, open 24/7, with a Redis events channel of its own (used when Redis is on)."""
    target = tmp_path_factory.mktemp("faults") / "bot"
    project = project_with(
        trained_ru,
        target,
        {
            'daily: "09:00-21:00"': 'daily: "00:00-24:00"',
            "  backend: memory\n": f"  backend: memory\n  channel: botdesk-test-{uuid.uuid4().hex}\n",
        },
    )
    project.models.train(project.config, project.data)
    return project


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL schema of the test's own, on the shared test database."""
    with postgres_schema() as url:
        yield url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotdeskProcess:
    """``botdesk run`` in a subprocess; ``kill()`` is kill -9, ``stop()`` a graceful SIGTERM."""

    def __init__(self, project: Project, database_url: str, log: Path, **env: str) -> None:
        self.project = project
        self.database_url = database_url
        self.log = log
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> BotdeskProcess:
        env = {
            **os.environ,
            "BOTDESK_DATABASE_URL": self.database_url,
            "BOTDESK_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **self.env,
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BOTDESK), "run", "-p", str(self.project.root), "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await self.wait_ready()
        return self

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            for _ in range(int(READY_SECONDS / 0.1)):
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"botdesk exited with {self.process.returncode}:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"botdesk was not ready in {READY_SECONDS:g} s:\n{self.output()}")

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, whatever was in flight is cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]


Launch = Callable[..., BotdeskProcess]


@pytest.fixture
def botdesk(tmp_path: Path) -> Iterator[Launch]:
    """``await botdesk(project, url, **env).start()``; every process started is stopped afterwards."""
    started: list[BotdeskProcess] = []

    def launch(project: Project, database_url: str, **env: str) -> BotdeskProcess:
        process = BotdeskProcess(project, database_url, tmp_path / f"botdesk-{len(started)}.log", **env)
        started.append(process)
        return process

    yield launch
    for process in started:
        process.stop()
