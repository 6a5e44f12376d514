"""Prometheus metrics for one app: its own registry, so two apps in one process never mix.

Counters are bumped where things happen (a channel handled a message); values that
live elsewhere are read when /metrics is scraped: the queue length and the outbox
from the store, the CRM worker's delivery counters from the worker itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from bot.channels.base import Channel
from bot.conversation import Handled
from bot.nlu.base import FALLBACK_INTENT
from bot.store import Database, utcnow
from bot.store.outbox import outbox_summary
from bot.store.queue import queued_count
from handoff.outbox import OutboxWorker

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RESPONSE_BUCKETS = (15, 30, 60, 120, 300, 600, 1200, 3600, 4 * 3600)
SCORE_BUCKETS = (1, 2, 3, 4, 5)
OUTCOMES = ("answered", "handoff", "silent", "duplicate", "rejected", "error")


def outcome_of(handled: Handled) -> str:
    """How a handled message ended, as the ``outcome`` label."""
    if handled.duplicate:
        return "duplicate"
    if handled.silent:
        return "silent"
    if handled.ticket_id is not None:
        return "handoff"
    return "answered"


class Metrics:
    """Everything /metrics shows; channels call ``observe``/``refused``, the server the rest."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter(
            "botdesk_messages",
            "Customer messages handled, by channel and outcome",
            ["channel", "outcome"],
            registry=r,
        )
        self.reply_seconds = Histogram(
            "botdesk_reply_seconds",
            "From receiving a customer message to having the stored reply, by channel",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "botdesk_nlu_fallbacks", "Customer messages the bot did not understand", ["channel"], registry=r
        )
        self.escalations = Counter(
            "botdesk_escalations", "Dialogues handed to a person, by escalation rule", ["reason"], registry=r
        )
        self.first_response = Histogram(
            "botdesk_first_response_seconds",
            "From a handoff (or, after hours, the opening) to the operator's first reply",
            buckets=RESPONSE_BUCKETS,
            registry=r,
        )
        self.feedback = Counter(
            "botdesk_feedback",
            "Answers to 'did this answer your question?', about the bot or an operator",
            ["about", "helpful"],
            registry=r,
        )
        self.feedback_score = Histogram(
            "botdesk_feedback_score",
            "Optional 1-5 scores of the survey",
            ["about"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.queue_length = Gauge(
            "botdesk_queue_length", "Handed-off dialogues waiting for an operator", registry=r
        )
        self.outbox_pending = Gauge(
            "botdesk_outbox_pending", "Outbox items (CRM pushes, redeliveries) not yet delivered", registry=r
        )
        self.outbox_dead_items = Gauge(
            "botdesk_outbox_dead_items", "Outbox items given up on, waiting for a person", registry=r
        )
        self.redelivered = Counter(
            "botdesk_channel_redelivered",
            "Operator and system messages delivered on a retry after their channel was down",
            registry=r,
        )
        self.model = Info("botdesk_model", "The NLU model in service", registry=r)
        self._outbox = OutboxCollector()
        r.register(self._outbox)
        self._channels = ChannelCollector()
        r.register(self._channels)

    def observe(self, channel: str, handled: Handled, seconds: float) -> None:
        """One handled customer message: outcome, latency, fallback, escalation."""
        self.messages.labels(channel, outcome_of(handled)).inc()
        if handled.duplicate:
            return
        self.reply_seconds.labels(channel).observe(seconds)
        result = handled.result
        if result is None:
            return
        if result.intent == FALLBACK_INTENT:
            self.fallbacks.labels(channel).inc()
        if result.escalation is not None:
            self.escalations.labels(result.escalation.reason).inc()
        if handled.feedback is not None:
            about, helpful, score = handled.feedback
            if helpful is not None:
                self.feedback.labels(about, "yes" if helpful else "no").inc()
            if score is not None:
                self.feedback_score.labels(about).observe(score)

    def refused(self, channel: str, outcome: str = "rejected") -> None:
        """A message that was not handled: bad input (``rejected``) or a server-side ``error``."""
        self.messages.labels(channel, outcome).inc()

    def set_model(self, version: str | None) -> None:
        self.model.info({"version": version or "unknown"})

    def watch_outbox(self, worker: OutboxWorker) -> None:
        """Expose the CRM worker's counters (they only grow) as Prometheus counters."""
        self._outbox.worker = worker

    def watch_channels(self, channels: Sequence[Channel]) -> None:
        """Expose the running channels' own counters (``Channel.counters``), read at scrape time."""
        self._channels.channels = channels

    async def refresh(self, db: Database, now: datetime | None = None) -> None:
        """Read the gauges that live in the store; called just before a scrape is rendered."""
        now = now or utcnow()
        async with db.reader() as session:
            queued = await queued_count(session, now)
            summary = await outbox_summary(session, now)
        self.queue_length.set(queued)
        self.outbox_pending.set(summary.pending)
        self.outbox_dead_items.set(summary.dead)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class OutboxCollector(Collector):
    """Reads ``OutboxWorker``'s counters at scrape time (zeros until there is a worker)."""

    FIELDS = (
        ("delivered", "Lead cards the CRM accepted"),
        ("duplicates", "Lead cards the CRM already had (a retry after a lost answer)"),
        ("retried", "CRM pushes that failed for now and were scheduled again"),
        ("dead", "CRM pushes given up on (permanent error or too many attempts)"),
    )

    def __init__(self, worker: OutboxWorker | None = None) -> None:
        self.worker = worker

    def collect(self) -> Iterator[CounterMetricFamily]:
        for field, help_text in self.FIELDS:
            value = getattr(self.worker, field) if self.worker is not None else 0
            yield CounterMetricFamily(f"botdesk_outbox_{field}", help_text, value=value)

    def describe(self) -> Iterable[CounterMetricFamily]:
        return list(self.collect())


class ChannelCollector(Collector):
    """``botdesk_channel_events{channel, event}``: each running channel's ``counters()`` at scrape time."""

    def __init__(self) -> None:
        self.channels: Sequence[Channel] = ()

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "botdesk_channel_events",
            "Events a channel counts itself (e.g. WhatsApp's message statuses), by channel and event",
            labels=["channel", "event"],
        )
        for channel in list(self.channels):
            for event, value in sorted(channel.counters().items()):
                family.add_metric([channel.name, event], value)
        yield family

    def describe(self) -> Iterable[CounterMetricFamily]:
        return list(self.collect())
