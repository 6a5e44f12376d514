"""The web chat widget as a botdesk channel: its script and style, page settings, WebSocket, demo.

``GET /widget.js`` is what a shop puts on its pages (one ``<script async>`` tag); the
script asks ``GET /widget/config?page=<url>`` whether to show itself and what to say,
then talks to ``/ws/chat?visitor=<id>`` (frames: ``bot.channels.webchat.protocol``,
docs/widget.md). ``GET /`` is a demo shop page with the widget; ``/demo/checkout`` is a
page where the default config hides it. Operator and system messages reach every open
socket of the visitor (``Visitors``), also when it is open on another server process
(relayed over a shared event bus).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Annotated, Any, ClassVar
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.websockets import WebSocketDisconnect

from bot.channels.base import Capabilities, Channel, ChannelContext, ChannelHttp, ChannelOptions
from bot.channels.registry import register_channel
from bot.channels.webchat.files import UPLOAD_PATH, WidgetFiles
from bot.channels.webchat.protocol import (
    CHANNEL,
    MAX_FRAME_CHARS,
    ChatButton,
    ChatText,
    Connection,
    PageSeen,
    RateLimit,
    StatusAsk,
    TranscriptAsk,
    TypingNow,
    Visitors,
    WebChatError,
    check_visitor_id,
    error_frame,
    message_frame,
    parse_frame,
    queue_frame,
    stored_frame,
    typing_frame,
)
from bot.channels.webchat.transcripts import TranscriptError, TranscriptService
from bot.channels.webchat.widget import (
    WebChatOptions,
    allowed_origin,
    greeting_of,
    page_settings,
    status,
    title_of,
)
from bot.conversation.accounting import TurnRefused
from bot.events import SharedEventBus
from bot.files import UPLOAD_MARGIN
from bot.mailer import mailer_from_config
from bot.messages import InboundMessage, OutboundMessage, QueueStatus, Typing
from bot.settings import BotdeskConfig
from bot.store import MAX_MESSAGE_CHARS
from bot.store.channel_history import Said, latest_conversation, latest_messages, stored_inbound
from bot.store.waiting import estimate, place_in_queue, queued_ticket_of

log = logging.getLogger("botdesk.channels.webchat")
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
MAX_STRIKES = 10  # refused frames in a row before the socket is closed
NOT_STORED = "the message was not stored (the server's database is unavailable); it will be sent again"
DEMO_PAGES = {"/": "home", "/demo/bikes": "bikes", "/demo/checkout": "checkout"}
TYPING_EVERY = 1.0  # seconds: a customer's typing frames more often than this are not passed on


def _static(name: str, media_type: str) -> FileResponse:
    return FileResponse(
        STATIC / name, media_type=media_type, headers={"Cache-Control": "public, max-age=300"}
    )


@register_channel
class WebChatChannel(Channel):
    """The ``"web"`` channel: the site's chat widget (see the module docstring)."""

    name = CHANNEL
    Options = WebChatOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        push=True, buttons=True, files=True, typing=True, live_status=True
    )

    def __init__(self, options: ChannelOptions, config: BotdeskConfig) -> None:
        super().__init__(options, config)
        assert isinstance(options, WebChatOptions)
        self.widget = options
        self.visitors = Visitors()
        self.transcripts: TranscriptService | None = None
        self.files = WidgetFiles(self)
        self._shown_status: dict[str, Any] | None = None  # the status line the open windows show
        self._status_push: asyncio.Task[None] | None = None

    @property
    def title(self) -> str:
        return title_of(self.widget, self.config.language)

    # ---- lifecycle and delivery ------------------------------------------------------
    async def start(self, context: ChannelContext) -> bool:
        await super().start(context)
        self.transcripts = TranscriptService(
            context.config, self.title, mailer_from_config(context.config.email), context.clock
        )
        if isinstance(context.events, SharedEventBus):
            self.visitors.relay_through(context.events)  # a reply reaches a widget open on another process
        context.presence.watch(self._presence_changed)
        return True

    async def stop(self) -> None:
        if self.context is not None:
            self.context.presence.unwatch(self._presence_changed)
        if self._status_push is not None:
            self._status_push.cancel()
        await self.visitors.aclose()
        await super().stop()

    async def send(self, message: OutboundMessage) -> None:
        """To every open socket of the visitor; none open is not a failure (the history has it)."""
        await self.visitors.send(message)

    async def typing(self, signal: Typing) -> None:
        """ "Анна печатает…" in every open window of the visitor, on any server process."""
        await self.visitors.push_everywhere(
            signal.recipient_id, typing_frame(signal.name, signal.active), signal.conversation_id
        )

    async def queue_status(self, status: QueueStatus) -> None:
        """The live queue line in the visitor's windows on this process (every process is told)."""
        await self.visitors.push(status.recipient_id, queue_frame(status.position, status.minutes))

    def status_now(self) -> dict[str, Any]:
        """The status frame as of now: who answers (presence), the hours, the line."""
        context = self.require_context()
        return status(self.config, self.widget, context.clock(), context.presence)

    def _presence_changed(self) -> None:
        """Someone came online or went away: open windows get the new line (once, if it changed)."""
        if self.context is None or (self._status_push is not None and not self._status_push.done()):
            return
        self._status_push = asyncio.get_running_loop().create_task(self._push_status())

    async def _push_status(self) -> None:
        frame = self.status_now()
        shown = {key: frame[key] for key in ("online", "line")}
        if shown != self._shown_status:
            self._shown_status = shown
            await self.visitors.broadcast(frame)

    # ---- HTTP ------------------------------------------------------------------------
    def http(self) -> ChannelHttp:
        router = APIRouter(tags=["web chat widget"])
        router.add_api_route(
            "/widget.js",
            self.widget_js,
            methods=["GET"],
            summary='The widget: put <script src=".../widget.js" async></script> on a page',
        )
        router.add_api_route(
            "/widget.css", self.widget_css, methods=["GET"], summary="The widget's style (in its shadow root)"
        )
        router.add_api_route(
            "/widget/config",
            self.widget_config,
            methods=["GET"],
            summary="Whether the widget shows on a page, its invitation, and who is on duty",
        )
        for path in DEMO_PAGES:
            router.add_api_route(
                path, self.demo, methods=["GET"], response_class=HTMLResponse, include_in_schema=False
            )
        router.add_api_websocket_route("/ws/chat", self.chat)
        self.files.routes(router)  # attachments: bot/channels/webchat/files.py
        return ChannelHttp(router, body_limits={UPLOAD_PATH: self.config.files.max_bytes + UPLOAD_MARGIN})

    async def widget_js(self) -> FileResponse:
        return _static("widget.js", "text/javascript; charset=utf-8")

    async def widget_css(self) -> FileResponse:
        return _static("widget.css", "text/css; charset=utf-8")

    async def widget_config(
        self,
        request: Request,
        page: Annotated[str, Query(max_length=2000, description="The page's URL")] = "",
    ) -> JSONResponse:
        context = self.require_context()
        origin = request.headers.get("origin")
        if not allowed_origin(origin, request.headers.get("host"), self.widget.allowed_origins):
            raise HTTPException(403, "this site may not embed the chat widget (widget.allowed_origins)")
        body = {
            **page_settings(self.widget, page),
            "status": status(self.config, self.widget, context.clock(), context.presence),
            "files": self.files.settings(),
            "greeting": greeting_of(self.widget, self.config.language),
        }
        headers = {"Cache-Control": "no-store", "Vary": "Origin"}
        if origin is not None:
            headers["Access-Control-Allow-Origin"] = origin if self.widget.allowed_origins else "*"
        return JSONResponse(body, headers=headers)

    async def demo(self, request: Request) -> HTMLResponse:
        """A fake shop page with the widget tag, as a shop would add it."""
        return templates.TemplateResponse(
            request, "demo.html", {"page": DEMO_PAGES.get(request.url.path, "home"), "title": self.title}
        )

    async def chat(self, websocket: WebSocket) -> None:
        """One widget window: status and history first, then messages both ways until it closes."""
        await websocket.accept()  # first, so that every refusal below reaches the widget with its reason
        context = self.context
        if context is None or not context.ready():
            await websocket.close(1013, "the chat is not available right now; try again later")
            return
        if not allowed_origin(
            websocket.headers.get("origin"), websocket.headers.get("host"), self.widget.allowed_origins
        ):
            await websocket.close(1008, "this site may not embed the chat widget")
            return
        try:
            visitor = check_visitor_id(websocket.query_params.get("visitor"))
            connection = Connection(visitor, websocket.send_text)
            self.visitors.connect(connection)
        except WebChatError as exc:
            await websocket.close(1008, exc.detail[:120])
            return
        try:
            await ChatSocket(websocket, self, context, connection).run()
        except WebSocketDisconnect:
            pass
        finally:
            self.visitors.disconnect(connection)


