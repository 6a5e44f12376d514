"""Mail attachments in botdesk's file store, both ways (docs/security.md, "Files").

In: each file of a customer's mail is kept in the file store like a file from the widget
or Telegram (``FileService.accept``: checked by its content, within ``files.max_bytes``
and ``files.allowed_types``); the message's attachment then points at ``/api/files/<id>``,
and once the message is stored the file is linked to it (``link_inbound``). A file the
store does not take (too large, a type not accepted, the store down) is still listed on
the message, by name, type and size, with why it was not kept: the operator knows the
customer sent it and can ask for it another way.

Out: an operator's files go as attachments of the mail, read from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.channels.email.parse import ParsedMail
from bot.files import FileError, FileMissing, FileRefused, FileTooLarge
from bot.files.service import FileService
from bot.messages import OutboundMessage
from bot.store import Sender

log = logging.getLogger("botdesk.channels.email")
CHANNEL = "email"


async def keep_files(files: FileService | None, parsed: ParsedMail) -> list[dict[str, Any]]:
    """The mail's files as the message's attachments: kept in the store where it takes them."""
    items: list[dict[str, Any]] = []
    for attachment in parsed.attachments:
        listed: dict[str, Any] = {
            "type": "photo" if attachment.mime_type.startswith("image/") else "document",
            "stored": False,
            "file_name": attachment.file_name,
            "mime_type": attachment.mime_type,
            "file_size": attachment.size,
        }
        if files is None or attachment.data is None:
            items.append({**listed, "not_kept": "no file store" if files is None else "too large"})
            continue
        try:
            kept = await files.accept(
                attachment.data, name=attachment.file_name or "file", channel=CHANNEL, sender=Sender.CUSTOMER
            )
        except FileTooLarge:
            items.append({**listed, "not_kept": "too large"})
        except FileRefused:
            items.append({**listed, "not_kept": "type not accepted"})
        except FileError as exc:
            log.warning("a mail's file could not be kept (%s); listed without it", type(exc).__name__)
            items.append({**listed, "not_kept": "file store unavailable"})
        else:
            items.append(kept.attachment)
    if parsed.dropped_attachments:
        items.append({"type": "document", "stored": False, "not_kept": f"{parsed.dropped_attachments} more"})
    return items


async def mail_files(
    files: FileService | None, messages: Sequence[OutboundMessage]
) -> list[tuple[str, str, bytes]]:
    """The stored files of the messages as (name, type, bytes), to attach to the mail."""
    found: list[tuple[str, str, bytes]] = []
    for message in messages:
        for item in message.files:
            if files is None:
                raise FileError("this server keeps no files")
            file_id = str(item.get("file_id") or "")
            try:
                data = await files.read(file_id)
            except FileMissing:
                log.warning(
                    "message %s: a file is no longer in the store; sent without it", message.message_id
                )
                continue
            name = str(item.get("file_name") or "file")
            mime = str(item.get("mime_type") or "application/octet-stream")
            found.append((name, mime, data))
    return found
