"""Two real ``botdesk run`` processes on one PostgreSQL, events shared over Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select

from bot.project import Project
from bot.store import Database, Message, Sender
from handoff.accounts import add_account
from tests.helpers.processes import Launch
from tests.helpers.services import needs_redis
from tests.server.api_helpers import PASSWORD, ask_for_a_person, logged_in

pytestmark = [pytest.mark.postgres, pytest.mark.slow, needs_redis]
REDIS = {"BOTDESK_REDIS_URL": "redis://127.0.0.1:6379/0"}


async def add_operators(url: str, *logins: str) -> None:
    async with Database.open(url) as db:
        for login in logins:
            await add_account(db, login, PASSWORD, display_name=login.capitalize())


async def system_messages(url: str, conversation_id: int) -> list[str]:
    async with Database.open(url) as db, db.reader() as session:
        rows = await session.scalars(
            select(Message.text)
            .where(Message.conversation_id == conversation_id, Message.sender == Sender.SYSTEM)
            .order_by(Message.id)
        )
        return list(rows)


async def test_a_queue_claim_raced_through_both_processes_is_won_exactly_once(
    open_project: Project, pg_url: str, botdesk: Launch
) -> None:
    a = await botdesk(open_project, pg_url, **REDIS).start()
    b = await botdesk(open_project, pg_url, **REDIS).start()
    await add_operators(pg_url, "anna", "boris")
    async with (
        httpx.AsyncClient(base_url=a.url) as customer,
        logged_in(a.url, "anna") as anna,
        logged_in(b.url, "boris") as boris,
    ):
        for n in range(6):
            await ask_for_a_person(customer, f"race-{n}")
        waiting = (await anna.get("/api/queue")).json()["waiting"]
        assert len(waiting) == 6
        outcomes: list[tuple[int, int, int]] = []
        for entry in waiting:
            path = f"/api/tickets/{entry['ticket_id']}/claim"
            first, second = await asyncio.gather(anna.post(path), boris.post(path))
            outcomes.append((entry["conversation_id"], first.status_code, second.status_code))
        assert all(sorted((x, y)) == [200, 409] for _, x, y in outcomes), outcomes
        mine = (await anna.get("/api/queue")).json()["mine"]
        theirs = (await boris.get("/api/queue")).json()["mine"]
    assert len(mine) + len(theirs) == 6
    for conversation_id, _, _ in outcomes:  # the customer is told once who joined
        joined = [
            text
            for text in await system_messages(pg_url, conversation_id)
            if "Anna" in text or "Boris" in text
        ]
        assert len(joined) == 1, joined


async def test_a_panel_on_one_process_hears_a_handoff_made_through_the_other(
    open_project: Project, pg_url: str, botdesk: Launch
) -> None:
    a = await botdesk(open_project, pg_url, **REDIS).start()
    b = await botdesk(open_project, pg_url, **REDIS).start()
    await add_operators(pg_url, "anna")
    async with logged_in(a.url, "anna") as anna, httpx.AsyncClient(base_url=b.url) as customer:
        cookie = f"botdesk_session={anna.cookies['botdesk_session']}"
        ws = a.url.replace("http://", "ws://") + "/api/events"
        async with websockets.connect(ws, additional_headers={"Cookie": cookie}, origin=a.url) as socket:
            await asyncio.sleep(
                0.5
            )  # both processes' listeners are subscribed by now (start waits on /healthz)
            await ask_for_a_person(customer, "cross-1", "позовите оператора, пожалуйста")
            seen: list[dict[str, Any]] = []
            while not any(event["kind"] == "ticket" for event in seen):
                seen.append(json.loads(await asyncio.wait_for(socket.recv(), 15)))
        ticket = next(event for event in seen if event["kind"] == "ticket")
        said = next(event for event in seen if event["kind"] == "message" and event["sender"] == "customer")
        queue = (await anna.get("/api/queue")).json()["waiting"]
    assert ticket["status"] == "queued" and ticket["ticket_id"] == queue[0]["ticket_id"]
    assert said["text"] == "позовите оператора, пожалуйста"
    async with Database.open(pg_url) as db, db.reader() as session:
        customers = await session.scalar(
            select(func.count()).select_from(Message).where(Message.sender == Sender.CUSTOMER)
        )
    assert customers == 1


async def test_an_operator_on_one_process_reaches_a_widget_open_on_the_other(
    open_project: Project, pg_url: str, botdesk: Launch
) -> None:
    a = await botdesk(open_project, pg_url, **REDIS).start()
    b = await botdesk(open_project, pg_url, **REDIS).start()
    await add_operators(pg_url, "anna")
    url = b.url.replace("http://", "ws://") + "/ws/chat?visitor=visitor-0123456789abcdef"
    async with websockets.connect(url) as widget, logged_in(a.url, "anna") as anna:
        frames = [json.loads(await asyncio.wait_for(widget.recv(), 10)) for _ in range(2)]  # status, history
        assert [frame["type"] for frame in frames] == ["status", "history"]
        await widget.send(json.dumps({"type": "message", "text": "позовите оператора", "client_id": "c-1"}))
        waiting: list[dict[str, Any]] = []
        for _ in range(100):
            waiting = (await anna.get("/api/queue")).json()["waiting"]
            if waiting:
                break
            await asyncio.sleep(0.05)
        ticket = waiting[0]["ticket_id"]
        assert (await anna.post(f"/api/tickets/{ticket}/claim")).status_code == 200
        answer = await anna.post(f"/api/tickets/{ticket}/reply", json={"text": "Здравствуйте, это Анна"})
        assert answer.status_code == 200, answer.text
        seen: list[dict[str, Any]] = []
        while not any(frame.get("sender") == "operator" for frame in seen):
            seen.append(json.loads(await asyncio.wait_for(widget.recv(), 15)))
    said = [frame for frame in seen if frame.get("sender") == "operator"]
    assert said[0]["text"] == "Здравствуйте, это Анна" and said[0]["sender_name"] == "Anna"
    joined = [frame for frame in seen if frame.get("sender") == "system" and "Anna" in frame.get("text", "")]
    assert len(joined) == 1  # "Anna joined the chat", once: relayed, not doubled
