"""``botdesk crm-stub``: help, and the real command serving pushes until it is stopped."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from handoff.crm import CRMTemporaryError, WebhookAdapter, WebhookOptions
from tests.helpers.crm import SECRET, make_card
from tests.helpers.projects import REPO


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crm-stub", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--db" in out and "--secret-env" in out and "BOTDESK_CRM_STUB_FAIL" in out


def test_bad_fail_spec_is_one_sentence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["crm-stub", "--fail", "oops", "--db", str(tmp_path / "x.db")]) == 2
    assert "STATUS:COUNT" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(90)
async def test_the_command_serves_signed_pushes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    env = {**os.environ, "BOTDESK_CRM_SECRET": SECRET, "BOTDESK_CRM_STUB_FAIL": "503:1", "NO_COLOR": "1"}
    command = [sys.executable, "-c", "from bot.cli import run; run()", "crm-stub", "--port", str(port)]
    command += ["--db", str(tmp_path / "stub.db")]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "crm-stub did not start"
                await asyncio.sleep(0.1)
        monkeypatch.setenv("BOTDESK_CRM_SECRET", SECRET)
        async with WebhookAdapter(WebhookOptions(url=f"http://127.0.0.1:{port}/leads")) as crm:
            card = make_card()
            with pytest.raises(CRMTemporaryError):  # BOTDESK_CRM_STUB_FAIL=503:1
                await crm.push(card)
            assert (await crm.push(card)).crm_id == "crm-1"
    finally:
        process.terminate()
        process.wait(timeout=15)
