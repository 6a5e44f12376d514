"""The web chat widget's protocol: its WebSocket frames, and the push to a visitor's open sockets.

The widget (``bot/channels/webchat/static/widget.js``) speaks JSON text frames over
``/ws/chat?visitor=<id>``; docs/widget.md is the protocol's reference. This module
parses and checks what a browser sends (nothing from the client is trusted: sizes,
types, ids and characters are checked here) and shapes what the server sends.
``Visitors`` keeps every open socket: operator and system messages reach every open
socket of the visitor; a visitor with no open socket gets them with the history on the
next connect.

The visitor id is a random string the widget keeps in localStorage: whoever knows it
reads that visitor's history, so it must be long and random (16 to 64 characters).
The routes are the channel's (``bot.channels.webchat.channel``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.errors import BotdeskError
from bot.events import EventBus
from bot.files.service import attachment_files
from bot.json_input import JsonInputError, parse_json_input
from bot.messages import OutboundMessage
from bot.store import MAX_MESSAGE_CHARS, Sender, check_text
from bot.store.channel_history import Said

CHANNEL = "web"
MAX_FRAME_CHARS = 32 * 1024  # a 4096-character message with every character JSON-escaped fits
MAX_TITLE_CHARS = 200
MAX_URL_CHARS = 2000
MAX_EMAIL_CHARS = 254
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CLOSED_RESPONSE = "utter_conversation_closed"  # a system message that ends the dialogue
log = logging.getLogger("botdesk.channels.webchat")


class WebChatError(BotdeskError):
    """A frame (or connection) the widget channel refuses; ``detail`` is sent back to the browser."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# ---- what the browser sends ------------------------------------------------------------
@dataclass(frozen=True)
class ChatText:
    """The customer typed a message; ``client_id`` makes a resend after a reconnect count once."""

    text: str
    client_id: str | None


@dataclass(frozen=True)
class ChatButton:
    """The customer pressed a button; its payload (e.g. ``/affirm``) goes in as the message."""

    payload: str
    title: str
    client_id: str | None


@dataclass(frozen=True)
class TranscriptAsk:
    email: str


@dataclass(frozen=True)
class PageSeen:
    url: str


@dataclass(frozen=True)
class StatusAsk:
    pass


@dataclass(frozen=True)
class TypingNow:
    """The customer is typing (``active``) or stopped (cleared the box, sent): the operator sees it."""

    active: bool


ClientFrame = ChatText | ChatButton | TranscriptAsk | PageSeen | StatusAsk | TypingNow
FRAME_TYPES = ("message", "button", "transcript", "page", "status", "typing")


def check_visitor_id(value: str | None) -> str:
    """The visitor id from the connect URL: 16 to 64 letters, digits, ``-`` or ``_``."""
    if not value or not VISITOR_ID.match(value):
        raise WebChatError("visitor must be 16 to 64 characters: latin letters, digits, '-' or '_'")
    return value


def parse_frame(raw: str) -> ClientFrame:
    """One JSON text frame from the widget; anything else is a ``WebChatError``."""
    if len(raw) > MAX_FRAME_CHARS:
        raise WebChatError(f"the frame is over {MAX_FRAME_CHARS} characters")
    try:
        frame = parse_json_input(raw)  # nesting bounded first; no lone surrogate, no NaN
    except JsonInputError as exc:
        if not exc.syntax:
            raise WebChatError(exc.detail) from None
        raise WebChatError('frames are JSON objects, e.g. {"type": "message", "text": "привет"}') from None
    if not isinstance(frame, dict):
        raise WebChatError('frames are JSON objects with a "type"')
    kind = frame.get("type")
    if kind == "message":
        return ChatText(_text(frame.get("text"), "text"), _client_id(frame.get("client_id")))
    if kind == "button":
        payload = _text(frame.get("payload"), "payload")
        title = frame.get("title")
        title = title.strip()[:MAX_TITLE_CHARS] if isinstance(title, str) and title.strip() else payload
        return ChatButton(payload, title, _client_id(frame.get("client_id")))
    if kind == "transcript":
        email = frame.get("email")
        if not isinstance(email, str) or not email.strip() or len(email) > MAX_EMAIL_CHARS:
            raise WebChatError('"email" must be an email address')
        return TranscriptAsk(email.strip())
    if kind == "page":
        url = frame.get("url")
        if not isinstance(url, str) or len(url) > MAX_URL_CHARS or not re.match(r"^https?://\S+$", url):
            raise WebChatError(f'"url" must be the page\'s http(s) URL, at most {MAX_URL_CHARS} characters')
        return PageSeen(url)
    if kind == "status":
        return StatusAsk()
    if kind == "typing":
        active = frame.get("active", True)
        if not isinstance(active, bool):
            raise WebChatError('"active" must be true or false')
        return TypingNow(active)
    raise WebChatError(f"unknown frame type {str(kind)[:40]!r}; expected one of: {', '.join(FRAME_TYPES)}")


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise WebChatError(f'"{key}" must be a string')
    if len(value) > MAX_MESSAGE_CHARS:
        raise WebChatError(f"the message is {len(value)} characters long; the limit is {MAX_MESSAGE_CHARS}")
    try:
        check_text(value)
    except BotdeskError as exc:
        raise WebChatError(str(exc)) from None
    if not value.strip():
        raise WebChatError("the message is empty")
    return value


