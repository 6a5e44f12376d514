"""botdesk's ``OutboundMessage`` as VK messages: labelled text, split, with a keyboard, idempotent.

Every message says who speaks (``labelled()``: the bot's label, or the operator's name),
every part of a long one too. VK takes at most 4096 characters per message, so longer
text is cut at a paragraph, else a line, else a space. Response buttons become a
keyboard of text buttons (a press sends the label and our payload back); the keyboard
goes with the last part. Each part has its own ``random_id``, derived from the stored
message's id: VK delivers a ``random_id`` once, so a message sent again after a timeout,
a flood wait or a restart never reaches the customer twice.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.channels.text import split_text as split_utf16
from bot.channels.text import utf16_len as vk_len
from bot.channels.vk.inbound import BUTTON_KEY
from bot.messages import OutboundMessage

MAX_CHARS = 4096
MAX_LABEL_CHARS = 40  # VK cuts a button's label here
MAX_PAYLOAD_CHARS = 255  # VK refuses a longer button payload
MAX_BUTTONS = {"reply": 40, "inline": 10}  # VK's limits: under the input field, under the message
MAX_ROWS = {"reply": 10, "inline": 6}
MAX_ROW = 5  # buttons in one row
SHORT_LABEL = 6  # buttons this short ("Да", "Нет", "1".."5") share a row
KeyboardStyle = Literal["reply", "inline"]
EMPTY_KEYBOARD: dict[str, Any] = {"one_time": True, "buttons": []}


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units (an emoji counts twice), cut at natural breaks."""
    return split_utf16(text, limit)


def random_id(message_id: int | None, part: int) -> int:
    """The ``random_id`` of one part of a stored message: the same on every attempt (int32, not 0).

    A message without an id (nothing stored: it cannot be sent again) gets a random one.
    """
    if message_id is None:
        return secrets.randbelow(2**31 - 1) + 1
    digest = hashlib.blake2b(f"botdesk-vk:{message_id}:{part}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1) + 1


def keyboard(buttons: list[dict[str, Any]], style: KeyboardStyle, one_time: bool) -> dict[str, Any] | None:
    """VK's keyboard object for response buttons; None when there are none.

    One button per row while VK's rows last, short ones ("Да", "1") side by side.

    A payload longer than VK takes is left out: the button then sends its label, which
    goes in as the customer's words.
    """
    made: list[dict[str, Any]] = []
    for button in buttons[: MAX_BUTTONS[style]]:
        title = str(button.get("title") or button.get("payload") or "").strip()
        if not title:
            continue
        action: dict[str, Any] = {"type": "text", "label": title[:MAX_LABEL_CHARS]}
        payload = str(button.get("payload") or "")
        encoded = json.dumps({BUTTON_KEY: payload}, ensure_ascii=False, separators=(",", ":"))
        if payload and len(encoded) <= MAX_PAYLOAD_CHARS:
            action["payload"] = encoded
        made.append({"action": action, "color": "primary" if not made else "secondary"})
    if not made:
        return None
    if all(len(b["action"]["label"]) <= SHORT_LABEL for b in made):
        per_row = MAX_ROW  # "Да Нет", "1 2 3 4 5" side by side
    else:
        per_row = -(-len(made) // MAX_ROWS[style])  # one per row while the rows last
    rows = [made[i : i + per_row] for i in range(0, len(made), per_row)]
    if style == "inline":
        return {"inline": True, "buttons": rows}
    return {"one_time": one_time, "buttons": rows}


@dataclass(frozen=True)
class Part:
    """One ``messages.send``: its text, its ``random_id``, what goes with it."""

    text: str
    random_id: int
    keyboard: dict[str, Any] | None = None
    attachments: list[str] = field(default_factory=list)


def render(
    message: OutboundMessage, style: KeyboardStyle, one_time: bool, *, clear_keyboard: bool = False
) -> list[Part]:
    """The VK messages for one botdesk message; the keyboard goes with the last part.

    ``clear_keyboard``: a reply keyboard is showing and this message has none of its own.
    """
    label = f"{message.sender_name}: "
    chunks = split_text(message.text, MAX_CHARS - vk_len(label))
    parts = [Part(label + chunk, random_id(message.message_id, i)) for i, chunk in enumerate(chunks)]
    markup = keyboard(message.buttons, style, one_time) if message.buttons else None
    if markup is None and clear_keyboard:
        markup = EMPTY_KEYBOARD
    last = parts[-1]
    parts[-1] = Part(last.text, last.random_id, markup)
    return parts
