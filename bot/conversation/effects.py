"""The dialogue engine's effects, carried out in the customer turn's transaction: one handler each.

The engine returns what should happen as typed values (``bot.dialogue.effects``); each has
a small handler here that writes it through the turn's ``TurnTransaction`` with the store
functions of the side it belongs to (the survey, tickets and leads of the human side). The
handlers run in one fixed order, whatever order the turn produced the effects in: the
survey first, then the form's answers, then a ticket (which may add the customer's place
in the queue to the replies), then a lead card.

A new effect is a dataclass in ``bot.dialogue.effects`` and a handler registered here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.conversation.turn import Handled, Turn
from bot.dialogue.effects import (
    Effect,
    MarkFormAnswer,
    OpenTicket,
    RecordSurveyAnswer,
    RecordSurveyAsked,
    RedactFormAnswers,
    SaveLead,
)
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.state import DialogueState, Reply, TurnResult
from bot.dialogue.validators import mask_phone
from bot.i18n.text import Text
from bot.settings import BotdeskConfig
from bot.store import (
    ConversationState,
    LeadKind,
    TurnTransaction,
    create_lead,
    create_ticket,
    ensure_department,
    redact_messages,
    remember_contact,
)
from bot.store.models import FeedbackAbout
from bot.store.turns import FORM_ANSWER, HANDLED_AS, SURVEY_ANSWER
from bot.store.waiting import estimate, note_update, place_in_queue
from bot.survey import record_answer, record_asked

log = logging.getLogger("botdesk.conversation")
E = TypeVar("E", bound=Effect)
Handler = Callable[["AppliedTurn", Any], Awaitable[None]]


@dataclass
class AppliedTurn:
    """A turn whose effects are being carried out: what the handlers read and add to.

    ``replies`` are what the customer will be told (a handler may add one); ``form_answers``
    the ids of the messages that answered the lead form so far (blanked if consent is
    refused); ``keeps_form_answers`` whether this turn's replies, which may echo the answers
    ("Иван, ..."), join them.
    """

    config: BotdeskConfig
    engine: DialogueEngine
    transaction: TurnTransaction
    turn: Turn
    state: DialogueState
    result: TurnResult
    handled: Handled
    replies: list[Reply]
    form_answers: list[int] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # the dialogue's last FAQ answers: the handoff note
    keeps_form_answers: bool = False


async def apply_effects(applied: AppliedTurn) -> None:
    """Carry out the turn's effects, each with its handler, in the handlers' order."""
    for kind, handler in HANDLERS.items():
        for effect in applied.result.effects:
            if isinstance(effect, kind):
                await handler(applied, effect)


async def record_survey_asked(applied: AppliedTurn, effect: RecordSurveyAsked) -> None:
    """The bot asked "did this answer your question?": a survey row (the response rate counts it)."""
    turn = applied.turn
    await record_asked(applied.transaction, turn.conversation, FeedbackAbout.BOT, turn.now)


async def record_survey_answer(applied: AppliedTurn, effect: RecordSurveyAnswer) -> None:
    """The answer or the 1-5 score, into the customer's open survey row (if still within its window)."""
    turn, config = applied.turn, applied.config
    about = await record_answer(
        applied.transaction,
        turn.customer_id,
        turn.inbound.channel,
        config.survey,
        turn.now,
        helpful=effect.helpful,
        score=effect.score,
    )
    if about is not None:
        applied.handled.feedback = (about.value, effect.helpful, effect.score)
    await mark_reading(applied, SURVEY_ANSWER)


async def mark_reading(applied: AppliedTurn, reading: str) -> None:
    """A message the dialogue took as a form's answer or a survey answer ("Анна", "+7 912…", "5")
    was understood, whatever the NLU made of it: say so with its stored NLU result, so the
    editor's inbox and the KPIs' "not understood" leave it out."""
    turn = applied.turn
    if turn.nlu is not None:
        await applied.transaction.set_nlu(turn.message_id, {**turn.nlu, HANDLED_AS: reading})


async def mark_form_answer(applied: AppliedTurn, effect: MarkFormAnswer) -> None:
    """This message answered the lead form: remember it, and this turn's replies, until the form ends."""
    applied.form_answers.append(applied.turn.message_id)
    applied.keeps_form_answers = True
    await mark_reading(applied, FORM_ANSWER)


