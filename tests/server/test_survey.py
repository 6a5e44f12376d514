"""The satisfaction survey end to end: REST customers, the panel API, the store and /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from bot.project import Project
from bot.store.models import Feedback, HandoffTicket
from tests.helpers.server import AppFactory, Clock, project_with, serve, state_of
from tests.server.api_helpers import WEBHOOK, add_operator, ask_for_a_person, logged_in, polled

FAQ = "как вернуть товар?"
ANOTHER_FAQ = "какие способы оплаты есть?"


async def say(client: httpx.AsyncClient, sender: str, text: str) -> list[dict[str, Any]]:
    answer = await client.post(WEBHOOK, json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text
    replies: list[dict[str, Any]] = answer.json()
    return replies


async def feedback(app: FastAPI) -> list[Feedback]:
    async with state_of(app).db.reader() as session:
        return list((await session.scalars(select(Feedback).order_by(Feedback.id))).all())


async def reasons(app: FastAPI) -> list[str]:
    async with state_of(app).db.reader() as session:
        return list((await session.scalars(select(HandoffTicket.reason).order_by(HandoffTicket.id))).all())


def button_payloads(reply: dict[str, Any]) -> list[str]:
    return [b["payload"] for b in reply.get("buttons") or []]


async def test_yes_then_a_score_is_stored_once_per_dialogue_and_counted(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        asked = await say(customer, "c1", FAQ)
        thanked = await say(customer, "c1", "да")
        scored = await say(customer, "c1", "5")
        again = await say(customer, "c1", ANOTHER_FAQ)
        metrics = (await customer.get("/metrics")).text
    assert asked[-1]["text"] == "Ответ помог?" and button_payloads(asked[-1]) == ["/affirm", "/deny"]
    assert thanked[-1]["text"].startswith("Оцените") and button_payloads(thanked[-1]) == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert scored[-1]["text"] == "Спасибо за оценку!"
    assert all(r["text"] != "Ответ помог?" for r in again), "asked once per dialogue"
    [row] = await feedback(app)
    assert (row.about, row.helpful, row.score, row.channel) == ("bot", True, 5, "rest")
    assert row.answered_at is not None and row.operator_id is None
    assert 'botdesk_feedback_total{about="bot",helpful="yes"} 1.0' in metrics
    assert 'botdesk_feedback_score_count{about="bot"} 1.0' in metrics


async def test_no_after_a_bot_answer_escalates_and_is_stored(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await say(customer, "c1", FAQ)
        await say(customer, "c1", "нет")
    [row] = await feedback(app)
    assert (row.about, row.helpful, row.score) == ("bot", False, None)
    assert await reasons(app) == ["did_not_help"]


async def test_closing_asks_about_the_operator_and_the_answer_comes_in_the_next_dialogue(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        operator_id = await add_operator(app, "anna", name="Анна")
        seen = (await ask_for_a_person(customer, "c1"))[-1]["message_id"]
        async with logged_in(base, "anna") as anna:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            await anna.post(f"/api/tickets/{ticket_id}/claim")
            await anna.post(f"/api/tickets/{ticket_id}/reply", json={"text": "Готово, адрес поменяла."})
            assert (await anna.post(f"/api/tickets/{ticket_id}/close")).status_code == 200
        told = await polled(customer, "c1", seen)
        await say(customer, "c1", "да")
        await say(customer, "c1", "4")
        metrics = (await customer.get("/metrics")).text
    assert told[-1]["text"] == "Ответ помог?" and told[-1]["sender"] == "system"
    assert told[-1]["buttons"] == [  # polled with its buttons, as the webhook's answer has them
        {"title": "Да", "payload": "/affirm"},
        {"title": "Нет", "payload": "/deny"},
    ]
    [row] = await feedback(app)
    assert (row.about, row.operator_id, row.ticket_id) == ("operator", operator_id, ticket_id)
    assert (row.helpful, row.score) == (True, 4)
    assert "botdesk_first_response_seconds_count 1.0" in metrics
    assert 'botdesk_feedback_total{about="operator",helpful="yes"} 1.0' in metrics


async def test_a_quiet_customer_is_asked_once_by_the_maintenance_tick(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path, clock: Clock
) -> None:
    project = project_with(trained_ru, tmp_path / "bot", {"ask_feedback: true": "ask_feedback: false"})
    clock.now = datetime.now(UTC)
    app = make_app(project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        replies = await say(customer, "quiet", FAQ)
        greeted = (await say(customer, "greeter", "привет"))[-1]["message_id"]  # no answer to rate
        assert all(r["text"] != "Ответ помог?" for r in replies)
        seen = replies[-1]["message_id"]
        operators = state_of(app).operators
        assert (await operators.tick())["surveyed"] == []  # not quiet long enough yet
        clock.now = datetime.now(UTC) + timedelta(minutes=11)
        first = await operators.tick()
        second = await operators.tick()
        asked = await polled(customer, "quiet", seen)
        not_asked = await polled(customer, "greeter", greeted)
        await say(customer, "quiet", "нет")
    assert len(first["surveyed"]) + len(second["surveyed"]) == 1  # the background tick may have been first
    assert [m["text"] for m in asked] == ["Ответ помог?"] and button_payloads(asked[0]) == [
        "/affirm",
        "/deny",
    ]
    assert not_asked == []
    [row] = await feedback(app)
    assert (row.about, row.helpful) == ("bot", False)
    assert await reasons(app) == ["did_not_help"]
