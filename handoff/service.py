"""The operator's side of a handoff, in Python: the panel and the shell call this.

Ownership is the store's compare-and-set; this module adds what the customer sees at
each change ("Anna (operator) joined", "you are back with the bot"), delivers operator
replies through the customer's own channel (retried through the outbox when the
channel is down), and runs the waiting-time timers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utc_now
from bot.dialogue.engine import CONVERSATIONAL, SYSTEM_RESPONSES, DialogueEngine
from bot.dialogue.state import DialogueState, TurnResult
from bot.errors import BotdeskError, DeliveryRefused
from bot.events import NO_EVENTS, NO_PRESENCE, EventBus, Presence
from bot.files.service import stored_file_ids
from bot.messages import NO_SIGNALS, CustomerSignals, OutboundMessage, SenderKind, Typing
from bot.nlu.base import FALLBACK_INTENT
from bot.settings import BotdeskConfig
from bot.store import (
    Conversation,
    Database,
    HandoffTicket,
    HistoryEntry,
    Operator,
    Sender,
    TicketStatus,
    claim_due,
    claim_ticket,
    close_ticket,
    enqueue,
    history,
    list_queue,
    mark_failed,
    mark_sent,
    release_ticket,
    requeue_unanswered,
    return_to_bot,
    store_outbound,
    transfer_ticket,
)
from bot.store.buttons import buttons_attachment
from bot.store.channel_history import external_id_of
from bot.store.files import link_files
from bot.store.models import FeedbackAbout
from bot.store.operators import claimed_count, lock_operator
from bot.store.queue import last_customer_reading, last_customer_text, overdue_in_queue
from bot.store.quick_phrases import live_phrases, seed_phrases
from bot.survey import quiet_dialogues, record_asked
from handoff.gender import grammatical_gender

log = logging.getLogger("botdesk.handoff")
Deliver = Callable[[OutboundMessage], Awaitable[None]]
Check = Callable[[OutboundMessage], Awaitable[None]]
"""Raises ``DeliveryRefused`` for a message its channel would refuse now (``ChannelRouter.check``)."""
DELIVERY_KIND = "channel.message"


async def stored_only(message: OutboundMessage) -> None:
    """The default delivery: the message is in the store, clients poll for it."""


async def always_deliverable(message: OutboundMessage) -> None:
    """The default check: no channel refuses anything by its rules."""


async def park_for_redelivery(db: Database, message: OutboundMessage) -> None:
    """Keep a stored message its channel could not take now: ``OperatorService.redeliver`` sends it later.

    Once per message (the outbox's key is the message id), retried with back-off.
    """
    async with db.session() as session:
        await enqueue(session, DELIVERY_KIND, asdict(message), f"deliver-{message.message_id}")
        await session.commit()


class HandoffError(BotdeskError):
    """An operator action that does not fit the ticket's state (told to the operator)."""


class ReplyRefused(HandoffError):
    """The customer's channel refuses the operator's reply by its rules; nothing was stored or sent.

    ``reason``, ``channel`` and ``window_hours`` let the panel say it in the operator's
    language (``DeliveryRefused``): e.g. WhatsApp's 24-hour window has closed.
    """

    def __init__(self, refused: DeliveryRefused, channel: str) -> None:
        super().__init__(f"the {channel} channel refuses the reply: {refused.detail}")
        self.reason = refused.reason
        self.channel = channel
        self.window_hours = refused.window_hours


class LimitReached(HandoffError):
    """The operator already holds as many dialogues as they may (``operators.max_parallel``).

    ``name`` and ``limit`` let the panel say it in the operator's language.
    """

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(
            f"{name} already has {limit} dialogues open, the most allowed at once; "
            "close or hand over one first"
        )
        self.name = name
        self.limit = limit


@dataclass(frozen=True)
class QueueEntry:
    ticket_id: int
    conversation_id: int
    channel: str
    priority: int
    reason: str
    waiting_seconds: float
    department_id: int | None
    last_customer_message: str | None
    note: dict[str, Any]


SURVEY_SCAN_EVERY = timedelta(minutes=1)
# Never offered as an operator's suggested answer: the bot's talk about itself, bare yes/no.
NOT_SUGGESTED = frozenset({"bot_challenge", "affirm", "deny", FALLBACK_INTENT})


class OperatorService:
    def __init__(
        self,
        config: BotdeskConfig,
        database: Database,
        engine: DialogueEngine,
        deliver: Deliver = stored_only,
        clock: Clock = utc_now,
        events: EventBus = NO_EVENTS,
        check: Check = always_deliverable,
        presence: Presence = NO_PRESENCE,
        signals: CustomerSignals = NO_SIGNALS,
    ) -> None:
        self.config = config
        self.db = database
        self.engine = engine
        self.deliver = deliver
        self.check = check  # asked before an operator's reply is stored
        self.clock = clock
        self.events = events
        self.presence = presence  # who is at a live panel (operators' typing, the queue's estimates)
        self.signals = signals  # what customers see besides messages: typing, their place in the queue
        # Live monitoring (Prometheus): seconds from a handoff to its first operator reply.
        self.first_response_observer: Callable[[float], None] | None = None
        self._survey_due: datetime | None = None  # the quiet-dialogue scan runs once a minute
        self._phrases_seeded = False

    # ---- queue -------------------------------------------------------------------------
    async def queue(self, department_id: int | None = None) -> list[QueueEntry]:
        now = self.clock()
        async with self.db.reader() as session:
            tickets = await list_queue(session, department_id, now=now)
            entries = []
            for ticket in tickets:
                conversation = await session.get_one(Conversation, ticket.conversation_id)
                last = await last_customer_text(session, ticket.conversation_id)
                entries.append(
                    QueueEntry(
                        ticket.id,
                        ticket.conversation_id,
                        conversation.channel,
                        ticket.priority,
                        ticket.reason,
                        (now - ticket.created_at).total_seconds(),
                        ticket.department_id,
                        last,
                        dict(ticket.note or {}),
                    )
                )
        return entries

    async def claim(self, ticket_id: int, operator_id: int) -> bool:
        """Exactly one of any number of operators wins; the customer sees who joined.

        An operator at their limit of parallel dialogues gets ``LimitReached`` instead.
        """
        async with self.db.session() as session:
            await self._check_limit(session, operator_id)
            won = await claim_ticket(session, ticket_id, operator_id, now=self.clock())
            if won:
                operator = await session.get_one(Operator, operator_id)
                await self._tell(session, ticket_id, "utter_operator_joined", **_about(operator))
                await self._ticket_changed(session, ticket_id)
        return won

    async def reply(
        self, ticket_id: int, operator_id: int, text: str, files: Sequence[dict[str, Any]] = ()
    ) -> OutboundMessage:
        """Store the operator's reply and deliver it through the customer's channel.

        Args:
            files: stored files' attachments (``bot.files``) sent with the text.

        Raises:
            HandoffError: the operator does not hold the ticket.
            ReplyRefused: the channel refuses it by its rules (nothing stored).
        """
        await self._check_reply(ticket_id, operator_id, text)
        async with self.db.session() as session:
            ticket = await self._held(session, ticket_id, operator_id)
            operator = await session.get_one(Operator, operator_id)
            conversation = await session.get_one(Conversation, ticket.conversation_id)
            owed_since = ticket.created_at if ticket.answered_at is None else None
            if owed_since is not None and ticket.callback_at is not None and ticket.callback_at > owed_since:
                owed_since = ticket.callback_at  # after hours: the clock starts at the opening
            outbound = await self._send(
                session,
                conversation,
                text,
                "operator",
                operator.display_name,
                operator_id,
                photo=operator.photo_url,
                files=files,
            )
        if owed_since is not None and self.first_response_observer is not None:
            self.first_response_observer(max(0.0, (self.clock() - owed_since).total_seconds()))
        return outbound

    async def release(self, ticket_id: int, operator_id: int) -> bool:
        async with self.db.session() as session:
            operator = await session.get_one(Operator, operator_id)
            done = await release_ticket(session, ticket_id, operator_id, now=self.clock())
            if done:
                await self._tell(session, ticket_id, "utter_operator_left", **_about(operator))
                await self._ticket_changed(session, ticket_id)
        return done

    async def transfer(
        self,
        ticket_id: int,
        operator_id: int,
        *,
        to_operator_id: int | None = None,
        to_department_id: int | None = None,
    ) -> bool:
        async with self.db.session() as session:
            if to_operator_id is not None:
                await self._check_limit(session, to_operator_id)
            done = await transfer_ticket(
                session,
                ticket_id,
                to_operator_id=to_operator_id,
                to_department_id=to_department_id,
                from_operator_id=operator_id,
                now=self.clock(),
            )
            if done and to_operator_id is not None:
                operator = await session.get_one(Operator, to_operator_id)
                await self._tell(session, ticket_id, "utter_operator_joined", **_about(operator))
            if done:
                await self._ticket_changed(session, ticket_id)
        return done

    async def return_to_bot(self, ticket_id: int, operator_id: int) -> bool:
        """The bot answers again, and asks whether the question was solved."""
        async with self.db.session() as session:
            done = await return_to_bot(session, ticket_id, operator_id=operator_id, now=self.clock())
            if done:
                ticket = await session.get_one(HandoffTicket, ticket_id)
                conversation = await session.get_one(Conversation, ticket.conversation_id)
                state = DialogueState.from_dict(conversation.dialogue)
                state.awaiting_feedback = True  # a "no" goes straight back to a person
                state.surveyed = True
                conversation.dialogue = {**(conversation.dialogue or {}), **state.to_dict()}
                if self.config.survey.enabled:
                    await record_asked(
                        session,
                        conversation,
                        FeedbackAbout.OPERATOR,
                        self.clock(),
                        ticket_id=ticket_id,
                        operator_id=operator_id,
                    )
                await self._tell(session, ticket_id, "utter_back_to_bot")
                await self._ticket_changed(session, ticket_id)
        return done

    async def close(self, ticket_id: int, operator_id: int, resolution: str) -> bool:
        async with self.db.session() as session:
            done = await close_ticket(
                session, ticket_id, resolution, operator_id=operator_id, now=self.clock()
            )
            if done:
                await self._tell(session, ticket_id, "utter_conversation_closed")
                await self._ask_about_operator(session, ticket_id, operator_id)
                await self._ticket_changed(session, ticket_id)
        return done

    async def _ask_about_operator(self, session: AsyncSession, ticket_id: int, operator_id: int) -> None:
        """The survey as an operator closes: the answer comes in the customer's next dialogue."""
        survey = self.config.survey
        if not (survey.enabled and survey.after_operator and "utter_ask_feedback" in self.engine.responses):
            return
        ticket = await session.get_one(HandoffTicket, ticket_id)
        conversation = await session.get_one(Conversation, ticket.conversation_id)
        asked = await record_asked(
            session,
            conversation,
            FeedbackAbout.OPERATOR,
            self.clock(),
            ticket_id=ticket_id,
            operator_id=operator_id,
        )
        if asked:
            await self._tell(session, ticket_id, "utter_ask_feedback")

    async def history(self, customer_id: int, limit: int = 100) -> list[HistoryEntry]:
        """Everything this customer said and was told, on every channel, bot part included."""
        async with self.db.reader() as session:
            return await history(session, customer_id, limit)

    async def seed_quick_phrases(self) -> None:
        """Store config.yml's quick phrases the first time this database is used (admins edit them after)."""
        if self._phrases_seeded:
            return
        async with self.db.session() as session:
            if await seed_phrases(session, self.config.operators.quick_phrases, now=self.clock()):
                await session.commit()
        self._phrases_seeded = True

    async def quick_phrases(self, operator_name: str) -> dict[str, str]:
        """Canned answers by shortcut (managed by admins in the panel), with {operator} filled in."""
        await self.seed_quick_phrases()
        async with self.db.reader() as session:
            phrases = await live_phrases(session)
        return {p.shortcut: p.text.replace("{operator}", operator_name) for p in phrases}

    async def expand(self, text: str, operator_name: str) -> str:
        """A reply that is exactly a shortcut becomes its phrase."""
        return (await self.quick_phrases(operator_name)).get(text.strip(), text)

    def suggestible(self, intent: str) -> bool:
        """Whether the intent's answer may be offered to an operator who is already in the chat.

        Not the answers that hand the dialogue over ("Сейчас подключу сотрудника…": the
        intents only a person handles), nor what the engine says about itself or a bare yes/no.
        """
        return (
            intent not in NOT_SUGGESTED
            and intent not in self.config.intents.human_only
            and f"utter_{intent}" not in SYSTEM_RESPONSES
        )

    async def suggestions(self, ticket_id: int) -> list[tuple[str, str]]:
        """(intent, answer) for the NLU's best intents of the customer's last message."""
        limit = self.config.operators.suggestions
        async with self.db.reader() as session:
            ticket = await session.get_one(HandoffTicket, ticket_id)
            nlu = await last_customer_reading(session, ticket.conversation_id)
        result: list[tuple[str, str]] = []
        for item in (nlu or {}).get("intent_ranking", []):
            response = f"utter_{item.get('name')}"
            if not self.suggestible(str(item.get("name"))):
                continue
            if response in self.engine.responses and len(result) < limit:
                result.append((str(item["name"]), self.engine.say(response).text))
        return result

    # ---- signals -----------------------------------------------------------------------
    async def typing(self, ticket_id: int, operator_id: int, active: bool) -> bool:
        """The operator holding the ticket types (or stopped): shown to the customer where the channel can.

        Returns:
            False when the ticket is not held by this operator (nothing is shown).
        """
        async with self.db.reader() as session:
            ticket = await session.get(HandoffTicket, ticket_id)
            if ticket is None or ticket.status != TicketStatus.CLAIMED or ticket.operator_id != operator_id:
                return False
            operator = await session.get_one(Operator, operator_id)
            conversation = await session.get_one(Conversation, ticket.conversation_id)
            recipient = await self._recipient(session, conversation)
        if recipient:
            await self.signals.typing(
                Typing(conversation.channel, recipient, conversation.id, active, operator.display_name)
            )
        return True

    async def tell_queue_moved(
        self, session: AsyncSession, ticket_id: int, position: int, minutes: int
    ) -> None:
        """A stored "the queue is moving: you are 2nd" for a channel without a live line. Commits."""
        await self._tell(session, ticket_id, "utter_queue_update", position=position, minutes=minutes)

    # ---- timers ------------------------------------------------------------------------
    async def tick(self) -> dict[str, list[int]]:
        """Run the waiting-time rules once; the server calls this every few seconds."""
        now = self.clock()
        escalation = self.config.escalation
        async with self.db.session() as session:
            # One transaction with the "operator left" messages: another process's wait notice
            # (below) can only see a requeued ticket after its customer was told.
            requeued = await requeue_unanswered(
                session, timedelta(minutes=escalation.answer_timeout_minutes), now=now, commit=False
            )
            for item in requeued:
                operator = await session.get(Operator, item.operator_id) if item.operator_id else None
                await self._tell(
                    session, item.ticket_id, "utter_operator_left", commit=False, **_about(operator)
                )
            await session.commit()
            for item in requeued:
                await self._ticket_changed(session, item.ticket_id)
        waited = await self._offer_callback_after_wait(now, timedelta(minutes=escalation.queue_wait_minutes))
        surveyed = await self._survey_quiet_dialogues(now)
        return {"requeued": [r.ticket_id for r in requeued], "callback_offered": waited, "surveyed": surveyed}

    async def _survey_quiet_dialogues(self, now: datetime) -> list[int]:
        """Ask "did this answer your question?" where the bot answered and the customer went quiet."""
        survey = self.config.survey
        if not (survey.enabled and "utter_ask_feedback" in self.engine.responses):
            return []
        if self._survey_due is not None and now < self._survey_due:
            return []
        self._survey_due = now + SURVEY_SCAN_EVERY
        asked = []
        async with self.db.session() as session:
            for conversation in await quiet_dialogues(session, survey, now):
                state = DialogueState.from_dict(conversation.dialogue)
                answered = any(t.answered and t.intent not in CONVERSATIONAL for t in state.turns)
                busy = state.awaiting_feedback or state.pending_offer or state.tracker.active_loop
                if state.surveyed or busy or not answered:
                    continue
                result = TurnResult()
                self.engine.ask_feedback(state, result)
                conversation.dialogue = {**(conversation.dialogue or {}), **state.to_dict()}
                await record_asked(session, conversation, FeedbackAbout.BOT, now)
                question = result.replies[-1]
                await self._send(
                    session,
                    conversation,
                    question.text,
                    "system",
                    self.config.bot.label,
                    None,
                    question.buttons,
                    True,
                    question.response,
                )
                asked.append(conversation.id)
        return asked

    async def _offer_callback_after_wait(self, now: datetime, wait: timedelta) -> list[int]:
        """Once per ticket, also with several processes ticking: on PostgreSQL the rows are locked
        (another process's pass skips them, then sees ``wait_notified``); SQLite's writers take
        turns (BEGIN IMMEDIATE), so the second pass reads the first one's mark."""
        offered = []
        async with self.db.session() as session:
            for ticket in await overdue_in_queue(session, created_before=now - wait):
                if (ticket.note or {}).get("wait_notified"):
                    continue
                ticket.note = {**(ticket.note or {}), "wait_notified": now.isoformat()}
                conversation = await session.get_one(Conversation, ticket.conversation_id)
                state = DialogueState.from_dict(conversation.dialogue)
                state.pending_offer = "callback"
                conversation.dialogue = {**(conversation.dialogue or {}), **state.to_dict()}
                await self._tell(session, ticket.id, "utter_queue_wait_too_long", commit=False)
                offered.append(ticket.id)
            await session.commit()
        return offered

    async def redeliver(self, limit: int = 50) -> int:
        """Retry operator replies whose channel was down; returns how many went out."""
        delivered = 0
        async with self.db.session() as session:
            items = await claim_due(session, limit, self.clock(), kind=DELIVERY_KIND)
            for item in items:
                message = OutboundMessage(**item.payload)
                try:
                    await self.deliver(message)
                except Exception as exc:  # the channel's own error; retried later
                    await mark_failed(session, item, f"{type(exc).__name__}: {exc}", now=self.clock())
                else:
                    await mark_sent(session, item, now=self.clock())
                    delivered += 1
        return delivered

    # ---- helpers -----------------------------------------------------------------------
    async def _check_reply(self, ticket_id: int, operator_id: int, text: str) -> None:
        """Ask the customer's channel first: a reply it would refuse is not stored (``ReplyRefused``)."""
        async with self.db.reader() as session:
            ticket = await session.get(HandoffTicket, ticket_id)
            if ticket is None or ticket.status != TicketStatus.CLAIMED or ticket.operator_id != operator_id:
                return  # ``_held`` says why
            conversation = await session.get_one(Conversation, ticket.conversation_id)
            operator = await session.get_one(Operator, operator_id)
            recipient = await external_id_of(session, conversation.id, conversation.channel) or ""
        probe = OutboundMessage(
            channel=conversation.channel,
            recipient_id=recipient,
            conversation_id=conversation.id,
            text=text,
            sender="operator",
            sender_name=operator.display_name,
        )
        try:
            await self.check(probe)
        except DeliveryRefused as refused:
            log.info(
                "operator %s's reply in conversation %s refused by %s: %s",
                operator_id,
                conversation.id,
                conversation.channel,
                refused.detail,
            )
            raise ReplyRefused(refused, conversation.channel) from None

    async def _check_limit(self, session: AsyncSession, operator_id: int) -> None:
        """Refuse one more dialogue to an operator at their limit (row-locked until the claim commits)."""
        operator = await lock_operator(session, operator_id)
        if operator is None or not operator.active:
            raise HandoffError(f"there is no active operator {operator_id}")
        limit = operator.max_parallel or self.config.operators.max_parallel
        if await claimed_count(session, operator_id) >= limit:
            raise LimitReached(operator.display_name, limit)

    async def _ticket_changed(self, session: AsyncSession, ticket_id: int) -> None:
        ticket = await session.get_one(HandoffTicket, ticket_id)
        await session.refresh(ticket)
        self.events.emit(
            "ticket",
            ticket.conversation_id,
            ticket_id=ticket.id,
            status=str(ticket.status),
            reason=ticket.reason,
            operator_id=ticket.operator_id,
            department_id=ticket.department_id,
        )

    async def _held(self, session: AsyncSession, ticket_id: int, operator_id: int) -> HandoffTicket:
        ticket: HandoffTicket | None = await session.get(HandoffTicket, ticket_id)
        if ticket is None or ticket.status != TicketStatus.CLAIMED or ticket.operator_id != operator_id:
            raise HandoffError(f"ticket {ticket_id} is not held by operator {operator_id}")
        return ticket

    async def _tell(
        self, session: AsyncSession, ticket_id: int, response: str, *, commit: bool = True, **values: Any
    ) -> None:
        ticket = await session.get_one(HandoffTicket, ticket_id)
        conversation = await session.get_one(Conversation, ticket.conversation_id)
        reply = self.engine.say(response, **values)
        await self._send(
            session,
            conversation,
            reply.text,
            "system",
            self.config.bot.label,
            None,
            reply.buttons,
            commit,
            response,
        )

    async def _send(
        self,
        session: AsyncSession,
        conversation: Conversation,
        text: str,
        sender: SenderKind,
        name: str,
        operator_id: int | None,
        buttons: list[dict[str, Any]] | None = None,
        commit: bool = True,
        response: str | None = None,
        photo: str | None = None,
        files: Sequence[dict[str, Any]] = (),
    ) -> OutboundMessage:
        kind = Sender.OPERATOR if sender == "operator" else Sender.SYSTEM
        stored = await store_outbound(
            session,
            conversation,
            text,
            sender=kind,
            operator_id=operator_id,
            # the files sent, and the buttons so that a polling client (REST) gets them too
            attachments=[*files, *([buttons_attachment(buttons)] if buttons else [])],
        )
        if files:  # the customer may read them from now on (bot.store.files)
            await link_files(
                session, stored_file_ids(files), conversation_id=conversation.id, message_id=stored.id
            )
        recipient = await external_id_of(session, conversation.id, conversation.channel)
        outbound = OutboundMessage(
            channel=conversation.channel,
            recipient_id=recipient or "",
            conversation_id=conversation.id,
            text=text,
            sender=sender,
            sender_name=name,
            buttons=list(buttons or []),
            message_id=stored.id,
            response=response,
            sender_photo=photo,
            files=[dict(item) for item in files],
        )
        if commit:
            await session.commit()  # stored before it is sent: a crash loses nothing
        self.events.emit(
            "message",
            conversation.id,
            message_id=stored.id,
            sender=sender,
            sender_name=name,
            text=text,
            operator_id=operator_id,
            attachments=[dict(item) for item in files],
        )
        try:
            await self.deliver(outbound)
        except Exception as exc:
            log.warning(
                "delivery of message %s to %s failed (%s); retrying later", stored.id, outbound.channel, exc
            )
            await enqueue(session, DELIVERY_KIND, asdict(outbound), f"deliver-{stored.id}", now=self.clock())
            if commit:
                await session.commit()
        return outbound

    async def _recipient(self, session: AsyncSession, conversation: Conversation) -> str:
        """The customer's id in the conversation's channel ("" when unknown)."""
        return await external_id_of(session, conversation.id, conversation.channel) or ""


def _about(operator: Operator | None) -> dict[str, Any]:
    """The values a handoff text about an operator is said with: their name and grammatical gender."""
    if operator is None:
        return {"operator": "", "operator_gender": None}
    return {"operator": operator.display_name, "operator_gender": grammatical_gender(operator)}
