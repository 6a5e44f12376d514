"""VK's community-message events as botdesk's ``InboundMessage``: text, button presses, files.

Only this package knows VK's objects. A ``message_new`` from a person in a private
dialogue becomes the customer's text; a pressed keyboard button sends its label and the
``payload`` botdesk gave it (``{"b": "/affirm"}``), and the payload goes in, as Telegram's
callback data does; VK's own "Начать" button (``{"command": "start"}``) is a greeting.
Photos, documents, voice messages and stickers become attachments the operator opens
through the server (``url``); what has no file to fetch (a video, a wall post, a place)
is kept as an attachment of its kind. A message is stored once by its VK id, so a
Callback API retry or a Long Poll replay is answered once.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any

from bot.json_input import JsonInputError, parse_json_input
from bot.messages import InboundMessage

CHANNEL = "vk"
FILE_ROUTE = "/api/files/vk/{file_id}"
BUTTON_KEY = "b"  # our payloads: {"b": "<the button's payload>"}
MAX_PAYLOAD_CHARS = 1024  # VK sends at most 255; anything longer is not a button's
CHAT_PEERS = 2_000_000_000  # peer ids from here on are group chats, not a person's dialogue
# VK's kind -> (botdesk's kind, as the panel names it; does it carry a file we can fetch?)
KINDS: dict[str, tuple[str, bool]] = {
    "photo": ("photo", True),
    "doc": ("document", True),
    "audio_message": ("voice", True),
    "sticker": ("sticker", True),
    "graffiti": ("image", True),
    "video": ("video", False),
    "audio": ("audio", False),
    "wall": ("wall", False),
    "wall_reply": ("wall_reply", False),
    "link": ("link", False),
    "market": ("product", False),
    "poll": ("poll", False),
    "gift": ("gift", False),
    "story": ("story", False),
    "call": ("call", False),
}


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: VK's payloads are read, never trusted."""
    return value if isinstance(value, dict) else {}


def message_of(event: dict[str, Any]) -> dict[str, Any]:
    """The message of a ``message_new`` event (``object.message``; flat before API 5.103)."""
    obj = as_dict(event.get("object"))
    return as_dict(obj["message"]) if isinstance(obj.get("message"), dict) else obj


@dataclass(frozen=True)
class Incoming:
    """A customer's message as VK sent it, before botdesk reads it."""

    user_id: int
    message_id: str
    text: str
    payload: str | None
    attachments: tuple[dict[str, Any], ...]


def payload_command(payload: str | None) -> tuple[str, str] | None:
    """``("button", "/affirm")`` for our buttons, ``("start", "")`` for VK's start button, else None."""
    if not payload or len(payload) > MAX_PAYLOAD_CHARS:
        return None
    try:
        data = parse_json_input(payload)
    except JsonInputError:
        return None
    if not isinstance(data, dict):
        return None
    button = data.get(BUTTON_KEY)
    if isinstance(button, str) and button.strip():
        return "button", button
    if data.get("command") == "start":
        return "start", ""
    return None


def _file_id(kind: str, item: dict[str, Any]) -> str | None:
    if kind == "sticker":
        sticker = item.get("sticker_id")
        return f"sticker{int(sticker)}" if isinstance(sticker, int) else None
    owner, number = item.get("owner_id"), item.get("id")
    if isinstance(owner, int) and isinstance(number, int):
        return f"{kind}{owner}_{number}"  # VK's own name of it: photo-1_2, doc3_4
    return None


def _mime(kind: str, item: dict[str, Any]) -> str | None:
    if kind == "photo":
        return "image/jpeg"
    if kind in ("sticker", "graffiti"):
        return "image/png"
    if kind == "audio_message":
        return "audio/ogg"
    if kind == "doc":
        ext = str(item.get("ext") or "").lower()
        return mimetypes.guess_type(f"file.{ext}")[0] if ext.isalnum() else None
    return None


def attachments_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Files in the message as ``{"type", "file_id", "caption", "mime_type", "file_name", "file_size",
    "url", "vk_message_id"}``; ``url`` fetches the file through botdesk (operators only)."""
    found: list[dict[str, Any]] = []
    message_id = message.get("id")
    for raw in message.get("attachments") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            continue
        vk_kind = raw["type"]
        item = as_dict(raw.get(vk_kind))
        kind, has_file = KINDS.get(vk_kind, (vk_kind[:32], False))
        file_id = _file_id(vk_kind, item) if has_file else None
        attachment: dict[str, Any] = {
            "type": kind,
            "file_id": file_id,
            "caption": None,
            "mime_type": _mime(vk_kind, item) if file_id else None,
            "file_name": str(item["title"])[:255] if vk_kind == "doc" and item.get("title") else None,
            "file_size": item.get("size") if isinstance(item.get("size"), int) else None,
        }
        if file_id is not None:
            attachment["url"] = FILE_ROUTE.format(file_id=file_id)
            attachment["vk_message_id"] = message_id
        found.append(attachment)
    geo = message.get("geo")
    if isinstance(geo, dict):
        found.append(
            {"type": "location", "file_id": None, "caption": None, "mime_type": None, "file_name": None}
        )
    return found


def incoming(event: dict[str, Any]) -> Incoming | None:
    """A ``message_new`` event's message from a person in a private dialogue, else None."""
    message = message_of(event)
    user, peer = message.get("from_id"), message.get("peer_id")
    if not isinstance(user, int) or user <= 0 or peer != user or peer >= CHAT_PEERS:
        return None  # a community, a group chat, or our own message
    if message.get("out") == 1:
        return None
    number, local = message.get("id"), message.get("conversation_message_id")
    if isinstance(number, int) and number > 0:
        message_id = str(number)
    elif isinstance(local, int):
        message_id = f"c{local}"
    else:
        return None
    text = message.get("text")
    payload = message.get("payload")
    return Incoming(
        user_id=user,
        message_id=message_id,
        text=text if isinstance(text, str) else "",
        payload=payload if isinstance(payload, str) else None,
        attachments=tuple(attachments_of(message)),
    )


def profile_of(user: dict[str, Any] | None) -> dict[str, Any] | None:
    """What operators see about the customer (``users.get``): name and VK address."""
    if not user:
        return None
    first, last = str(user.get("first_name") or ""), str(user.get("last_name") or "")
    profile: dict[str, Any] = {"name": f"{first} {last}".strip() or None, "first_name": first or None}
    if last:
        profile["last_name"] = last
    if user.get("screen_name"):
        profile["username"] = str(user["screen_name"])
        profile["link"] = f"https://vk.com/{user['screen_name']}"
    return {k: v for k, v in profile.items() if v}


def to_inbound(
    message: Incoming, *, text: str | None = None, profile: dict[str, Any] | None = None
) -> InboundMessage | None:
    """botdesk's message; ``text`` replaces the customer's own (a button's payload). None: nothing to keep."""
    said = message.text if text is None else text
    if not said.strip() and not message.attachments:
        return None
    return InboundMessage(
        channel=CHANNEL,
        sender_id=str(message.user_id),
        text=said,
        message_id=message.message_id,
        attachments=message.attachments,
        profile=profile,
    )
