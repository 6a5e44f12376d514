"""botdesk run as a real process, for the fault tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from bot.project import Project

BOTDESK = Path(sys.executable).parent / "botdesk"


ADMIN_PASSWORD = "admin password for the fault tests"


READY_SECONDS = 60.0


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
