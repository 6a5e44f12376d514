"""The VK channel as a botdesk channel: the Callback API route, start/stop, sending, files.

It runs when ``VK_GROUP_TOKEN`` is set (docs/channels/vk.md). In Long Poll mode (default)
one process asks VK for events (``longpoll``); in callback mode VK POSTs each event to
``/webhooks/vk``, which answers the ``confirmation`` request with the configured string,
refuses an event without the community's secret key (403) and answers "ok" once the
message is stored; the bot's replies follow in the background. An event VK sends again
(it did not get "ok" in time) is answered once: the message is stored once by its VK id,
which also holds across a restart. A store that is down gets 503: VK sends the event again.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, ClassVar

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from bot.channels.base import (
    Capabilities,
    Channel,
    ChannelContext,
    ChannelHttp,
    ChannelOptions,
    ChannelUnavailable,
)
from bot.channels.registry import register_channel
from bot.channels.vk.api import VkAuthError
from bot.channels.vk.client import EventNotStored, VkBot
from bot.channels.vk.env import vk_credentials
from bot.channels.vk.inbound import CHANNEL
from bot.channels.vk.longpoll import LongPoll
from bot.channels.vk.options import VkSettings
from bot.errors import ConfigError
from bot.json_input import JsonInputError, parse_json_input
from bot.messages import OutboundMessage
from bot.settings import BotdeskConfig
from bot.store.errors import NO_DATABASE

log = logging.getLogger("botdesk.channels.vk")
CALLBACK_PATH = "/webhooks/vk"
MAX_EVENT_BYTES = 256 * 1024  # the body limit of CALLBACK_PATH (the server's request guard)
OK = "ok"


def _text(status: int, text: str, **headers: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status, headers=headers or None)


@register_channel
class VkChannel(Channel):
    """Customers in VK community messages (see the module docstring)."""

    name = CHANNEL
    Options = VkSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        push=True, buttons=True, files=True, typing=False, max_text_chars=4096
    )

    def __init__(self, options: ChannelOptions, config: BotdeskConfig) -> None:
        super().__init__(options, config)
        assert isinstance(options, VkSettings)
        self.settings = options
        self.bot: VkBot | None = None
        self.poll: LongPoll | None = None

    async def start(self, context: ChannelContext) -> bool:
        """Connect when ``VK_GROUP_TOKEN`` is set; a token VK refuses is a ConfigError."""
        credentials = vk_credentials(self.settings)
        if credentials is None:
            return False
        bot = VkBot(self.settings, credentials, context)
        try:
            group = await bot.identify()
        except VkAuthError as exc:
            await bot.stop()
            raise ConfigError(
                f"VK refused VK_GROUP_TOKEN ({exc.vk_message}): create a community token "
                "with the messages right again (Manage > API usage)"
            ) from None
        except ChannelUnavailable as exc:
            log.error("VK is not reachable at start (%s); the channel keeps trying", exc)
        else:
            log.info("VK community %s: %s mode", group, self.settings.mode)
        self.bot = bot
        if self.settings.mode == "longpoll":
            self.poll = LongPoll(bot, self.settings.poll_wait_seconds)
            self.poll.start()
        await super().start(context)
        return True

    async def stop(self) -> None:
        """Stop asking VK; the events in hand are handled (and answered) while the store is open."""
        if self.poll is not None:
            await self.poll.stop()
            self.poll = None
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None
        await super().stop()

    async def send(self, message: OutboundMessage) -> None:
        if self.bot is None:
            raise ChannelUnavailable("the VK channel is not connected")
        await self.bot.send(message)

    async def file_url(self, file_id: str) -> str:
        """Where to download a file a customer sent (VK's address, for the server's proxy only)."""
        if self.bot is None:
            raise ChannelUnavailable("the VK channel is not connected (no VK_GROUP_TOKEN)")
        return await self.bot.file_url(file_id)

    def http(self) -> ChannelHttp:
        router = APIRouter(tags=["vk channel"])
        router.add_api_route(
            CALLBACK_PATH,
            self.callback,
            methods=["POST"],
            summary="VK's Callback API: one event per request, the secret key checked",
            include_in_schema=False,
            response_class=PlainTextResponse,
        )
        return ChannelHttp(
            router, body_limits={CALLBACK_PATH: MAX_EVENT_BYTES}, own_json=frozenset({CALLBACK_PATH})
        )

    async def callback(self, request: Request) -> PlainTextResponse:
        """VK's request: "ok" (or the confirmation string), 403 for a stranger, 503 to be sent again."""
        bot, context = self.bot, self.context
        if bot is None or context is None:
            return _text(404, "the VK channel is not connected (no VK_GROUP_TOKEN)")
        if self.settings.mode != "callback":
            return _text(404, "the VK channel runs in Long Poll mode (channels.vk.mode)")
        body = await request.body()
        if len(body) > MAX_EVENT_BYTES:
            return _text(413, f"an event is at most {MAX_EVENT_BYTES} bytes")
        try:
            event: Any = parse_json_input(body)
        except JsonInputError:
            return _text(400, "the body must be a VK Callback API event as JSON")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return _text(400, "the body must be a VK Callback API event with a type")
        group = event.get("group_id")
        if bot.group_id is not None and group != bot.group_id:
            log.warning("VK Callback API event for another community refused")
            return _text(403, "this server serves another community")
        if event["type"] == "confirmation":
            return _text(200, bot.credentials.confirmation_code or "")
        secret = event.get("secret")
        expected = bot.credentials.secret or ""
        if not isinstance(secret, str) or not hmac.compare_digest(secret.encode(), expected.encode()):
            log.warning("VK Callback API event with a wrong secret key refused")
            return _text(403, "wrong or missing secret key")
        if bot.seen(event.get("event_id")):
            return _text(200, OK)  # VK sent it again: handled already
        if not context.ready():
            return _text(503, NO_DATABASE, **{"Retry-After": "5"})
        try:
            await bot.handle(event)
        except EventNotStored:
            return _text(503, NO_DATABASE, **{"Retry-After": "5"})
        except Exception:  # a retry would fail the same way: VK must not keep sending it
            log.exception("VK event %s not handled", event.get("type"))
        return _text(200, OK)
