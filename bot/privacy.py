"""Deleting personal data on request and after the retention period, with an audit line that holds none.

``forget`` serves ``botdesk customer forget ID`` and ``DELETE /api/admin/customers/{id}``;
``purge_expired`` serves ``botdesk customer purge-expired`` and the server's maintenance
loop (``RetentionSweeper``, when ``privacy.retention_days`` is set). The rows are the
store's business (``bot.store.privacy``); this module adds the clock, batching and the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot import log_redaction
from bot.settings import PrivacySettings
from bot.store import Database
from bot.store.models import utcnow
from bot.store.privacy import Forgotten, Purged, forget_customer, purge_expired_batch

log = logging.getLogger("botdesk.privacy")
MAX_BATCHES = 1000  # one pass deletes at most this many batches; the next pass goes on
# Libraries that log SQL parameters, HTTP bodies or Telegram updates (INFO, DEBUG): customer text, phones.
DATA_LOGGERS = (
    "aiosqlite",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "psycopg",
    "asyncpg",
    "httpcore",
    "telegram",
)


def keep_personal_data_out_of_logs() -> None:
    """Cap the libraries that would log what customers said at WARNING, unless a level was set for them.

    A root logger at DEBUG (``--log-level debug``) then shows botdesk's own detail, never
    the message texts and phone numbers inside SQL parameters, request bodies and updates.
    To see SQL while debugging, set a level for ``sqlalchemy.engine`` in your logging config.
    Validation errors are logged without their inputs from now on, by any logger
    (``bot.log_redaction``): they would show a refused password or a customer's text.
    """
    log_redaction.install()
    for name in DATA_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


async def forget(db: Database, customer_id: int, *, by: str) -> Forgotten:
    """Forget one customer (``UnknownCustomer`` if there is none); ``by`` names who asked, for the log."""
    async with db.session() as session:
        report = await forget_customer(session, customer_id)
    log.warning(
        "customer %d forgotten by %s: %d messages, %d leads, %d identities, %d outbox items, %d other rows",
        report.customer_id,
        by,
        report.messages,
        report.leads,
        report.identities,
        report.outbox_items,
        report.other_rows,
    )
    return report


async def purge_expired(db: Database, retention_days: int, *, now: datetime | None = None) -> Purged:
    """Delete every conversation inactive for ``retention_days`` days, in batches (each its own commit)."""
    before = (now or utcnow()) - timedelta(days=retention_days)
    total = Purged()
    for _ in range(MAX_BATCHES):
        async with db.session() as session:
            batch = await purge_expired_batch(session, before=before)
        total += batch
        if batch.conversations == 0:
            break
    if total.conversations or total.customers:
        log.info(
            "retention (%d days): deleted %d conversations, %d messages, %d customers",
            retention_days,
            total.conversations,
            total.messages,
            total.customers,
        )
    return total


class RetentionSweeper:
    """Runs ``purge_expired`` from the maintenance loop, at most every ``purge_every_minutes``."""

    def __init__(self, settings: PrivacySettings, db: Database, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.last_run: datetime | None = None

    async def tick(self) -> Purged | None:
        """The pass's result, or None when retention is off or the last pass was recent."""
        days = self.settings.retention_days
        if days is None:
            return None
        now = self.clock()
        if self.last_run is not None and now - self.last_run < timedelta(
            minutes=self.settings.purge_every_minutes
        ):
            return None
        self.last_run = now
        return await purge_expired(self.db, days, now=now)