async def redact_form_answers(applied: AppliedTurn, effect: RedactFormAnswers) -> None:
    """Consent refused or the form abandoned: its answers are blanked in the log, and forgotten."""
    if applied.form_answers:
        await redact_messages(applied.transaction, applied.form_answers)
    applied.form_answers.clear()
    applied.keeps_form_answers = False


async def open_ticket(applied: AppliedTurn, effect: OpenTicket) -> None:
    """A ticket with a note for the operator; when someone is online, the customer's place and wait."""
    turn, escalation = applied.turn, effect.escalation
    department = applied.engine.department(escalation.department)
    department_id = await ensure_department(applied.transaction, department.key, department.name)
    best = ((turn.nlu or {}).get("intent_ranking") or [{}])[0]
    note = {
        "reason": escalation.reason,
        "detail": escalation.detail,
        "intent": best.get("name"),
        "confidence": best.get("confidence"),
        "slots": {
            k: v
            for k, v in applied.state.tracker.slots.items()
            if not k.startswith("_") and k not in ("phone", "email")
        },
        # The bot's last answers to the customer's questions in this dialogue: what was said already.
        "summary": applied.answers,
        "after_hours": effect.after_hours,
        "unstaffed": effect.unstaffed,  # nobody was online: no place or wait was promised
        "department": department.key,
    }
    if isinstance(escalation.detail, Text):  # the panel says it in the operator's language
        note["detail"], note["detail_text"] = str(escalation.detail), escalation.detail.to_json()
    ticket_id = await create_ticket(
        applied.transaction,
        turn.conversation_id,
        reason=escalation.reason,
        priority=escalation.priority,
        department_id=department_id,
        note=note,
        callback_at=effect.opening if effect.after_hours else None,
        state=ConversationState.AFTER_HOURS if effect.after_hours else ConversationState.QUEUED,
        now=turn.now,
    )
    applied.handled.ticket_id = ticket_id
    if effect.after_hours or effect.unstaffed:
        return
    transaction = applied.transaction
    position = await place_in_queue(transaction, ticket_id, now=turn.now)
    minutes = await estimate(
        transaction,
        department_id,
        position,
        default_per_place=applied.config.escalation.average_handle_minutes,
        now=turn.now,
    )
    # The place it was queued at (the wait per place is measured on it) and what the customer was told.
    await note_update(transaction, ticket_id, {"position": position, "told": [position, minutes]})
    applied.replies.append(applied.engine.say("utter_queue_position", position=position, minutes=minutes))


async def save_lead(applied: AppliedTurn, effect: SaveLead) -> None:
    """A lead card with the customer's consent, and its CRM push in the outbox (one transaction)."""
    turn, lead = applied.turn, effect.lead
    assert lead.consent
    # A typed contact proves nothing: another customer with it is only suggested to operators
    # ("possibly the same customer"), never merged (bot.store.matches).
    customer_id = await remember_contact(
        applied.transaction,
        turn.customer_id,
        phone=lead.phone,
        email=lead.email,
        verified=False,
        now=turn.now,
    )
    saved = await create_lead(
        applied.transaction,
        customer_id=customer_id,
        conversation_id=turn.conversation_id,
        channel=turn.inbound.channel,
        kind=LeadKind.CALLBACK if lead.kind == "callback" else LeadKind.LEAD,
        name=lead.name,
        phone=lead.phone,
        email=lead.email,
        consent=True,
        interest=lead.interest,
        source="bot",
    )
    applied.handled.lead_id = int(saved.id)
    applied.form_answers.clear()  # the card has them now; the dialogue forgets them
    applied.keeps_form_answers = False
    log.info(
        "lead %s (%s) for conversation %s, phone %s",
        saved.id,
        lead.kind,
        turn.conversation_id,
        mask_phone(lead.phone or ""),
    )


HANDLERS: dict[type[Effect], Handler] = {
    RecordSurveyAsked: record_survey_asked,
    RecordSurveyAnswer: record_survey_answer,
    MarkFormAnswer: mark_form_answer,
    RedactFormAnswers: redact_form_answers,
    OpenTicket: open_ticket,
    SaveLead: save_lead,
}
"""Every effect's handler, in the order they run."""
