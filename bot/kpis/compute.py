"""Every KPI of docs/kpis.md from a ``Snapshot``; the same function serves each breakdown.

Times are seconds (floats, rounded to 0.1 s), rates are shares in 0..1 (rounded to
4 places), an average over nothing is ``None`` ("no data", never a misleading 0).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any

from bot.kpis.snapshot import (
    FORM_ANSWER_INTENT,
    SCORE_INTENT,
    Answer,
    Capture,
    Dialogue,
    Msg,
    Snapshot,
    Ticket,
)
from bot.nlu.base import FALLBACK_INTENT

# The JSON keys of ``botdesk report`` (the list), in this order, then the extras.
KPI_KEYS = (
    "first_response_seconds",
    "resolution_seconds",
    "missed",
    "dialogues",
    "messages_in",
    "messages_out",
    "depth",
    "containment_rate",
    "handoff_rate",
    "handoff_reasons",
    "abandonment_after_fallback",
    "leads",
    "callbacks",
    "csat",
    "by_hour",
)
# Escalations that mean the bot did not understand (fallback) or could not decide (clarification).
NOT_UNDERSTOOD_REASONS = frozenset({"misunderstood", "unsure", "two_stage_fallback"})
CLARIFICATION_REASONS = frozenset({"unsure", "two_stage_fallback"})
LEFT_UNANSWERED = frozenset({"closed", "returned"})
TOP = 10


@dataclass
class Slice:
    """One group of dialogues with everything that belongs to them."""

    dialogues: list[Dialogue]
    messages: list[Msg]
    tickets: list[Ticket]
    feedback: list[Answer]
    leads: list[Capture]

    def only(self, ids: set[int]) -> Slice:
        return Slice(
            [d for d in self.dialogues if d.id in ids],
            [m for m in self.messages if m.conversation_id in ids],
            [t for t in self.tickets if t.conversation_id in ids],
            [f for f in self.feedback if f.conversation_id in ids],
            [c for c in self.leads if c.conversation_id in ids],
        )


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(fmean(items), 1) if items else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def response_start(ticket: Ticket) -> datetime:
    """When a person owes an answer: the handoff, or the opening time for an after-hours handoff."""
    if ticket.callback_at is not None and ticket.callback_at > ticket.created_at:
        return ticket.callback_at
    return ticket.created_at


def first_response(ticket: Ticket) -> float | None:
    """Seconds from ``response_start`` to the first operator message (0 if answered before opening)."""
    if ticket.answered_at is None:
        return None
    return max(0.0, (ticket.answered_at - response_start(ticket)).total_seconds())


def is_missed(ticket: Ticket, sla_seconds: float, now: datetime) -> bool:
    """Answered late, left the queue unanswered, or still unanswered past the SLA."""
    waited = first_response(ticket)
    if waited is not None:
        return waited > sla_seconds
    if ticket.status in LEFT_UNANSWERED:
        return True
    return (now - response_start(ticket)).total_seconds() > sla_seconds


def _understood(intent: str | None) -> bool:
    """An intent worth listing: not a fallback, a survey score or a form's answer."""
    return bool(intent) and intent not in (FALLBACK_INTENT, SCORE_INTENT, FORM_ANSWER_INTENT)


def _customer(messages: list[Msg]) -> list[Msg]:
    return [m for m in messages if m.sender == "customer"]


def abandoned_after_fallback(s: Slice) -> set[int]:
    """Dialogues without a person whose last customer message the bot did not understand."""
    handed = {t.conversation_id for t in s.tickets}
    last: dict[int, Msg] = {}
    for m in _customer(s.messages):
        last[m.conversation_id] = m  # messages come in id order
    return {cid for cid, m in last.items() if cid not in handed and m.intent == FALLBACK_INTENT}


