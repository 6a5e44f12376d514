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
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.clock import Clock, utc_now
from bot.conversation.accounting import NO_OBSERVER, TurnObserver, TurnRefused
from bot.conversation.effects import AppliedTurn, apply_effects
from bot.conversation.queued import acknowledgement
from bot.conversation.turn import Handled, Turn
from bot.dialogue.engine import DialogueEngine, is_faq_answer
from bot.dialogue.state import DialogueState, Reply, Staffed, TurnResult
from bot.errors import BotdeskError
from bot.events import NO_EVENTS, NO_PRESENCE, EventBus, Presence
from bot.messages import InboundMessage, OutboundMessage
from bot.nlu.base import Message as Parsed
from bot.nlu.pipeline import Pipeline
from bot.settings import BotdeskConfig
from bot.store import (
    ConversationState,
    InputRejected,
    MessageTooLong,
    StoredReplies,
    StoreError,
    TurnStore,
    TurnTransaction,
)
from bot.store.buttons import buttons_attachment
from bot.store.errors import NO_DATABASE, log_outage
from bot.survey import asked_after_close

log = logging.getLogger("botdesk.conversation")
HUMAN_STATES = (ConversationState.QUEUED, ConversationState.OPERATOR)
ANSWERS_KEY = "_answers"  # the dialogue's last FAQ answers, for the handoff note
MAX_SUMMARY = 3


