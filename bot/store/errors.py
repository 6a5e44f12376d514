"""Expected store errors: printed as one sentence by the CLI, never a traceback."""

from __future__ import annotations

from bot.errors import BotdeskError


class StoreError(BotdeskError):
    """The database could not be used: bad URL, unreachable server, failed migration."""


class InputRejected(StoreError):
    """Input the store refuses as it is (binary text, an over-long id); nothing was written."""


class MessageTooLong(InputRejected):
    """A message longer than ``MAX_MESSAGE_CHARS``; the channel should tell the customer."""
