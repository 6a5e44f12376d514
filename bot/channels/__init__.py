"""Channels: how customers reach botdesk and how its messages get back to them.

``base`` holds the small protocol every channel implements and the router that sends a
later message (an operator's reply) through the customer's own channel; one module per
channel implements it (``rest``: Rasa-compatible webhook, polling and callback).
"""

from bot.channels.base import ChannelRouter, OutputChannel

__all__ = ["ChannelRouter", "OutputChannel"]