def _client_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and CLIENT_ID.match(value):
        return value
    raise WebChatError('"client_id" must be 1 to 64 latin letters, digits or "-_.:"')


# ---- what the server sends -------------------------------------------------------------
def message_frame(message: OutboundMessage, at: datetime | None = None) -> dict[str, Any]:
    """A bot, operator or system message as the widget shows it."""
    frame: dict[str, Any] = {
        "type": "message",
        "id": message.message_id,
        "sender": message.sender,
        "sender_name": message.sender_name,
        "text": message.text,
        "buttons": [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))} for b in message.buttons
        ],
        "created_at": (at or datetime.now(UTC)).isoformat(),
    }
    if message.sender_photo:
        frame["photo_url"] = message.sender_photo
    if message.image:
        frame["image"] = message.image
    if message.response == CLOSED_RESPONSE:
        frame["ends_dialogue"] = True  # the widget offers a copy of the dialogue by email
    if message.files:
        frame["files"] = attachment_files(message.files)
    return frame


def stored_frame(said: Said, bot_label: str) -> dict[str, Any]:
    """A stored message (any sender) as the widget shows it; buttons are not kept in the store."""
    message = said.message
    sender = str(message.sender)
    frame: dict[str, Any] = {
        "type": "message",
        "id": message.id,
        "sender": sender,
        "sender_name": None,
        "text": message.text,
        "buttons": [],
        "created_at": message.created_at.isoformat(),
    }
    if message.sender == Sender.CUSTOMER:
        for attachment in message.attachments or []:
            if isinstance(attachment, dict) and attachment.get("kind") == "button":
                frame["text"] = str(attachment.get("title") or message.text)  # "Да", not "/affirm"
        if message.channel_message_id:
            frame["client_id"] = message.channel_message_id
    elif message.sender == Sender.OPERATOR:
        frame["sender_name"] = said.operator_name or "Оператор"
        if said.operator_photo:
            frame["photo_url"] = said.operator_photo
    else:
        frame["sender_name"] = bot_label
    if files := attachment_files(message.attachments or []):
        frame["files"] = files
    return frame


def error_frame(detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "detail": detail, **extra}


def typing_frame(name: str, active: bool) -> dict[str, Any]:
    """An operator types (``active``) or stopped: "Анна печатает…" under the messages."""
    return {"type": "typing", "name": name, "active": active}


def queue_frame(position: int | None, minutes: int | None) -> dict[str, Any]:
    """The customer's place in the queue and the wait; ``position`` None: no longer waiting."""
    if position is None or position < 1:
        return {"type": "queue", "position": None, "minutes": None}
    return {"type": "queue", "position": position, "minutes": minutes}


