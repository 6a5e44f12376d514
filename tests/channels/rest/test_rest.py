"""The REST channel as a Rasa client sees it, through real HTTP and in-process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from bot.project import Project
from bot.server.lanes import BotdeskApp
from bot.store import MAX_MESSAGE_CHARS
from tests.helpers.server import AppFactory, asgi_client, count_messages, project_with, serve

WEBHOOK = "/webhooks/rest/webhook"
JSON_TYPE = {"content-type": "application/json"}


async def test_a_rasa_client_gets_the_labelled_answer_list(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        first = await client.post(WEBHOOK, json={"sender": "rasa-user", "message": "привет"})
        answer = await client.post(WEBHOOK, json={"sender": "rasa-user", "message": "можно вернуть товар?"})
        polled = (await client.get("/webhooks/rest/messages", params={"sender": "rasa-user"})).json()
    assert first.status_code == 200 and answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    items = answer.json()
    assert items and all(item["recipient_id"] == "rasa-user" for item in items)
    assert all(item["sender"] == "bot" and item["sender_name"] == "🤖 Бот" for item in items)
    assert "14 дней" in items[0]["text"] and not items[0]["text"].startswith("🤖")  # the text is unprefixed
    assert first.json()[0]["text"].startswith("Здравствуйте! Я бот-помощник")  # the bot says it is one
    # Buttons in Rasa's shape, and a button's payload works as a message.
    assert {"title": "Гарантия и ремонт", "payload": "/warranty"} in items[0]["buttons"]
    assert set(items[0]) == {"recipient_id", "text", "buttons", "sender", "sender_name", "message_id"}
    again = next(m for m in polled if m["message_id"] == items[0]["message_id"])  # a client that polls later
    assert again["buttons"] == items[0]["buttons"]
    async with asgi_client(make_app()) as client:
        pressed = await client.post(WEBHOOK, json={"sender": "rasa-user", "message": "/warranty"})
    assert pressed.status_code == 200 and "гаранти" in pressed.json()[0]["text"].lower()


BAD_REQUESTS = [
    (b"not json at all", 400, "must be JSON"),
    (b"\xff\xfe\x00\x01binary", 400, "must be JSON"),
    (b'["sender", "message"]', 400, "JSON object"),
    (b'{"message": "hi"}', 422, '"sender" is required'),
    (b'{"sender": "", "message": "hi"}', 422, '"sender" is required'),
    (b'{"sender": "u1"}', 422, '"message" must be a string'),
    (b'{"sender": "u1", "message": 42}', 422, '"message" must be a string'),
    (b'{"sender": "u1", "message": "   "}', 422, "empty"),
    (b'{"sender": "u1", "message": "a\\u0000b"}', 422, "NUL character"),
    (b'{"sender": "u1", "message": "\\ud800"}', 422, "not valid Unicode"),
    # Broken Unicode and deep nesting anywhere in the body, not only in the message (issue 17).
    (b'{"sender": "\\ud800", "message": "hi"}', 422, "not valid Unicode"),
    (b'{"sender": "u1", "message": "hi", "message_id": "x\\udfff"}', 422, "not valid Unicode"),
    (b'{"sender": "u1", "message": "hi", "metadata": {"name": "\\ud800"}}', 422, "not valid Unicode"),
    (b'{"sender": "u1", "message": "hi", "metadata": {"\\ud800": "x"}}', 422, "not valid Unicode"),
    (b'{"sender": "u1", "message": "hi", "metadata": {"x": NaN}}', 422, "NaN"),
    (
        b'{"sender": "u1", "message": "hi", "metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        422,
        "nested deeper than 32 levels",
    ),
    (b'{"sender": "u1", "message": "hi", "metadata": [1]}', 422, '"metadata" must be a JSON object'),
    (b'{"sender": "u1", "message": "hi", "message_id": ""}', 422, '"message_id"'),
    (json.dumps({"sender": "u1", "message": "я" * (MAX_MESSAGE_CHARS + 1)}).encode(), 413, "limit is 4096"),
    (b'{"sender": "u1", "message": "' + b"a" * 70_000 + b'"}', 413, "request body is over"),
]


async def test_bad_input_is_a_clear_4xx_and_stores_nothing(make_app: AppFactory, sqlite_url: str) -> None:
    async with asgi_client(make_app()) as client:
        for body, status, detail in BAD_REQUESTS:
            response = await client.post(WEBHOOK, content=body, headers={"content-type": "application/json"})
            assert response.status_code == status, (body[:60], response.text)
            assert detail in response.json()["detail"], (body[:60], response.text)
    assert await count_messages(sqlite_url) == 0


async def test_the_fastapi_route_answers_as_the_lane_does(make_app: AppFactory) -> None:
    """BotdeskApp serves the webhook in front of FastAPI; the documented route must give the same answers."""
    lane_app = make_app()
    route_app = make_app()
    assert isinstance(route_app, BotdeskApp) and ("POST", WEBHOOK) in route_app.lanes
    route_app.lanes = {}  # the same channel, served by its FastAPI route
    answers: dict[str, list[tuple[int, object]]] = {}
    for name, app in (("lane", lane_app), ("route", route_app)):
        async with asgi_client(app) as client:
            said = []
            for body, _, _ in BAD_REQUESTS:
                response = await client.post(WEBHOOK, content=body, headers=JSON_TYPE)
                said.append((response.status_code, response.json()))
            good = await client.post(WEBHOOK, json={"sender": f"{name}-1", "message": "можно вернуть товар?"})
            assert good.headers["content-type"] == "application/json"
            said.append((good.status_code, [item["text"] for item in good.json()]))
        answers[name] = said
    assert answers["lane"] == answers["route"]
    assert answers["lane"][-1][0] == 200 and "14 дней" in str(answers["lane"][-1][1])


async def chunks(chunk: bytes, times: int) -> AsyncIterator[bytes]:
    for _ in range(times):
        yield chunk


async def test_a_huge_body_is_refused_over_real_http(make_app: AppFactory, sqlite_url: str) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        huge = await client.post(WEBHOOK, content=b"x" * 5_000_000)
        chunked = await client.post(WEBHOOK, content=chunks(b"y" * 65_536, 40))  # no Content-Length
    assert huge.status_code == 413 and chunked.status_code == 413
    assert await count_messages(sqlite_url) == 0


async def test_a_redelivered_message_id_is_handled_once(make_app: AppFactory, sqlite_url: str) -> None:
    payload = {"sender": "u7", "message": "как оплатить заказ", "message_id": "m-1"}
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        first, second = await asyncio.gather(
            client.post(WEBHOOK, json=payload), client.post(WEBHOOK, json=payload)
        )
        third = await client.post(WEBHOOK, json=payload)
        polled = await client.get("/webhooks/rest/messages", params={"sender": "u7"})
    answers = [[(i["text"], i["message_id"]) for i in r.json()] for r in (first, second, third)]
    assert answers[0] == answers[1] == answers[2] != []  # the same answer (its texts), given once
    stored = await count_messages(sqlite_url)
    assert stored == 1 + len(answers[0]) and len(polled.json()) == len(answers[0])


async def test_metadata_names_the_customer_and_an_unknown_sender_polls_nothing(make_app: AppFactory) -> None:
    app = make_app()
    async with asgi_client(app) as client:
        sent = await client.post(
            WEBHOOK, json={"sender": 7, "message": "привет", "metadata": {"name": "Анна"}}
        )
        assert sent.status_code == 200 and sent.json()[0]["recipient_id"] == "7"
        nobody = await client.get("/webhooks/rest/messages", params={"sender": "nobody"})
        assert nobody.status_code == 200 and nobody.json() == []
        missing = await client.get("/webhooks/rest/messages")
        assert missing.status_code == 422


async def test_the_rest_channel_can_be_switched_off(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    project = project_with(trained_ru, tmp_path / "off", {"    enabled: true\n": "    enabled: false\n"})
    async with asgi_client(make_app(project)) as client:
        assert (await client.post(WEBHOOK, json={"sender": "u", "message": "привет"})).status_code == 404
        assert (await client.get("/healthz")).status_code == 200


def test_answer_items_are_made_as_rasas_collecting_channel_makes_them() -> None:
    from bot.channels.rest import to_rasa
    from bot.messages import OutboundMessage

    buttons = [{"title": "Да", "payload": "/affirm"}]
    with_buttons = OutboundMessage(
        "rest", "u1", 1, "Первый.\n\nВторой.", "bot", "🤖 Бот", buttons=buttons, message_id=7
    )
    assert [(item["text"], item["buttons"]) for item in to_rasa(with_buttons)] == [
        ("Первый.\n\nВторой.", buttons)
    ]
    paragraphs = OutboundMessage(
        "rest", "u1", 1, "Первый.\n\nВторой.", "bot", "🤖 Бот", image="https://x/i.png"
    )
    items = to_rasa(paragraphs)
    assert [item.get("text") or item.get("image") for item in items] == [
        "Первый.",
        "Второй.",
        "https://x/i.png",
    ]
    assert all(item["recipient_id"] == "u1" and item["sender_name"] == "🤖 Бот" for item in items)


async def test_rasa_shells_stream_and_the_channel_check(make_app: AppFactory) -> None:
    """``rasa shell`` posts with ``?stream=true`` and reads one JSON item a line; GET / answers ok."""
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/webhooks/rest/")).json() == {"status": "ok"}
        plain = await client.post(WEBHOOK, json={"sender": "shell-1", "message": "сколько стоит доставка?"})
        streamed = await client.post(
            f"{WEBHOOK}?stream=true", json={"sender": "shell-2", "message": "сколько стоит доставка?"}
        )
        refused = await client.post(f"{WEBHOOK}?stream=true", json={"sender": "shell-3"})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    lines = [json.loads(line) for line in streamed.text.splitlines() if line]
    assert len(lines) == len(plain.json()) >= 2  # the same turn (the responses' variants are random)
    assert "390" in lines[1]["text"] and lines[0]["text"].startswith("Здравствуйте")
    assert all(item["recipient_id"] == "shell-2" for item in lines)
    assert refused.status_code == 422 and "message" in refused.json()["detail"]
