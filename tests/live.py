"""botdesk served for real on a free port of 127.0.0.1, in a thread with its own event loop."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from bot.server.connection_guard import uvicorn_config


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` (lifespan included) until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn_config(app, lifespan="on", log_level="warning", access_log=False, ws="websockets-sansio")
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name="botdesk-live-server", daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started or failure or not thread.is_alive():
            break
        threading.Event().wait(0.01)
    try:
        if not server.started:
            raise RuntimeError(f"botdesk did not start: {failure[0] if failure else 'timeout'}")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
