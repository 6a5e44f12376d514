"""Channels: how customers reach botdesk and how its messages get back to them.

Every channel is a plugin (``base.Channel``), registered by name (``registry``) and
configured in config.yml's ``channels.<name>`` section: ``rest`` (Rasa's REST and callback
channels), ``web`` (the site's chat widget, ``webchat``), ``telegram``, ``whatsapp``. docs/architecture.md
says how to add one; docs/channels/example.md walks through a minimal channel.
"""

from bot.channels.base import (
    BodyRejected,
    Capabilities,
    Channel,
    ChannelContext,
    ChannelHttp,
    ChannelOptions,
    ChannelRouter,
    ChannelUnavailable,
    DeliveryRefused,
    FileGone,
)
from bot.channels.registry import CHANNELS, configured_channels, register_channel

__all__ = [
    "CHANNELS",
    "BodyRejected",
    "Capabilities",
    "Channel",
    "ChannelContext",
    "ChannelHttp",
    "ChannelOptions",
    "ChannelRouter",
    "ChannelUnavailable",
    "DeliveryRefused",
    "FileGone",
    "configured_channels",
    "register_channel",
]
