"""Files in the widget: a customer attaches a photo or a document; they and operators see it.

``POST /widget/files`` takes one file as the raw request body (its type is the browser's
guess and is ignored: the content is sniffed, ``bot.files.policy``), within
``files.max_bytes`` counted while it is read (the server's guard answers 413 before the
body is read when ``Content-Length`` says more). Headers: ``X-Botdesk-Visitor`` (the
widget's visitor id, the same secret the chat socket uses), ``X-File-Name`` (the name,
percent-encoded UTF-8), ``X-Client-Id`` (optional: a resend is stored once). The file is
kept, then goes in as the customer's message with the file as its attachment (the bot
answers as to a photo in Telegram; an operator who holds the dialogue sees it live), and
the stored message and the replies reach every open window of the visitor, as a typed
message's do.

``GET /widget/files/{id}`` gives a file back only with the ``X-Botdesk-Visitor`` of a
customer in whose conversation it was sent (404 otherwise, whatever the reason); the
widget fetches it and shows images as ``blob:`` pictures, other files as downloads. The
visitor id travels in a header, never in a URL (URLs end up in logs and the Referer), and
every answer carries ``nosniff``, a CSP ``sandbox`` and ``Content-Disposition``
(``bot.files.policy.serving_headers``). CORS: the widget runs on the shop's pages and
asks botdesk's origin; no cookie is involved, so ``*`` (or the configured origins) is safe.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import unquote
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from bot.channels.base import ChannelContext
from bot.channels.webchat.protocol import (
    CHANNEL,
    CLIENT_ID,
    VISITOR_ID,
    RateLimit,
    Visitors,
    message_frame,
    stored_frame,
)
from bot.channels.webchat.widget import WebChatOptions, allowed_origin
from bot.conversation.accounting import TurnRefused
from bot.files import FileError, FileMissing, FileRefused, FileTooLarge, check_file_id, serving_headers
from bot.files.service import FileService
from bot.messages import InboundMessage
from bot.settings import BotdeskConfig
from bot.store import Sender
from bot.store.channel_history import Said, latest_conversation, stored_inbound

log = logging.getLogger("botdesk.channels.webchat")
UPLOAD_PATH = "/widget/files"
VISITOR_HEADER = "X-Botdesk-Visitor"
CORS_HEADERS = "Content-Type, X-Botdesk-Visitor, X-File-Name, X-Client-Id"
MAX_RATE_KEYS = 10_000
WORDS = {
    "ru": {
        "off": "Файлы в этом чате не принимаются.",
        "visitor": "Чат не узнал вас: обновите страницу.",
        "too_large": "Файл слишком большой: можно до {size}.",
        "refused": "Такие файлы не принимаются: отправьте фото, PDF или документ.",
        "slow": "Слишком много файлов подряд; подождите немного.",
        "unavailable": "Не получилось сохранить файл; попробуйте позже.",
        "not_found": "Файл не найден.",
    },
    "en": {
        "off": "This chat does not take files.",
        "visitor": "The chat did not recognise you: reload the page.",
        "too_large": "The file is too large: up to {size}.",
        "refused": "Files of this type are not accepted: send a photo, a PDF or a document.",
        "slow": "Too many files in a row; wait a moment.",
        "unavailable": "The file could not be saved; try again later.",
        "not_found": "File not found.",
    },
}


def human_size(size: int, language: str) -> str:
    """``10 МБ`` / ``10 MB``: the limit as a customer reads it."""
    mega = "МБ" if language == "ru" else "MB"
    kilo = "КБ" if language == "ru" else "KB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} {mega}"
    return f"{max(1, size // 1024)} {kilo}"


class WidgetHost(Protocol):
    """What the file routes use of ``WebChatChannel``."""

    context: ChannelContext | None
    config: BotdeskConfig
    widget: WebChatOptions
    visitors: Visitors


class WidgetFiles:
    """The widget's file routes (see the module docstring); part of ``WebChatChannel``."""

    def __init__(self, channel: WidgetHost) -> None:
        self.channel = channel
        self._limits: dict[str, RateLimit] = {}

    @property
    def words(self) -> dict[str, str]:
        return WORDS.get(self.channel.config.language, WORDS["en"])

    @property
    def max_bytes(self) -> int:
        return self.channel.config.files.max_bytes

    def settings(self) -> dict[str, Any]:
        """What the widget needs to know before it sends (``/widget/config``): the limit, the types."""
        return {"max_bytes": self.max_bytes, "accept": ",".join(self.channel.config.files.allowed_types)}

    def routes(self, router: APIRouter) -> None:
        router.add_api_route(
            UPLOAD_PATH,
            self.upload,
            methods=["POST"],
            summary="The customer attaches a file (raw body; X-Botdesk-Visitor, X-File-Name)",
        )
        router.add_api_route(
            UPLOAD_PATH + "/{file_id}",
            self.download,
            methods=["GET"],
            summary="A file of the customer's own conversations (X-Botdesk-Visitor)",
            response_class=StreamingResponse,
        )
        router.add_api_route(UPLOAD_PATH, self.preflight, methods=["OPTIONS"], include_in_schema=False)
        router.add_api_route(
            UPLOAD_PATH + "/{file_id}", self.preflight, methods=["OPTIONS"], include_in_schema=False
        )

    # ---- CORS ------------------------------------------------------------------------------
    def cors(self, request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if not allowed_origin(origin, request.headers.get("host"), self.channel.widget.allowed_origins):
            raise HTTPException(403, "this site may not embed the chat widget (widget.allowed_origins)")
        if origin is None:
            return {}
        allowed = origin if self.channel.widget.allowed_origins else "*"
        return {
            "Access-Control-Allow-Origin": allowed,
            "Access-Control-Expose-Headers": "Content-Disposition",
            "Vary": "Origin",
        }

    async def preflight(self, request: Request) -> Response:
        headers = {
            **self.cors(request),
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    # ---- checks ----------------------------------------------------------------------------
    def ready(self) -> tuple[ChannelContext, FileService]:
        context = self.channel.context
        if context is None or not context.ready():
            raise HTTPException(503, self.words["unavailable"], headers={"Retry-After": "5"})
        if context.files is None:
            raise HTTPException(404, self.words["off"])
        return context, context.files

    def visitor(self, request: Request) -> str:
        value = request.headers.get(VISITOR_HEADER, "")
        if not VISITOR_ID.match(value):
            raise HTTPException(403, self.words["visitor"])
        return value

    def allow(self, visitor: str) -> bool:
        limit = self._limits.get(visitor)
        if limit is None:
            if len(self._limits) >= MAX_RATE_KEYS:
                self._limits.clear()  # forget idle visitors; at worst a burst more for a few
            limit = self._limits[visitor] = RateLimit(self.channel.widget.messages_per_minute)
        return limit.allow()

    # ---- routes ----------------------------------------------------------------------------
    async def upload(self, request: Request) -> JSONResponse:
        headers = self.cors(request)
        context, files = self.ready()
        visitor = self.visitor(request)
        client_id = request.headers.get("X-Client-Id") or uuid4().hex
        if not CLIENT_ID.match(client_id):
            raise HTTPException(422, '"X-Client-Id" must be 1 to 64 latin letters, digits or "-_.:"')
        if not self.allow(visitor):
            raise HTTPException(429, self.words["slow"], headers={"Retry-After": "10"})
        name = unquote(request.headers.get("X-File-Name", ""))[:1000]
        words = self.words
        declared = request.headers.get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FileTooLarge(self.max_bytes)
            kept = await files.accept(request.stream(), name=name, channel=CHANNEL, sender=Sender.CUSTOMER)
        except FileTooLarge:
            size = human_size(self.max_bytes, self.channel.config.language)
            raise HTTPException(413, words["too_large"].format(size=size), headers=headers) from None
        except FileRefused as exc:
            log.info("widget file refused: %s", exc)
            raise HTTPException(415, words["refused"], headers=headers) from None
        except FileError as exc:
            log.warning("widget file not kept: %s", exc)
            raise HTTPException(503, words["unavailable"], headers=headers) from None
        inbound = InboundMessage(
            channel=CHANNEL,
            sender_id=visitor,
            text="",
            message_id=client_id,
            attachments=(kept.attachment,),
        )
        replies = []
        try:
            handled = await context.conversations.handle_and_account(inbound)
            replies = [] if handled.duplicate else handled.replies
            conversation_id: int | None = handled.conversation_id
        except TurnRefused as refused:
            if not refused.stored:
                status = 503 if refused.retry else 422
                raise HTTPException(status, words["unavailable"], headers=headers) from None
            conversation_id = None
        await files.link_inbound(inbound)
        frame = await self.echo(context, visitor, conversation_id, client_id)
        for reply in replies:
            await self.channel.visitors.push(visitor, message_frame(reply))
        return JSONResponse({"message": frame}, headers={**headers, "Cache-Control": "no-store"})

    async def echo(
        self, context: ChannelContext, visitor: str, conversation_id: int | None, client_id: str
    ) -> dict[str, Any] | None:
        """The stored message, to every open window of the visitor (the uploader's included)."""
        async with context.database.reader() as session:
            if conversation_id is None:
                conversation_id = await latest_conversation(session, CHANNEL, visitor)
            stored = await stored_inbound(session, conversation_id, client_id) if conversation_id else None
        if stored is None:
            return None
        frame = stored_frame(Said(stored), context.config.bot.label)
        await self.channel.visitors.push(visitor, frame)
        return frame

    async def download(self, file_id: str, request: Request) -> StreamingResponse:
        headers = self.cors(request)
        _, files = self.ready()
        visitor = self.visitor(request)
        try:
            check_file_id(file_id)
        except FileMissing:
            raise HTTPException(404, self.words["not_found"], headers=headers) from None
        row = await files.for_sender(file_id, CHANNEL, visitor)
        if row is None:
            raise HTTPException(404, self.words["not_found"], headers=headers)
        chunks = files.open(row.id)
        try:
            first = await anext(chunks, b"")
        except FileMissing:
            raise HTTPException(404, self.words["not_found"], headers=headers) from None
        except FileError:
            raise HTTPException(503, self.words["unavailable"], headers=headers) from None

        async def body() -> Any:
            yield first
            async for chunk in chunks:
                yield chunk

        return StreamingResponse(
            body(),
            media_type=row.mime,
            headers={**serving_headers(row.name, row.mime), **headers, "Content-Length": str(row.size)},
        )
