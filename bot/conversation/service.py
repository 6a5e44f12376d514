"""handle(message): store first, then the bot — unless a person owns the dialogue.

    inbound -> NLU (a pure function of the text)
            -> one transaction: identify customer -> open conversation
               -> store the message with its NLU result
               -> human owns it? silent : dialogue engine -> replies, ticket, lead card
               -> replies and dialogue state stored -> commit
            -> replies returned for the channel to send (after the commit: an
               acknowledged message is always stored)

If the NLU or the bot fails, the message is still stored on its own, unanswered, and
``answer_stored`` answers it later (``bot.server.recovery``). Messages of one customer
are handled one at a time (an asyncio lock per sender; on PostgreSQL also a row lock
on the customer), so the dialogue state is never written by two turns at once. Every
write goes through the store's one turn path (``bot.store.TurnStore``); the rarer steps
(a ticket, a lead card, the survey) run their store functions in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock, utc_now
from bot.dialogue.engine import DialogueEngine, is_faq_answer
from bot.dialogue.state import DialogueState, Reply, TurnResult
from bot.dialogue.validators import mask_phone
from bot.events import NO_EVENTS, EventBus
from bot.i18n.text import Text
from bot.messages import InboundMessage, OutboundMessage
from bot.nlu.base import Message as Parsed
from bot.nlu.pipeline import Pipeline
from bot.settings import BotdeskConfig
from bot.store import (
    ConversationState,
    Entered,
    InputRejected,
    LeadKind,
    StoreError,
    TurnStore,
    TurnTransaction,
    create_lead,
    create_ticket,
    ensure_department,
    queue_position,
    redact_messages,
    remember_contact,
)
from bot.store.models import FeedbackAbout
from bot.store.turns import FORM_ANSWER, HANDLED_AS, SURVEY_ANSWER
from bot.survey import ConversationRef, asked_after_close, record_answer, record_asked

log = logging.getLogger("botdesk.conversation")
HUMAN_STATES = (ConversationState.QUEUED, ConversationState.OPERATOR)
ANSWERS_KEY = "_answers"  # the dialogue's last FAQ answers, for the handoff note
MAX_SUMMARY = 3


@dataclass
class Handled:
    """What one inbound message led to; ``replies`` go back through the same channel."""

    replies: list[OutboundMessage]
    conversation_id: int
    duplicate: bool = False
    silent: bool = False  # a person owns the dialogue: the bot said nothing
    result: TurnResult | None = None
    ticket_id: int | None = None
    lead_id: int | None = None
    feedback: tuple[str, bool | None, int | None] | None = None  # a survey answer: about, helpful, score


@dataclass
class Turn:
    """A customer message stored in the current transaction, and what the bot needs to answer it."""

    inbound: InboundMessage
    entered: Entered
    parsed: Parsed | None
    nlu: dict[str, Any] | None
    now: datetime

    @property
    def conversation_id(self) -> int:
        return self.entered.conversation_id

    @property
    def customer_id(self) -> int:
        return self.entered.customer_id

    @property
    def message_id(self) -> int:
        assert self.entered.message_id is not None
        return self.entered.message_id

    @property
    def conversation(self) -> ConversationRef:
        return ConversationRef(self.conversation_id, self.customer_id, self.inbound.channel)


class ConversationService:
    def __init__(
        self,
        config: BotdeskConfig,
        turns: TurnStore,
        pipeline: Callable[[], Pipeline],
        engine: DialogueEngine,
        clock: Clock = utc_now,
        events: EventBus = NO_EVENTS,
    ) -> None:
        self.config = config
        self.turns = turns
        self.pipeline = pipeline  # a callable: the model can be swapped while running
        self.engine = engine
        self.clock = clock
        self.events = events
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _lock(self, inbound: InboundMessage) -> asyncio.Lock:
        key = (inbound.channel, inbound.sender_id)
        lock = self._locks.get(key)
        if lock is None:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def handle(self, inbound: InboundMessage) -> Handled:
        async with self._lock(inbound):
            return await self._handle(inbound)

    async def answer_stored(self, message_id: int) -> Handled | None:
        """Answer a customer message that was stored but never answered (its process died, the bot failed).

        The message must still be the conversation's last and have no NLU result; of
        several processes recovering at once one answers it (``TurnTransaction.claim``).
        None when there is nothing (or no longer anything) to answer.
        """
        stranded = await self.turns.stranded(message_id)
        if stranded is None:
            return None
        inbound = stranded.inbound
        async with self._lock(inbound):
            pipeline = self.pipeline()
            parsed = self._parse(pipeline, inbound.text)
            nlu = parsed.to_parse_dict() if parsed is not None else None
            async with self.turns.transaction() as transaction:
                entered = await transaction.claim(stranded, nlu=nlu, model_version=pipeline.version)
                if entered is None:
                    return None  # rolled back as the transaction ends
                return await self._respond(transaction, Turn(inbound, entered, parsed, nlu, self.clock()))

    async def _handle(self, inbound: InboundMessage) -> Handled:
        if not inbound.text.strip() and not inbound.attachments:
            raise InputRejected("the message is empty")
        pipeline = self.pipeline()
        try:
            # A photo or a sticker alone has no words to understand.
            parsed = self._parse(pipeline, inbound.text)
            async with self.turns.transaction() as transaction:
                return await self._turn(transaction, inbound, parsed, pipeline.version)
        except (InputRejected, StoreError, SQLAlchemyError):
            raise  # nothing to keep (bad input) or nowhere to keep it (the database)
        except Exception:
            await self._keep_unanswered(inbound)  # the NLU or the bot failed: the message stays
            raise

    def _parse(self, pipeline: Pipeline, text: str) -> Parsed | None:
        """The NLU's reading; a button's payload (``/intent{...}``) is that intent, as Rasa reads it."""
        if not text.strip():
            return None
        return self.engine.parse_payload(pipeline.parse(text))

    async def _keep_unanswered(self, inbound: InboundMessage) -> None:
        """Store a message whose turn failed, without NLU result or answer: recovery answers it later."""
        try:
            await self.turns.keep_unanswered(inbound, language=self.config.language, now=self.clock())
        except Exception:
            log.exception("a %s message could not be stored after its turn failed", inbound.channel)

    async def _turn(
        self,
        transaction: TurnTransaction,
        inbound: InboundMessage,
        parsed: Parsed | None,
        version: str | None,
    ) -> Handled:
        """Store the message and answer it, in ``transaction``."""
        received = self.clock()  # the turn's rows, the ticket and the survey share one time
        nlu = parsed.to_parse_dict() if parsed is not None else None
        entered = await transaction.enter(
            inbound, nlu=nlu, model_version=version, language=self.config.language, now=received
        )
        if entered.duplicate:  # sent again: answered once, the first time
            await transaction.commit()
            return Handled([], entered.conversation_id, duplicate=True)
        return await self._respond(transaction, Turn(inbound, entered, parsed, nlu, received))

    async def _respond(self, transaction: TurnTransaction, turn: Turn) -> Handled:
        """The bot's part of a turn whose message is stored in ``transaction``; commits it."""
        conversation_id, inbound, now = turn.conversation_id, turn.inbound, turn.now
        nlu = turn.nlu or {}
        entered = turn.entered
        if entered.state in HUMAN_STATES:
            await transaction.touch(conversation_id, now)
            await transaction.commit()
            self._announce_inbound(conversation_id, turn.message_id, inbound, nlu)
            return Handled([], conversation_id, silent=True)
        state = DialogueState.from_dict(entered.dialogue)
        if (
            not entered.dialogue
            and not entered.first_contact
            and await self._survey_after_close(transaction, turn)
        ):
            state.awaiting_feedback = True  # the question asked as their last dialogue was closed
            state.introduced = True  # they met the bot in that dialogue: their "да" gets no introduction
        # Custom actions may do network I/O inside this transaction for now (issue 18 moves it out).
        result = (
            await self.engine.handle(
                state, turn.parsed, now, sender_id=inbound.sender_id, channel=inbound.channel
            )
            if turn.parsed is not None
            else self.engine.non_text(state)
        )
        handled = Handled([], conversation_id, result=result)
        handled.feedback = await self._record_survey(transaction, turn, result)
        await self._mark_dialogue_reading(transaction, turn, result)
        answers = [*entered.dialogue.get(ANSWERS_KEY, []), *self._faq_answers(result)][-MAX_SUMMARY:]
        form_answers = list(entered.dialogue.get("_form_answers", []))
        if result.form_answer:
            form_answers.append(turn.message_id)
        if result.forget_form_answers and form_answers:
            await redact_messages(transaction, form_answers)
        if result.forget_form_answers or result.lead is not None:
            form_answers = []
        replies = list(result.replies)
        if result.escalation is not None:
            handled.ticket_id, queue_reply = await self._open_ticket(
                transaction, conversation_id, state, result, nlu, now, answers
            )
            if queue_reply is not None:
                replies.append(queue_reply)
        if result.lead is not None:
            handled.lead_id = await self._save_lead(transaction, turn, result)
        for said in await self._bot_says(transaction, conversation_id, inbound, replies):
            handled.replies.append(said)
            if result.form_answer and not result.forget_form_answers and result.lead is None:
                form_answers.append(said.message_id)  # may echo the answers ("Иван, ...")
        await transaction.save_dialogue(
            conversation_id,
            dialogue={**state.to_dict(), "_form_answers": form_answers, ANSWERS_KEY: answers},
            slots={k: v for k, v in state.tracker.slots.items() if not k.startswith("_")},
            active_loop=state.tracker.active_loop,
            misunderstood=state.misunderstood_in_a_row,
            now=now,
        )
        await transaction.commit()
        self._announce_inbound(conversation_id, turn.message_id, inbound, nlu)
        for said in handled.replies:
            self.events.emit(
                "message",
                conversation_id,
                message_id=said.message_id,
                sender=said.sender,
                sender_name=said.sender_name,
                text=said.text,
            )
        if handled.ticket_id is not None:
            self.events.emit(
                "ticket",
                conversation_id,
                ticket_id=handled.ticket_id,
                status="queued",
                reason=result.escalation.reason if result.escalation else None,
            )
        return handled

    def _announce_inbound(
        self, conversation_id: int, message_id: int, inbound: InboundMessage, nlu: dict[str, Any]
    ) -> None:
        intent = nlu.get("intent") or {}
        self.events.emit(
            "message",
            conversation_id,
            message_id=message_id,
            sender="customer",
            sender_name=(inbound.profile or {}).get("name"),
            text=inbound.text,
            channel=inbound.channel,
            attachments=list(inbound.attachments),
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
        )

    async def _bot_says(
        self,
        transaction: TurnTransaction,
        conversation_id: int,
        inbound: InboundMessage,
        replies: list[Reply],
    ) -> list[OutboundMessage]:
        """Store the bot's replies; they go out in the channel's answer."""
        stored = await transaction.say(conversation_id, [reply.text for reply in replies], self.clock())
        return [
            OutboundMessage(
                channel=inbound.channel,
                recipient_id=inbound.sender_id,
                conversation_id=conversation_id,
                text=reply.text,
                sender="bot",
                sender_name=self.config.bot.label,
                buttons=reply.buttons,
                message_id=message_id,
                image=reply.image,
                response=reply.response,
                custom=reply.custom,
                attachment=reply.attachment,
            )
            for reply, message_id in zip(replies, stored, strict=True)
        ]

    async def _survey_after_close(self, transaction: TurnTransaction, turn: Turn) -> bool:
        return self.config.survey.enabled and await asked_after_close(
            transaction, turn.conversation, self.config.survey, turn.now
        )

    async def _record_survey(
        self, transaction: TurnTransaction, turn: Turn, result: TurnResult
    ) -> tuple[str, bool | None, int | None] | None:
        """The survey's rows (bot.survey): the question asked this turn, or the answer or score given."""
        now = turn.now
        if result.survey_asked:
            await record_asked(transaction, turn.conversation, FeedbackAbout.BOT, now)
        if result.feedback is None and result.score is None:
            return None
        about = await record_answer(
            transaction,
            turn.customer_id,
            turn.inbound.channel,
            self.config.survey,
            now,
            helpful=result.feedback,
            score=result.score,
        )
        return (about.value, result.feedback, result.score) if about is not None else None

    def _faq_answers(self, result: TurnResult) -> list[str]:
        """The answers this turn gave to the customer's questions: not the introduction, a fallback,
        a form's question or what the engine says about handoffs, hours and the survey."""
        return [reply.text for reply in result.replies if reply.text and is_faq_answer(reply.response)]

    async def _mark_dialogue_reading(
        self, transaction: TurnTransaction, turn: Turn, result: TurnResult
    ) -> None:
        """A message the dialogue took as a form's answer or a survey answer ("Анна", "+7 912…", "5")
        was understood, whatever the NLU made of it: say so with its stored NLU result, so the
        editor's inbox and the KPIs' "not understood" leave it out."""
        if turn.nlu is None:
            return
        if result.form_answer:
            reading = FORM_ANSWER
        elif result.feedback is not None or result.score is not None:
            reading = SURVEY_ANSWER
        else:
            return
        await transaction.set_nlu(turn.message_id, {**turn.nlu, HANDLED_AS: reading})

    async def _open_ticket(
        self,
        transaction: TurnTransaction,
        conversation_id: int,
        state: DialogueState,
        result: TurnResult,
        nlu: dict[str, Any],
        now: datetime,
        answers: list[str],
    ) -> tuple[int, Reply | None]:
        """A ticket with a note for the operator; in hours, the customer's place in the queue.

        The note's summary is the bot's last answers to the customer's questions in this
        dialogue (``answers``), what the operator needs to know what was already said.
        """
        escalation = result.escalation
        assert escalation is not None
        department_cfg = self.engine.department(escalation.department)
        department_id = await ensure_department(transaction, department_cfg.key, department_cfg.name)
        best = (nlu.get("intent_ranking") or [{}])[0]
        note = {
            "reason": escalation.reason,
            "detail": escalation.detail,
            "intent": best.get("name"),
            "confidence": best.get("confidence"),
            "slots": {
                k: v
                for k, v in state.tracker.slots.items()
                if not k.startswith("_") and k not in ("phone", "email")
            },
            "summary": answers[-MAX_SUMMARY:],
            "after_hours": result.after_hours,
        }
        if isinstance(escalation.detail, Text):  # the panel says it in the operator's language
            note["detail"], note["detail_text"] = str(escalation.detail), escalation.detail.to_json()
        ticket_id = await create_ticket(
            transaction,
            conversation_id,
            reason=escalation.reason,
            priority=escalation.priority,
            department_id=department_id,
            note=note,
            callback_at=result.opening if result.after_hours else None,
            state=ConversationState.AFTER_HOURS if result.after_hours else ConversationState.QUEUED,
            now=now,
        )
        if result.after_hours:
            return ticket_id, None
        position = await queue_position(transaction, ticket_id)
        minutes = max(1, round(position * self.config.escalation.average_handle_minutes))
        return ticket_id, self.engine.say("utter_queue_position", position=position, minutes=minutes)

    async def _save_lead(self, transaction: TurnTransaction, turn: Turn, result: TurnResult) -> int:
        lead = result.lead
        assert lead is not None and lead.consent
        # A typed contact proves nothing: another customer with it is only suggested to operators
        # ("possibly the same customer"), never merged (bot.store.matches).
        customer_id = await remember_contact(
            transaction, turn.customer_id, phone=lead.phone, email=lead.email, verified=False, now=turn.now
        )
        saved = await create_lead(
            transaction,
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
        log.info(
            "lead %s (%s) for conversation %s, phone %s",
            saved.id,
            lead.kind,
            turn.conversation_id,
            mask_phone(lead.phone or ""),
        )
        return int(saved.id)
