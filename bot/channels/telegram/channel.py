"""The Telegram channel as a botdesk channel: the webhook route, start/stop, sending, files.

It runs when ``TELEGRAM_BOT_TOKEN`` is set (docs/telegram.md): in polling mode (default)
one process asks Telegram for updates; in webhook mode Telegram POSTs them to
``/webhooks/telegram``, which checks ``X-Telegram-Bot-Api-Secret-Token`` on every update
(403 on a mismatch) and answers only once the update is stored: an update that could not
be stored gets a 503, and Telegram sends it again later (stored once: by its message id).
The Bot API itself is ``TelegramBot``'s (``client``).
"""

from __future__ import annotations

import hmac
import logging
from typing import ClassVar

from fastapi import APIRouter, HTTPException, Request
from telegram.error import BadRequest, TelegramError

from bot.channels.base import (
    Capabilities,
    Channel,
    ChannelContext,
    ChannelHttp,
    ChannelOptions,
    ChannelUnavailable,
    FileGone,
)
from bot.channels.registry import register_channel
from bot.channels.telegram.client import TelegramBot, UpdateNotStored
from bot.channels.telegram.env import telegram_options
from bot.channels.telegram.inbound import CHANNEL
from bot.channels.telegram.options import TelegramSettings
from bot.json_input import JsonInputError, parse_json_input
from bot.messages import OutboundMessage, Typing
from bot.settings import BotdeskConfig
from bot.store.errors import NO_DATABASE

log = logging.getLogger("botdesk.channels.telegram")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 256 * 1024  # the body limit of WEBHOOK_PATH (the server's request guard)
WEBHOOK_PATH = "/webhooks/telegram"


@register_channel
class TelegramChannel(Channel):
    """Customers in Telegram (see the module docstring)."""

    name = CHANNEL
    Options = TelegramSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        push=True, buttons=True, files=True, typing=True, max_text_chars=4096
    )

    def __init__(self, options: ChannelOptions, config: BotdeskConfig) -> None:
        super().__init__(options, config)
        assert isinstance(options, TelegramSettings)
        self.settings = options
        self.bot: TelegramBot | None = None

    async def start(self, context: ChannelContext) -> bool:
        """Connect when ``TELEGRAM_BOT_TOKEN`` is set; a token Telegram refuses is a ConfigError."""
        credentials = telegram_options()
        if credentials is None:
            return False
        bot = TelegramBot(self.settings, credentials, context)
        await bot.start()
        self.bot = bot
        await super().start(context)
        return True

    async def stop(self) -> None:
        """The updates in hand are handled while the store is still open."""
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None
        await super().stop()

    async def send(self, message: OutboundMessage) -> None:
        if self.bot is None:
            raise ChannelUnavailable("the Telegram channel is not connected")
        await self.bot.send(message)

    async def typing(self, signal: Typing) -> None:
        """An operator types: Telegram's "typing…" in the customer's chat (it ends by itself)."""
        if self.bot is not None and signal.active:
            await self.bot.show_typing(signal.recipient_id)

    async def file_url(self, file_id: str) -> str:
        """Where to download a file a customer sent; the URL holds the token: never show it to anyone."""
        if self.bot is None:
            raise ChannelUnavailable("the Telegram channel is not connected (no TELEGRAM_BOT_TOKEN)")
        try:
            return await self.bot.file_url(file_id)
        except BadRequest as exc:
            raise FileGone(exc.message) from None
        except TelegramError as exc:
            raise ChannelUnavailable(exc.message) from None

    def http(self) -> ChannelHttp:
        router = APIRouter(tags=["telegram channel"])
        router.add_api_route(
            WEBHOOK_PATH,
            self.webhook,
            methods=["POST"],
            summary="Telegram's webhook: one update per request, secret token checked",
            include_in_schema=False,
        )
        return ChannelHttp(
            router, body_limits={WEBHOOK_PATH: MAX_UPDATE_BYTES}, own_json=frozenset({WEBHOOK_PATH})
        )

    async def webhook(self, request: Request) -> dict[str, bool]:
        bot = self.bot
        if bot is None or self.context is None:
            raise HTTPException(404, "the Telegram channel is not connected (no TELEGRAM_BOT_TOKEN)")
        if not bot.webhook:
            raise HTTPException(404, "the Telegram channel runs in polling mode (channels.telegram.mode)")
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), bot.options.webhook_secret.encode()):
            log.warning("Telegram webhook call with a wrong secret token refused")
            raise HTTPException(403, f"wrong or missing {SECRET_HEADER}")
        if not self.context.ready():
            raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"})
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            raise HTTPException(413, f"an update is at most {MAX_UPDATE_BYTES} bytes")
        try:
            data = parse_json_input(body)
        except JsonInputError:
            raise HTTPException(400, "the body must be a Telegram Update as JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise HTTPException(400, "the body must be a Telegram Update with an integer update_id")
        try:
            await bot.process(data)
        except UpdateNotStored:
            raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"}) from None
        return {"ok": True}
