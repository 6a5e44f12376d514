"""The WhatsApp Cloud API channel: see docs/channels/whatsapp.md.

``options``: ``channels.whatsapp`` in config.yml; ``env``: the token, secrets and addresses
from the environment; ``signature``: Meta's ``X-Hub-Signature-256``; ``inbound``: webhook
payloads as botdesk's messages and statuses; ``outbound``: botdesk's messages as WhatsApp's
(text, reply buttons, lists); ``window``: the 24-hour customer-service window; ``client``:
the Graph API over httpx; ``channel``: ``WhatsAppChannel``, the plugin.
"""

from bot.channels.whatsapp.channel import MAX_WEBHOOK_BYTES, WEBHOOK_PATH, WhatsAppChannel
from bot.channels.whatsapp.client import GraphClient, GraphError
from bot.channels.whatsapp.env import WhatsAppCredentials, whatsapp_credentials
from bot.channels.whatsapp.inbound import CHANNEL, FILE_ROUTE, StatusUpdate, parse_webhook, to_inbound
from bot.channels.whatsapp.options import WhatsAppSettings
from bot.channels.whatsapp.outbound import render, split_text
from bot.channels.whatsapp.signature import SIGNATURE_HEADER, sign, signature_ok
from bot.channels.whatsapp.window import WINDOW_HOURS, ServiceWindows, window_open

__all__ = [
    "CHANNEL",
    "FILE_ROUTE",
    "MAX_WEBHOOK_BYTES",
    "SIGNATURE_HEADER",
    "WEBHOOK_PATH",
    "WINDOW_HOURS",
    "GraphClient",
    "GraphError",
    "ServiceWindows",
    "StatusUpdate",
    "WhatsAppChannel",
    "WhatsAppCredentials",
    "WhatsAppSettings",
    "parse_webhook",
    "render",
    "sign",
    "signature_ok",
    "split_text",
    "to_inbound",
    "whatsapp_credentials",
    "window_open",
]
