"""The WhatsApp channel's section of config.yml (``channels.whatsapp``); its secrets: the environment."""

from __future__ import annotations

from pydantic import Field

from bot.channels.base import ChannelOptions


class WhatsAppSettings(ChannelOptions):
    """The WhatsApp Cloud API channel (docs/channels/whatsapp.md). It runs when WHATSAPP_TOKEN is set.

    The token, the app secret and the webhook's verify token come only from the
    environment (``bot.channels.whatsapp.env``); the phone number id may be written here
    (it is no secret) or in WHATSAPP_PHONE_NUMBER_ID.
    """

    enabled: bool = Field(default=True, description="False: ignore WHATSAPP_TOKEN")
    phone_number_id: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,32}$",
        description="The business phone number's id (WhatsApp > API Setup); WHATSAPP_PHONE_NUMBER_ID wins",
    )
    list_button: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="The text of the button that opens a list of 4-10 choices; default by language",
    )
    remember_phone: bool = Field(
        default=True,
        description="Keep the customer's WhatsApp number as their verified phone (merges their channels)",
    )
    rate_limit_retries: int = Field(
        default=3, ge=0, le=10, description="Rate-limit answers in a row before a message waits for later"
    )
    rate_limit_wait_seconds: float = Field(
        default=1.0, gt=0, le=60, description="The first wait after a rate-limit answer; doubled each time"
    )
    max_media_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        description="The largest picture botdesk fetches to upload to WhatsApp (WhatsApp's limit: 5 MB)",
    )