class ChatSocket:
    """The conversation of one socket: reads frames, refuses bad ones, answers the rest."""

    def __init__(
        self, websocket: WebSocket, channel: WebChatChannel, context: ChannelContext, connection: Connection
    ) -> None:
        self.websocket = websocket
        self.channel = channel
        self.context = context
        self.connection = connection
        self.visitor = connection.visitor_id
        self.limit = RateLimit(channel.widget.messages_per_minute)
        self.page: str | None = None
        self.strikes = 0
        self.conversation_id: int | None = None  # the visitor's latest conversation, once known
        self.typed_at = 0.0

    @property
    def label(self) -> str:
        return self.context.config.bot.label

    async def run(self) -> None:
        channel, context = self.channel, self.context
        await self.connection.push(channel.status_now())
        async with context.database.reader() as session:
            history = await latest_messages(session, CHANNEL, self.visitor, channel.widget.history_limit)
            waiting = await self.place_in_queue(session)
        await self.connection.push(
            {"type": "history", "messages": [stored_frame(s, self.label) for s in history]}
        )
        if waiting is not None:
            await self.connection.push(queue_frame(*waiting))
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
        self.context.conversations.refused(CHANNEL)
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
            await self.connection.push(self.channel.status_now())
        elif isinstance(frame, TypingNow):
            await self.customer_types(frame.active)
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
        client_id = client_id or uuid4().hex
        inbound = InboundMessage(
            channel=CHANNEL,
            sender_id=self.visitor,
            text=text,
            message_id=client_id,
            attachments=(attachment,) if attachment else (),
            profile={"page": self.page} if self.page else None,
        )
        try:
            handled = await self.context.conversations.handle_and_account(inbound)
        except TurnRefused as refused:
            if refused.stored:  # the bot failed; the message is kept, and a person will see it
                await self.echo(None, client_id)
                await self.connection.push(
                    error_frame("the bot cannot answer right now; a person will see your message")
                )
            elif refused.retry:
                await self.connection.push(error_frame(NOT_STORED, client_id=client_id, retry=True))
                self.strikes += 1
            else:
                self.strikes += 1
                await self.connection.push(error_frame(refused.detail, client_id=client_id))
            return
        self.conversation_id = handled.conversation_id
        await self.echo(handled.conversation_id, client_id, only_here=handled.duplicate)
        if handled.duplicate:
            return  # answered when it first came; the history has the answer
        for reply in handled.replies:
            await self.channel.visitors.push(self.visitor, message_frame(reply))

    async def echo(self, conversation_id: int | None, client_id: str, *, only_here: bool = False) -> None:
        """The stored customer message: the sender's acknowledgement, the visitor's other tabs' copy."""
        async with self.context.database.reader() as session:
            if conversation_id is None:
                conversation_id = await latest_conversation(session, CHANNEL, self.visitor)
            stored = await stored_inbound(session, conversation_id, client_id) if conversation_id else None
        if stored is None:
            return
        frame = stored_frame(Said(stored), self.label)
        if only_here:
            await self.connection.push(frame)
        else:
            await self.channel.visitors.push(self.visitor, frame)

    async def customer_types(self, active: bool) -> None:
        """The operator's panel shows "typing…" (at most one event a second; a stop always goes)."""
        now = time.monotonic()
        if active and now - self.typed_at < TYPING_EVERY:
            return
        self.typed_at = now if active else 0.0
        if self.conversation_id is None:
            async with self.context.database.reader() as session:
                self.conversation_id = await latest_conversation(session, CHANNEL, self.visitor)
        if self.conversation_id is not None:  # nothing said yet: nobody to show it to
            self.context.events.emit("typing", self.conversation_id, sender="customer", active=active)

    async def place_in_queue(self, session: Any) -> tuple[int, int] | None:
        """(place, minutes) when the visitor waits for an operator who is online; else None."""
        conversation_id = await latest_conversation(session, CHANNEL, self.visitor)
        self.conversation_id = conversation_id
        queued = await queued_ticket_of(session, conversation_id) if conversation_id is not None else None
        if queued is None:
            return None
        department = queued.note.get("department")
        presence = self.context.presence
        if presence.tracked and not presence.online(department if isinstance(department, str) else None):
            return None  # nobody to pick it up: no wait is promised
        now = self.context.clock()
        position = await place_in_queue(session, queued.ticket_id, now=now)
        minutes = await estimate(
            session,
            queued.department_id,
            position,
            default_per_place=self.context.config.escalation.average_handle_minutes,
            now=now,
        )
        return position, minutes

    async def transcript(self, address: str) -> None:
        service = self.channel.transcripts
        assert service is not None  # made at start
        try:
            sentence = await service.send(self.context.database, CHANNEL, self.visitor, address)
        except TranscriptError as exc:
            await self.connection.push(error_frame(str(exc), about="transcript"))
            return
        await self.connection.push({"type": "transcript", "sent": True, "detail": sentence})
