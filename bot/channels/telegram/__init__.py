"""The Telegram channel (python-telegram-bot): see docs/telegram.md.

``options``: ``channels.telegram`` in config.yml; ``env``: the token and addresses from the
environment; ``client``: ``TelegramBot``, receiving updates (polling or webhook) and
sending botdesk's messages; ``channel``: ``TelegramChannel``, the plugin (its webhook
route, start/stop); ``inbound``/``outbound``: Telegram's messages to botdesk's and back.
"""

from bot.channels.telegram.channel import WEBHOOK_PATH, TelegramChannel
from bot.channels.telegram.client import TelegramBot, TelegramCredentials, UpdateNotStored
from bot.channels.telegram.env import telegram_options
from bot.channels.telegram.inbound import CHANNEL, FILE_ROUTE, to_inbound
from bot.channels.telegram.options import TelegramSettings
from bot.channels.telegram.outbound import render, split_text

__all__ = [
    "CHANNEL",
    "FILE_ROUTE",
    "WEBHOOK_PATH",
    "TelegramBot",
    "TelegramChannel",
    "TelegramCredentials",
    "TelegramSettings",
    "UpdateNotStored",
    "render",
    "split_text",
    "telegram_options",
    "to_inbound",
]
