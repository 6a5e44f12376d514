"""Response buttons kept with an outgoing message, so a client that polls later gets them too.

A survey question or a call-back offer sent after the customer's turn (an operator closed
the dialogue, the customer went quiet) reaches a REST client only through polling, which
reads the store: its buttons are kept in the message's ``attachments`` as one item
``{"kind": "buttons", "buttons": [{"title", "payload"}]}`` (a pressed button on a customer's
message is ``{"kind": "button", ...}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

BUTTONS = "buttons"
MAX_BUTTONS = 20
MAX_BUTTON_CHARS = 256


def buttons_attachment(buttons: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The attachment item that keeps a reply's buttons (titles and payloads as text, bounded)."""
    kept = [
        {
            "title": str(b.get("title", ""))[:MAX_BUTTON_CHARS],
            "payload": str(b.get("payload", ""))[:MAX_BUTTON_CHARS],
        }
        for b in list(buttons)[:MAX_BUTTONS]
    ]
    return {"kind": BUTTONS, "buttons": kept}


def buttons_of(attachments: Iterable[Any] | None) -> list[dict[str, str]]:
    """The buttons kept with a stored message (empty when it had none)."""
    for item in attachments or ():
        if isinstance(item, dict) and item.get("kind") == BUTTONS and isinstance(item.get("buttons"), list):
            return [
                {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                for b in item["buttons"]
                if isinstance(b, dict)
            ]
    return []


def other_attachments(attachments: Iterable[Any] | None) -> list[Any]:
    """The attachments that are not kept buttons (files, a pressed button)."""
    return [a for a in attachments or () if not (isinstance(a, dict) and a.get("kind") == BUTTONS)]
