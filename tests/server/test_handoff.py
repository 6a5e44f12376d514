"""A handoff over the REST channel: the bot falls silent, operator replies reach the client later."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.project import Project
from bot.store import create_operator
from tests.helpers.postgres import postgres_schema
from tests.helpers.server import (
    AppFactory,
    Clock,
    asgi_client,
    eventually,
    project_with,
    receiver,
    serve,
    state_of,
)

WEBHOOK = "/webhooks/rest/webhook"
COMPLAINT = "это безобразие, привезли сломанный велосипед"
NO_CALLBACK = "    callback_url: null              # e.g. http://127.0.0.1:5005/bot-replies\n"


async def new_operator(app: Any, login: str = "anna", name: str = "Анна") -> int:
    async with state_of(app).db.session() as session:
        operator = await create_operator(session, login, name)
        await session.commit()
        return int(operator.id)


async def hand_off(client: httpx.AsyncClient, sender: str = "v1") -> int:
    """The customer complains; returns the last message id the client saw."""
    answer = (await client.post(WEBHOOK, json={"sender": sender, "message": COMPLAINT})).json()
    assert answer and all(item["sender"] == "bot" for item in answer)
    assert "очеред" in answer[-1]["text"]  # "Вы 1-й в очереди ..." (or: nobody is online, in the queue)
    acked = (await client.post(WEBHOOK, json={"sender": sender, "message": "жду"})).json()
    assert [item["text"][:22] for item in acked] == [
        "Ваше сообщение сохране"
    ]  # it reached them (nobody online)
    silent = await client.post(WEBHOOK, json={"sender": sender, "message": "алло?"})
    assert silent.status_code == 200 and silent.json() == []  # a person owns it: the bot is silent
    return int(acked[-1]["message_id"])


async def test_operator_replies_reach_polling_and_the_callback_url(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    received: list[dict[str, Any]] = []
    async with serve(receiver(received)) as (callback_base, _):
        project = project_with(
            trained_ru,
            tmp_path / "bot",
            {NO_CALLBACK: f"    callback_url: {callback_base}/bot-replies\n"},
        )
        app = make_app(project)
        async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
            seen = await hand_off(client)
            operators = state_of(app).operators
            (entry,) = await operators.queue()
            anna = await new_operator(app)
            assert await operators.claim(entry.ticket_id, anna)
            await operators.reply(entry.ticket_id, anna, "Здравствуйте! Сейчас разберёмся.")
            polled = (
                await client.get("/webhooks/rest/messages", params={"sender": "v1", "after": seen})
            ).json()
            later = await client.get(
                "/webhooks/rest/messages", params={"sender": "v1", "after": polled[-1]["message_id"]}
            )
    assert [(m["sender"], m["sender_name"], m["text"]) for m in polled] == [
        ("system", "🤖 Бот", "Анна (оператор) подключилась к чату."),
        ("operator", "Анна", "Здравствуйте! Сейчас разберёмся."),
    ]
    assert later.json() == []
    # Rasa's callback shape, with botdesk's sender fields.
    assert [(m["recipient_id"], m["sender"], m["text"]) for m in received] == [
        ("v1", "system", "Анна (оператор) подключилась к чату."),
        ("v1", "operator", "Здравствуйте! Сейчас разберёмся."),
    ]
    assert received[1]["sender_name"] == "Анна" and received[1]["message_id"] == polled[1]["message_id"]


async def test_a_callback_that_is_down_gets_the_message_on_a_retry(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, clock: Clock
) -> None:
    down = True
    received: list[dict[str, Any]] = []

    def callback(request: httpx.Request) -> httpx.Response:
        if down:
            return httpx.Response(503)
        received.append(httpx.Response(200, content=request.content).json())
        return httpx.Response(200)

    project = project_with(
        trained_ru, tmp_path / "bot", {NO_CALLBACK: "    callback_url: http://client.test/bot-replies\n"}
    )
    app = make_app(project, transport=httpx.MockTransport(callback))
    async with asgi_client(app) as client:
        await hand_off(client)
        operators = state_of(app).operators
        (entry,) = await operators.queue()
        anna = await new_operator(app)
        await operators.claim(entry.ticket_id, anna)
        await operators.reply(entry.ticket_id, anna, "Вы здесь?")  # stored; the callback is down
        assert received == []
        down = False
        clock.now += timedelta(minutes=2)  # past the retry delay: the maintenance loop redelivers
        await eventually(lambda: len(received) == 2)
        metrics = (await client.get("/metrics")).text
    assert sorted(m["text"] for m in received) == ["Анна (оператор) подключилась к чату.", "Вы здесь?"]
    assert "botdesk_channel_redelivered_total 2.0" in metrics


@pytest.mark.postgres
async def test_handoff_on_postgresql(make_app: AppFactory) -> None:
    with postgres_schema() as url:
        app = make_app(database_url=url)
        async with asgi_client(app) as client:
            seen = await hand_off(client, "pg-1")
            operators = state_of(app).operators
            (entry,) = await operators.queue()
            boris = await new_operator(app, "boris", "Борис")
            assert await operators.claim(entry.ticket_id, boris)
            await operators.reply(entry.ticket_id, boris, "Добрый день!")
            polled = await client.get("/webhooks/rest/messages", params={"sender": "pg-1", "after": seen})
            health = await client.get("/healthz")
    assert [m["sender_name"] for m in polled.json()] == ["🤖 Бот", "Борис"]
    assert health.status_code == 200 and health.json()["database"] == "ok"
