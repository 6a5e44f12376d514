"""The outbox worker: delivers stored lead cards to the configured CRM adapters.

Leads are written to the outbox in the same transaction as the lead itself
(``bot.store.create_lead``); this worker is the only thing that sends them. It leases
due items (``claim_due``: ``SKIP LOCKED`` on PostgreSQL, so several server processes
can each run one), pushes each card through every configured adapter, and records
the outcome: delivered (a 409 duplicate included) is ``sent``, a temporary error is
retried after ``handoff.crm.retry_delay`` (the CRM's ``Retry-After`` when it sent one),
a permanent error or the last allowed attempt is ``dead`` until a person re-queues it.
Delivery is at least once; the card's idempotency key makes it exactly once in the CRM.
No database session is held open while a CRM is being called.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.events import EventBus
from bot.settings import CRMItem
from bot.store import (
    CRM_LEAD,
    MAX_ATTEMPTS,
    OutboxItem,
    OutboxStatus,
    claim_due,
    mark_dead,
    mark_failed,
    mark_sent,
)
from bot.store.models import utcnow
from bot.store.outbox import DEFAULT_LEASE
from handoff.crm import (
    CRMAdapter,
    CRMPermanentError,
    CRMSpec,
    CRMTemporaryError,
    LeadCard,
    PushResult,
    build_adapter,
    mask_phone,
    retry_delay,
)

log = logging.getLogger("botdesk.outbox")

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_BATCH_SIZE = 20
DEFAULT_CONCURRENCY = 4
LONGEST_ERROR_PAUSE = 60.0
_PERSONAL = re.compile(r"\+?\d[\d\s()\-]{6,}\d|[^@\s\"']+@[^@\s\"']+")

Sessions = async_sessionmaker[AsyncSession]
CRMConfig = CRMItem | CRMSpec | Mapping[str, Any]


class Outcome(StrEnum):
    """What one pass did with one item."""

    DELIVERED = "delivered"
    DUPLICATE = "duplicate"  # the CRM had it already (409): delivered all the same
    RETRY = "retry"
    DEAD = "dead"


@dataclass
class PassStats:
    """What one ``run_once`` did; ``errors`` are items whose outcome could not be stored."""

    claimed: int = 0
    delivered: int = 0
    duplicates: int = 0
    retried: int = 0
    dead: int = 0
    errors: int = 0

    def count(self, outcome: Outcome) -> None:
        if outcome in (Outcome.DELIVERED, Outcome.DUPLICATE):
            self.delivered += 1
            self.duplicates += outcome is Outcome.DUPLICATE
        elif outcome is Outcome.RETRY:
            self.retried += 1
        else:
            self.dead += 1

    def add(self, other: PassStats) -> None:
        """Sum passes (``botdesk outbox deliver --once`` runs several)."""
        for name in ("claimed", "delivered", "duplicates", "retried", "dead", "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}: delivered {self.delivered} ({self.duplicates} already in the CRM), "
            f"retry later {self.retried}, dead {self.dead}"
            + (f", not recorded {self.errors}" if self.errors else "")
        )


def _spec(item: CRMConfig) -> CRMSpec | Mapping[str, Any]:
    if isinstance(item, CRMItem):
        return {"adapter": item.adapter, **item.options()}
    return item


def _first_line(error: BaseException) -> str:
    """An exception as one line: SQLAlchemy puts the statement and its parameters below it."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def redact(text: str, card: LeadCard | None = None) -> str:
    """An error reason safe to store and log: the card's contacts and phone/e-mail-like text masked."""
    if card is not None:
        for secret in (card.phone, card.email, card.name):
            if secret and len(secret) >= 3:  # a one-letter name would mask every such letter
                text = text.replace(secret, "***")
    return _PERSONAL.sub("***", text)


