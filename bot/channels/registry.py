"""Channels by name: config.yml's ``channels.<name>`` sections, the built-in channels and plugins.

A new channel is one module (or package) with a ``Channel`` subclass decorated with
``@register_channel``, and its module name in ``BUILTIN_CHANNELS`` below (a channel outside
botdesk is named by its dotted path in config.yml instead: ``channels: {mypkg.sms.SmsChannel: {}}``).

``configured_channels(config)`` is what the app runs: every built-in channel (each one
decides at start-up whether it can run, e.g. whether its credentials are set) and every
plugin named in config.yml, with its validated options, unless ``enabled: false``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.channels.base import Channel
from bot.errors import ConfigError
from bot.plugins import Registry
from bot.settings import BotdeskConfig
from bot.yamlio import line_of, load_yaml

BUILTIN_CHANNELS = (
    "bot.channels.rest",
    "bot.channels.webchat",
    "bot.channels.telegram",
    "bot.channels.whatsapp",
    "bot.channels.vk",
    "bot.channels.email",
)

CHANNELS: Registry[type[Channel]] = Registry(
    "channel", Channel, BUILTIN_CHANNELS, "register_channel", name_key="channels", noun="channel"
)
register_channel = CHANNELS.register


def configured_channels(config: BotdeskConfig, config_path: Path | None = None) -> list[Channel]:
    """The channels to serve, built (no I/O) with their options: built-ins first, then plugins.

    Args:
        config: the project's configuration.
        config_path: its config.yml, to name the line of a wrong channel option.

    Raises:
        ConfigError: an unknown channel or a wrong option, with the file and line when known.
    """
    problem = check_channels(config)
    if problem is not None:
        location, message = problem
        line = None
        if config_path is not None:
            raw = load_yaml(config_path, ConfigError)
            if location[:2] == ["channels", "web"] and isinstance(raw, dict) and "widget" in raw:
                location = ["widget", *location[2:]]  # written as the older top-level section
            line = line_of(raw, location)
        raise ConfigError(message, config_path, line)
    sections: dict[str, Any] = dict(config.channels)
    names = CHANNELS.names() + [name for name in sections if name not in CHANNELS.names()]
    built = []
    for name in names:
        cls = CHANNELS.get(name)
        options = cls.options_from(sections.get(name))
        if options.enabled:
            built.append(cls(options, config))
    return built


def check_channels(config: BotdeskConfig) -> tuple[list[str | int], str] | None:
    """The first problem with config.yml's channel sections as (location, message), or None."""
    for name, section in config.channels.items():
        problem = CHANNELS.check(name, dict(section or {}))
        if problem is not None:
            key, message = problem
            location: list[str | int] = ["channels", name]
            if key is not None and key != CHANNELS.name_key:
                location.append(key)
            return location, message
    return None
