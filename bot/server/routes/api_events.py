"""``/api/events``: the panel's live feed over a WebSocket, one JSON text frame per event.

The session cookie authenticates (as for every ``/api`` route), and a browser's
``Origin`` must be this site, so no other page can open the feed with the operator's
cookie. Non-browser clients send no Origin and need only the cookie.

Each operator gets every ticket event and operator event, and the message events of
conversations whose latest ticket waits in the queue or is (or was last) theirs.
Events are hints: after a reconnect the panel reloads from the JSON API.

The feed is also the operator's presence (``bot.events.presence``): while it is open and
their status is "online", customers are told a person is there. The panel sends one kind
of frame on it, ``{"type": "typing", "ticket_id", "active"}`` while the operator types a
reply (at most one a second is passed on): the customer's channel shows it. A customer's
typing comes the other way as ``typing`` events of the conversations the operator sees.

A feed ends the moment its session does (issue 17): logging out, disabling the account,
a new password or a revoked role publishes an ``account`` event (``handoff.accounts``),
which the event bus brings to every process, and each feed of that account rechecks its
session and roles at once and closes (1008) when they are gone. Besides, every message
event (customer text) is forwarded only after the session was found live in the same
read that checks the ticket, so nothing is said after a revocation even before its
``account`` event arrives; and an idle feed rechecks every ``RECHECK_SECONDS`` (a change
made by ``botdesk operator`` from another machine with no shared event bus).
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

from bot.events import Event, Subscription
from bot.server.auth import SESSION_COOKIE, Login, login_of
from bot.server.lifespan import ServerState
from bot.server.routes.api_shapes import MAX_ROW_ID
from bot.store import OperatorStatus, TicketStatus
from bot.store.departments import department_key_of
from bot.store.sessions import find_session
from bot.store.views import latest_ticket

router = APIRouter(prefix="/api", tags=["events"])
log = logging.getLogger("botdesk.panel")

MESSAGE_KEYS = ("message_id", "sender", "sender_name", "text")
POLICY_VIOLATION = 1008
RECHECK_SECONDS = 5.0
SESSION_ENDED = "the session ended; log in again"
MAX_PANEL_FRAME = 1024  # the panel sends only small typing frames
TYPING_EVERY = 1.0  # seconds between typing signals passed on for one ticket
NEVER_SHOWN = (
    "delivery",
    "account",
    "lead",
    "presence",
)  # a customer's copy relayed; signals between processes


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
        if data.get("attachments"):  # files (bot.files), a pressed button's title
            shaped["attachments"] = data["attachments"]
        if data.get("intent") is not None:
            shaped["intent"] = data["intent"]
            shaped["confidence"] = data.get("confidence")
    elif event.kind == "typing":
        shaped.update(
            conversation_id=event.conversation_id,
            sender=data.get("sender"),
            active=bool(data.get("active", True)),
        )
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


async def visible(state: ServerState, login: Login, event: Event) -> bool | None:
    """Forward it (True), skip it (False), or None: the session is over, close the feed."""
    if event.kind in NEVER_SHOWN:
        return False
    if event.kind == "typing" and event.data.get("sender") != "customer":
        return False  # an operator's typing goes to the customer, not to colleagues
    if event.kind not in ("message", "typing"):
        return True
    if event.conversation_id is None:
        return False
    async with state.db.reader() as session:
        if await find_session(session, login.token_hash, now=state.operators.clock()) is None:
            return None  # logged out, disabled or a new password: nothing more for this feed
        ticket = await latest_ticket(session, event.conversation_id)
    if ticket is None:
        return False
    return ticket.status == TicketStatus.QUEUED or ticket.operator_id == login.operator.id


def concerns(login: Login, event: Event) -> bool:
    """An ``account`` event about this feed's account (and session, when it names one)."""
    data = event.data
    if event.kind != "account" or data.get("operator_id") != login.operator.id:
        return False
    session_id = data.get("session_id")
    return session_id is None or session_id == login.session_id


async def still_allowed(state: ServerState, token: str | None) -> bool:
    """The session is live and its account may still see the feed (roles are read afresh)."""
    fresh = await login_of(state, token)
    return fresh is not None and fresh.can_work


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
    if login is None or not login.can_work:
        await websocket.close(code=POLICY_VIOLATION, reason="log in as an operator first")
        return
    async with state.db.reader() as session:
        department = await department_key_of(session, login.operator.id)
    with state.events.subscribe() as subscription:  # subscribed before accepting: nothing missed
        await websocket.accept()
        token = websocket.cookies.get(SESSION_COOKIE)
        forward = asyncio.create_task(_forward(state, login, websocket, subscription, token))
        operator = login.operator
        state.presence.connect(
            operator.id, online=operator.status == OperatorStatus.ONLINE, department=department
        )
        typed: dict[int, float] = {}
        try:
            while True:  # typing frames; and this notices the disconnect
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if isinstance(text, str) and len(text) <= MAX_PANEL_FRAME:
                    await _panel_frame(state, login, text, typed)
        except WebSocketDisconnect:
            pass
        finally:
            state.presence.disconnect(operator.id)
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forward


async def _panel_frame(state: ServerState, login: Login, text: str, typed: dict[int, float]) -> None:
    """A frame from the panel: the operator types in a dialogue they hold. Anything else is ignored."""
    try:
        frame = json.loads(text)
    except ValueError:
        return
    if not isinstance(frame, dict) or frame.get("type") != "typing":
        return
    ticket_id, active = frame.get("ticket_id"), frame.get("active", True)
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool) or not 0 < ticket_id <= MAX_ROW_ID:
        return
    if not isinstance(active, bool):
        return
    now = time.monotonic()
    if active and now - typed.get(ticket_id, 0.0) < TYPING_EVERY:
        return
    if len(typed) > 100:
        typed.clear()
    typed[ticket_id] = now if active else 0.0
    try:
        await state.operators.typing(ticket_id, login.operator.id, active)
    except Exception:  # a hint: a store hiccup loses it, the feed goes on
        log.exception("typing signal not passed on")


async def _forward(
    state: ServerState, login: Login, websocket: WebSocket, subscription: Subscription, token: str | None
) -> None:
    checked = time.monotonic()
    waiting: asyncio.Task[Event] | None = None  # kept across idle rechecks: no event is dropped
    try:
        while True:
            if waiting is None:
                waiting = asyncio.ensure_future(subscription.get())
            done, _ = await asyncio.wait({waiting}, timeout=RECHECK_SECONDS)
            event: Event | None = None
            if done:
                event, waiting = waiting.result(), None
            try:
                told = event is not None and concerns(login, event)
                if told or time.monotonic() - checked >= RECHECK_SECONDS:
                    if not await still_allowed(state, token):
                        await websocket.close(code=POLICY_VIOLATION, reason=SESSION_ENDED)
                        return
                    checked = time.monotonic()
                if event is None:
                    continue
                shown = await visible(state, login, event)
                if shown is None:
                    await websocket.close(code=POLICY_VIOLATION, reason=SESSION_ENDED)
                    return
                if shown:
                    await websocket.send_text(json.dumps(event_json(event), ensure_ascii=False))
            except (WebSocketDisconnect, RuntimeError):
                return
            except Exception:  # a store hiccup: this event is lost, the feed goes on
                log.exception("event %s not forwarded", event.kind if event is not None else "(recheck)")
    finally:
        if waiting is not None:
            waiting.cancel()
