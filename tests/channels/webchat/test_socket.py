"""The widget's WebSocket through real uvicorn on 127.0.0.1: the bot answers, operators reach the visitor."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from bot.store import Message, Sender, create_operator
from tests.helpers.server import AppFactory, Clock, serve, state_of
from tests.helpers.widget import COMPLAINT, frames_until, next_frame, opened, say, widget


async def customer_messages(app: FastAPI) -> list[str]:
    async with state_of(app).db.reader() as session:
        rows = await session.scalars(select(Message.text).where(Message.sender == Sender.CUSTOMER))
        return list(rows)


async def new_operator(app: FastAPI, photo_url: str | None = None) -> int:
    async with state_of(app).db.session() as session:
        operator = await create_operator(session, "anna", "Анна", photo_url=photo_url)
        await session.commit()
        return int(operator.id)


async def test_the_bot_answers_labelled_as_the_bot(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket:
        status, history = await opened(socket)
        assert history == []
        assert status["online"] is False and status["title"] == "ВелоМаркет — чат"  # nobody at the panel
        assert status["line"].startswith("Сейчас операторов нет на связи")
        assert status["hours"] == ["ежедневно 09:00–21:00 (по московскому времени)"]
        frames = await say(socket, "привет", "m1")
    echo, *replies = frames
    assert (echo["sender"], echo["text"], echo["client_id"]) == ("customer", "привет", "m1")
    assert replies and all(r["sender"] == "bot" and r["sender_name"] == "🤖 Бот" for r in replies)
    assert "Здравствуйте" in replies[0]["text"]
    assert [r["id"] for r in replies] == sorted(r["id"] for r in replies) and replies[0]["id"] > echo["id"]


async def test_a_message_sent_again_after_a_reconnect_is_stored_and_answered_once(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        async with widget(base) as socket:
            await opened(socket)
            first = await say(socket, "сколько стоит доставка?", "m-42")
        async with widget(base) as socket:
            await opened(socket)
            again = await say(socket, "сколько стоит доставка?", "m-42")
        stored = await customer_messages(app)
    assert len(first) >= 2
    assert again == [first[0]]  # only the acknowledgement: the same stored message, no second answer
    assert stored == ["сколько стоит доставка?"]


async def test_history_survives_a_reconnect(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        async with widget(base) as socket:
            await opened(socket)
            said = await say(socket, "привет", "h1")
            said += await say(socket, "как оформить возврат?", "h2")
        async with widget(base) as socket:
            _, history = await opened(socket)
        async with widget(base, visitor="another-visitor-987654321") as socket:
            _, strangers = await opened(socket)
    assert [(m["id"], m["sender"], m["text"]) for m in history] == [
        (m["id"], m["sender"], m["text"]) for m in said
    ]
    assert [m["client_id"] for m in history if m["sender"] == "customer"] == ["h1", "h2"]
    assert all(m["sender_name"] == "🤖 Бот" for m in history if m["sender"] == "bot")
    assert strangers == []


async def test_an_operator_reply_reaches_the_open_window_with_name_and_photo(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket, widget(base) as second_tab:
        await opened(socket)
        await opened(second_tab)
        handoff = await say(socket, COMPLAINT, "c1")
        assert "очеред" in handoff[-1]["text"]
        operators = state_of(app).operators
        (entry,) = await operators.queue()
        anna = await new_operator(app, photo_url="https://shop.test/anna.jpg")
        assert await operators.claim(entry.ticket_id, anna)
        await operators.reply(entry.ticket_id, anna, "Здравствуйте! Сейчас разберёмся.")
        joined, answer = await next_frame(socket), await next_frame(socket)
        other_tab = await frames_until(second_tab, lambda f: f.get("sender") == "operator")
    assert (joined["sender"], joined["text"]) == ("system", "Анна (оператор) подключилась к чату.")
    assert (answer["sender"], answer["sender_name"], answer["text"]) == (
        "operator",
        "Анна",
        "Здравствуйте! Сейчас разберёмся.",
    )
    assert answer["photo_url"] == "https://shop.test/anna.jpg"
    assert other_tab[-1]["id"] == answer["id"]


async def test_what_the_operator_says_while_the_visitor_is_away_comes_with_the_history(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        async with widget(base) as socket:
            await opened(socket)
            await say(socket, COMPLAINT, "c1")
        operators = state_of(app).operators
        (entry,) = await operators.queue()
        anna = await new_operator(app)
        await operators.claim(entry.ticket_id, anna)
        await operators.reply(entry.ticket_id, anna, "Вы ещё здесь? Пришлите номер заказа.")
        await operators.close(entry.ticket_id, anna, "solved")
        async with widget(base) as socket:
            _, history = await opened(socket)
    assert [(m["sender"], m["sender_name"], m["text"]) for m in history[-4:]] == [
        ("system", "🤖 Бот", "Анна (оператор) подключилась к чату."),
        ("operator", "Анна", "Вы ещё здесь? Пришлите номер заказа."),
        (
            "system",
            "🤖 Бот",
            "Оператор завершил диалог. Если появятся вопросы — просто напишите, я на связи.",
        ),
        ("system", "🤖 Бот", "Ответ помог?"),  # the satisfaction survey (docs/kpis.md)
    ]


async def test_a_closed_dialogue_is_marked_as_ended_and_buttons_come_with_messages(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket:
        await opened(socket)
        await say(socket, COMPLAINT, "c1")
        operators = state_of(app).operators
        (entry,) = await operators.queue()
        anna = await new_operator(app)
        await operators.claim(entry.ticket_id, anna)
        await operators.return_to_bot(entry.ticket_id, anna)
        frames = await frames_until(socket, lambda f: bool(f.get("buttons")))
        back = frames[-1]
        await socket.send(
            json.dumps({"type": "button", "payload": "/affirm", "title": "Да", "client_id": "b1"})
        )
        pressed = await next_frame(socket)
    assert back["text"] == "Вы снова общаетесь с ботом. Вопрос решён?"
    assert {"title": "Да", "payload": "/affirm"} in back["buttons"]
    assert (pressed["sender"], pressed["text"], pressed["client_id"]) == ("customer", "Да", "b1")
    assert "/affirm" in await customer_messages(app)  # the payload is what the bot understood


async def test_refused_input_gets_a_reason_and_changes_nothing(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket:
        await opened(socket)
        refusals = []
        for frame in (
            b"\x00\x01binary",
            json.dumps({"type": "message", "text": "я" * 4097, "client_id": "long"}),
            json.dumps({"type": "message", "text": "   ", "client_id": "empty"}),
            "{not json",
        ):
            await socket.send(frame)
            refusals.append(await next_frame(socket))
        still = await say(socket, "привет", "ok")  # the socket still works
        stored = await customer_messages(app)
    assert [r["type"] for r in refusals] == ["error"] * 4
    assert "binary" in refusals[0]["detail"]
    assert "4097 characters long; the limit is 4096" in refusals[1]["detail"]
    assert refusals[2]["detail"] == "the message is empty"
    assert "JSON" in refusals[3]["detail"]
    assert still[0]["text"] == "привет"
    assert stored == ["привет"]


@pytest.mark.parametrize("visitor", ["short", "has%20spaces%20but%20long%20enough", "x" * 65])
async def test_a_bad_visitor_id_is_closed_with_the_reason(make_app: AppFactory, visitor: str) -> None:
    async with serve(make_app()) as (base, _), widget(base, visitor=visitor) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "16 to 64 characters" in closed.value.rcvd.reason


async def test_abuse_closes_the_socket(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _):
        async with widget(base) as socket:
            await opened(socket)
            for _ in range(10):
                await socket.send("{junk")
            with pytest.raises(ConnectionClosed) as junk:
                await frames_until(socket, lambda f: False)
        async with widget(base) as socket:
            await opened(socket)
            await socket.send(json.dumps({"type": "message", "text": "x" * 40_000}))
            with pytest.raises(ConnectionClosed) as huge:
                await frames_until(socket, lambda f: False)
    assert junk.value.rcvd is not None and junk.value.rcvd.code == 1008
    assert "too many refused frames" in junk.value.rcvd.reason
    assert huge.value.rcvd is not None and huge.value.rcvd.code == 1009


async def test_a_flood_of_messages_is_refused_with_a_retry_hint(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket:
        await opened(socket)
        for index in range(15):
            await socket.send(
                json.dumps({"type": "message", "text": f"спам {index}", "client_id": f"s{index}"})
            )
        await socket.send(json.dumps({"type": "status"}))
        frames = await frames_until(socket, lambda f: f["type"] == "status")
    refused = [f for f in frames if f["type"] == "error"]
    assert refused and all(
        f["retry"] is True and f["detail"] == "too many messages; wait a moment" for f in refused
    )
    assert len(await customer_messages(app)) == 15 - len(refused)


async def test_after_hours_the_window_says_when_a_person_answers(make_app: AppFactory, clock: Clock) -> None:
    clock.now += timedelta(hours=11)  # 23:00 in Moscow
    async with serve(make_app()) as (base, _), widget(base) as socket:
        status, _ = await opened(socket)
    assert status["online"] is False
    assert status["line"] == "Сейчас отвечает только бот. Оставьте контакт — ответим завтра в 09:00."


async def test_the_script_the_page_settings_and_the_demo_page(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        script = await client.get("/widget.js")
        style = await client.get("/widget.css")
        checkout = await client.get("/widget/config", params={"page": "https://shop.test/checkout"})
        bikes = await client.get(
            "/widget/config",
            params={"page": "https://shop.test/bikes"},
            headers={"Origin": "https://shop.test"},
        )
        demo = await client.get("/")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "/ws/chat" in script.text and "attachShadow" in script.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert checkout.json()["hidden"] is True
    settings = bikes.json()
    assert settings["hidden"] is False and settings["invitation"]["text"].startswith("Выбираете велосипед?")
    assert settings["status"]["bot_label"] == "🤖 Бот"
    assert bikes.headers["access-control-allow-origin"] == "*"
    assert demo.status_code == 200 and "Велосипеды и самокаты" in demo.text
    assert '<script src="/widget.js" async></script>' in demo.text


async def test_allowed_origins_keep_other_sites_out(
    make_app: AppFactory, trained_ru: Any, tmp_path: Any
) -> None:
    from tests.helpers.server import project_with

    project = project_with(
        trained_ru,
        tmp_path / "bot",
        {"  allowed_origins: []": '  allowed_origins: ["https://velomarket.test"]'},
    )
    app = make_app(project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        mine = await client.get("/widget/config", headers={"Origin": "https://velomarket.test"})
        theirs = await client.get("/widget/config", headers={"Origin": "https://evil.test"})
        async with widget(base, origin="https://evil.test") as socket:
            with pytest.raises(ConnectionClosed) as refused:
                await next_frame(socket)
        async with widget(base, origin="https://velomarket.test") as socket:
            status, _ = await opened(socket)
    assert (
        mine.status_code == 200 and mine.headers["access-control-allow-origin"] == "https://velomarket.test"
    )
    assert theirs.status_code == 403
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 1008
    assert status["type"] == "status"


def test_the_widget_never_puts_data_into_markup() -> None:
    """Every text reaches the page through textContent: no HTML-parsing sink in the widget."""
    from bot.channels.webchat.channel import STATIC

    script = (STATIC / "widget.js").read_text(encoding="utf-8")
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")
    assert "textContent" in script
    assert sinks.findall(script) == []
