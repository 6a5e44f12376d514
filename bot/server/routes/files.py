"""Customers' files for operators: fetched from the customer's channel only when an operator asks.

Files never leave the platform's servers for ours until an operator opens one: the proxy
looks the file up among stored messages (a file nobody sent us, or of a forgotten
customer, is a 404), asks the channel where it is (``Channel.file_url``) and streams it
through. The download URL may hold the channel's credentials (Telegram's does), or the
download may need them in a header (WhatsApp's bearer token, ``Channel.file_headers``), so
neither ever reaches the browser. Served inline only for images, never as something a browser
would run.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from bot.channels.base import FileGone
from bot.errors import BotdeskError
from bot.server.auth import CurrentOperator
from bot.server.deps import ReadyStateDep
from bot.store.channel_history import find_attachment

router = APIRouter(tags=["operator panel"])
log = logging.getLogger("botdesk.server")
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
FILE_ID = r"^[A-Za-z0-9_-]{1,255}$"
CHANNEL_NAME = r"^[a-z][a-z0-9_]{0,31}$"


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
    if attachment is None:
        raise HTTPException(404, f"no stored {channel} message has this file")
    try:
        url = await source.file_url(file_id)
    except FileGone as exc:
        raise HTTPException(404, f"the {channel} channel no longer has this file ({exc})") from None
    except BotdeskError as exc:
        raise HTTPException(502, f"the {channel} channel did not give the file: {exc}") from None
    client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        request = client.build_request("GET", url, headers=source.file_headers(url))
        upstream = await client.send(request, stream=True)
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
