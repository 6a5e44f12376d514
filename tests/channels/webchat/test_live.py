"""The widget's live lines through real uvicorn: who is online, the place in the queue, typing both ways.

An operator "at the panel" is put into the server's presence directly here (the panel's
feed does the same; tests/server/test_presence.py opens a real one).
"""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI

from bot.store import create_operator
from tests.helpers.server import AppFactory, serve, state_of
from tests.helpers.widget import COMPLAINT, Frame, frames_until, frames_until_each, next_frame, opened, widget

NOBODY = (
    "Сейчас операторов нет на связи — отвечает бот. Оставьте контакт — ответим, "
    "как только оператор подключится."
)


async def new_operator(app: FastAPI, login: str = "anna", name: str = "Анна") -> int:
    async with state_of(app).db.session() as session:
        operator = await create_operator(session, login, name)
        await session.commit()
        return int(operator.id)


def queue_line(frame: Frame) -> bool:
    return frame["type"] == "queue"


def _acknowledged(frame: Frame) -> bool:
    """The bot's reply that the customer is in the queue (which place: the test reads it)."""
    return "в очереди" in frame.get("text", "")


async def test_the_window_says_whether_an_operator_is_online_as_it_changes(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket:
        status, _ = await opened(socket)
        assert (status["online"], status["line"]) == (False, NOBODY)  # working hours, but nobody there
        anna = await new_operator(app)
        presence = state_of(app).presence

        presence.connect(anna, online=True, department=None)  # her panel opened
        came = await frames_until(socket, lambda f: f["type"] == "status")
        presence.set_status(anna, False)  # she switched to "away"
        away = await frames_until(socket, lambda f: f["type"] == "status")
        presence.set_status(anna, True)
        back = await frames_until(socket, lambda f: f["type"] == "status")
        presence.disconnect(anna)  # the tab closed
        gone = await frames_until(socket, lambda f: f["type"] == "status")
    assert (came[-1]["online"], came[-1]["line"]) == (True, "Операторы на связи — отвечаем в чате.")
    assert (away[-1]["online"], away[-1]["line"]) == (False, NOBODY)
    assert back[-1]["online"] is True
    assert gone[-1]["online"] is False


async def test_a_handoff_while_nobody_is_online_says_so_and_offers_a_call_back(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket:
        await opened(socket)
        await socket.send(json.dumps({"type": "message", "text": COMPLAINT, "client_id": "c1"}))
        frames = await frames_until(socket, lambda f: bool(f.get("buttons")))
        await socket.send(json.dumps({"type": "message", "text": "жду", "client_id": "c2"}))
        ack = await frames_until(socket, lambda f: f.get("sender") == "bot")
    offer = frames[-1]
    assert offer["text"].startswith("Сейчас никого из операторов нет на связи. Ваш вопрос в очереди")
    assert [b["title"] for b in offer["buttons"]] == ["Оставить контакт", "Подожду в чате"]
    assert not any("в очереди, примерное ожидание" in f.get("text", "") for f in frames)  # no wait promised
    assert not any(queue_line(f) for f in frames + ack)
    assert ack[-1]["text"].startswith("Ваше сообщение сохранено для операторов. Сейчас никого нет на связи")
    (ticket,) = await state_of(app).operators.queue()
    assert ticket.note["unstaffed"] is True  # still queued: the first operator online sees it


async def test_the_place_in_the_queue_moves_live(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        anna = await new_operator(app)
        state_of(app).presence.connect(anna, online=True, department=None)
        async with widget(base) as first, widget(base, visitor="visitor-second-0123456789") as second:
            await opened(first)
            await opened(second)
            await first.send(json.dumps({"type": "message", "text": COMPLAINT, "client_id": "a1"}))
            one = await frames_until_each(first, queue_line, _acknowledged)
            await second.send(json.dumps({"type": "message", "text": COMPLAINT, "client_id": "b1"}))
            two = await frames_until_each(second, queue_line, _acknowledged)
            operators = state_of(app).operators
            first_ticket = (await operators.queue())[0]  # the same priority: the longest wait first
            assert await operators.claim(first_ticket.ticket_id, anna)
            moved = await frames_until(second, queue_line)
            left = await frames_until(first, queue_line)
        async with widget(base, visitor="visitor-second-0123456789") as again:
            status, _ = await opened(again)
            on_connect = await next_frame(again)  # a reload shows the place at once
    assert any("1-й в очереди, примерное ожидание — 3 мин." in f.get("text", "") for f in one)
    first_line = [f for f in one if queue_line(f)][-1]  # the replies may come before or after it
    assert (first_line["position"], first_line["minutes"]) == (1, 3)  # no pickups measured yet: 3 min a place
    assert any("2-й в очереди, примерное ожидание — 6 мин." in f.get("text", "") for f in two)
    second_line = [f for f in two if queue_line(f)][-1]
    assert (second_line["position"], second_line["minutes"]) == (2, 6)
    assert (moved[-1]["position"], moved[-1]["minutes"]) == (1, 3)
    assert left[-1]["position"] is None  # picked up: the line goes
    assert not any(
        f.get("sender") == "system" and "Очередь движется" in f["text"] for f in moved
    )  # live only
    assert status["online"] is True and on_connect == {"type": "queue", "position": 1, "minutes": 3}


async def test_typing_is_seen_both_ways(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket:
        await opened(socket)
        anna = await new_operator(app)
        state = state_of(app)
        state.presence.connect(anna, online=True, department=None)
        await socket.send(json.dumps({"type": "message", "text": COMPLAINT, "client_id": "c1"}))
        await frames_until(socket, queue_line)
        (entry,) = await state.operators.queue()
        assert await state.operators.claim(entry.ticket_id, anna)

        assert await state.operators.typing(entry.ticket_id, anna, True)
        typing = await frames_until(socket, lambda f: f["type"] == "typing")
        assert await state.operators.typing(entry.ticket_id, anna, False)
        stopped = await frames_until(socket, lambda f: f["type"] == "typing")

        with state.events.subscribe() as events:
            await socket.send(json.dumps({"type": "typing", "active": True}))
            await socket.send(json.dumps({"type": "typing", "active": True}))  # within a second: not again
            await socket.send(json.dumps({"type": "typing", "active": False}))
            seen = [await asyncio.wait_for(events.get(), 5) for _ in range(2)]
            await socket.send(json.dumps({"type": "typing", "active": "yes"}))
            refused = await next_frame(socket)
    assert typing[-1] == {"type": "typing", "name": "Анна", "active": True}
    assert stopped[-1]["active"] is False
    assert [(e.kind, e.conversation_id, e.data["sender"], e.data["active"]) for e in seen] == [
        ("typing", entry.conversation_id, "customer", True),
        ("typing", entry.conversation_id, "customer", False),
    ]
    assert refused["type"] == "error"
