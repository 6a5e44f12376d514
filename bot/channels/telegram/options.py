"""The Telegram channel's section of config.yml (``channels.telegram``); its secrets: the environment."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from bot.channels.base import ChannelOptions


class TelegramSettings(ChannelOptions):
    """The Telegram channel (docs/telegram.md). It runs when TELEGRAM_BOT_TOKEN is set.

    The token comes only from the environment, the webhook secret from
    TELEGRAM_WEBHOOK_SECRET (else generated at start), the Bot API address from
    TELEGRAM_API_BASE_URL (default Telegram's).
    """

    enabled: bool = Field(default=True, description="False: ignore TELEGRAM_BOT_TOKEN")
    mode: Literal["polling", "webhook"] = Field(
        default="polling", description="polling: one process asks Telegram; webhook: Telegram POSTs to us"
    )
    webhook_url: str | None = Field(
        default=None, description="Public https URL of POST /webhooks/telegram (webhook mode)"
    )
    drop_pending_updates: bool = Field(
        default=False, description="Skip what customers wrote while the bot was down"
    )
    keyboard: Literal["inline", "reply"] = Field(
        default="inline", description="Response buttons as buttons under the message or as a reply keyboard"
    )
    edited_messages: Literal["answer", "ignore"] = Field(
        default="answer", description="answer: an edited message is handled as a new one; ignore: logged"
    )
    contact_responses: list[str] = Field(
        default_factory=lambda: ["utter_ask_phone"],
        description="Responses that ask for the phone: sent with a 'share my number' button",
    )
    share_contact_button: str | None = Field(
        default=None, max_length=100, description="The button's text; default by language"
    )
    poll_timeout_seconds: float = Field(default=10, ge=0, le=50, description="Long-polling wait")
    flood_retries: int = Field(
        default=5, ge=0, le=20, description="429s in a row before a message waits for redelivery"
    )

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramSettings:
        if self.webhook_url is not None and not re.match(r"^https://[^/\s]+", self.webhook_url):
            raise ValueError("channels.telegram.webhook_url must be an https:// URL (Telegram requires it)")
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("channels.telegram.webhook_url is required in webhook mode")
        return self
