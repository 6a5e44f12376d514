"""Files in the panel: stored files (``bot.files``) for operators, an operator's file to the customer,
and Telegram's older files, fetched from the channel when an operator asks.

``GET /api/files/{id}``: a file of the file store (a customer's photo from the widget or
Telegram, an operator's document), for logged-in operators (operator or admin role), with
the serving headers of ``bot.files.policy`` (images inline, everything else a download,
``nosniff``, CSP ``sandbox``). ``POST /api/uploads/tickets/{id}``: the operator who holds the
dialogue sends a file (raw body, ``X-File-Name``: the name percent-encoded; within
``files.max_bytes``, counted while it is read); it is checked and kept like a customer's,
then goes out as the operator's message through the customer's channel. A channel that
cannot take files (the REST channel) is refused before anything is kept, with a sentence
in the operator's language.

``GET /api/files/{channel}/{file_id}``: files that arrived before the file store (or that it
did not take: too large for it), still on the platform's servers: the proxy
looks the file up among stored messages (a file nobody sent us, or of a forgotten
customer, is a 404), asks the channel where it is (``Channel.file_url``) and streams it
through. The download URL may hold the channel's credentials (Telegram's does), so it
never reaches the browser. Served inline only for images, never as something a browser
would run.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote, unquote

import httpx
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from bot.channels.base import FileGone
from bot.errors import BotdeskError
from bot.files import FileError, FileMissing, FileRefused, FileTooLarge, check_file_id, serving_headers
from bot.i18n.catalog import Translator
from bot.i18n.names import N_, Names
from bot.server.auth import CurrentOperator, OperatorWorker
from bot.server.deps import ReadyStateDep
from bot.server.i18n import texts_for
from bot.server.lifespan import ServerState
from bot.server.routes.api_queue import NOT_HELD, _ticket
from bot.server.routes.api_shapes import RowId, message_json
from bot.store import Conversation, HistoryEntry, Sender, TicketStatus
from bot.store import Message as StoredMessage
from bot.store.channel_history import find_attachment
from bot.store.views import operator_names
from handoff.service import HandoffError

router = APIRouter(tags=["operator panel"])
log = logging.getLogger("botdesk.server")
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
FILE_ID = r"^[A-Za-z0-9_-]{1,255}$"
CHANNEL_NAME = r"^[a-z][a-z0-9_]{0,31}$"
UPLOADS = "/api/uploads"
"""Operators' uploads: the path prefix whose body limit is ``files.max_bytes`` (``create_app``)."""

NO_FILE = N_("there is no such file")
NO_FILES_HERE = N_(
    "the customer writes through {channel}, which cannot receive files; answer with text (a link) instead"
)
TOO_LARGE = N_("the file is larger than {size} MB, the largest allowed")
REFUSED = N_("files of this type cannot be sent ({mime}); send an image, a PDF, a text or an office document")
NOT_KEPT = N_("the file could not be saved (the file storage did not answer); try again")


