"""How a turn ends for a channel: answered (and counted), or refused with a reason it can tell its client.

Every channel hands its customers' messages to ``ConversationService.handle_and_account``
and gets either the ``Handled`` turn or one ``TurnRefused``: the same failures, counted
and logged the same way, whatever the channel. A channel only maps the reason onto its
own protocol (an HTTP status, an error frame, Telegram's retry).
"""

from __future__ import annotations

from typing import Literal, Protocol

from bot.conversation.turn import Handled
from bot.errors import BotdeskError

RefusalReason = Literal["invalid", "too_long", "unavailable", "bot_failed"]
HTTP_STATUS: dict[RefusalReason, int] = {
    "invalid": 422,
    "too_long": 413,
    "unavailable": 503,
    "bot_failed": 503,
}


class TurnRefused(BotdeskError):
    """A customer message the conversation service did not answer, and why.

    Args:
        reason: ``invalid`` (the text or sender id cannot be stored as it is), ``too_long``
            (over the message limit), ``unavailable`` (the store is down: nothing was
            stored, the client should send it again) or ``bot_failed`` (stored, but the
            NLU or the dialogue failed: recovery answers it later, a person sees it).
        detail: one sentence for the client.
    """

    def __init__(self, reason: RefusalReason, detail: str) -> None:
        super().__init__(detail)
        self.reason: RefusalReason = reason
        self.detail = detail

    @property
    def stored(self) -> bool:
        """Was the message kept? Only a turn whose bot failed keeps it."""
        return self.reason == "bot_failed"

    @property
    def retry(self) -> bool:
        """Should the client send the same message again later?"""
        return self.reason == "unavailable"

    @property
    def http_status(self) -> int:
        """The status an HTTP channel answers with (422, 413 or 503)."""
        return HTTP_STATUS[self.reason]


class TurnObserver(Protocol):
    """Who counts the turns (``bot.server.metrics.Metrics`` for /metrics); injected into the service."""

    def observe(self, channel: str, handled: Handled, seconds: float) -> None:
        """A turn was answered (or silently stored) in ``seconds``."""
        ...

    def refused(self, channel: str, outcome: str = "rejected") -> None:
        """A message was refused: ``rejected`` (the client's fault) or ``error`` (ours)."""
        ...


class _NoObserver:
    def observe(self, channel: str, handled: Handled, seconds: float) -> None:
        return None

    def refused(self, channel: str, outcome: str = "rejected") -> None:
        return None


NO_OBSERVER: TurnObserver = _NoObserver()
