"""botdesk's own message types: what channels hand in and get back.

Only channel modules know Telegram or WebSocket payloads; everything after the
boundary sees these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

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


@dataclass(frozen=True)
class Typing:
    """Someone is typing to a customer (an operator in the panel): channels that can, show it.

    ``active`` False: they stopped (cleared the box or sent). ``name``: who types, as the
    customer knows them (the operator's display name).
    """

    channel: str
    recipient_id: str
    conversation_id: int
    active: bool
    name: str


@dataclass(frozen=True)
class QueueStatus:
    """A waiting customer's place in the operator queue and the estimated wait, in whole minutes."""

    channel: str
    recipient_id: str
    conversation_id: int
    position: int
    minutes: int


class CustomerSignals(Protocol):
    """What the human side shows a customer besides messages (``ChannelRouter`` implements it).

    Nothing here is stored: a signal a channel cannot show is dropped.
    """

    def live(self, channel: str) -> bool:
        """Whether the channel shows the queue and typing as they change (the widget does)."""
        ...

    async def typing(self, signal: Typing) -> None:
        """Show (or stop showing) that an operator types."""
        ...

    async def queue_status(self, status: QueueStatus) -> None:
        """Show the customer's place in the queue now (a live line, not a message)."""
        ...


class NoSignals:
    """Nowhere to show signals (the CLI, tests): every one is dropped."""

    def live(self, channel: str) -> bool:
        return False

    async def typing(self, signal: Typing) -> None:
        return None

    async def queue_status(self, status: QueueStatus) -> None:
        return None


NO_SIGNALS = NoSignals()
