"""The REST channel, compatible with Rasa's ``rest`` and ``callback`` channels (docs/server.md).

``payload``: the webhook's body in, Rasa's answer items out. ``channel``: ``RestChannel``,
its routes, its lane in front of the app, polling and the callback.
"""

from bot.channels.rest.channel import WEBHOOK_PATH, RestChannel, RestOptions
from bot.channels.rest.payload import CHANNEL, MAX_BODY_BYTES, RestRequestError, parse_webhook, to_rasa

__all__ = [
    "CHANNEL",
    "MAX_BODY_BYTES",
    "WEBHOOK_PATH",
    "RestChannel",
    "RestOptions",
    "RestRequestError",
    "parse_webhook",
    "to_rasa",
]
