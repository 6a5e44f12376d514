"""The rows the KPIs are computed from: the dialogues that started in the period, and theirs.

A dialogue (a conversation) belongs to the period in which it started; its messages,
tickets, leads and survey answers count with it even when they come later (a dialogue
that spans midnight counts once, on the day it began). The queries filter and join in
SQL, portable between SQLite and PostgreSQL; the arithmetic happens in Python, where
time zones and JSON behave the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.engine import SCORE
from bot.kpis.period import Period
from bot.nlu.base import FALLBACK_INTENT
from bot.store.models import (
    Conversation,
    Department,
    Direction,
    Feedback,
    FeedbackAbout,
    HandoffTicket,
    Lead,
    Message,
    Operator,
)
from bot.store.turns import FORM_ANSWER, HANDLED_AS

TEXT_SAMPLE_CHARS = 200  # unrecognised messages are grouped by their first characters
SCORE_INTENT = "survey_score"
FORM_ANSWER_INTENT = "form_answer"
SURVEY_ANSWERS = frozenset({"affirm", "deny", SCORE_INTENT})
FOLLOWUP_SECONDS = 300  # the survey answer opened the dialogue: its first message is the answer


@dataclass(frozen=True)
class Filters:
    """Narrow a report to one channel, department (key) or operator (login)."""

    channel: str | None = None
    department: str | None = None
    operator: str | None = None


@dataclass(frozen=True)
class Dialogue:
    id: int
    channel: str
    started_at: datetime
    closed_at: datetime | None
    department_id: int | None
    customer_id: int


@dataclass(frozen=True)
class Msg:
    conversation_id: int
    direction: str
    sender: str
    created_at: datetime
    intent: str | None  # customer messages: what the NLU understood
    text: str | None  # kept only for messages the bot did not understand


@dataclass(frozen=True)
class Ticket:
    id: int
    conversation_id: int
    status: str
    reason: str
    department_id: int | None
    operator_id: int | None
    intent: str | None
    created_at: datetime
    claimed_at: datetime | None
    answered_at: datetime | None
    callback_at: datetime | None


@dataclass(frozen=True)
class Answer:
    conversation_id: int
    about: str
    operator_id: int | None
    helpful: bool | None
    score: int | None
    answered_at: datetime | None


@dataclass(frozen=True)
class Capture:
    conversation_id: int | None
    kind: str


@dataclass
class Snapshot:
    period: Period
    now: datetime
    dialogues: list[Dialogue] = field(default_factory=list)
    messages: list[Msg] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    feedback: list[Answer] = field(default_factory=list)
    leads: list[Capture] = field(default_factory=list)
    departments: dict[int, str] = field(default_factory=dict)  # id -> key
    operators: dict[int, str] = field(default_factory=dict)  # id -> display name
    logins: dict[int, str] = field(default_factory=dict)  # id -> login (unique, unlike display names)
    survey_followups: int = 0  # dialogues left out: only an answer to a closed dialogue's survey


def cohort(period: Period, filters: Filters) -> Select[int]:
    """The ids of the dialogues a report covers."""
    query = select(Conversation.id).where(
        Conversation.started_at >= period.start, Conversation.started_at < period.end
    )
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.department:
        department = select(Department.id).where(Department.key == filters.department).scalar_subquery()
        query = query.where(
            or_(
                Conversation.department_id == department,
                Conversation.id.in_(
                    select(HandoffTicket.conversation_id).where(HandoffTicket.department_id == department)
                ),
            )
        )
    if filters.operator:
        operator = select(Operator.id).where(Operator.login == filters.operator).scalar_subquery()
        query = query.where(
            Conversation.id.in_(
                select(HandoffTicket.conversation_id).where(HandoffTicket.operator_id == operator)
            )
        )
    return query


async def _drop_survey_followups(session: AsyncSession, snap: Snapshot) -> None:
    """Leave out dialogues that only answer the survey asked as a previous dialogue was closed.

    The answer ("да", then "5") opens a new conversation; counting it as a dialogue the bot
    kept would inflate dialogues and containment. It still counts as that survey's answer.
    """
    said: dict[int, set[str | None]] = {}
    for m in snap.messages:
        if m.sender == "customer":
            said.setdefault(m.conversation_id, set()).add(m.intent)
    handed = {t.conversation_id for t in snap.tickets}
    candidates = [
        d for d in snap.dialogues if d.id not in handed and said.get(d.id) and said[d.id] <= SURVEY_ANSWERS
    ]
    if not candidates:
        return
    answers = await _rows(
        session,
        select(Feedback.customer_id, Feedback.channel, Feedback.conversation_id, Feedback.answered_at).where(
            Feedback.customer_id.in_({d.customer_id for d in candidates}),
            Feedback.about == FeedbackAbout.OPERATOR,
            Feedback.answered_at.is_not(None),
        ),
    )
    followups = {
        d.id
        for d in candidates
        for customer, channel, conversation_id, answered in answers
        if (customer, channel) == (d.customer_id, d.channel)
        and conversation_id != d.id
        and abs((answered - d.started_at).total_seconds()) <= FOLLOWUP_SECONDS
    }
    snap.dialogues = [d for d in snap.dialogues if d.id not in followups]
    snap.messages = [m for m in snap.messages if m.conversation_id not in followups]
    snap.leads = [c for c in snap.leads if c.conversation_id not in followups]
    snap.survey_followups = len(followups)


async def _rows(session: AsyncSession, query: Executable) -> list[Any]:
    return list((await session.execute(query)).all())


def _intent(nlu: dict[str, Any] | None) -> str | None:
    intent = (nlu or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return str(name) if name else None


async def load_snapshot(
    session: AsyncSession, period: Period, filters: Filters | None = None, now: datetime | None = None
) -> Snapshot:
    """Read everything the KPIs of ``period`` need, in a handful of queries."""
    from bot.store.models import utcnow

    filters = filters or Filters()
    snap = Snapshot(period, now or utcnow())
    ids = cohort(period, filters)
    rows = await _rows(
        session,
        select(
            Conversation.id,
            Conversation.channel,
            Conversation.started_at,
            Conversation.closed_at,
            Conversation.department_id,
            Conversation.customer_id,
        ).where(Conversation.id.in_(ids)),
    )
    snap.dialogues = [Dialogue(*row) for row in rows]
    rows = await _rows(
        session,
        select(
            Message.conversation_id,
            Message.direction,
            Message.sender,
            Message.created_at,
            Message.nlu,
            Message.text,
        )
        .where(Message.conversation_id.in_(ids))
        .order_by(Message.conversation_id, Message.id),
    )
    for conversation_id, direction, sender, created_at, nlu, text in rows:
        intent = _intent(nlu) if direction == Direction.IN else None
        if intent == FALLBACK_INTENT and text and SCORE.fullmatch(text.strip()):
            intent = SCORE_INTENT  # "5" answering the survey's score question was understood
        elif intent == FALLBACK_INTENT and (nlu or {}).get(HANDLED_AS) == FORM_ANSWER:
            intent = FORM_ANSWER_INTENT  # a name or a phone the lead form asked for was understood
        keep_text = direction == Direction.IN and intent == FALLBACK_INTENT
        snap.messages.append(
            Msg(
                conversation_id,
                str(direction),
                str(sender),
                created_at,
                intent,
                text[:TEXT_SAMPLE_CHARS] if keep_text and text else None,
            )
        )
    rows = await _rows(
        session,
        select(
            HandoffTicket.id,
            HandoffTicket.conversation_id,
            HandoffTicket.status,
            HandoffTicket.reason,
            HandoffTicket.department_id,
            HandoffTicket.operator_id,
            HandoffTicket.note,
            HandoffTicket.created_at,
            HandoffTicket.claimed_at,
            HandoffTicket.answered_at,
            HandoffTicket.callback_at,
        )
        .where(HandoffTicket.conversation_id.in_(ids))
        .order_by(HandoffTicket.id),
    )
    for tid, cid, status, reason, dep, op, note, created, claimed, answered, callback in rows:
        intent = (note or {}).get("intent")
        snap.tickets.append(
            Ticket(
                tid, cid, str(status), reason, dep, op, str(intent) if intent else None,
                created, claimed, answered, callback,
            )
        )  # fmt: skip
    rows = await _rows(
        session,
        select(
            Feedback.conversation_id,
            Feedback.about,
            Feedback.operator_id,
            Feedback.helpful,
            Feedback.score,
            Feedback.answered_at,
        ).where(Feedback.conversation_id.in_(ids)),
    )
    snap.feedback = [Answer(c, str(a), o, h, s, t) for c, a, o, h, s, t in rows]
    rows = await _rows(session, select(Lead.conversation_id, Lead.kind).where(Lead.conversation_id.in_(ids)))
    snap.leads = [Capture(c, str(k)) for c, k in rows]
    await _drop_survey_followups(session, snap)
    snap.departments = {i: k for i, k in await _rows(session, select(Department.id, Department.key))}
    accounts = await _rows(session, select(Operator.id, Operator.login, Operator.display_name))
    snap.operators = {i: name for i, _, name in accounts}
    snap.logins = {i: login for i, login, _ in accounts}
    return snap