# ---- bounded sockets -------------------------------------------------------------------
class RateLimit:
    """A token bucket: ``per_minute`` frames a minute on average, bursts of a sixth of that (at least 10)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(10.0, per_minute / 6.0)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Connection:
    """One open socket of a visitor; sends are serialised (replies and pushes may overlap)."""

    def __init__(self, visitor_id: str, send_text: Callable[[str], Awaitable[None]]) -> None:
        self.visitor_id = visitor_id
        self._send_text = send_text
        self._lock = asyncio.Lock()
        self.closed = False

    async def push(self, frame: dict[str, Any]) -> bool:
        """Send one frame; False (and closed from now on) when the socket has gone."""
        if self.closed:
            return False
        async with self._lock:
            try:
                await self._send_text(json.dumps(frame, ensure_ascii=False))
            except Exception as exc:  # the browser went away mid-send: history brings it back
                log.debug("web visitor %s: socket gone (%r)", self.visitor_id, exc)
                self.closed = True
                return False
        return True


class Visitors:
    """Every open widget socket, by visitor: pushes to all of a visitor's sockets, never raises.

    A message for a visitor without an open socket is not a failure: it is stored, and
    the widget receives it with the history when it connects again.
    """

    def __init__(self, max_per_visitor: int = 10) -> None:
        self.max_per_visitor = max_per_visitor
        self._connections: dict[str, set[Connection]] = {}
        self._events: EventBus | None = None
        self._relay: asyncio.Task[None] | None = None
        self._origin = uuid.uuid4().hex

    def connect(self, connection: Connection) -> None:
        mine = self._connections.setdefault(connection.visitor_id, set())
        if len(mine) >= self.max_per_visitor:
            raise WebChatError(f"at most {self.max_per_visitor} open chat windows per visitor")
        mine.add(connection)

    def disconnect(self, connection: Connection) -> None:
        mine = self._connections.get(connection.visitor_id)
        if mine is not None:
            mine.discard(connection)
            if not mine:
                del self._connections[connection.visitor_id]

    def connections(self, visitor_id: str) -> int:
        return len(self._connections.get(visitor_id, ()))

    @property
    def visitors(self) -> int:
        return len(self._connections)

    async def push(self, visitor_id: str, frame: dict[str, Any]) -> int:
        """Send ``frame`` to every open socket of the visitor; how many took it."""
        delivered = 0
        for connection in list(self._connections.get(visitor_id, ())):
            if await connection.push(frame):
                delivered += 1
            else:
                self.disconnect(connection)
        return delivered

    async def send(self, message: OutboundMessage) -> None:
        delivered = await self.push_everywhere(
            message.recipient_id, message_frame(message), message.conversation_id
        )
        if not delivered and self._events is None:
            log.debug("web visitor offline: message %s waits in the history", message.message_id)

    async def push_everywhere(
        self, visitor_id: str, frame: dict[str, Any], conversation_id: int | None
    ) -> int:
        """``push`` here, and to the visitor's sockets on the other server processes (a shared bus)."""
        delivered = await self.push(visitor_id, frame)
        if self._events is not None:  # the visitor's window may be open on another server process
            self._events.emit(
                "delivery",
                conversation_id,
                channel=CHANNEL,
                visitor_id=visitor_id,
                frame=frame,
                origin=self._origin,
            )
        return delivered

    async def broadcast(self, frame: dict[str, Any]) -> int:
        """Send ``frame`` to every open socket on this process (a new status line); how many took it."""
        delivered = 0
        for visitor_id in list(self._connections):
            delivered += await self.push(visitor_id, frame)
        return delivered

    def relay_through(self, events: EventBus) -> None:
        """Share deliveries with the other server processes over ``events`` (a shared bus):
        an operator on process A reaches a visitor whose socket is open on process B."""
        self._events = events
        if self._relay is None:
            self._relay = asyncio.create_task(self._deliver_relayed(events), name="botdesk-webchat-relay")

    async def aclose(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            await asyncio.gather(self._relay, return_exceptions=True)
            self._relay = None
        self._events = None

    async def _deliver_relayed(self, events: EventBus) -> None:
        with events.subscribe("delivery") as deliveries:
            async for event in deliveries:
                data = event.data
                if (
                    event.kind != "delivery"
                    or data.get("channel") != CHANNEL
                    or data.get("origin") == self._origin
                ):
                    continue
                try:
                    await self.push(str(data.get("visitor_id")), dict(data.get("frame") or {}))
                except Exception:  # one visitor's trouble must not stop the relay
                    log.exception("relayed widget message not pushed")