async def _stream(state: ServerState, file_id: str, t: Translator) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first chunk (so a missing file is a 404, not a broken 200) and the rest."""
    chunks = state.files.open(file_id)
    try:
        first = await anext(chunks, b"")
    except FileMissing:
        raise HTTPException(404, t(NO_FILE)) from None
    except FileError:
        raise HTTPException(503, t(NOT_KEPT), headers={"Retry-After": "5"}) from None
    return first, chunks


@router.get(
    "/api/files/{file_id}",
    summary="A stored file (a customer's photo, an operator's document): images inline, others a download",
    response_class=StreamingResponse,
)
async def stored_file(
    file_id: Annotated[str, Path(pattern=FILE_ID)], operator: OperatorWorker, state: ReadyStateDep
) -> StreamingResponse:
    t = texts_for(operator, state)
    try:
        check_file_id(file_id)
    except FileMissing:
        raise HTTPException(404, t(NO_FILE)) from None
    row = await state.files.for_operator(file_id)
    if row is None:
        raise HTTPException(404, t(NO_FILE))
    first, chunks = await _stream(state, row.id, t)

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    headers = {**serving_headers(row.name, row.mime), "Content-Length": str(row.size)}
    return StreamingResponse(body(), media_type=row.mime, headers=headers)


@router.post(
    UPLOADS + "/tickets/{ticket_id}",
    summary="Send the customer a file (raw body, X-File-Name), as your message in their channel",
)
async def send_file(
    ticket_id: RowId, request: Request, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, Any]:
    t = texts_for(operator, state)
    ticket = await _ticket(state, ticket_id, t)
    if ticket.status != TicketStatus.CLAIMED or ticket.operator_id != operator.id:
        raise HTTPException(409, t(NOT_HELD))
    async with state.db.reader() as session:
        conversation = await session.get_one(Conversation, ticket.conversation_id)
    channel = state.router.get(conversation.channel)
    if channel is None or not channel.capabilities.files:
        raise HTTPException(409, t(NO_FILES_HERE, channel=Names(t).channel(conversation.channel)))
    name = unquote(request.headers.get("X-File-Name", ""))[:1000]
    declared = request.headers.get("content-length", "")
    try:
        if declared.isdigit() and int(declared) > state.files.max_bytes:
            raise FileTooLarge(state.files.max_bytes)  # said at once, before a byte is read
        kept = await state.files.accept(
            request.stream(),
            name=name,
            channel=conversation.channel,
            sender=Sender.OPERATOR,
            conversation_id=conversation.id,
            operator_id=operator.id,
        )
    except FileTooLarge as exc:
        raise HTTPException(413, t(TOO_LARGE, size=format(exc.limit / (1024 * 1024), "g"))) from None
    except FileRefused as exc:
        raise HTTPException(415, t(REFUSED, mime=exc.mime or "?")) from None
    except FileError:
        raise HTTPException(503, t(NOT_KEPT), headers={"Retry-After": "5"}) from None
    try:
        sent = await state.operators.reply(ticket_id, operator.id, "", files=[kept.attachment])
    except HandoffError:  # taken back in the meantime: the file stays an orphan, swept later
        raise HTTPException(409, t(NOT_HELD)) from None
    log.info("operator %s sent a %s file in conversation %s", operator.id, kept.file.mime, conversation.id)
    async with state.db.reader() as session:
        stored = await session.get_one(StoredMessage, sent.message_id)
        names = await operator_names(session, {operator.id})
    return message_json(HistoryEntry(stored, sent.channel), None, names, state)


def _headers(attachment: dict[str, Any], path: str, upstream: httpx.Response) -> tuple[str, dict[str, str]]:
    mime = str(attachment.get("mime_type") or mimetypes.guess_type(path)[0] or "application/octet-stream")
    extension = mimetypes.guess_extension(mime) or ""
    name = str(attachment.get("file_name") or f"{attachment.get('type', 'file')}{extension}")
    disposition = "inline" if mime in INLINE_TYPES else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    }
    if upstream.headers.get("content-length", "").isdigit():
        headers["Content-Length"] = upstream.headers["content-length"]
    return mime, headers


@router.get(
    "/api/files/{channel}/{file_id}",
    summary="A file a customer sent in a channel (photo, document, voice...), streamed through the server",
    response_class=StreamingResponse,
)
async def customer_file(
    channel: Annotated[str, Path(pattern=CHANNEL_NAME)],
    file_id: Annotated[str, Path(pattern=FILE_ID)],
    operator: CurrentOperator,
    state: ReadyStateDep,
) -> StreamingResponse:
    source = state.router.get(channel)
    if source is None or not source.capabilities.files:
        raise HTTPException(404, f"no connected channel {channel!r} keeps customers' files")
    async with state.db.reader() as session:
        attachment = await find_attachment(session, channel, file_id)
    if attachment is None or attachment.get("stored"):  # a stored file is /api/files/{id}
        raise HTTPException(404, f"no stored {channel} message has this file")
    try:
        url = await source.file_url(file_id)
    except FileGone as exc:
        raise HTTPException(404, f"the {channel} channel no longer has this file ({exc})") from None
    except BotdeskError as exc:
        raise HTTPException(502, f"the {channel} channel did not give the file: {exc}") from None
    client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        upstream = await client.send(client.build_request("GET", url), stream=True)
    except httpx.HTTPError as exc:
        await client.aclose()
        raise HTTPException(
            502, f"the file could not be fetched from the {channel} channel ({type(exc).__name__})"
        ) from None
    if upstream.status_code != 200:
        await upstream.aclose()
        await client.aclose()
        raise HTTPException(502, f"the {channel} channel answered HTTP {upstream.status_code} for the file")

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    mime, headers = _headers(attachment, url, upstream)
    log.info("operator %s opened %s file %s (%s)", operator.id, channel, attachment.get("type"), mime)
    return StreamingResponse(
        upstream.aiter_raw(), media_type=mime, headers=headers, background=BackgroundTask(close)
    )
