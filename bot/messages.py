"""botdesk's own message types: what channels hand in and get back.

Only channel modules know Telegram or WebSocket payloads; everything after the
boundary sees these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SenderKind = Literal["bot", "operator", "system"]


@dataclass(frozen=True)
class InboundMessage:
    channel: str
    sender_id: str  # the customer's id in that channel
    text: str
    message_id: str | None = None  # the channel's id: a redelivered message is stored once
    attachments: tuple[dict[str, Any], ...] = ()
    profile: dict[str, Any] | None = None


@dataclass(frozen=True)
class OutboundMessage:
    channel: str
    recipient_id: str
    conversation_id: int
    text: str
    sender: SenderKind
    sender_name: str  # the bot's label or the operator's name: never anonymous
    buttons: list[dict[str, Any]] = field(default_factory=list)
    message_id: int | None = None
    image: str | None = None  # a picture URL from the response, for channels that show one
    response: str | None = None  # which response (utter_*) the text came from, if any
    sender_photo: str | None = None  # the operator's photo URL, for channels that show one
    custom: dict[str, Any] | None = None  # a response's custom payload (Rasa's custom / json_message)
    attachment: Any = None  # a response's attachment, as the response gave it
    files: list[dict[str, Any]] = field(default_factory=list)  # stored files' attachments (bot.files)

    def labelled(self) -> str:
        """The text as plain-text channels show it: who speaks, then what."""
        return f"{self.sender_name}: {self.text}"
