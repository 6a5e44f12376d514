"""Live events: what the operator panel and open widgets learn without a reload.

``EventBus`` (``bus``) delivers inside one process; across several processes a
``SharedEventBus`` (``shared``) adds a broker: Redis pub/sub (``redis``) or PostgreSQL
LISTEN/NOTIFY (``postgres``). ``event_bus`` picks one from config.yml's ``events`` section.
Events are hints to re-read, never the source of truth: the store is.
"""

from __future__ import annotations

from bot.errors import ConfigError
from bot.events.bus import NO_EVENTS, Event, EventBus, EventKind, Subscription
from bot.events.presence import NO_PRESENCE, Attendant, Duty, Presence, UntrackedPresence
from bot.events.shared import SharedEventBus
from bot.settings import BotdeskConfig

__all__ = [
    "NO_EVENTS",
    "NO_PRESENCE",
    "Attendant",
    "Duty",
    "Event",
    "EventBus",
    "EventKind",
    "Presence",
    "SharedEventBus",
    "Subscription",
    "UntrackedPresence",
    "event_bus",
]


def event_bus(config: BotdeskConfig, database_url: str | None) -> EventBus:
    """In-process events, or shared over Redis or PostgreSQL when config/env says so (several processes).

    Args:
        config: the project's configuration (``events`` section, ``BOTDESK_REDIS_URL``).
        database_url: the store's URL with its password, when the store is PostgreSQL:
            ``events.backend: postgres`` shares events through it unless ``events.url`` is set.

    Returns:
        The bus to publish to and subscribe on; call ``start()`` and ``aclose()`` around its use.
    """
    channel = config.events.channel or f"botdesk:{config.assistant_id}"
    if config.events.backend == "postgres":
        url = config.events.url or database_url
        if url is None:
            raise ConfigError(
                "events.backend: postgres shares events through PostgreSQL, but the database is not "
                "PostgreSQL; set events.url to a PostgreSQL URL, or use events.backend: redis"
            )
        from bot.events.postgres import PostgresEventBus  # imported when used: memory is a budget

        return PostgresEventBus(url, channel)
    url = config.events.redis_url()
    if url is None:
        return EventBus()
    from bot.events.redis import RedisEventBus

    return RedisEventBus(url, channel)
