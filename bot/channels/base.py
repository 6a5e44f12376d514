"""What a channel is to botdesk: something that can send a message out, found by name.

Inbound, a channel turns its platform's payload into an ``InboundMessage`` and hands it
to ``ConversationService.handle``; the bot's replies go straight back in its answer.
Outbound, messages that come later — an operator's reply, "Anna joined the chat" —
need the channel again: ``OperatorService`` calls its ``deliver``, which is a
``ChannelRouter`` that picks the customer's own channel by ``OutboundMessage.channel``.

A channel with no way to push (a REST client without a callback URL) registers
nothing: its messages stay in the store and its clients poll for them. A channel that
raises in ``send`` is down; the operator service keeps the message in the outbox and
``redeliver()`` tries again.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from bot.messages import OutboundMessage

log = logging.getLogger("botdesk.channels")


@runtime_checkable
class OutputChannel(Protocol):
    """Sends botdesk's messages to customers of one channel (Rasa's OutputChannel)."""

    @property
    def name(self) -> str:
        """The channel's name, as in ``InboundMessage.channel`` ("rest", "telegram", ...)."""
        ...

    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message; raise when the channel cannot take it now (retried later)."""
        ...


class ChannelRouter:
    """Delivers a message through the channel it belongs to; usable as ``OperatorService.deliver``."""

    def __init__(self, channels: list[OutputChannel] | None = None) -> None:
        self._channels: dict[str, OutputChannel] = {}
        for channel in channels or []:
            self.register(channel)

    def register(self, channel: OutputChannel) -> None:
        if channel.name in self._channels:
            raise ValueError(f"a channel named {channel.name!r} is registered already")
        self._channels[channel.name] = channel

    def get(self, name: str) -> OutputChannel | None:
        return self._channels.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._channels)

    async def __call__(self, message: OutboundMessage) -> None:
        """Send through the message's channel; without one it stays stored for polling."""
        channel = self._channels.get(message.channel)
        if channel is None:
            log.debug("no output channel %r: message %s stays stored", message.channel, message.message_id)
            return
        await channel.send(message)

    deliver = __call__
