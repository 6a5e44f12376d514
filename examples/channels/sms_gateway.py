"""A minimal botdesk channel: customers of an SMS gateway (docs/channels/example.md).

The gateway POSTs each incoming SMS to ``/webhooks/sms`` as ``{"from": "+7...", "text": "..."}``
and sends an SMS when botdesk POSTs ``{"to": "+7...", "text": "..."}`` to its ``send_url``.
Everything botdesk needs is here: options, routes, start, send. To use it, put this module
on the Python path and name it in config.yml::

    channels:
      sms_gateway.SmsChannel:
        send_url: https://gateway.example/send
"""

from __future__ import annotations

from typing import ClassVar

import httpx
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from bot.channels import (
    Capabilities,
    Channel,
    ChannelContext,
    ChannelHttp,
    ChannelOptions,
    ChannelUnavailable,
)
from bot.conversation import TurnRefused
from bot.messages import InboundMessage, OutboundMessage


class SmsOptions(ChannelOptions):
    """``channels.<this class>`` in config.yml."""

    send_url: str = Field(pattern=r"^https?://", description="Where the gateway takes outgoing SMS")


class IncomingSms(BaseModel):
    sender: str = Field(alias="from", min_length=3, max_length=32)
    text: str = Field(min_length=1, max_length=1600)


class SmsChannel(Channel):
    """SMS through a gateway: one text per message, no buttons (their titles are listed instead)."""

    name = "sms"
    Options = SmsOptions
    capabilities: ClassVar[Capabilities] = Capabilities(push=True, max_text_chars=1600)

    async def start(self, context: ChannelContext) -> bool:
        await super().start(context)
        self.client = httpx.AsyncClient(transport=context.transport, timeout=10.0)
        return True

    async def stop(self) -> None:
        await self.client.aclose()
        await super().stop()

    def http(self) -> ChannelHttp:
        router = APIRouter(tags=["sms channel"])
        router.add_api_route("/webhooks/sms", self.receive, methods=["POST"])
        return ChannelHttp(router, body_limits={"/webhooks/sms": 8 * 1024})

    async def receive(self, sms: IncomingSms) -> dict[str, int]:
        """One incoming SMS: stored and answered; the answers go out as SMS too."""
        context = self.require_context()
        try:
            handled = await context.conversations.handle_and_account(
                InboundMessage(self.name, sms.sender, sms.text)
            )
        except TurnRefused as refused:
            raise HTTPException(refused.http_status, refused.detail) from None
        for reply in handled.replies:
            await self.send(reply)
        return {"replies": len(handled.replies)}

    async def send(self, message: OutboundMessage) -> None:
        options = self.options
        assert isinstance(options, SmsOptions)
        text = message.labelled()  # "🤖 Бот: ..." — the bot never passes for a person
        if message.buttons:
            text += "\n" + "\n".join(f"- {button.get('title', '')}" for button in message.buttons)
        try:
            answer = await self.client.post(options.send_url, json={"to": message.recipient_id, "text": text})
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"the SMS gateway is unreachable: {exc!r}") from exc
        if answer.status_code >= 300:  # not now: botdesk keeps the message and sends it again later
            raise ChannelUnavailable(f"the SMS gateway answered HTTP {answer.status_code}")
