"""The live feed /api/events over a real WebSocket: what an operator is told, and who may listen."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.helpers.server import AppFactory, serve
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in


async def next_of_kind(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if event["kind"] == kind:
            return event


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/api/events"


async def test_an_operator_hears_a_customer_ask_for_a_person(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as anna:
            cookie = f"botdesk_session={anna.cookies['botdesk_session']}"
            async with websockets.connect(
                ws_url(base),
                additional_headers={"Cookie": cookie},
                origin=base,
            ) as socket:
                await ask_for_a_person(customer, "v1", "<b>позовите оператора</b>")
                ticket = await next_of_kind(socket, "ticket")
                queue = (await anna.get("/api/queue")).json()
                await anna.post(f"/api/tickets/{ticket['ticket_id']}/claim")
                await customer.post("/webhooks/rest/webhook", json={"sender": "v1", "message": "вы тут?"})
                claimed = await next_of_kind(socket, "ticket")
                said = await next_of_kind(socket, "message")
                while said["sender"] != "customer":
                    said = await next_of_kind(socket, "message")
                await anna.put("/api/me/status", json={"status": "away"})
                status = await next_of_kind(socket, "operator")
    assert ticket["status"] == "queued" and ticket["reason"] == "human_request"
    assert ticket["ticket_id"] == queue["waiting"][0]["ticket_id"]
    assert ticket["conversation_id"] == queue["waiting"][0]["conversation_id"] and "at" in ticket
    assert claimed["status"] == "claimed" and claimed["operator_id"] is not None
    assert said["text"] == "вы тут?" and said["conversation_id"] == ticket["conversation_id"]
    assert status == {
        "kind": "operator",
        "operator_id": claimed["operator_id"],
        "status": "away",
        "at": status["at"],
    }


async def test_messages_of_other_operators_dialogues_are_not_sent(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        await add_operator(app, "boris")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna, logged_in(base, "boris") as boris:
            ticket_id = (await anna.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            await anna.post(f"/api/tickets/{ticket_id}/claim")
            cookie = f"botdesk_session={boris.cookies['botdesk_session']}"
            async with websockets.connect(ws_url(base), additional_headers={"Cookie": cookie}) as socket:
                await customer.post("/webhooks/rest/webhook", json={"sender": "v1", "message": "секрет"})
                await anna.post(f"/api/tickets/{ticket_id}/release")  # a ticket event: boris hears this
                events = []
                while not events or events[-1]["kind"] != "ticket":
                    events.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
    assert "секрет" not in str(events)  # held by anna: boris gets its ticket events only
    assert events[-1]["status"] == "queued"


async def test_the_feed_needs_a_session_and_the_same_origin(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna")
        async with logged_in(base, "anna") as anna:
            cookie = f"botdesk_session={anna.cookies['botdesk_session']}"
            with pytest.raises(InvalidStatus) as anonymous:
                async with websockets.connect(ws_url(base)):
                    pass
            with pytest.raises(InvalidStatus) as cross_site:
                async with websockets.connect(
                    ws_url(base),
                    additional_headers={"Cookie": cookie},
                    origin="http://evil.example",
                ):
                    pass
    assert anonymous.value.response.status_code == 403
    assert cross_site.value.response.status_code == 403


async def test_a_feed_says_nothing_more_once_its_session_is_logged_out(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as anna:
            cookie = f"botdesk_session={anna.cookies['botdesk_session']}"
            async with websockets.connect(
                ws_url(base), additional_headers={"Cookie": cookie}, origin=base
            ) as socket:
                await ask_for_a_person(customer, "v1")
                assert (await next_of_kind(socket, "ticket"))["status"] == "queued"
                assert (await anna.post("/api/logout")).status_code in (200, 204)
                await ask_for_a_person(customer, "v2")
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await next_of_kind(socket, "ticket")
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008 and "log in again" in closed.value.rcvd.reason