class OutboxWorker:
    """Background delivery of ``crm.lead`` outbox items; see the module docstring.

    ``start()``/``stop()`` for a server's lifespan, ``run()`` for a foreground process,
    ``run_once(now)`` for tests and ``botdesk outbox deliver --once``. The counters
    ``delivered``, ``duplicates``, ``retried``, ``dead``, ``passes`` and ``failed_passes``
    only grow, as metrics counters do.
    """

    def __init__(
        self,
        sessions: Sessions,
        adapters: Sequence[CRMAdapter],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = MAX_ATTEMPTS,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        if poll_interval <= 0 or batch_size < 1 or concurrency < 1 or max_attempts < 1:
            raise ValueError("poll_interval, batch_size, concurrency and max_attempts must be positive")
        self.sessions = sessions
        self.adapters = tuple(adapters)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.lease = lease
        self.delivered = self.duplicates = self.retried = self.dead = 0
        self.passes = self.failed_passes = 0
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._announced = False

    @classmethod
    def from_config(
        cls,
        sessions: Sessions,
        crm: Iterable[CRMConfig],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> OutboxWorker:
        """A worker for config.yml's ``crm`` items (ConfigError if one cannot be built, e.g. its
        secret's variable is unset); ``transport`` (an httpx transport) replaces the network in tests."""
        adapters = [build_adapter(_spec(item), transport=transport) for item in crm]
        return cls(
            sessions,
            adapters,
            poll_interval=poll_interval,
            batch_size=batch_size,
            concurrency=concurrency,
            max_attempts=max_attempts,
        )

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """False without a CRM: then nothing is claimed and the leads wait in the outbox."""
        return bool(self.adapters)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self, events: EventBus | None = None) -> None:
        """Run in the background of the current event loop (no-op without a CRM, or if running).

        With ``events``, a ``lead`` event (a lead card saved, in this process or, on a
        shared bus, in another) wakes the worker at once rather than at its next poll.
        """
        if self.running:
            return
        self._stopping.clear()
        if not self._announce():
            return
        self._task = asyncio.create_task(self._loop(), name="botdesk-outbox-worker")
        if events is not None:
            self._listener = asyncio.create_task(self._listen(events), name="botdesk-outbox-leads")

    async def _listen(self, events: EventBus) -> None:
        with events.subscribe("lead") as subscription:
            while not self._stopping.is_set():
                event = await subscription.get()
                if event.kind == "lead":
                    self.wake()

    def wake(self) -> None:
        """Look for due items now rather than after the poll interval (e.g. just after a new lead)."""
        self._wakeup.set()

    def request_stop(self) -> None:
        """Ask the loop to end after the pass in flight; see ``stop``."""
        self._stopping.set()
        self._wakeup.set()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully: the items already claimed are pushed and marked first.

        After ``timeout`` seconds the pass is cancelled; its unfinished items keep their
        lease and are retried when it ends (the CRM deduplicates by the card's key).
        """
        self.request_stop()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        task, self._task = self._task, None
        if task is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(task)
        except TimeoutError:
            log.warning("outbox worker: stop timed out after %g s; unfinished pushes retry later", timeout)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def aclose(self, timeout: float | None = None) -> None:
        """``stop`` and release the adapters' connections."""
        await self.stop(timeout)
        for adapter in self.adapters:
            try:
                await adapter.aclose()
            except Exception as exc:  # closing is best effort; the process is going away
                log.warning("closing CRM adapter %s failed: %s", adapter.name, _first_line(exc))

    async def __aenter__(self) -> OutboxWorker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def run(self) -> None:
        """Deliver in the current task until ``request_stop`` (a foreground process)."""
        self._stopping.clear()
        if self._announce():
            await self._loop()

    def _announce(self) -> bool:
        if not self.adapters:
            if not self._announced:
                log.warning(
                    "no CRM in the crm section of config.yml: lead cards wait in the outbox until one is set"
                )
            self._announced = True
            return False
        names = ", ".join(adapter.name for adapter in self.adapters)
        log.info(
            "outbox worker delivering lead cards to %s (every %g s, batches of %d)",
            names,
            self.poll_interval,
            self.batch_size,
        )
        return True

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                stats = await self.run_once()
            except Exception as exc:  # the database is away, say: the items stay where they are
                failures += 1
                self.failed_passes += 1
                log.error("outbox pass failed (%s); trying again", _first_line(exc))
            else:
                failures = 0
                if stats.claimed >= self.batch_size:
                    continue  # more may be due already
            pause = min(
                self.poll_interval * 2 ** min(failures, 10), max(LONGEST_ERROR_PAUSE, self.poll_interval)
            )
            with contextlib.suppress(TimeoutError):  # woken early by wake() or request_stop()
                async with asyncio.timeout(pause):
                    await self._wakeup.wait()

    # --- one pass -----------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> PassStats:
        """Claim up to ``batch_size`` due items and deliver them; ``now`` stands in for the clock."""
        stats = PassStats()
        if not self.adapters:
            return stats
        async with self.sessions() as session:
            items = await claim_due(
                session, self.batch_size, now or utcnow(), kind=CRM_LEAD, lease=self.lease
            )
        stats.claimed = len(items)
        if items:
            limit = asyncio.Semaphore(self.concurrency)

            async def deliver(item: OutboxItem) -> Outcome:
                async with limit:
                    return await self._deliver(item, now)

            outcomes = await asyncio.gather(*(deliver(item) for item in items), return_exceptions=True)
            for item, outcome in zip(items, outcomes, strict=True):
                if isinstance(outcome, Outcome):
                    stats.count(outcome)
                elif isinstance(outcome, Exception):
                    # Pushed or not, the item keeps its lease and comes back when it ends.
                    stats.errors += 1
                    log.error("outbox item %s: outcome not recorded (%s)", item.id, _first_line(outcome))
                else:
                    raise outcome
        self.passes += 1
        self.delivered += stats.delivered
        self.duplicates += stats.duplicates
        self.retried += stats.retried
        self.dead += stats.dead
        return stats

    async def _deliver(self, item: OutboxItem, now: datetime | None) -> Outcome:
        try:
            card = LeadCard.model_validate(item.payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'card'}: {e['msg']}" for e in exc.errors()
            )
            reason = redact(f"the stored payload is not a valid lead card ({problems})")
            async with self.sessions() as session:
                await mark_dead(session, item, reason)
            log.error("outbox item %s (%s) is dead: %s", item.id, item.idempotency_key, reason)
            return Outcome.DEAD

        results: list[PushResult] = []
        temporary: list[tuple[str, CRMTemporaryError]] = []
        permanent: list[str] = []
        for adapter in self.adapters:
            prefix = f"{adapter.name}: " if len(self.adapters) > 1 else ""
            try:
                results.append(await adapter.push(card))
            except CRMTemporaryError as exc:
                temporary.append((redact(prefix + str(exc), card), exc))
            except CRMPermanentError as exc:
                permanent.append(redact(prefix + str(exc), card))
            except Exception as exc:  # a bug in an adapter: retry with backoff, give up after max_attempts
                reason = redact(f"{prefix}adapter failed: {_first_line(exc)}", card)
                temporary.append((reason, CRMTemporaryError(reason)))

        who = f"{card.kind} {item.idempotency_key} ({mask_phone(card.phone)})"
        async with self.sessions() as session:
            if permanent:
                reason = "; ".join(permanent)
                await mark_dead(session, item, reason)
                log.error("%s refused for good, parked as dead: %s", who, reason)
                return Outcome.DEAD
            if temporary:
                attempt = item.attempts + 1
                wait = max(retry_delay(exc, attempt) for _, exc in temporary)
                when = (now or utcnow()) + timedelta(seconds=wait)
                reason = "; ".join(text for text, _ in temporary)
                status = await mark_failed(
                    session, item, reason, when, now=now, max_attempts=self.max_attempts
                )
                if status is OutboxStatus.DEAD:
                    log.error("%s gave up after %d attempts, parked as dead: %s", who, attempt, reason)
                    return Outcome.DEAD
                log.warning("%s not delivered (attempt %d), retry in %.0f s: %s", who, attempt, wait, reason)
                return Outcome.RETRY
            await mark_sent(session, item, now=now)
        duplicate = any(result.duplicate for result in results)
        crm_ids = ", ".join(f"{r.adapter} {r.crm_id or '?'}" for r in results)
        log.info("%s delivered (%s)%s", who, crm_ids, ", the CRM had it already" if duplicate else "")
        return Outcome.DUPLICATE if duplicate else Outcome.DELIVERED


# --- for operators and metrics ----------------------------------------------------------
