"""The web chat widget over HTTP: its script and style, its page settings, its WebSocket, the demo.

``GET /widget.js`` is what a shop puts on its pages (one ``<script async>`` tag); the
script asks ``GET /widget/config?page=<url>`` whether to show itself and what to say,
then talks to ``/ws/chat?visitor=<id>`` (protocol: ``bot.channels.webchat``,
docs/widget.md). ``GET /`` is a demo shop page with the widget; ``/demo/checkout`` is
a page where the default config hides it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.websockets import WebSocketDisconnect

from bot.channels.webchat import (
    CHANNEL,
    MAX_FRAME_CHARS,
    ChatButton,
    ChatText,
    Connection,
    PageSeen,
    RateLimit,
    StatusAsk,
    TranscriptAsk,
    WebChatChannel,
    WebChatError,
    check_visitor_id,
    error_frame,
    history_frames,
    message_frame,
    parse_frame,
    stored_frame,
    stored_inbound,
)
from bot.channels.widget import page_settings, status, title_of
from bot.errors import BotdeskError
from bot.mailer import mailer_from_config
from bot.messages import InboundMessage
from bot.server.deps import StateDep
from bot.server.lifespan import ServerState
from bot.store import MAX_MESSAGE_CHARS, InputRejected, StoreError
from bot.transcripts import TranscriptError, TranscriptService, latest_conversation

router = APIRouter(tags=["web chat widget"])
log = logging.getLogger("botdesk.channels.webchat")
SERVER = Path(__file__).resolve().parents[1]
STATIC = SERVER / "static" / "widget"
templates = Jinja2Templates(directory=str(SERVER / "templates"))
MAX_STRIKES = 10  # refused frames in a row before the socket is closed
NOT_STORED = "the message was not stored (the server's database is unavailable); it will be sent again"
DEMO_PAGES = {"/": "home", "/demo/bikes": "bikes", "/demo/checkout": "checkout"}


# ---- files and settings ----------------------------------------------------------------
def _static(name: str, media_type: str) -> FileResponse:
    return FileResponse(
        STATIC / name, media_type=media_type, headers={"Cache-Control": "public, max-age=300"}
    )


@router.get("/widget.js", summary='The widget: put <script src=".../widget.js" async></script> on a page')
async def widget_js() -> FileResponse:
    return _static("widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css", summary="The widget's style (loaded into its shadow root)")
async def widget_css() -> FileResponse:
    return _static("widget.css", "text/css; charset=utf-8")


def allowed_origin(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Any site when ``widget.allowed_origins`` is empty; else those, and botdesk's own pages."""
    if not allowed or origin is None:
        return True  # not a browser page (curl, a test client): nothing to protect
    origin = origin.lower()
    return origin in allowed or (host is not None and urlsplit(origin).netloc == host.lower())


@router.get(
    "/widget/config", summary="Whether the widget shows on a page, its invitation, and who is on duty"
)
async def widget_config(
    request: Request,
    state: StateDep,
    page: Annotated[str, Query(max_length=2000, description="The page's URL")] = "",
) -> JSONResponse:
    config = state.config
    origin = request.headers.get("origin")
    if not allowed_origin(origin, request.headers.get("host"), config.widget.allowed_origins):
        raise HTTPException(403, "this site may not embed the chat widget (widget.allowed_origins)")
    body = {
        **page_settings(config.widget, page),
        "status": status(config, state.conversations.clock()),
    }
    headers = {"Cache-Control": "no-store", "Vary": "Origin"}
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin if config.widget.allowed_origins else "*"
    return JSONResponse(body, headers=headers)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/demo/bikes", response_class=HTMLResponse, include_in_schema=False)
@router.get("/demo/checkout", response_class=HTMLResponse, include_in_schema=False)
async def demo(request: Request, state: StateDep) -> HTMLResponse:
    """A fake shop page with the widget tag, as a shop would add it."""
    return templates.TemplateResponse(
        request,
        "demo.html",
        {"page": DEMO_PAGES.get(request.url.path, "home"), "title": title_of(state.config)},
    )


# ---- the socket ------------------------------------------------------------------------
def transcripts_of(websocket: WebSocket, state: ServerState) -> TranscriptService:
    """One transcript service per app (it keeps the per-hour limits)."""
    service: TranscriptService | None = getattr(websocket.app.state, "transcripts", None)
    if service is None or service.config is not state.config:
        service = TranscriptService(
            state.config, mailer_from_config(state.config.email), state.conversations.clock
        )
        websocket.app.state.transcripts = service
    return service


@router.websocket("/ws/chat")
async def chat(websocket: WebSocket) -> None:
    """One widget window: status and history first, then messages both ways until it closes."""
    state: ServerState | None = getattr(websocket.app.state, "botdesk", None)
    await websocket.accept()  # first, so that every refusal below reaches the widget with its reason
    if state is None or not state.ready:
        await websocket.close(1013, "the chat is not available right now; try again later")
        return
    widget = state.config.widget
    if not widget.enabled:
        await websocket.close(1008, "the web chat is turned off")
        return
    if not allowed_origin(
        websocket.headers.get("origin"), websocket.headers.get("host"), widget.allowed_origins
    ):
        await websocket.close(1008, "this site may not embed the chat widget")
        return
    channel = state.router.get(CHANNEL)
    if not isinstance(channel, WebChatChannel):
        await websocket.close(1011, "the web chat channel is not registered")
        return
    try:
        visitor = check_visitor_id(websocket.query_params.get("visitor"))
        connection = Connection(visitor, websocket.send_text)
        channel.connect(connection)
    except WebChatError as exc:
        await websocket.close(1008, exc.detail[:120])
        return
    try:
        await ChatSocket(websocket, state, channel, connection).run()
    except WebSocketDisconnect:
        pass
    finally:
        channel.disconnect(connection)


