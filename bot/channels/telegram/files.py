"""Telegram files in botdesk's file store, both ways (docs/security.md, "Files").

In: a customer's photo, document, voice message or sticker is downloaded from Telegram
when it arrives and kept in the file store like a file from the widget (checked by its
content, within ``files.max_bytes``); the attachment then points at ``/api/files/<id>``
and keeps Telegram's ``type`` and ids. One model for every channel: operators open every
file through the same route, it outlives Telegram's own storage, and the token-bearing
download URL is used once, here, on the server. A file the store does not take (over the
limit, a type not accepted) or that cannot be downloaded now keeps the older proxy URL
(``/api/files/telegram/<file_id>``, fetched from Telegram when an operator opens it), so
nothing a customer sent is lost.

Out: an operator's files go with ``sendPhoto`` (an image shown inline) or ``sendDocument``
(anything else), uploaded from the store, the operator's name as the caption.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from telegram import Bot, InputFile
from telegram.error import TelegramError

from bot.files import FileError, FileMissing
from bot.files.service import FileService
from bot.messages import InboundMessage, OutboundMessage
from bot.store import Sender

log = logging.getLogger("botdesk.channels.telegram")
Call = Callable[..., Awaitable[Any]]
MAX_CAPTION = 1024


async def keep_files(
    bot: Bot, call: Call, files: FileService | None, inbound: InboundMessage
) -> InboundMessage:
    """The message with its Telegram files kept in the store (those that could be; see the module)."""
    if files is None or not any(item.get("file_id") for item in inbound.attachments):
        return inbound
    kept = []
    for item in inbound.attachments:
        kept.append(await _keep_one(bot, call, files, inbound.channel, item))
    return replace(inbound, attachments=tuple(kept))


async def _keep_one(
    bot: Bot, call: Call, files: FileService, channel: str, item: dict[str, Any]
) -> dict[str, Any]:
    file_id = item.get("file_id")
    if not isinstance(file_id, str) or item.get("stored"):
        return item
    size = item.get("file_size")
    if isinstance(size, int) and size > files.max_bytes:
        log.info("a Telegram %s of %d bytes stays on Telegram (files.max_bytes)", item.get("type"), size)
        return item
    try:
        remote = await call(bot.get_file, file_id=file_id)
        data = bytes(await remote.download_as_bytearray())
        stored = await files.accept(
            data,
            name=item.get("file_name") or f"{item.get('type') or 'file'}",
            channel=channel,
            sender=Sender.CUSTOMER,
            source_id=item.get("file_unique_id"),
        )
    except (TelegramError, FileError, OSError) as exc:
        log.info("a Telegram %s stays on Telegram (%s: %s)", item.get("type"), type(exc).__name__, exc)
        return item
    return {
        **item,
        **stored.attachment,
        "type": item.get("type") or stored.attachment["type"],  # voice, sticker...: how the panel names it
        "telegram_file_id": file_id,
    }


async def send_files(
    bot: Bot, call: Call, files: FileService | None, chat: int, message: OutboundMessage
) -> None:
    """Each stored file of the message: images as photos, the rest as documents, captioned by the sender."""
    if not message.files:
        return
    if files is None:
        raise FileError("this server keeps no files")
    caption = message.sender_name[:MAX_CAPTION]
    for item in message.files:
        file_id = str(item.get("file_id") or "")
        try:
            data = await files.read(file_id)
        except FileMissing:
            log.warning("message %s: a file is no longer in the store; sent without it", message.message_id)
            continue
        upload = InputFile(data, filename=str(item.get("file_name") or "file"))
        if item.get("type") == "photo":
            await call(bot.send_photo, chat_id=chat, photo=upload, caption=caption)
        else:
            await call(bot.send_document, chat_id=chat, document=upload, caption=caption)