class ConversationService:
    def __init__(
        self,
        config: BotdeskConfig,
        turns: TurnStore,
        pipeline: Callable[[], Pipeline],
        engine: DialogueEngine,
        clock: Clock = utc_now,
        events: EventBus = NO_EVENTS,
        observer: TurnObserver = NO_OBSERVER,
        presence: Presence = NO_PRESENCE,
    ) -> None:
        self.config = config
        self.presence = presence  # who is at the panel: the handoff says honestly whether a person is
        self.observer = observer
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

    async def handle_and_account(self, inbound: InboundMessage) -> Handled:
        """Handle a channel's message, count it, and say why when it cannot be answered.

        The one entry point of the channels: the turn is timed and counted for /metrics
        (``TurnObserver``), a saved lead is announced on the event bus (the CRM outbox
        wakes up), a database outage is logged once per outage. Every expected failure is
        one ``TurnRefused`` with its reason; anything else is counted and raised.

        Args:
            inbound: the customer's message, as the channel understood it.

        Returns:
            The turn: the replies to send back (already stored), or ``duplicate``/``silent``.

        Raises:
            TurnRefused: ``invalid``/``too_long`` (nothing stored), ``unavailable`` (the
                store is down: nothing stored, send it again) or ``bot_failed`` (stored;
                answered later).
        """
        channel = inbound.channel
        started = time.perf_counter()
        try:
            handled = await self.handle(inbound)
        except MessageTooLong as exc:
            self.observer.refused(channel)
            raise TurnRefused("too_long", str(exc)) from None
        except InputRejected as exc:
            self.observer.refused(channel)
            raise TurnRefused("invalid", str(exc)) from None
        except (StoreError, OperationalError, InterfaceError, PoolTimeout) as exc:
            self.observer.refused(channel, "error")
            log_outage(f"a {channel} message", exc)
            raise TurnRefused("unavailable", NO_DATABASE) from None
        except BotdeskError as exc:  # e.g. the NLU backend is down; the message is stored
            self.observer.refused(channel, "error")
            log.error("%s message not answered: %s", channel, exc)
            raise TurnRefused("bot_failed", f"the bot cannot answer right now: {exc}") from None
        except Exception:
            self.observer.refused(channel, "error")
            raise
        self.observer.observe(channel, handled, time.perf_counter() - started)
        if handled.lead_id is not None:
            self.events.emit("lead", handled.conversation_id, lead_id=handled.lead_id)
        return handled

    def refused(self, channel: str, outcome: str = "rejected") -> None:
        """Count a message a channel refused before it became a turn (a malformed payload, a flood)."""
        self.observer.refused(channel, outcome)

    async def handle(self, inbound: InboundMessage) -> Handled:
        """Store and answer one message; errors as they come (channels use ``handle_and_account``)."""
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
            acks: list[Reply] = []
            if entered.state == ConversationState.QUEUED:  # waiting: "your message reached the operators"
                ack = await acknowledgement(
                    transaction, self.config, self.engine, conversation_id, self._staffed(), now
                )
                acks = [ack] if ack is not None else []
            stored = await self._bot_says(transaction, conversation_id, acks)
            await transaction.commit()
            acked = self._outbound(inbound, conversation_id, acks, await stored.ids())
            self._announce_inbound(conversation_id, turn.message_id, inbound, nlu)
            self._announce_replies(conversation_id, acked)
            return Handled(acked, conversation_id, silent=True)
        state = DialogueState.from_dict(entered.dialogue)
        if (
            not entered.dialogue
            and not entered.first_contact
            and await self._survey_after_close(transaction, turn)
        ):
            state.awaiting_feedback = True  # the question asked as their last dialogue was closed
            state.introduced = True  # they met the bot in that dialogue: their "да" gets no introduction
        # A custom action waits on the network: the transaction is released first (and the
        # next statement takes a connection again), so a slow shop never holds the store.
        result = (
            await self.engine.handle(
                state,
                turn.parsed,
                now,
                sender_id=inbound.sender_id,
                channel=inbound.channel,
                before_io=transaction.release,
                staffed=self._staffed(),
            )
            if turn.parsed is not None
            else self.engine.non_text(state)
        )
        handled = Handled([], conversation_id, result=result)
        applied = AppliedTurn(
            self.config,
            self.engine,
            transaction,
            turn,
            state,
            result,
            handled,
            replies=list(result.replies),
            form_answers=list(entered.dialogue.get("_form_answers", [])),
            answers=[*entered.dialogue.get(ANSWERS_KEY, []), *faq_answers(result)][-MAX_SUMMARY:],
        )
        await apply_effects(applied)
        said = await self._bot_says(transaction, conversation_id, applied.replies)
        if applied.keeps_form_answers:  # they may echo the answers ("Иван, ..."): sent now, for their ids
            applied.form_answers.extend(await said.ids())
        await transaction.save_dialogue(
            conversation_id,
            dialogue={**state.to_dict(), "_form_answers": applied.form_answers, ANSWERS_KEY: applied.answers},
            slots={k: v for k, v in state.tracker.slots.items() if not k.startswith("_")},
            active_loop=state.tracker.active_loop,
            misunderstood=state.misunderstood_in_a_row,
            now=now,
        )
        await transaction.commit()
        handled.replies.extend(self._outbound(inbound, conversation_id, applied.replies, await said.ids()))
        self._announce_inbound(conversation_id, turn.message_id, inbound, nlu)
        self._announce_replies(conversation_id, handled.replies)
        if handled.ticket_id is not None:
            self.events.emit(
                "ticket",
                conversation_id,
                ticket_id=handled.ticket_id,
                status="queued",
                reason=result.escalation.reason if result.escalation else None,
            )
        return handled

    def _staffed(self) -> Staffed | None:
        """Whether someone is online for a department now; None: not tracked (the hours decide)."""
        return self.presence.online if self.presence.tracked else None

    def _announce_replies(self, conversation_id: int, replies: list[OutboundMessage]) -> None:
        for said in replies:
            self.events.emit(
                "message",
                conversation_id,
                message_id=said.message_id,
                sender=said.sender,
                sender_name=said.sender_name,
                text=said.text,
            )

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
        self, transaction: TurnTransaction, conversation_id: int, replies: list[Reply]
    ) -> StoredReplies:
        """Store the bot's replies in the turn's transaction; they go out once it has committed."""
        return await transaction.say(
            conversation_id,
            [reply.text for reply in replies],
            self.clock(),
            [[buttons_attachment(reply.buttons)] if reply.buttons else [] for reply in replies],
        )

    def _outbound(
        self, inbound: InboundMessage, conversation_id: int, replies: list[Reply], message_ids: list[int]
    ) -> list[OutboundMessage]:
        """The stored replies as the channel sends them, in the customer's channel."""
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
            for reply, message_id in zip(replies, message_ids, strict=True)
        ]

    async def _survey_after_close(self, transaction: TurnTransaction, turn: Turn) -> bool:
        return self.config.survey.enabled and await asked_after_close(
            transaction, turn.conversation, self.config.survey, turn.now
        )


def faq_answers(result: TurnResult) -> list[str]:
    """The answers a turn gave to the customer's questions: not the introduction, a fallback, a
    form's question or what the engine says about handoffs, hours and the survey."""
    return [reply.text for reply in result.replies if reply.text and is_faq_answer(reply.response)]
