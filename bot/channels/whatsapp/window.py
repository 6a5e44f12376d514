"""WhatsApp's customer-service window: free-form messages only within 24 hours of the customer's last one.

Outside the window WhatsApp takes only approved message templates (docs/channels/whatsapp.md).
The window is read from the store (when the customer's latest WhatsApp message was
stored, ``bot.store.channel_history.last_inbound_at``), so every server process sees the
same; a message of ours that WhatsApp still refused for it (status ``failed``, error
131047, e.g. a webhook Meta delivered late) closes it here too, until the customer
writes again.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.store import Database
from bot.store.channel_history import last_inbound_at

WINDOW_HOURS = 24
REMEMBERED = 10_000


def window_open(last_inbound: datetime | None, now: datetime, closed_at: datetime | None = None) -> bool:
    """Whether a free-form message may go out at ``now``.

    Args:
        last_inbound: when the customer last wrote (None: never).
        now: the time to answer for.
        closed_at: when WhatsApp last refused a message for the window (error 131047), if it did.
    """
    if last_inbound is None:
        return False
    if closed_at is not None and closed_at >= last_inbound:
        return False
    return now - last_inbound < timedelta(hours=WINDOW_HOURS)


class ServiceWindows:
    """Per customer (their wa_id): is the window open now?"""

    def __init__(self, db: Database, clock: Clock, channel: str) -> None:
        self.db = db
        self.clock = clock
        self.channel = channel
        self._closed: OrderedDict[str, datetime] = OrderedDict()

    async def is_open(self, recipient: str) -> bool:
        async with self.db.reader() as session:
            last = await last_inbound_at(session, self.channel, recipient)
        return window_open(last, self.clock(), self._closed.get(recipient))

    def closed(self, recipient: str) -> None:
        """WhatsApp refused a message for the window (error 131047): closed until the customer writes."""
        self._closed[recipient] = self.clock()
        self._closed.move_to_end(recipient)
        while len(self._closed) > REMEMBERED:
            self._closed.popitem(last=False)
