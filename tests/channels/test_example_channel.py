"""The example channel of docs/channels/example.md, loaded by its dotted path into the real server.

Proves the plugin interface: a module outside botdesk, named in config.yml, nothing else
edited — a customer's SMS is answered, and an operator's reply goes out through it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.project import Project
from tests.helpers.projects import REPO
from tests.helpers.server import AppFactory, project_with, serve, state_of
from tests.server.api_helpers import add_operator, logged_in

EXAMPLES = REPO / "examples" / "channels"


@pytest.fixture
def on_path() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield
    finally:
        sys.path.remove(str(EXAMPLES))
        sys.modules.pop("sms_gateway", None)


async def test_an_outside_channel_answers_and_delivers_an_operators_reply(
    on_path: None, make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    sent: list[dict[str, str]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"ok": True})

    project = project_with(
        trained_ru,
        tmp_path / "bot",
        {
            'daily: "09:00-21:00"': 'daily: "00:00-24:00"',
            "channels:\n": "channels:\n  sms_gateway.SmsChannel:\n    send_url: http://gateway.test/send\n",
        },
    )
    app = make_app(project, transport=httpx.MockTransport(gateway))
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        assert "sms" in [channel.name for channel in state_of(app).channels]
        answer = await client.post(
            "/webhooks/sms", json={"from": "+79990001122", "text": "сколько стоит доставка?"}
        )
        assert answer.status_code == 200 and answer.json()["replies"] >= 1
        assert sent[0]["to"] == "+79990001122" and sent[0]["text"].startswith("🤖")
        handoff = await client.post(
            "/webhooks/sms", json={"from": "+79990001122", "text": "позовите оператора"}
        )
        assert handoff.status_code == 200
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as anna:
            queue = (await anna.get("/api/queue")).json()
            ticket = next(item for item in queue["waiting"] if item["channel"] == "sms")["ticket_id"]
            assert (await anna.post(f"/api/tickets/{ticket}/claim")).status_code == 200
            reply = await anna.post(f"/api/tickets/{ticket}/reply", json={"text": "Здравствуйте!"})
            assert reply.status_code == 200, reply.text
    assert any("Здравствуйте!" in item["text"] and item["to"] == "+79990001122" for item in sent)


async def test_a_wrong_option_is_a_config_error_naming_the_line(
    on_path: None, make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    from bot.errors import ConfigError

    project = project_with(
        trained_ru,
        tmp_path / "bot",
        {
            "channels:\n": "channels:\n  sms_gateway.SmsChannel:\n    send_url: http://gateway.test/send\n"
            "    retires: 3\n"
        },
    )
    with pytest.raises(ConfigError, match="unknown option 'retires'") as raised:
        make_app(project)
    assert "config.yml:" in str(raised.value)  # the file and the line of the typo
