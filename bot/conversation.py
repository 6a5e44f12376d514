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
on the customer), so the dialogue state is never written by two turns at once. The
usual turn runs four prepared Core statements (``bot.store.turns``) on a plain
connection; the rarer steps use an ORM session made on demand in the same transaction
(``bot.store.transaction``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, null, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.dialogue.engine import DialogueEngine, DialogueState, Reply, TurnResult
from bot.dialogue.validators import mask_phone
from bot.events import NO_EVENTS, EventBus
from bot.messages import InboundMessage, OutboundMessage
from bot.nlu.base import Message as Parsed
from bot.nlu.pipeline import Pipeline
from bot.settings import BotdeskConfig
from bot.store import (
    Conversation,
    ConversationState,
    Database,
    HandoffTicket,
    InputRejected,
    LeadKind,
    StoreError,
    TicketStatus,
    check_text,
    create_lead,
    create_ticket,
    ensure_department,
    identify_customer,
    open_conversation,
    redact_messages,
    remember_contact,
    set_nlu,
    store_inbound,
)
from bot.store import Message as StoredMessage
from bot.store.conversations import check_channel_message_id
from bot.store.models import FeedbackAbout
from bot.store.prepared import Driver
from bot.store.rows import affected
from bot.store.stranded import stranded_message
from bot.store.transaction import Transaction, write_transaction
from bot.store.turns import (
    create_sender,
    insert_inbound,
    insert_replies,
    save_dialogue,
    sender_row,
    start_conversation,
    touch_conversation,
)
from bot.survey import ConversationRef, asked_after_close, record_answer, record_asked

log = logging.getLogger("botdesk.conversation")
HUMAN_STATES = (ConversationState.QUEUED, ConversationState.OPERATOR)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    conversation_id: int
    customer_id: int
    state: ConversationState | None
    dialogue: dict[str, Any]
    message_id: int
    parsed: Parsed | None
    nlu: dict[str, Any] | None
    now: datetime
    first_contact: bool = False  # the customer was created by this turn: no earlier dialogue

    @property
    def conversation(self) -> ConversationRef:
        return ConversationRef(self.conversation_id, self.customer_id, self.inbound.channel)


class LazyConversation:
    """The conversation as an ORM object, loaded only by the rarer steps that need one."""

    def __init__(self, transaction: Transaction, conversation_id: int) -> None:
        self.transaction = transaction
        self.conversation_id = conversation_id
        self._loaded: Conversation | None = None

    async def get(self) -> Conversation:
        if self._loaded is None:
            session = await self.transaction.session()
            self._loaded = await session.get_one(Conversation, self.conversation_id, populate_existing=True)
        return self._loaded


class ConversationService:
    def __init__(
        self,
        config: BotdeskConfig,
        database: Database,
        pipeline: Callable[[], Pipeline],
        engine: DialogueEngine,
        clock: Clock = utc_now,
        events: EventBus = NO_EVENTS,
    ) -> None:
        self.config = config
        self.db = database
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

        The message must still be the conversation's last and have no NLU result. A no-op
        UPDATE takes its row lock first, so of several processes recovering at once one
        answers and the others, once the lock is free, see it answered and step back.
        None when there is nothing (or no longer anything) to answer.
        """
        async with self.db.reader() as session:
            found = await stranded_message(session, message_id)
        if found is None:
            return None
        message, conversation, external_id = found
        inbound = InboundMessage(
            conversation.channel,
            external_id,
            message.text,
            message.channel_message_id,
            tuple(message.attachments or ()),
        )
        async with self._lock(inbound):
            pipeline = self.pipeline()
            parsed = pipeline.parse(inbound.text) if inbound.text.strip() else None
            async with write_transaction(self.db) as transaction:
                session = await transaction.session()
                claimed = await session.execute(
                    update(StoredMessage)
                    .where(StoredMessage.id == message_id, StoredMessage.nlu.is_(None))
                    .values(nlu=null())  # SQL NULL, not JSON null: a no-op that takes the row lock
                    .execution_options(synchronize_session=False)
                )
                found = await stranded_message(session, message_id)  # again, under the row lock
                if affected(claimed) != 1 or found is None:
                    return None  # rolled back as the transaction ends
                stored, conversation, _ = found
                nlu = parsed.to_parse_dict() if parsed is not None else None
                if nlu is not None:
                    await set_nlu(session, stored, nlu, pipeline.version)
                    await session.flush()
                turn = Turn(
                    inbound,
                    conversation.id,
                    conversation.customer_id,
                    conversation.state,
                    dict(conversation.dialogue or {}),
                    stored.id,
                    parsed,
                    nlu,
                    self.clock(),
                )
                return await self._respond(transaction, turn)

    async def _handle(self, inbound: InboundMessage) -> Handled:
        if not inbound.text.strip() and not inbound.attachments:
            raise InputRejected("the message is empty")
        check_text(inbound.text)
        check_channel_message_id(inbound.message_id)
        pipeline = self.pipeline()
        try:
            # A photo or a sticker alone has no words to understand.
            parsed = pipeline.parse(inbound.text) if inbound.text.strip() else None
            async with write_transaction(self.db) as transaction:
                return await self._turn(transaction, inbound, parsed, pipeline.version)
        except (InputRejected, StoreError, SQLAlchemyError):
            raise  # nothing to keep (bad input) or nowhere to keep it (the database)
        except Exception:
            await self._keep_unanswered(inbound)  # the NLU or the bot failed: the message stays
            raise

    async def _keep_unanswered(self, inbound: InboundMessage) -> None:
        """Store a message whose turn failed, without NLU result or answer: recovery answers it later."""
        try:
            async with self.db.session() as session:
                customer, _ = await identify_customer(
                    session, inbound.channel, inbound.sender_id, inbound.profile
                )
                conversation = await open_conversation(
                    session, customer, inbound.channel, language=self.config.language
                )
                await store_inbound(
                    session, conversation, inbound.text, inbound.message_id, list(inbound.attachments)
                )
        except Exception:
            log.exception("a %s message could not be stored after its turn failed", inbound.channel)

    async def _turn(
        self, transaction: Transaction, inbound: InboundMessage, parsed: Parsed | None, version: str | None
    ) -> Handled:
        """Store the message and answer it, in ``transaction``."""
        driver = transaction.driver
        channel, sender_id, profile = inbound.channel, inbound.sender_id, inbound.profile
        received = self.clock()  # the turn's rows, the ticket and the survey share one time
        sender = await sender_row(driver, channel, sender_id)
        first_contact = False
        if sender is None:
            created = await create_sender(driver, channel, sender_id, profile, received)
            if created is None:  # the same new sender's other message, in another process, won
                sender = await sender_row(driver, channel, sender_id)
                if sender is None:
                    raise StoreError(f"the new {channel} sender {sender_id} vanished (forgotten meanwhile?)")
            else:
                customer_id, first_contact = created, True
        if sender is not None:
            customer_id = sender.customer_id
            if sender.needs_update(profile):  # a new profile, or reachable again: the ORM writes it
                await identify_customer(await transaction.session(), channel, sender_id, profile)
        if sender is not None and sender.conversation_id is not None:
            conversation_id, state, dialogue = sender.conversation_id, sender.state, sender.dialogue
        else:
            language = self.config.language
            conversation_id = await start_conversation(driver, customer_id, channel, language, received)
            state, dialogue = ConversationState.BOT, {}
        nlu = parsed.to_parse_dict() if parsed is not None else None
        message_id = await insert_inbound(
            driver,
            conversation_id,
            inbound.text,
            channel_message_id=inbound.message_id,
            attachments=inbound.attachments,
            nlu=nlu,
            model_version=version,
            now=received,
        )
        if message_id is None:  # sent again: answered once, the first time
            await transaction.commit()
            return Handled([], conversation_id, duplicate=True)
        turn = Turn(
            inbound,
            conversation_id,
            customer_id,
            state,
            dialogue,
            message_id,
            parsed,
            nlu,
            received,
            first_contact=first_contact,
        )
        return await self._respond(transaction, turn)

    async def _respond(self, transaction: Transaction, turn: Turn) -> Handled:
        """The bot's part of a turn whose message is stored in ``transaction``; commits it."""
        driver = transaction.driver
        conversation_id, inbound, now = turn.conversation_id, turn.inbound, turn.now
        nlu = turn.nlu or {}
        if turn.state in HUMAN_STATES:
            await touch_conversation(driver, conversation_id, now)
            await transaction.commit()
            self._announce_inbound(conversation_id, turn.message_id, inbound, nlu)
            return Handled([], conversation_id, silent=True)
        conversation = LazyConversation(transaction, conversation_id)
        state = DialogueState.from_dict(turn.dialogue)
        if not turn.dialogue and not turn.first_contact and await self._survey_after_close(transaction, turn):
            state.awaiting_feedback = True  # the question asked as their last dialogue was closed
        result = (
            self.engine.handle(state, turn.parsed, now)
            if turn.parsed is not None
            else self.engine.non_text(state)
        )
        handled = Handled([], conversation_id, result=result)
        handled.feedback = await self._record_survey(transaction, turn, result)
        form_answers = list(turn.dialogue.get("_form_answers", []))
        if result.form_answer:
            form_answers.append(turn.message_id)
        if result.forget_form_answers and form_answers:
            await redact_messages(await transaction.session(), form_answers)
        if result.forget_form_answers or result.lead is not None:
            form_answers = []
        replies = list(result.replies)
        if result.escalation is not None:
            handled.ticket_id, queue_reply = await self._open_ticket(
                await transaction.session(), await conversation.get(), state, result, nlu, now
            )
            if queue_reply is not None:
                replies.append(queue_reply)
        if result.lead is not None:
            handled.lead_id = await self._save_lead(
                await transaction.session(), await conversation.get(), turn.customer_id, result
            )
        await transaction.flush()  # the ORM's changes first; the statements below bypass it
        for said in await self._bot_says(driver, conversation_id, inbound, replies):
            handled.replies.append(said)
            if result.form_answer and not result.forget_form_answers and result.lead is None:
                form_answers.append(said.message_id)  # may echo the answers ("Иван, ...")
        await save_dialogue(
            driver,
            conversation_id,
            dialogue={**state.to_dict(), "_form_answers": form_answers},
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
        self, driver: Driver, conversation_id: int, inbound: InboundMessage, replies: list[Reply]
    ) -> list[OutboundMessage]:
        """Store the bot's replies (prepared statements); they go out in the channel's answer."""
        texts = [reply.text for reply in replies]
        stored = await insert_replies(driver, conversation_id, texts, self.clock())
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
            )
            for reply, message_id in zip(replies, stored, strict=True)
        ]

    async def _survey_after_close(self, transaction: Transaction, turn: Turn) -> bool:
        return self.config.survey.enabled and await asked_after_close(
            await transaction.session(), turn.conversation, self.config.survey, turn.now
        )

    async def _record_survey(
        self, transaction: Transaction, turn: Turn, result: TurnResult
    ) -> tuple[str, bool | None, int | None] | None:
        """The survey's rows (bot.survey): the question asked this turn, or the answer or score given."""
        now = turn.now
        if result.survey_asked:
            await record_asked(transaction.driver, turn.conversation, FeedbackAbout.BOT, now)
        if result.feedback is None and result.score is None:
            return None
        row = await record_answer(
            await transaction.session(),
            turn.customer_id,
            turn.inbound.channel,
            self.config.survey,
            now,
            helpful=result.feedback,
            score=result.score,
        )
        return (row.about.value, result.feedback, result.score) if row is not None else None

    async def _open_ticket(
        self,
        session: Any,
        conversation: Conversation,
        state: DialogueState,
        result: TurnResult,
        nlu: dict[str, Any],
        now: datetime,
    ) -> tuple[int, Reply | None]:
        """A ticket with a note for the operator; in hours, the customer's place in the queue."""
        escalation = result.escalation
        assert escalation is not None
        department_cfg = self.engine.department(escalation.department)
        department = await ensure_department(session, department_cfg.key, department_cfg.name)
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
            "summary": [r.text for r in result.replies][-3:],
            "after_hours": result.after_hours,
        }
        ticket = await create_ticket(
            session,
            conversation,
            reason=escalation.reason,
            priority=escalation.priority,
            department_id=department.id,
            note=note,
            callback_at=result.opening if result.after_hours else None,
            state=ConversationState.AFTER_HOURS if result.after_hours else ConversationState.QUEUED,
            now=now,
        )
        if result.after_hours:
            return ticket.id, None
        position = await self._queue_position(session, ticket)
        minutes = max(1, round(position * self.config.escalation.average_handle_minutes))
        return ticket.id, self.engine.say("utter_queue_position", position=position, minutes=minutes)

    async def _queue_position(self, session: Any, ticket: HandoffTicket) -> int:
        ahead = await session.scalar(
            select(func.count(HandoffTicket.id)).where(
                HandoffTicket.status == TicketStatus.QUEUED,
                HandoffTicket.id != ticket.id,
                (HandoffTicket.priority > ticket.priority)
                | (
                    (HandoffTicket.priority == ticket.priority)
                    & (HandoffTicket.created_at <= ticket.created_at)
                ),
            )
        )
        return int(ahead or 0) + 1

    async def _save_lead(
        self, session: Any, conversation: Conversation, customer_id: int, result: TurnResult
    ) -> int:
        lead = result.lead
        assert lead is not None and lead.consent
        # A typed contact proves nothing: another customer with it is only suggested to operators
        # ("possibly the same customer"), never merged (bot.store.matches).
        customer_id = await remember_contact(
            session, customer_id, phone=lead.phone, email=lead.email, verified=False, now=self.clock()
        )
        saved = await create_lead(
            session,
            customer_id=customer_id,
            conversation_id=conversation.id,
            channel=conversation.channel,
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
            conversation.id,
            mask_phone(lead.phone or ""),
        )
        return int(saved.id)
