"""``/api/events``: the panel's live feed over a WebSocket, one JSON text frame per event.

The session cookie authenticates (as for every ``/api`` route), and a browser's
``Origin`` must be this site, so no other page can open the feed with the operator's
cookie. Non-browser clients send no Origin and need only the cookie.

Each operator gets every ticket event and operator event, and the message events of
conversations whose latest ticket waits in the queue or is (or was last) theirs.
Events are hints: after a reconnect the panel reloads from the JSON API. The session is
checked again before forwarding when the last check is older than ``RECHECK_SECONDS``: a
feed whose operator logged out, was disabled or got a new password is closed before it
says anything more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from bot.events import Event
from bot.server.auth import SESSION_COOKIE, Login, login_of
from bot.server.lifespan import ServerState
from bot.store import OperatorRole, TicketStatus
from bot.store.views import latest_ticket

router = APIRouter(prefix="/api", tags=["events"])
log = logging.getLogger("botdesk.panel")

WORKERS = (OperatorRole.OPERATOR, OperatorRole.ADMIN)
MESSAGE_KEYS = ("message_id", "sender", "sender_name", "text")
POLICY_VIOLATION = 1008
RECHECK_SECONDS = 5.0
SESSION_ENDED = "the session ended; log in again"


def same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: a browser always sends Origin on a WebSocket
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower() and urlsplit(origin).scheme in ("http", "https")


def event_json(event: Event) -> dict[str, Any]:
    """The contract's shape of each kind (docs/panel.md), whatever else the service attached."""
    data = event.data
    shaped: dict[str, Any] = {"kind": event.kind}
    if event.kind == "message":
        shaped["conversation_id"] = event.conversation_id
        shaped.update({key: data.get(key) for key in MESSAGE_KEYS})
        if data.get("intent") is not None:
            shaped["intent"] = data["intent"]
            shaped["confidence"] = data.get("confidence")
    elif event.kind == "ticket":
        shaped["conversation_id"] = event.conversation_id
        shaped.update(
            ticket_id=data.get("ticket_id"),
            status=data.get("status"),
            reason=data.get("reason"),
            operator_id=data.get("operator_id"),
        )
    else:
        shaped.update(operator_id=data.get("operator_id"), status=data.get("status"))
    shaped["at"] = event.at.isoformat()
    return shaped


async def visible(state: ServerState, login: Login, event: Event) -> bool:
    if event.kind == "delivery":  # a customer's copy of a message, relayed between processes
        return False
    if event.kind != "message":
        return True
    if event.conversation_id is None:
        return False
    async with state.db.reader() as session:
        ticket = await latest_ticket(session, event.conversation_id)
    if ticket is None:
        return False
    return ticket.status == TicketStatus.QUEUED or ticket.operator_id == login.operator.id


@router.websocket("/events")
async def events(websocket: WebSocket) -> None:
    state: ServerState | None = getattr(websocket.app.state, "botdesk", None)
    if state is None or not state.ready:
        await websocket.close(code=1013)  # try again later
        return
    if not same_origin(websocket):
        await websocket.close(code=POLICY_VIOLATION, reason="cross-site WebSocket refused")
        return
    login = await login_of(state, websocket.cookies.get(SESSION_COOKIE))
    if login is None or login.operator.role not in WORKERS:
        await websocket.close(code=POLICY_VIOLATION, reason="log in as an operator first")
        return
    with state.events.subscribe() as subscription:  # subscribed before accepting: nothing missed
        await websocket.accept()
        token = websocket.cookies.get(SESSION_COOKIE)
        forward = asyncio.create_task(_forward(state, login, websocket, subscription, token))
        try:
            while True:  # the panel sends nothing that matters; this notices the disconnect
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except WebSocketDisconnect:
            pass
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forward


async def _forward(
    state: ServerState, login: Login, websocket: WebSocket, subscription: Any, token: str | None
) -> None:
    checked = time.monotonic()
    async for event in subscription:
        try:
            if time.monotonic() - checked >= RECHECK_SECONDS:
                if await login_of(state, token) is None:
                    await websocket.close(code=POLICY_VIOLATION, reason=SESSION_ENDED)
                    return
                checked = time.monotonic()
            if await visible(state, login, event):
                await websocket.send_text(json.dumps(event_json(event), ensure_ascii=False))
        except (WebSocketDisconnect, RuntimeError):
            return
        except Exception:  # a store hiccup: this event is lost, the feed goes on
            log.exception("event %s not forwarded", event.kind)