class ChatSocket:
    """The conversation of one socket: reads frames, refuses bad ones, answers the rest."""

    def __init__(
        self, websocket: WebSocket, state: ServerState, channel: WebChatChannel, connection: Connection
    ) -> None:
        self.websocket = websocket
        self.state = state
        self.channel = channel
        self.connection = connection
        self.visitor = connection.visitor_id
        self.limit = RateLimit(state.config.widget.messages_per_minute)
        self.page: str | None = None
        self.strikes = 0

    async def run(self) -> None:
        state = self.state
        await self.connection.push(status(state.config, state.conversations.clock()))
        async with state.db.reader() as session:
            history = await history_frames(
                session, self.visitor, state.config.bot.label, state.config.widget.history_limit
            )
        await self.connection.push({"type": "history", "messages": history})
        while True:
            received = await self.websocket.receive()
            if received["type"] == "websocket.disconnect":
                return
            text = received.get("text")
            if text is None:
                await self.refuse("binary frames are not accepted; send JSON text frames")
            elif len(text) > MAX_FRAME_CHARS:  # the widget shows the reason; the socket closes as too big
                await self.refuse(
                    f"the message is too long: the limit is {MAX_MESSAGE_CHARS} characters; not stored"
                )
                await self.websocket.close(1009, f"frame over {MAX_FRAME_CHARS} characters")
                return
            else:
                await self.frame(text)
            if self.strikes >= MAX_STRIKES:
                await self.websocket.close(1008, "too many refused frames; slow down and reconnect")
                return

    async def refuse(self, detail: str, **extra: Any) -> None:
        self.strikes += 1
        self.state.metrics.refused(CHANNEL)
        await self.connection.push(error_frame(detail, **extra))

    async def frame(self, raw: str) -> None:
        strikes = self.strikes
        await self._frame(raw)
        if self.strikes == strikes:
            self.strikes = 0  # only refusals in a row count

    async def _frame(self, raw: str) -> None:
        try:
            frame = parse_frame(raw)
        except WebChatError as exc:
            await self.refuse(exc.detail)
            return
        if isinstance(frame, PageSeen):
            self.page = frame.url
        elif isinstance(frame, StatusAsk):
            await self.connection.push(status(self.state.config, self.state.conversations.clock()))
        elif not self.limit.allow():
            client_id = getattr(frame, "client_id", None)
            await self.refuse("too many messages; wait a moment", client_id=client_id, retry=True)
            return
        elif isinstance(frame, ChatText):
            await self.customer_says(frame.text, frame.client_id)
        elif isinstance(frame, ChatButton):
            await self.customer_says(frame.payload, frame.client_id, {"kind": "button", "title": frame.title})
        elif isinstance(frame, TranscriptAsk):
            await self.transcript(frame.email)

    async def customer_says(
        self, text: str, client_id: str | None, attachment: dict[str, Any] | None = None
    ) -> None:
        state = self.state
        client_id = client_id or uuid4().hex
        inbound = InboundMessage(
            channel=CHANNEL,
            sender_id=self.visitor,
            text=text,
            message_id=client_id,
            attachments=(attachment,) if attachment else (),
            profile={"page": self.page} if self.page else None,
        )
        started = time.perf_counter()
        try:
            handled = await state.conversations.handle(inbound)
        except InputRejected as exc:
            await self.refuse(str(exc), client_id=client_id)
            return
        except StoreError as exc:
            log.error("web message not stored: %s", exc)
            await self.refuse(NOT_STORED, client_id=client_id, retry=True)
            return
        except BotdeskError as exc:  # e.g. the NLU backend is down; the message itself is stored
            log.error("web message not answered: %s", exc)
            state.metrics.refused(CHANNEL, "error")
            await self.echo(None, client_id)
            await self.connection.push(
                error_frame("the bot cannot answer right now; a person will see your message")
            )
            return
        state.metrics.observe(CHANNEL, handled, time.perf_counter() - started)
        if handled.lead_id is not None:
            state.outbox.wake()
        await self.echo(handled.conversation_id, client_id, only_here=handled.duplicate)
        if handled.duplicate:
            return  # answered when it first came; the history has the answer
        for reply in handled.replies:
            await self.channel.push(self.visitor, message_frame(reply))

    async def echo(self, conversation_id: int | None, client_id: str, *, only_here: bool = False) -> None:
        """The stored customer message: the sender's acknowledgement, the visitor's other tabs' copy."""
        async with self.state.db.reader() as session:
            if conversation_id is None:
                conversation_id = await latest_conversation(session, CHANNEL, self.visitor)
            stored = await stored_inbound(session, conversation_id, client_id) if conversation_id else None
        if stored is None:
            return
        frame = stored_frame(stored, self.state.config.bot.label, None, None)
        if only_here:
            await self.connection.push(frame)
        else:
            await self.channel.push(self.visitor, frame)

    async def transcript(self, address: str) -> None:
        service = transcripts_of(self.websocket, self.state)
        try:
            sentence = await service.send(self.state.db, CHANNEL, self.visitor, address)
        except TranscriptError as exc:
            await self.connection.push(error_frame(str(exc), about="transcript"))
            return
        await self.connection.push({"type": "transcript", "sent": True, "detail": sentence})
