"""botdesk's ``OutboundMessage`` as Telegram messages: labelled text, split, with a keyboard.

Every message says who speaks (``labelled()``: the bot's label, or the operator's
name), every part of a long one too. Telegram takes at most 4096 characters (UTF-16
code units) per message, so longer text is cut at a paragraph, else a line, else a
space. Response buttons become an inline keyboard (pressing sends the payload back)
or a reply keyboard (pressing sends the title, which the channel maps back to the
payload); a question for the phone gets a "share my number" button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels.text import split_text as split_utf16
from bot.channels.text import utf16_len
from bot.messages import OutboundMessage

MAX_CHARS = 4096
MAX_CALLBACK_BYTES = 64
SHARE_CONTACT = {"ru": "📱 Отправить мой номер", "en": "📱 Share my phone number"}
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
KeyboardStyle = Literal["inline", "reply"]


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units (Telegram's count), cut at natural breaks."""
    return split_utf16(text, limit)


@dataclass(frozen=True)
class Part:
    text: str
    markup: Markup | None = None


def inline_keyboard(buttons: list[dict[str, Any]]) -> InlineKeyboardMarkup | None:
    """One button per row; the payload travels as callback data (64 bytes at most, else the title)."""
    rows = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "").strip()
        payload = str(button.get("payload") or title)
        if len(payload.encode("utf-8")) > MAX_CALLBACK_BYTES:
            payload = title  # the title goes in as the customer's words
        if title and len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES:
            rows.append([InlineKeyboardButton(title[:100], callback_data=payload)])
    return InlineKeyboardMarkup(rows) if rows else None


def reply_keyboard(buttons: list[dict[str, Any]]) -> ReplyKeyboardMarkup | None:
    titles = [str(b.get("title") or "").strip()[:100] for b in buttons]
    rows = [[KeyboardButton(title)] for title in titles if title]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True) if rows else None


def contact_keyboard(text: str) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(text, request_contact=True)]], resize_keyboard=True, one_time_keyboard=True
    )


def render(
    message: OutboundMessage,
    style: KeyboardStyle,
    *,
    ask_contact: str | None = None,
    remove_keyboard: bool = False,
) -> list[Part]:
    """The Telegram messages for one botdesk message; the keyboard goes with the last part.

    ``ask_contact``: the "share my number" button's text, for a question for the phone;
    ``remove_keyboard``: a reply keyboard is showing and this message has none of its own.
    """
    label = f"{message.sender_name}: "
    parts = [Part(label + chunk) for chunk in split_text(message.text, MAX_CHARS - utf16_len(label))]
    markup: Markup | None = None
    if ask_contact is not None:
        markup = contact_keyboard(ask_contact)
    elif message.buttons:
        markup = inline_keyboard(message.buttons) if style == "inline" else reply_keyboard(message.buttons)
    if markup is None and remove_keyboard:
        markup = ReplyKeyboardRemove()
    parts[-1] = Part(parts[-1].text, markup)
    return parts
