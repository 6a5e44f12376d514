"""The values a customer turn is made of: the stored message being answered, and what it led to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dialogue.state import TurnResult
from bot.messages import InboundMessage, OutboundMessage
from bot.nlu.base import Message as Parsed
from bot.store import Entered
from bot.survey import ConversationRef


@dataclass
class Handled:
    """What one inbound message led to; ``replies`` go back through the same channel."""

    replies: list[OutboundMessage]
    conversation_id: int
    duplicate: bool = False
    silent: bool = False  # a person owns the dialogue: the bot said nothing
    result: TurnResult | None = None
    ticket_id: int | None = None
    lead_id: int | None = None
    feedback: tuple[str, bool | None, int | None] | None = None  # a survey answer: about, helpful, score


@dataclass
class Turn:
    """A customer message stored in the current transaction, and what the bot needs to answer it."""

    inbound: InboundMessage
    entered: Entered
    parsed: Parsed | None
    nlu: dict[str, Any] | None
    now: datetime

    @property
    def conversation_id(self) -> int:
        return self.entered.conversation_id

    @property
    def customer_id(self) -> int:
        return self.entered.customer_id

    @property
    def message_id(self) -> int:
        assert self.entered.message_id is not None
        return self.entered.message_id

    @property
    def conversation(self) -> ConversationRef:
        return ConversationRef(self.conversation_id, self.customer_id, self.inbound.channel)
