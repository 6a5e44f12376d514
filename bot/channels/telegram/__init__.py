"""The Telegram channel (python-telegram-bot): see docs/telegram.md.

``telegram_options()`` reads the token and addresses from the environment;
``TelegramChannel`` receives updates (polling or webhook) and sends botdesk's messages.
"""

from bot.channels.telegram.channel import TelegramChannel, TelegramOptions, UpdateNotStored
from bot.channels.telegram.env import telegram_options
from bot.channels.telegram.inbound import CHANNEL, FILE_ROUTE, to_inbound
from bot.channels.telegram.outbound import render, split_text

__all__ = [
    "CHANNEL",
    "FILE_ROUTE",
    "TelegramChannel",
    "TelegramOptions",
    "UpdateNotStored",
    "render",
    "split_text",
    "telegram_options",
    "to_inbound",
]
