"""Telegram over HTTP: the webhook Telegram POSTs updates to, and customers' files for operators.

The webhook checks ``X-Telegram-Bot-Api-Secret-Token`` on every update (403 on a
mismatch) and answers only once the update is stored: an update that could not be
stored gets a 503, and Telegram sends it again later (stored once: by its message id).

Files never leave Telegram's servers for ours until an operator asks: the proxy looks
the file up among stored messages (a file nobody sent us, or of a forgotten customer,
is a 404), asks Telegram where it is and streams it through. The download URL holds
the bot's token, so it never reaches the browser.
"""

from __future__ import annotations

import hmac
import logging
import mimetypes
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import String, cast, select
from starlette.background import BackgroundTask
from telegram.error import BadRequest, TelegramError

from bot.channels.telegram import CHANNEL, UpdateNotStored
from bot.channels.telegram.channel import TelegramChannel
from bot.json_input import JsonInputError, parse_json_input
from bot.server.auth import CurrentOperator
from bot.server.deps import NO_DATABASE, ReadyStateDep, StateDep
from bot.server.lifespan import ServerState
from bot.store import Conversation, Database, Direction, Message

router = APIRouter(tags=["telegram channel"])
log = logging.getLogger("botdesk.channels.telegram")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 256 * 1024  # the body limit of WEBHOOK_PATH (bot.server.request_guard)
WEBHOOK_PATH = "/webhooks/telegram"
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
FILE_ID = r"^[A-Za-z0-9_-]{1,255}$"


def _channel(state: ServerState) -> TelegramChannel:
    channel: TelegramChannel | None = state.telegram
    if channel is None:
        raise HTTPException(404, "the Telegram channel is not connected (no TELEGRAM_BOT_TOKEN)")
    return channel


@router.post(
    WEBHOOK_PATH,
    summary="Telegram's webhook: one update per request, secret token checked",
    include_in_schema=False,
)
async def webhook(request: Request, state: StateDep) -> dict[str, bool]:
    channel = _channel(state)
    if not channel.webhook:
        raise HTTPException(404, "the Telegram channel runs in polling mode (channels.telegram.mode)")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), channel.options.webhook_secret.encode()):
        log.warning("Telegram webhook call with a wrong secret token refused")
        raise HTTPException(403, f"wrong or missing {SECRET_HEADER}")
    if not state.ready:
        raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"})
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        raise HTTPException(413, f"an update is at most {MAX_UPDATE_BYTES} bytes")
    try:
        data = parse_json_input(body)
    except JsonInputError:
        raise HTTPException(400, "the body must be a Telegram Update as JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise HTTPException(400, "the body must be a Telegram Update with an integer update_id")
    try:
        await channel.process(data)
    except UpdateNotStored:
        raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"}) from None
    return {"ok": True}


async def find_attachment(db: Database, file_id: str) -> dict[str, Any] | None:
    """The stored attachment with this file id, from a Telegram customer's message."""
    async with db.reader() as session:
        rows = await session.scalars(
            select(Message.attachments)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.channel == CHANNEL,
                Message.direction == Direction.IN,
                cast(Message.attachments, String).contains(file_id, autoescape=True),
            )
            .order_by(Message.id.desc())
            .limit(10)
        )
        for attachments in rows:
            for item in attachments or []:
                if isinstance(item, dict) and item.get("file_id") == file_id:
                    return item
    return None


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
    "/api/files/telegram/{file_id}",
    summary="A file a Telegram customer sent (photo, document, voice...), streamed through the server",
    response_class=StreamingResponse,
)
async def telegram_file(
    file_id: Annotated[str, Path(pattern=FILE_ID)], operator: CurrentOperator, state: ReadyStateDep
) -> StreamingResponse:
    channel = _channel(state)
    attachment = await find_attachment(state.db, file_id)
    if attachment is None:
        raise HTTPException(404, "no stored Telegram message has this file")
    try:
        url = await channel.file_url(file_id)
    except BadRequest as exc:
        raise HTTPException(404, f"Telegram no longer has this file ({exc.message})") from None
    except TelegramError as exc:
        raise HTTPException(502, f"Telegram did not give the file: {exc.message}") from None
    client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        upstream = await client.send(client.build_request("GET", url), stream=True)
    except httpx.HTTPError as exc:
        await client.aclose()
        raise HTTPException(
            502, f"the file could not be fetched from Telegram ({type(exc).__name__})"
        ) from None
    if upstream.status_code != 200:
        await upstream.aclose()
        await client.aclose()
        raise HTTPException(502, f"Telegram answered HTTP {upstream.status_code} for the file")

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    mime, headers = _headers(attachment, url, upstream)
    log.info("operator %s opened Telegram file %s (%s)", operator.id, attachment.get("type"), mime)
    return StreamingResponse(
        upstream.aiter_raw(), media_type=mime, headers=headers, background=BackgroundTask(close)
    )
