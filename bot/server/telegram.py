"""Starting the Telegram channel with the server, when TELEGRAM_BOT_TOKEN is set."""

from __future__ import annotations

import logging

from bot.channels.base import ChannelRouter
from bot.channels.telegram import CHANNEL, TelegramChannel, telegram_options
from bot.conversation import ConversationService, Handled
from bot.server.metrics import Metrics
from bot.settings import BotdeskConfig
from bot.store import Database
from handoff.outbox import OutboxWorker

log = logging.getLogger("botdesk.channels.telegram")


async def start_telegram(
    config: BotdeskConfig,
    conversations: ConversationService,
    db: Database,
    router: ChannelRouter,
    metrics: Metrics,
    outbox: OutboxWorker,
) -> TelegramChannel | None:
    """The running channel, registered for operator replies; None without a token (or when disabled).

    A malformed token or a token Telegram refuses is a ConfigError: the server does not start.
    """
    options = telegram_options()
    if options is None:
        return None
    settings = config.channels.telegram
    if not settings.enabled:
        log.info("TELEGRAM_BOT_TOKEN is set but channels.telegram.enabled is false: Telegram stays off")
        return None

    def handled(result: Handled, seconds: float) -> None:
        metrics.observe(CHANNEL, result, seconds)
        if result.lead_id is not None:
            outbox.wake()  # deliver the new lead card now, not at the next poll

    channel = TelegramChannel(
        settings, options, conversations, db, language=config.language, on_handled=handled
    )
    await channel.start()
    router.register(channel)
    return channel
