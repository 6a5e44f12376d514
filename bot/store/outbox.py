"""The outbox: work for the outside world, written in the same transaction as its cause.

Delivery is at least once. ``claim_due`` leases due items (pushes their
``next_attempt_at`` past the lease) and commits, so no transaction stays open while a
worker talks to a slow CRM; a worker that dies loses its lease and another retries.
Receivers deduplicate by ``idempotency_key``. On PostgreSQL the claim uses
``SELECT ... FOR UPDATE SKIP LOCKED``: concurrent workers never claim the same row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import dialect_of
from bot.store.models import OutboxItem, OutboxStatus, utcnow
from bot.store.prepared import Driver, driver_for, insert_ignoring_conflict, scalar
from bot.store.rows import affected

MAX_ATTEMPTS = 10
DEFAULT_LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
MAX_ERROR_CHARS = 1000


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failures: 30 s, 1 min, 2 min, ... at most 1 h."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 20)), LONGEST_RETRY)


async def enqueue(
    where: AsyncSession | Driver,
    kind: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    *,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Add work, or find the item already queued under this key; its id. Does not commit:
    it belongs to the caller's transaction, with the change that caused it. ``now``: the
    caller's clock (the item is due from then on)."""
    driver = await driver_for(where)
    now = now or utcnow()
    added = await scalar(
        driver,
        insert_ignoring_conflict(driver.dialect.name, OutboxItem, "idempotency_key")
        .values(
            kind=kind,
            payload=dict(payload),
            idempotency_key=idempotency_key,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=not_before or now,
            created_at=now,
        )
        .returning(OutboxItem.id),
    )
    if added is None:
        added = await scalar(
            driver, select(OutboxItem.id).where(OutboxItem.idempotency_key == idempotency_key)
        )
    return int(added)


async def claim_due(
    session: AsyncSession,
    limit: int = 10,
    now: datetime | None = None,
    *,
    kind: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> list[OutboxItem]:
    """Lease up to ``limit`` pending items that are due, oldest first. Commits.

    Each item must then be ``mark_sent`` or ``mark_failed``; one left alone is due
    again when its lease ends.
    """
    now = now or utcnow()
    query = (
        select(OutboxItem)
        .where(OutboxItem.status == OutboxStatus.PENDING, OutboxItem.next_attempt_at <= now)
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if kind is not None:
        query = query.where(OutboxItem.kind == kind)
    if dialect_of(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    items = list((await session.execute(query)).scalars())
    for item in items:
        item.next_attempt_at = now + lease
    await session.commit()
    return items


async def mark_sent(session: AsyncSession, item: OutboxItem, *, now: datetime | None = None) -> None:
    """The receiver accepted the item. Commits."""
    now = now or utcnow()
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item.id, OutboxItem.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    item.status, item.sent_at, item.last_error = OutboxStatus.SENT, now, None


async def mark_failed(
    session: AsyncSession,
    item: OutboxItem,
    error: str,
    next_attempt_at: datetime | None = None,
    *,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> OutboxStatus:
    """Count a failed attempt and schedule the next (``retry_delay`` unless given). Commits.

    After ``max_attempts`` failures the item is ``dead``: kept with its last error for
    an admin to look at, never retried on its own. Returns the item's new status.
    """
    now = now or utcnow()
    error = error[:MAX_ERROR_CHARS]
    counted = await session.scalar(
        select(OutboxItem.attempts)
        .where(OutboxItem.id == item.id, OutboxItem.status == OutboxStatus.PENDING)
        .with_for_update()
    )
    if counted is None:  # already sent or dead meanwhile: nothing to count
        await session.commit()
        return item.status
    attempts = counted + 1
    status = OutboxStatus.DEAD if attempts >= max_attempts else OutboxStatus.PENDING
    when = next_attempt_at or now + retry_delay(attempts)
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item.id)
        .values(attempts=attempts, status=status, next_attempt_at=when, last_error=error)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    item.attempts, item.status, item.next_attempt_at, item.last_error = attempts, status, when, error
    return status


async def mark_dead(session: AsyncSession, item: OutboxItem, error: str) -> None:
    """Park an item that retrying cannot help (the receiver refused it for good). Commits."""
    await mark_failed(session, item, error, max_attempts=0)


async def retry_dead(session: AsyncSession, *, kind: str | None = None, now: datetime | None = None) -> int:
    """Give dead items a fresh set of attempts (after the receiver is fixed). Commits."""
    statement = (
        update(OutboxItem)
        .where(OutboxItem.status == OutboxStatus.DEAD)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if kind is not None:
        statement = statement.where(OutboxItem.kind == kind)
    result = await session.execute(statement)
    await session.commit()
    return affected(result)


@dataclass(frozen=True)
class OutboxSummary:
    """The outbox at a glance: counts by status, how many are due, the oldest waiting item."""

    pending: int
    sent: int
    dead: int
    due: int
    oldest_pending_at: datetime | None
    now: datetime

    @property
    def oldest_pending_age(self) -> timedelta | None:
        return None if self.oldest_pending_at is None else max(self.now - self.oldest_pending_at, timedelta())

    def to_dict(self) -> dict[str, Any]:
        age = self.oldest_pending_age
        return {
            "pending": self.pending,
            "sent": self.sent,
            "dead": self.dead,
            "due": self.due,
            "oldest_pending_at": self.oldest_pending_at.isoformat() if self.oldest_pending_at else None,
            "oldest_pending_age_seconds": None if age is None else round(age.total_seconds(), 1),
        }


async def outbox_summary(session: AsyncSession, now: datetime | None = None) -> OutboxSummary:
    """Counts over every outbox item; reads only."""
    now = now or utcnow()
    counts: dict[OutboxStatus, int] = {status: 0 for status in OutboxStatus}
    rows = await session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status))
    for status, count in rows.all():
        counts[OutboxStatus(status)] = int(count)
    pending = OutboxItem.status == OutboxStatus.PENDING
    oldest = await session.scalar(select(func.min(OutboxItem.created_at)).where(pending))
    due = await session.scalar(
        select(func.count()).select_from(OutboxItem).where(pending, OutboxItem.next_attempt_at <= now)
    )
    return OutboxSummary(
        pending=counts[OutboxStatus.PENDING],
        sent=counts[OutboxStatus.SENT],
        dead=counts[OutboxStatus.DEAD],
        due=int(due or 0),
        oldest_pending_at=oldest,
        now=now,
    )


async def dead_items(session: AsyncSession, limit: int = 10) -> list[tuple[int, str, int, str | None]]:
    """Dead items, newest first, as ``(id, key, attempts, last_error)``, for a person to read."""
    rows = await session.execute(
        select(OutboxItem.id, OutboxItem.idempotency_key, OutboxItem.attempts, OutboxItem.last_error)
        .where(OutboxItem.status == OutboxStatus.DEAD)
        .order_by(OutboxItem.id.desc())
        .limit(limit)
    )
    return [(id_, key, attempts, error) for id_, key, attempts, error in rows.all()]
