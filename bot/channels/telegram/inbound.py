"""Telegram updates as botdesk's ``InboundMessage``: text, button presses, contacts, files.

Only this package knows Telegram's types. A message becomes the customer's text (a
caption counts as text); a shared contact becomes its phone number; a photo, document,
voice message, sticker or video becomes an attachment the operator can open through
the server (``url``), and the bot, which reads text, says so. What is neither text nor
a file (a location, a poll) is kept as an attachment of that type without a file.
"""

from __future__ import annotations

from typing import Any

from telegram import Contact, Message, User

from bot.messages import InboundMessage

CHANNEL = "telegram"
FILE_ROUTE = "/api/files/telegram/{file_id}"
FILE_KINDS = ("photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation")
OTHER_KINDS = ("location", "venue", "poll", "dice", "game", "story", "invoice")
STICKER_TYPES = {"animated": "application/x-tgsticker", "video": "video/webm", "static": "image/webp"}


def profile_of(user: User) -> dict[str, Any]:
    """What operators see about the customer: name, @username, the app's language."""
    profile: dict[str, Any] = {"name": user.full_name, "first_name": user.first_name}
    for key, value in (
        ("last_name", user.last_name),
        ("username", user.username),
        ("language_code", user.language_code),
    ):
        if value:
            profile[key] = value
    return profile


def contact_phone(contact: Contact) -> str:
    """Telegram sends "79123456789" or "+79123456789"; the form and the store want the "+"."""
    phone = contact.phone_number.strip()
    return phone if phone.startswith("+") else f"+{phone}"


def is_own_contact(message: Message) -> bool:
    """The "share my number" button sends the customer's own, verified by Telegram."""
    contact, user = message.contact, message.from_user
    return contact is not None and user is not None and contact.user_id == user.id


def attachments_of(message: Message) -> list[dict[str, Any]]:
    """Files in the message as ``{"type", "file_id", "file_unique_id", "caption", "mime_type",
    "file_name", "file_size", "url"}``; ``url`` fetches the file through botdesk (operators only)."""
    caption = message.caption
    for kind in FILE_KINDS:
        value = getattr(message, kind, None)
        if not value:
            continue
        item = value[-1] if isinstance(value, tuple) else value  # photos: the largest size is last
        mime = getattr(item, "mime_type", None)
        if kind == "photo":
            mime = "image/jpeg"
        elif kind == "sticker":
            mime = STICKER_TYPES.get(
                "animated" if item.is_animated else "video" if item.is_video else "static"
            )
        attachment: dict[str, Any] = {
            "type": kind,
            "file_id": item.file_id,
            "file_unique_id": item.file_unique_id,
            "caption": caption,
            "mime_type": mime,
            "file_name": getattr(item, "file_name", None),
            "file_size": getattr(item, "file_size", None),
            "url": FILE_ROUTE.format(file_id=item.file_id),
        }
        if kind == "sticker" and item.emoji:
            attachment["emoji"] = item.emoji
        return [attachment]
    for kind in OTHER_KINDS:
        if getattr(message, kind, None):
            return [
                {
                    "type": kind,
                    "file_id": None,
                    "file_unique_id": None,
                    "caption": caption,
                    "mime_type": None,
                    "file_name": None,
                }
            ]
    return []


def to_inbound(message: Message, *, edited: bool = False, text: str | None = None) -> InboundMessage | None:
    """The customer's message, or None when there is nothing to keep (a service message).

    ``text`` replaces the message's own (a pressed reply-keyboard button's payload). An
    edited message gets its own id (``<id>:edit:<unix time>``): each edit is stored once.
    """
    user = message.from_user
    if user is None:
        return None
    attachments = attachments_of(message)
    if text is None:
        if message.contact is not None:
            text = contact_phone(message.contact)
        else:
            text = message.text or message.caption or ""
    if not text.strip() and not attachments:
        return None
    message_id = str(message.message_id)
    if edited:
        stamp = message.edit_date or message.date
        message_id += f":edit:{int(stamp.timestamp())}"
    return InboundMessage(
        channel=CHANNEL,
        sender_id=str(user.id),
        text=text,
        message_id=message_id,
        attachments=tuple(attachments),
        profile=profile_of(user),
    )
