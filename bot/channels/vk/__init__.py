"""The VK channel (community messages, plain httpx): see docs/channels/vk.md.

``options``: ``channels.vk`` in config.yml; ``env``: the token, secret key and addresses
from the environment; ``api``: the VK API client (method calls, errors, Long Poll
requests, uploads); ``inbound``/``outbound``: VK's messages to botdesk's and back;
``media``: files both ways; ``client``: ``VkBot``, one community's events in and
messages out; ``longpoll``: the Bots Long Poll loop; ``channel``: ``VkChannel``, the
plugin (the Callback API route, start/stop).
"""

from bot.channels.vk.api import VkApi, VkApiError, VkAuthError, VkFlood, VkUnreachable
from bot.channels.vk.channel import CALLBACK_PATH, VkChannel
from bot.channels.vk.client import VkBot
from bot.channels.vk.env import VkCredentials, vk_credentials
from bot.channels.vk.inbound import CHANNEL, FILE_ROUTE, incoming, payload_command, to_inbound
from bot.channels.vk.options import VkSettings
from bot.channels.vk.outbound import keyboard, random_id, render, split_text

__all__ = [
    "CALLBACK_PATH",
    "CHANNEL",
    "FILE_ROUTE",
    "VkApi",
    "VkApiError",
    "VkAuthError",
    "VkBot",
    "VkChannel",
    "VkCredentials",
    "VkFlood",
    "VkSettings",
    "VkUnreachable",
    "incoming",
    "keyboard",
    "payload_command",
    "random_id",
    "render",
    "split_text",
    "to_inbound",
    "vk_credentials",
]
