"""botdesk's ``OutboundMessage`` as WhatsApp messages: labelled text, split, with buttons or a list.

Every message says who speaks (the bot's label, or the operator's name), every part of
a long one too. WhatsApp takes at most 4096 characters of text per message (counted
here as UTF-16 units, the stricter count), so longer text is cut at a paragraph, else a
line, else a space. Response buttons become reply buttons (``interactive`` ``button``:
at most 3, titles of 20 characters) or, for 4 to 10 of them, a list (``interactive``
``list``: rows of 24 characters, the whole title in the row's description when it was
cut); a reply carries the button's id, and the id is the button's payload, so a press
goes in as ``/affirm`` as in every other channel. An interactive message's text is at
most 1024 characters: the text before goes out as plain messages first. More than 10
buttons: the first 10 (WhatsApp shows no more).
"""

from __future__ import annotations

from typing import Any

from bot.channels.text import split_text as split_utf16
from bot.channels.text import utf16_len
from bot.messages import OutboundMessage

MAX_TEXT = 4096
MAX_INTERACTIVE_TEXT = 1024
MAX_BUTTONS = 3
MAX_ROWS = 10
MAX_BUTTON_TITLE = 20
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_BUTTON_ID = 256
MAX_ROW_ID = 200
LIST_BUTTON = {"ru": "Выбрать", "en": "Choose"}
Payload = dict[str, Any]


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units (WhatsApp's count), cut at natural breaks."""
    return split_utf16(text, limit)


def shorten(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, an ellipsis where it was cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def choices(buttons: list[dict[str, Any]], id_limit: int) -> list[tuple[str, str]]:
    """(id, title) per button: the id is its payload (else its title), unique, within ``id_limit``."""
    seen: set[str] = set()
    found = []
    for button in buttons:
        title = " ".join(str(button.get("title") or button.get("payload") or "").split())
        payload = str(button.get("payload") or title).strip()
        if len(payload) > id_limit:
            payload = title[:id_limit]  # the title goes in as the customer's words
        if not title or not payload or payload in seen:
            continue
        seen.add(payload)
        found.append((payload, title))
    return found


def text_message(body: str) -> Payload:
    return {"type": "text", "text": {"preview_url": False, "body": body}}


def button_message(body: str, buttons: list[tuple[str, str]]) -> Payload:
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": key, "title": shorten(title, MAX_BUTTON_TITLE)}}
                    for key, title in buttons
                ]
            },
        },
    }


def list_message(body: str, rows: list[tuple[str, str]], button: str) -> Payload:
    items = []
    for key, title in rows:
        row = {"id": key, "title": shorten(title, MAX_ROW_TITLE)}
        if row["title"] != title:
            row["description"] = shorten(title, MAX_ROW_DESCRIPTION)
        items.append(row)
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": shorten(button, MAX_BUTTON_TITLE), "sections": [{"rows": items}]},
        },
    }


def render(message: OutboundMessage, list_button: str = LIST_BUTTON["ru"]) -> list[Payload]:
    """The WhatsApp messages (without ``to``) for one botdesk message; buttons go with the last part.

    Example::

        render(OutboundMessage("whatsapp", "79001234567", 1, "Ответ помог?", "bot", "🤖 Бот",
                               buttons=[{"title": "Да", "payload": "/affirm"}]))
        # [{"type": "interactive",
        #   "interactive": {"type": "button", "body": {"text": "🤖 Бот: Ответ помог?"}, ...}}]
    """
    label = f"{message.sender_name}: "
    found = choices(message.buttons, MAX_BUTTON_ID if len(message.buttons) <= MAX_BUTTONS else MAX_ROW_ID)
    if not message.text.strip() and not found:
        return []  # a picture alone, say: nothing to write
    room = MAX_TEXT - utf16_len(label)
    parts = split_text(message.text, room)
    if found and utf16_len(parts[-1]) > MAX_INTERACTIVE_TEXT - utf16_len(label):
        parts[-1:] = split_text(parts[-1], MAX_INTERACTIVE_TEXT - utf16_len(label))
    payloads = [text_message(label + part) for part in parts[:-1]]
    last = label + parts[-1] if parts[-1].strip() else label.rstrip(": ") or "…"
    if not found:
        payloads.append(text_message(last))
    elif len(found) <= MAX_BUTTONS:
        payloads.append(button_message(last, found))
    else:
        payloads.append(list_message(last, found[:MAX_ROWS], list_button))
    return payloads