def resolution(s: Slice) -> list[float]:
    """Closed dialogues: first customer message to closing; bot-kept ones: to the last bot answer."""
    handed = {t.conversation_id for t in s.tickets}
    abandoned = abandoned_after_fallback(s)
    first_in: dict[int, datetime] = {}
    last_bot: dict[int, datetime] = {}
    for m in s.messages:
        if m.sender == "customer":
            first_in.setdefault(m.conversation_id, m.created_at)
        elif m.sender == "bot":
            last_bot[m.conversation_id] = m.created_at
    out = []
    for d in s.dialogues:
        start = first_in.get(d.id)
        if start is None:
            continue
        if d.closed_at is not None:
            out.append((d.closed_at - start).total_seconds())
        elif d.id not in handed and d.id not in abandoned and d.id in last_bot:
            out.append(max(0.0, (last_bot[d.id] - start).total_seconds()))
    return out


def csat(feedback: list[Answer]) -> dict[str, Any]:
    asked = len(feedback)
    answered = [f for f in feedback if f.helpful is not None]
    helpful = sum(1 for f in answered if f.helpful)
    scores = [f.score for f in feedback if f.score is not None]
    return {
        "asked": asked,
        "answered": len(answered),
        "helpful": helpful,
        "rate": _rate(helpful, len(answered)),
        "score": round(fmean(scores), 2) if scores else None,
        "scores": len(scores),
    }


def core(s: Slice, sla_seconds: float, now: datetime) -> dict[str, Any]:
    """The headline KPIs of one slice (everything but the per-intent and hourly tables)."""
    dialogues = len(s.dialogues)
    customer = _customer(s.messages)
    handed = {t.conversation_id for t in s.tickets}
    abandoned = abandoned_after_fallback(s)
    contained = [d for d in s.dialogues if d.id not in handed and d.id not in abandoned]
    out = Counter(m.sender for m in s.messages if m.direction == "out")
    return {
        "first_response_seconds": _mean(x for t in s.tickets if (x := first_response(t)) is not None),
        "resolution_seconds": _mean(resolution(s)),
        "missed": sum(1 for t in s.tickets if is_missed(t, sla_seconds, now)),
        "dialogues": dialogues,
        "messages_in": len(customer),
        "messages_out": sum(out.values()),
        "messages_out_by_sender": dict(sorted(out.items())),
        "depth": round(len(customer) / dialogues, 2) if dialogues else None,
        "containment_rate": _rate(len(contained), dialogues),
        "handoffs": len(s.tickets),
        "handoff_rate": _rate(len(handed), dialogues),
        "handoff_reasons": dict(Counter(t.reason for t in s.tickets).most_common()),
        "abandonment_after_fallback": len(abandoned),
        "abandonment_after_fallback_rate": _rate(len(abandoned), dialogues),
        "leads": sum(1 for c in s.leads if c.kind == "lead"),
        "callbacks": sum(1 for c in s.leads if c.kind == "callback"),
        "csat": {
            "bot": csat([f for f in s.feedback if f.about == "bot"]),
            "operator": csat([f for f in s.feedback if f.about == "operator"]),
        },
    }


def by_hour(s: Slice, snap: Snapshot) -> list[int]:
    """Customer messages per local hour of day, 0..23."""
    hours = [0] * 24
    for m in _customer(s.messages):
        hours[m.created_at.astimezone(snap.period.tz).hour] += 1
    return hours


def by_day(s: Slice, snap: Snapshot) -> list[dict[str, Any]]:
    """Dialogues and handoffs per local day of the period."""
    handed = {t.conversation_id for t in s.tickets}
    days: dict[str, list[int]] = {d.isoformat(): [0, 0] for d in snap.period.days()}
    for d in s.dialogues:
        row = days.setdefault(d.started_at.astimezone(snap.period.tz).date().isoformat(), [0, 0])
        row[0] += 1
        row[1] += d.id in handed
    return [{"day": day, "dialogues": n, "handoffs": h} for day, (n, h) in days.items()]


