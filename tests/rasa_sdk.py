"""A real Rasa action server (the ``rasa-sdk`` package) for tests, in a virtualenv of its own.

rasa-sdk pins its own web stack (Sanic, websockets), so it lives in ``.venv-rasa-sdk``
beside the project's ``.venv``: ``make test`` creates it first, and a test run without it
creates it here (pip from PyPI, a few minutes once). The server is started on 127.0.0.1
with the test's own actions and stopped when the test ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SDK_REQUIREMENT = "rasa-sdk==3.21.1"  # the newest rasa-sdk 3.x; Rasa 3.6's protocol, Python 3.11
SDK_VENV = Path(os.environ.get("BOTDESK_RASA_SDK_VENV", REPO / ".venv-rasa-sdk"))
START_TIMEOUT_SECONDS = 60


def sdk_python() -> Path:
    """The rasa-sdk virtualenv's Python, created and installed once (under a file lock)."""
    python = SDK_VENV / "bin" / "python"
    stamp = SDK_VENV / ".installed"
    if stamp.is_file() and stamp.read_text().strip() == SDK_REQUIREMENT:
        return python
    SDK_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{SDK_VENV}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.is_file() and stamp.read_text().strip() == SDK_REQUIREMENT):
            subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True, timeout=300)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", SDK_REQUIREMENT], check=True, timeout=900
            )
            stamp.write_text(SDK_REQUIREMENT + "\n")
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def action_server(actions_dir: Path, module: str = "actions") -> Iterator[str]:
    """``python -m rasa_sdk --actions MODULE`` in ``actions_dir``; yields its webhook URL."""
    python = sdk_python()
    port = _free_port()
    log_path = actions_dir / "action-server.log"
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONDONTWRITEBYTECODE": "1"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(python), "-m", "rasa_sdk", "--actions", module, "--port", str(port)],
            cwd=actions_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its Sanic workers share the group: stopped together
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the action server exited: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the action server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
