"""Files as the rest of botdesk uses them: checked, kept, recorded, linked to their message, served.

``FileService`` joins the backend (the bytes), the policy (what is accepted) and the
store's rows (whose file it is). Channels and routes use it; none of them touches a
backend or builds a path.

Example (a channel receiving a customer's photo)::

    files = FileService(store, FilePolicy(config.files), database)
    kept = await files.accept(body_chunks, name="чек.jpg", channel="web", sender=Sender.CUSTOMER)
    inbound = InboundMessage("web", visitor, caption, attachments=(kept.attachment,))
    handled = await conversations.handle_and_account(inbound)
    await files.link_inbound(inbound)  # from now on this customer may read it
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.files.base import Data, FileError, FileStore, StoredFile, read_limited
from bot.files.policy import FilePolicy, is_inline
from bot.messages import InboundMessage
from bot.store import Database
from bot.store.files import (
    add_file,
    file_for_sender,
    file_row,
    forget_files,
    link_files,
    link_inbound_files,
    orphans,
)
from bot.store.models import Sender, StoredFileRow

log = logging.getLogger("botdesk.files")
FILE_URL = "/api/files/{file_id}"
"""Where operators open a stored file (the panel); customers use their channel's own route."""

ORPHAN_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class Kept:
    """A file accepted and kept: the stored file, and the attachment its message carries."""

    file: StoredFile

    @property
    def attachment(self) -> dict[str, Any]:
        return attachment_of(self.file)


def attachment_of(file: StoredFile | StoredFileRow) -> dict[str, Any]:
    """A message's attachment for a stored file, as the store keeps it and the panel shows it.

    ``stored: true`` tells it from the channels' own attachments (a pressed button, a file
    still on Telegram's servers); ``type`` is ``photo`` for an image shown inline, else
    ``document``.
    """
    return {
        "type": "photo" if is_inline(file.mime) else "document",
        "stored": True,
        "file_id": file.id,
        "file_name": file.name,
        "mime_type": file.mime,
        "file_size": file.size,
        "url": FILE_URL.format(file_id=file.id),
    }


def attachment_files(attachments: Sequence[Any]) -> list[dict[str, Any]]:
    """The stored files among a message's attachments as a customer's client shows them:
    ``[{id, name, mime, size, inline}]`` (``inline``: an image to show, else a download)."""
    return [
        {
            "id": str(item["file_id"]),
            "name": str(item.get("file_name") or "file"),
            "mime": str(item.get("mime_type") or "application/octet-stream"),
            "size": int(item.get("file_size") or 0),
            "inline": is_inline(str(item.get("mime_type") or "")),
        }
        for item in attachments
        if isinstance(item, dict) and item.get("stored") and isinstance(item.get("file_id"), str)
    ]


def stored_file_ids(attachments: Sequence[Any]) -> list[str]:
    """The ids of the stored files among a message's attachments."""
    return [
        str(item["file_id"])
        for item in attachments
        if isinstance(item, dict) and item.get("stored") and isinstance(item.get("file_id"), str)
    ]


class FileService:
    """Accepts, records, links and serves files (see the module docstring).

    Args:
        store: the configured backend (started by the caller).
        policy: the size limit and allowed types (config.yml ``files``).
        database: where the files' rows live.
    """

    def __init__(self, store: FileStore, policy: FilePolicy, database: Database) -> None:
        self.store = store
        self.policy = policy
        self.database = database

    @property
    def max_bytes(self) -> int:
        return self.policy.max_bytes

    async def accept(
        self,
        data: Data,
        *,
        name: str | None,
        channel: str,
        sender: Sender,
        conversation_id: int | None = None,
        operator_id: int | None = None,
        source_id: str | None = None,
    ) -> Kept:
        """Read within the limit, check the content, keep it, and record its row (committed).

        Raises:
            FileTooLarge: over ``files.max_bytes`` (found while reading; nothing kept).
            FileRefused: a type not accepted (nothing kept).
            FileError: the backend failed (nothing recorded).
        """
        content = await read_limited(data, self.policy.max_bytes)
        checked = self.policy.check(content, name)
        stored = await self.store.put(content, name=checked.name, mime=checked.mime)
        try:
            async with self.database.sessions() as session, session.begin():
                await add_file(
                    session,
                    file_id=stored.id,
                    name=stored.name,
                    mime=stored.mime,
                    size=stored.size,
                    sha256=stored.sha256,
                    backend=self.store.name,
                    channel=channel,
                    sender=sender,
                    conversation_id=conversation_id,
                    operator_id=operator_id,
                    source_id=source_id,
                )
        except BaseException:
            await self._delete_quietly(stored.id)
            raise
        log.info("kept a %s file of %d bytes from the %s channel", stored.mime, stored.size, channel)
        return Kept(stored)

    async def link(self, file_ids: Sequence[str], *, conversation_id: int, message_id: int) -> int:
        """Tie files to the message they were sent in (from then on its customer may read them)."""
        if not file_ids:
            return 0
        async with self.database.sessions() as session, session.begin():
            return await link_files(session, file_ids, conversation_id=conversation_id, message_id=message_id)

    async def link_inbound(self, inbound: InboundMessage) -> int:
        """After a customer's message was stored: tie its stored files to it (so its customer may
        read them). Call it when the turn returned, and when it was refused but the message kept."""
        file_ids = stored_file_ids(inbound.attachments)
        if not file_ids:
            return 0
        async with self.database.sessions() as session, session.begin():
            return await link_inbound_files(session, inbound.channel, inbound.sender_id, file_ids)

    async def for_operator(self, file_id: str) -> StoredFileRow | None:
        """The row of any stored file (the route has checked the operator's role)."""
        async with self.database.reader() as session:
            return await file_row(session, file_id)

    async def for_sender(self, file_id: str, channel: str, external_id: str) -> StoredFileRow | None:
        """The row, if the file was sent in a conversation of this channel sender's customer."""
        async with self.database.reader() as session:
            return await file_for_sender(session, file_id, channel, external_id)

    def open(self, file_id: str) -> AsyncIterator[bytes]:
        return self.store.open(file_id)

    async def read(self, file_id: str) -> bytes:
        return await self.store.read(file_id)

    async def sweep_orphans(self, now: datetime, *, age: timedelta = ORPHAN_AGE) -> int:
        """Delete files no message holds after ``age`` (failed sends, forgotten customers)."""
        async with self.database.reader() as session:
            found = [row.id for row in await orphans(session, older_than=now - age)]
        deleted = [file_id for file_id in found if await self._delete_quietly(file_id)]
        if deleted:  # a row goes only with its bytes: what failed is tried again next time
            async with self.database.sessions() as session, session.begin():
                await forget_files(session, deleted)
            log.info("deleted %d files no message holds", len(deleted))
        return len(deleted)

    async def _delete_quietly(self, file_id: str) -> bool:
        try:
            await self.store.delete(file_id)
        except FileError as exc:
            log.warning("a stored file could not be deleted now (%s); the next sweep tries again", exc)
            return False
        return True