def intents(s: Slice) -> list[dict[str, Any]]:
    """Handoff analytics per intent: how often an intent ends with a person, and how it goes."""
    messages = Counter(m.intent for m in _customer(s.messages) if m.intent and _understood(m.intent))
    tickets: dict[str, list[Ticket]] = defaultdict(list)
    for t in s.tickets:
        tickets[t.intent or FALLBACK_INTENT].append(t)
    rows = []
    order = sorted(set(messages) | set(tickets), key=lambda i: (-len(tickets.get(i, [])), -messages[i], i))
    for intent in order:
        group = tickets.get(intent, [])
        waits = [
            max(0.0, (t.claimed_at - response_start(t)).total_seconds())
            for t in group
            if t.claimed_at is not None
        ]
        rows.append(
            {
                "intent": intent,
                "messages": messages[intent],
                "handoffs": len(group),
                "after_not_understood": sum(1 for t in group if t.reason in NOT_UNDERSTOOD_REASONS),
                "after_fallback": sum(1 for t in group if t.reason == "misunderstood"),
                "after_clarification": sum(1 for t in group if t.reason in CLARIFICATION_REASONS),
                "time_to_human_seconds": _mean(waits),
                "queue_abandoned": sum(
                    1 for t in group if t.claimed_at is None and t.status in LEFT_UNANSWERED
                ),
            }
        )
    return rows


def top_unrecognised(s: Slice) -> list[dict[str, Any]]:
    texts = Counter(" ".join(m.text.lower().split()) for m in _customer(s.messages) if m.text)
    return [{"text": text, "count": n} for text, n in texts.most_common(TOP)]


def breakdowns(s: Slice, snap: Snapshot, sla: float) -> dict[str, Any]:
    """The headline KPIs per channel, department, operator, and bot-only vs with a person."""
    by_channel: dict[str, set[int]] = defaultdict(set)
    for d in s.dialogues:
        by_channel[d.channel].add(d.id)
    by_department: dict[str, set[int]] = defaultdict(set)
    for t in s.tickets:
        by_department[snap.departments.get(t.department_id or -1, "-")].add(t.conversation_id)
    handed = {t.conversation_id for t in s.tickets}
    operators = []
    for op_id in sorted({t.operator_id for t in s.tickets if t.operator_id is not None}):
        mine = [t for t in s.tickets if t.operator_id == op_id]
        part = s.only({t.conversation_id for t in mine})
        part.tickets = mine
        part.feedback = [f for f in part.feedback if f.about == "bot" or f.operator_id == op_id]
        operators.append(
            {
                "operator": snap.operators.get(op_id, str(op_id)),
                "login": snap.logins.get(op_id, str(op_id)),
                **core(part, sla, snap.now),
            }
        )
    all_ids = {d.id for d in s.dialogues}
    return {
        "channel": {k: core(s.only(v), sla, snap.now) for k, v in sorted(by_channel.items())},
        "department": {k: core(s.only(v), sla, snap.now) for k, v in sorted(by_department.items())},
        "operator": operators,
        "bot_vs_human": {
            "bot": core(s.only(all_ids - handed), sla, snap.now),
            "human": core(s.only(handed), sla, snap.now),
        },
    }


def build_report(snap: Snapshot, sla_seconds: float, *, with_breakdowns: bool = True) -> dict[str, Any]:
    """The whole report: headline KPIs (``KPI_KEYS`` first), tables, breakdowns."""
    s = Slice(snap.dialogues, snap.messages, snap.tickets, snap.feedback, snap.leads)
    headline = core(s, sla_seconds, snap.now)
    report: dict[str, Any] = {key: headline[key] for key in KPI_KEYS if key in headline}
    report["by_hour"] = by_hour(s, snap)
    report.update({k: v for k, v in headline.items() if k not in report})
    report["period"] = {
        "from": snap.period.first.isoformat(),
        "to": snap.period.last.isoformat(),
        "timezone": snap.period.tz.key,
        "first_response_sla_seconds": sla_seconds,
        "survey_followups_left_out": snap.survey_followups,
    }
    report["by_day"] = by_day(s, snap)
    report["top_intents"] = [
        {"intent": i, "count": n}
        for i, n in Counter(m.intent for m in _customer(s.messages) if _understood(m.intent)).most_common(TOP)
    ]
    report["top_unrecognised"] = top_unrecognised(s)
    report["intents"] = intents(s)
    if with_breakdowns:
        report["breakdown"] = breakdowns(s, snap, sla_seconds)
    return report
