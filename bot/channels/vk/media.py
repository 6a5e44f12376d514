"""Files both ways: a response's picture or document uploaded to VK, a customer's file found for operators.

Out, VK's upload flow: ask for an upload server (``photos.getMessagesUploadServer`` or
``docs.getMessagesUploadServer``), POST the file there, save it (``photos.saveMessagesPhoto``,
``docs.save``) and attach what VK returns (``photo-1_2_key``, ``doc-1_3``) to the message.
In, a customer's file is never copied: when an operator opens it, the message is asked
for again (``messages.getById``: VK's file addresses expire) and the file's current
address is streamed through the server (``bot/server/routes/files.py``).
"""

from __future__ import annotations

import logging
import mimetypes
from collections import OrderedDict
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.channels.base import ChannelUnavailable, FileGone
from bot.channels.vk.api import VkApi, VkApiError
from bot.channels.vk.inbound import CHANNEL, as_dict
from bot.store import Database
from bot.store.channel_history import find_attachment

log = logging.getLogger("botdesk.channels.vk")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
REMEMBERED_UPLOADS = 1000


def attachment_source(attachment: Any) -> tuple[str, str | None] | None:
    """A response's ``attachment`` as (URL, title): a URL, or ``{"url"|"src": ..., "title": ...}``."""
    url: Any
    title: Any
    if isinstance(attachment, str):
        url, title = attachment, None
    elif isinstance(attachment, dict):
        payload = as_dict(attachment.get("payload")) or attachment
        url = payload.get("url") or payload.get("src")
        title = attachment.get("title") or attachment.get("name") or payload.get("title")
    else:
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return url, str(title) if title else None


def file_name(url: str, mime: str | None, fallback: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])[:100]
    if "." not in name:
        name = fallback + (mimetypes.guess_extension(mime or "") or "")
    return name


def upload_url(server: Any, method: str) -> str:
    """The upload server's address from ``*.getMessagesUploadServer``."""
    url = as_dict(server).get("upload_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise VkApiError(-1, "no upload server given", method)
    return url


def _largest(sizes: Any) -> str | None:
    best: tuple[int, str] | None = None
    for size in sizes if isinstance(sizes, list) else []:
        if isinstance(size, dict) and isinstance(size.get("url"), str):
            area = int(size.get("width") or 0) * int(size.get("height") or 0)
            if best is None or area >= best[0]:
                best = (area, size["url"])
    return best[1] if best else None


def download_url(raw: dict[str, Any]) -> tuple[str, str | None] | None:
    """(our file id, VK's current address) of one attachment of a fetched message."""
    kind = raw.get("type")
    item = raw.get(kind) if isinstance(kind, str) else None
    if not isinstance(item, dict):
        return None
    if kind == "sticker":
        sticker = item.get("sticker_id")
        return f"sticker{sticker}", _largest(item.get("images"))
    file_id = f"{kind}{item.get('owner_id')}_{item.get('id')}"
    if kind == "photo":
        return file_id, _largest(item.get("sizes"))
    if kind == "audio_message":
        return file_id, item.get("link_ogg") or item.get("link_mp3")
    if kind in ("doc", "graffiti"):
        return file_id, item.get("url")
    return None


class Media:
    """Uploads for one community's messages and downloads of its customers' files."""

    def __init__(self, api: VkApi, database: Database) -> None:
        self.api = api
        self.db = database
        self._uploaded: OrderedDict[tuple[int, str], str] = OrderedDict()

    def _remember(self, key: tuple[int, str], attachment: str) -> str:
        self._uploaded[key] = attachment
        while len(self._uploaded) > REMEMBERED_UPLOADS:
            self._uploaded.popitem(last=False)
        return attachment

    async def _fetch(self, url: str) -> tuple[bytes, str | None] | None:
        """The file to upload, or None (logged) when its own server does not give it."""
        try:
            return await self.api.download(url, MAX_UPLOAD_BYTES)
        except ChannelUnavailable as exc:
            log.warning("a response's file could not be fetched for VK (%s): sent without it", exc)
            return None

    async def photo(self, peer_id: int, url: str) -> str | None:
        """The attachment string of the picture at ``url`` for ``peer_id``, uploaded once."""
        key = (peer_id, url)
        if key in self._uploaded:
            return self._uploaded[key]
        fetched = await self._fetch(url)
        if fetched is None:
            return None
        content, mime = fetched
        mime = mime if mime and mime.startswith("image/") else "image/jpeg"
        server = await self.api.call("photos.getMessagesUploadServer", peer_id=peer_id)
        uploaded = await self.api.upload(
            upload_url(server, "photos.getMessagesUploadServer"),
            "photo",
            file_name(url, mime, "photo"),
            content,
            mime,
        )
        if not uploaded.get("photo") or uploaded.get("photo") == "[]":
            log.warning("VK did not take a response's picture (not an image VK accepts): sent without it")
            return None
        saved = await self.api.call(
            "photos.saveMessagesPhoto",
            photo=uploaded["photo"],
            server=uploaded.get("server"),
            hash=uploaded.get("hash"),
        )
        photo = as_dict(saved[0] if isinstance(saved, list) and saved else None)
        if not isinstance(photo.get("owner_id"), int) or not isinstance(photo.get("id"), int):
            raise VkApiError(-1, "saved no photo", "photos.saveMessagesPhoto")
        attachment = f"photo{photo['owner_id']}_{photo['id']}"
        if isinstance(photo.get("access_key"), str) and photo["access_key"].isalnum():
            attachment += f"_{photo['access_key']}"
        return self._remember(key, attachment)

    async def document(self, peer_id: int, url: str, title: str | None) -> str | None:
        """The attachment string of the file at ``url`` for ``peer_id``, uploaded once."""
        key = (peer_id, url)
        if key in self._uploaded:
            return self._uploaded[key]
        fetched = await self._fetch(url)
        if fetched is None:
            return None
        content, mime = fetched
        name = file_name(url, mime, "file")
        server = await self.api.call("docs.getMessagesUploadServer", type="doc", peer_id=peer_id)
        uploaded = await self.api.upload(
            upload_url(server, "docs.getMessagesUploadServer"),
            "file",
            name,
            content,
            mime or "application/octet-stream",
        )
        saved = await self.api.call("docs.save", file=uploaded.get("file"), title=(title or name)[:128])
        doc = as_dict(as_dict(saved).get("doc"))
        if not isinstance(doc.get("owner_id"), int) or not isinstance(doc.get("id"), int):
            raise VkApiError(-1, "saved no document", "docs.save")
        return self._remember(key, f"doc{doc['owner_id']}_{doc['id']}")

    async def file_url(self, file_id: str, group_id: int | None) -> str:
        """The current address of a file a customer sent (the URL is VK's, never shown to a browser).

        Raises:
            FileGone: no stored message has it, or VK no longer does.
            ChannelUnavailable: VK cannot be asked now.
        """
        async with self.db.reader() as session:
            stored = await find_attachment(session, CHANNEL, file_id)
        message_id = stored.get("vk_message_id") if stored else None
        if not isinstance(message_id, int):
            raise FileGone("no stored VK message has this file")
        try:
            found = await self.api.call("messages.getById", message_ids=message_id, group_id=group_id)
        except VkApiError as exc:
            raise ChannelUnavailable(str(exc)) from None
        items = as_dict(found).get("items")
        for message in items if isinstance(items, list) else []:
            for raw in as_dict(message).get("attachments") or []:
                located = download_url(as_dict(raw))
                if located is not None and located[0] == file_id and located[1]:
                    return located[1]
        raise FileGone("VK no longer has this file (the message was deleted)")
