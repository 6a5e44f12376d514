"""Answer what a crashed process left unanswered, at start-up and now and then after.

``kill -9`` (or an OOM kill, or a power cut) between storing a customer's message and
storing the bot's answer leaves the message stranded (``bot.store.stranded``): stored,
maybe acknowledged, never answered. Each server process looks for such messages when it
starts and every ``RECOVERY_EVERY`` after, answers them through the normal turn
(``ConversationService.answer_stored``, exactly once across processes) and sends the
answers through the customer's channel; a REST client without a callback finds them by
polling. Messages younger than ``GRACE`` are left alone: their turn may be running in
another process right now.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from bot.conversation import ConversationService
from bot.messages import OutboundMessage
from bot.store import Database
from bot.store.models import utcnow
from bot.store.stranded import stranded_ids
from handoff.service import Deliver, park_for_redelivery

log = logging.getLogger("botdesk.server")
GRACE = timedelta(seconds=5)
HORIZON = timedelta(days=2)  # older than this, an answer would only confuse
RECOVERY_EVERY = timedelta(minutes=1)


async def answer_stranded(
    conversations: ConversationService,
    db: Database,
    deliver: Deliver,
    *,
    grace: timedelta = GRACE,
    limit: int = 200,
) -> int:
    """One pass; returns how many stranded messages this process answered."""
    now = utcnow()
    async with db.reader() as session:
        ids = await stranded_ids(session, before=now - grace, after=now - HORIZON, limit=limit)
    answered = 0
    for message_id in ids:
        handled = await conversations.answer_stored(message_id)
        if handled is None:  # another process was faster, or the customer wrote again
            continue
        answered += 1
        for reply in handled.replies:
            await _send(db, deliver, reply)
    if answered:
        log.warning("answered %d customer message(s) left unanswered by a stopped process", answered)
    return answered


async def _send(db: Database, deliver: Deliver, reply: OutboundMessage) -> None:
    try:
        await deliver(reply)
    except Exception as exc:  # the channel is down: the outbox retries (OperatorService.redeliver)
        log.warning("recovered answer %s not delivered (%s); retrying later", reply.message_id, exc)
        await park_for_redelivery(db, reply)


class StrandedRecovery:
    """From the maintenance loop: a pass at start-up, a few more while a crash's leftovers age
    past ``GRACE``, then one every ``RECOVERY_EVERY``."""

    def __init__(self, conversations: ConversationService, db: Database, deliver: Deliver) -> None:
        self.conversations = conversations
        self.db = db
        self.deliver = deliver
        self._started = time.monotonic()
        self._next = self._started

    async def tick(self) -> int:
        now = time.monotonic()
        if now < self._next:
            return 0
        answered = await answer_stranded(self.conversations, self.db, self.deliver)
        early = now - self._started < 4 * GRACE.total_seconds()
        self._next = time.monotonic() + (GRACE if early else RECOVERY_EVERY).total_seconds()
        return answered
