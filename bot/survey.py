"""The satisfaction survey's bookkeeping: who was asked "did this answer your question?", and the answer.

The question itself is the dialogue engine's (``DialogueEngine.ask_feedback``; a "no"
after a bot answer escalates through the ``did_not_help`` rule). It is asked once per
dialogue about the bot, and once per handoff about the operator:

- after a bot answer: right away when ``escalation.ask_feedback`` is on, otherwise when
  the customer has been quiet for ``survey.quiet_minutes`` (``quiet_dialogues``, run by
  the maintenance tick);
- when an operator closes the dialogue or gives it back to the bot.

Every question is a ``feedback`` row at once (so the response rate is known); the
answer and the optional 1-5 score fill it in when they come, within
``survey.answer_window_minutes``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Insert, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import SurveySettings
from bot.store.models import (
    Conversation,
    ConversationState,
    Feedback,
    FeedbackAbout,
    Message,
    Sender,
)
from bot.store.prepared import Driver, Prepared, driver_for, run, scalar


class ConversationKey(Protocol):
    """What the survey needs of a conversation: a ``Conversation`` or a ``ConversationRef``."""

    @property
    def id(self) -> int: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def channel(self) -> str: ...


class ConversationRef(NamedTuple):
    """A conversation by its keys, when its ORM object is not loaded (the customer turn)."""

    id: int
    customer_id: int
    channel: str


def _ask(same_ticket: bool) -> Insert:
    """INSERT a feedback row unless one for this dialogue (bot) or this handoff (operator) exists."""
    table: Table = Feedback.__table__  # type: ignore[assignment]
    columns = ["conversation_id", "ticket_id", "customer_id", "about", "operator_id", "channel", "created_at"]
    # Own names for the check: PostgreSQL would type one parameter used twice only once.
    asked = select(table.c.id).where(
        table.c.conversation_id == bindparam("asked_conversation_id"),
        table.c.about == bindparam("asked_about"),
    )
    if same_ticket:
        asked = asked.where(table.c.ticket_id == bindparam("asked_ticket_id"))
    values = select(*(bindparam(name, type_=table.c[name].type) for name in columns)).where(~asked.exists())
    return insert(table).from_select(columns, values).returning(table.c.id)


# Prepared: the bot's question is recorded in a customer turn, next to its other statements.
_ASK_ABOUT_BOT = Prepared(_ask(same_ticket=False))
_ASK_ABOUT_OPERATOR = Prepared(_ask(same_ticket=True))


async def record_asked(
    where: AsyncSession | Driver,
    conversation: ConversationKey,
    about: FeedbackAbout,
    now: datetime,
    *,
    ticket_id: int | None = None,
    operator_id: int | None = None,
) -> bool:
    """A new survey row, unless this dialogue (bot) or this handoff (operator) was asked already.

    One statement (the check and the insert together), on ``where``'s transaction; True
    when a row was added.
    """
    statement = _ASK_ABOUT_OPERATOR if about == FeedbackAbout.OPERATOR else _ASK_ABOUT_BOT
    driver = await driver_for(where)
    added = await driver.rows(
        statement,
        {
            "conversation_id": conversation.id,
            "ticket_id": ticket_id,
            "customer_id": conversation.customer_id,
            "about": about,
            "operator_id": operator_id,
            "channel": conversation.channel,
            "created_at": now,
            "asked_conversation_id": conversation.id,
            "asked_about": about,
            "asked_ticket_id": ticket_id,
        },
    )
    return len(added) == 1


async def _latest(
    driver: Driver, customer_id: int, channel: str, since: datetime, *, unanswered: bool
) -> tuple[int, int, FeedbackAbout] | None:
    """(feedback id, conversation id, about) of the customer's latest open survey row, if any."""
    query = select(Feedback.id, Feedback.conversation_id, Feedback.about).where(
        Feedback.customer_id == customer_id, Feedback.channel == channel, Feedback.created_at >= since
    )
    if unanswered:
        query = query.where(Feedback.helpful.is_(None))
    else:
        query = query.where(Feedback.helpful.is_not(None), Feedback.score.is_(None))
    rows = await run(driver, query.order_by(Feedback.id.desc()).limit(1))
    if not rows:
        return None
    feedback_id, conversation_id, about = rows[0]
    return int(feedback_id), int(conversation_id), FeedbackAbout(about)


async def record_answer(
    where: AsyncSession | Driver,
    customer_id: int,
    channel: str,
    settings: SurveySettings,
    now: datetime,
    *,
    helpful: bool | None = None,
    score: int | None = None,
) -> FeedbackAbout | None:
    """Fill in the customer's latest open survey; what it was about, None when there is none (too late, or
    never asked)."""
    driver = await driver_for(where)
    since = now - timedelta(minutes=settings.answer_window_minutes)
    found = await _latest(driver, customer_id, channel, since, unanswered=helpful is not None)
    if found is None:
        return None
    feedback_id, _, about = found
    answer: dict[str, Any] = {}
    if helpful is not None:
        answer.update(helpful=helpful, answered_at=now)
    if score is not None:
        answer["score"] = score
    if answer:
        await run(driver, update(Feedback).where(Feedback.id == feedback_id).values(**answer))
    return about


async def asked_after_close(
    where: AsyncSession | Driver, conversation: ConversationKey, settings: SurveySettings, now: datetime
) -> bool:
    """Is the customer answering the question asked as their previous, closed dialogue ended?"""
    driver = await driver_for(where)
    since = now - timedelta(minutes=settings.answer_window_minutes)
    found = await _latest(driver, conversation.customer_id, conversation.channel, since, unanswered=True)
    if found is None or found[1] == conversation.id:
        return False
    state = await scalar(driver, select(Conversation.state).where(Conversation.id == found[1]))
    return bool(state == ConversationState.CLOSED)


async def quiet_dialogues(
    session: AsyncSession, settings: SurveySettings, now: datetime, limit: int = 100
) -> list[Conversation]:
    """Bot dialogues whose last word was the bot's, quiet since ``quiet_minutes``, not yet surveyed.

    Only dialogues that went quiet within the answer window count, so a restart after a
    long pause does not ask yesterday's customers.
    """
    quiet = now - timedelta(minutes=settings.quiet_minutes)
    horizon = quiet - timedelta(minutes=settings.answer_window_minutes)
    surveyed = select(Feedback.conversation_id).where(Feedback.about == FeedbackAbout.BOT)
    candidates = (
        await session.scalars(
            select(Conversation)
            .where(
                Conversation.state == ConversationState.BOT,
                Conversation.updated_at <= quiet,
                Conversation.updated_at > horizon,
                Conversation.id.not_in(surveyed),
            )
            .order_by(Conversation.id)
            .limit(limit)
        )
    ).all()
    found = []
    for conversation in candidates:
        last = await session.scalar(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.id.desc())
            .limit(1)
        )
        if last is not None and last.sender == Sender.BOT and last.created_at <= quiet:
            found.append(conversation)
    return found
