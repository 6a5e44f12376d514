"""Expected store errors: printed as one sentence by the CLI, never a traceback."""

from __future__ import annotations

import logging
import time

from bot.errors import BotdeskError


class StoreError(BotdeskError):
    """The database could not be used: bad URL, unreachable server, failed migration."""


class InputRejected(StoreError):
    """Input the store refuses as it is (binary text, an over-long id); nothing was written."""


class MessageTooLong(InputRejected):
    """A message longer than ``MAX_MESSAGE_CHARS``; the channel should tell the customer."""


NO_DATABASE = "the database is not available; nothing was stored, try again later"
"""What a client is told when the store cannot be reached (HTTP 503 with Retry-After)."""

OUTAGE_LOG_EVERY_SECONDS = 10.0
_last_outage_log = [0.0]
_log = logging.getLogger("botdesk.store")


def log_outage(where: str, exc: BaseException) -> None:
    """Log a database outage a request or a turn ran into: once per 10 s, its first line only.

    Args:
        where: what ran into it ("POST /api/queue", "a rest message").
        exc: the driver's or SQLAlchemy's error (its first line names the cause, never a password).
    """
    now = time.monotonic()
    if now - _last_outage_log[0] > OUTAGE_LOG_EVERY_SECONDS:
        _last_outage_log[0] = now
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        _log.error("database unavailable during %s: %s", where, first[:1])
