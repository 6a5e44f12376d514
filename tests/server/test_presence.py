"""Presence through the real panel feed: an operator is online while their feed is open and they are "online".

The widget and the handoff trust only this (issue 21): logged in but the tab closed, or
"away", is nobody. The feed also carries typing both ways between the panel and the widget.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from tests.helpers.server import AppFactory, eventually, serve, state_of
from tests.helpers.widget import COMPLAINT, frames_until, opened, widget
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in
from tests.server.test_api_events import next_of_kind, ws_url


def feed(base: str, client: Any) -> Any:
    cookie = f"botdesk_session={client.cookies['botdesk_session']}"
    return websockets.connect(ws_url(base), additional_headers={"Cookie": cookie}, origin=base)


async def test_online_while_the_feed_is_open_and_the_status_is_online(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        presence = state_of(app).presence
        anna = await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as client:
            assert not presence.online("support")  # logged in is not enough: no panel is open
            async with feed(base, client) as socket:
                await eventually(lambda: presence.online("support"))
                assert presence.online_operators() == [anna]
                await client.put("/api/me/status", json={"status": "away"})
                await eventually(lambda: not presence.online("support"))
                kinds = [json.loads(await asyncio.wait_for(socket.recv(), 10))["kind"]]
                assert kinds == ["operator"]  # the processes' presence announcements are not the panel's
                assert [a.operator_id for a in presence.attendants()] == [anna]  # there, but away
                await client.put("/api/me/status", json={"status": "online"})
                await eventually(lambda: presence.online("support"))
            await eventually(lambda: not presence.attendants())  # the tab closed


async def test_a_handoff_with_an_operator_at_the_panel_promises_a_place(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as client, feed(base, client) as socket:
            await eventually(lambda: state_of(app).presence.online("support"))
            async with logged_in(base, "anna") as rest:
                replies = await ask_for_a_person(rest, "v1")
            await next_of_kind(socket, "ticket")
    assert replies[-1]["text"] == "Вы 1-й в очереди, примерное ожидание — 3 мин."


async def test_typing_goes_both_ways_over_the_panel_feed(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as customer:
        await opened(customer)
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as client, feed(base, client) as socket:
            await eventually(lambda: state_of(app).presence.online("support"))
            await customer.send(json.dumps({"type": "message", "text": COMPLAINT, "client_id": "c1"}))
            ticket = await next_of_kind(socket, "ticket")
            await client.post(f"/api/tickets/{ticket['ticket_id']}/claim")

            await socket.send(
                json.dumps({"type": "typing", "ticket_id": ticket["ticket_id"], "active": True})
            )
            shown = await frames_until(customer, lambda f: f["type"] == "typing")
            await customer.send(json.dumps({"type": "typing", "active": True}))
            seen = await next_of_kind(socket, "typing")
            await socket.send(json.dumps({"type": "typing", "ticket_id": 999, "active": True}))  # not hers
            await socket.send("not json")  # ignored; the feed goes on
            await customer.send(json.dumps({"type": "typing", "active": False}))
            stopped = await next_of_kind(socket, "typing")
    assert shown[-1] == {"type": "typing", "name": "Анна", "active": True}
    assert seen == {
        "kind": "typing",
        "conversation_id": ticket["conversation_id"],
        "sender": "customer",
        "active": True,
        "at": seen["at"],
    }
    assert stopped["active"] is False
