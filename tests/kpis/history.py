"""A small, known history of dialogues with controlled timestamps (Moscow time, UTC+3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    Conversation,
    ConversationState,
    Customer,
    Department,
    Direction,
    Feedback,
    FeedbackAbout,
    HandoffTicket,
    Lead,
    LeadKind,
    Message,
    Operator,
    Sender,
    TicketStatus,
)

MSK = ZoneInfo("Europe/Moscow")
FALLBACK = "nlu_fallback"


def at(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    """A moment in November 2026, Moscow time."""
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=MSK)


class History:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.department: Department | None = None
        self.operators: dict[str, Operator] = {}

    async def setup(self) -> None:
        self.department = Department(key="support", name="Поддержка")
        self.session.add(self.department)
        for login, name in (("anna", "Анна"), ("boris", "Борис")):
            self.operators[login] = Operator(login=login, display_name=name, password_hash=None)
            self.session.add(self.operators[login])
        await self.session.flush()

    async def dialogue(
        self, channel: str, start: datetime, closed: datetime | None = None, customer_id: int | None = None
    ) -> Conversation:
        if customer_id is None:
            customer = Customer(created_at=start)
            self.session.add(customer)
            await self.session.flush()
            customer_id = customer.id
        state = ConversationState.CLOSED if closed else ConversationState.BOT
        conversation = Conversation(
            customer_id=customer_id, channel=channel, started_at=start, closed_at=closed, state=state
        )
        self.session.add(conversation)
        await self.session.flush()
        return conversation

    async def say(
        self,
        conversation: Conversation,
        sender: str,
        when: datetime,
        text: str = "…",
        intent: str | None = None,
    ) -> None:
        nlu: dict[str, Any] | None = {"intent": {"name": intent, "confidence": 0.9}} if intent else None
        self.session.add(
            Message(
                conversation_id=conversation.id,
                direction=Direction.IN if sender == "customer" else Direction.OUT,
                sender=Sender(sender),
                text=text,
                nlu=nlu,
                created_at=when,
            )
        )
        await self.session.flush()

    async def ticket(self, conversation: Conversation, reason: str, created: datetime, **fields: Any) -> int:
        operator = fields.pop("operator", None)
        ticket = HandoffTicket(
            conversation_id=conversation.id,
            reason=reason,
            created_at=created,
            department_id=self.department.id if self.department else None,
            operator_id=self.operators[operator].id if operator else None,
            note={"intent": fields.pop("intent", None)},
            status=TicketStatus(fields.pop("status", "closed")),
            **fields,
        )
        self.session.add(ticket)
        await self.session.flush()
        return int(ticket.id)

    async def feedback(self, conversation: Conversation, about: str, **fields: Any) -> None:
        operator = fields.pop("operator", None)
        self.session.add(
            Feedback(
                conversation_id=conversation.id,
                customer_id=conversation.customer_id,
                channel=conversation.channel,
                about=FeedbackAbout(about),
                operator_id=self.operators[operator].id if operator else None,
                created_at=conversation.started_at + timedelta(hours=1),
                answered_at=conversation.started_at + timedelta(hours=1, minutes=1),
                **fields,
            )
        )

    async def lead(self, conversation: Conversation, kind: str) -> None:
        self.session.add(
            Lead(
                customer_id=conversation.customer_id,
                conversation_id=conversation.id,
                kind=LeadKind(kind),
                channel=conversation.channel,
                consent=True,
            )
        )


async def build(session: AsyncSession) -> None:
    """Five dialogues on 10-11 November 2026 (MSK), and two just outside."""
    h = History(session)
    await h.setup()
    # D1: the bot answers; the customer says it helped (score 5).
    d1 = await h.dialogue("web", at(10, 10, 0))
    await h.say(d1, "customer", at(10, 10, 0, 0), "сколько стоит доставка", "delivery_cost")
    await h.say(d1, "bot", at(10, 10, 0, 1))
    await h.say(d1, "customer", at(10, 10, 0, 59), "спасибо", "thanks")
    await h.say(d1, "bot", at(10, 10, 1, 2))
    await h.say(d1, "customer", at(10, 10, 1, 9), "5", FALLBACK)  # the survey's score: not a fallback
    await h.say(d1, "bot", at(10, 10, 1, 10))
    await h.feedback(d1, "bot", helpful=True, score=5)
    # D2: not understood, and the customer leaves.
    d2 = await h.dialogue("telegram", at(10, 12, 0))
    await h.say(d2, "customer", at(10, 12, 0, 0), "Абракадабра", FALLBACK)
    await h.say(d2, "bot", at(10, 12, 0, 1))
    # D3: spans midnight; a person answers after 3 minutes; the customer rates the operator "no", 2.
    d3 = await h.dialogue("web", at(10, 23, 50), closed=at(11, 0, 10))
    await h.say(d3, "customer", at(10, 23, 50, 0), "позовите оператора", "human_request")
    await h.say(d3, "bot", at(10, 23, 50, 1))
    await h.ticket(
        d3, "human_request", at(10, 23, 50, 1), operator="anna", intent="human_request",
        claimed_at=at(10, 23, 52, 1), answered_at=at(10, 23, 53, 1),
    )  # fmt: skip
    await h.say(d3, "operator", at(10, 23, 53, 1))
    await h.say(d3, "customer", at(11, 0, 5), "спасибо", "thanks")
    await h.say(d3, "operator", at(11, 0, 6))
    await h.feedback(d3, "operator", operator="anna", helpful=False, score=2)  # answered 00:51
    # D8: D3's customer answers the survey asked at closing; the answer opens a new conversation.
    d8 = await h.dialogue("web", at(11, 0, 51), customer_id=d3.customer_id)
    await h.say(d8, "customer", at(11, 0, 51), "нет", "deny")
    await h.say(d8, "customer", at(11, 0, 51, 30), "2", FALLBACK)
    # D4: after hours (opening 09:00); the operator answers at 22:40 anyway; a call-back is left.
    d4 = await h.dialogue("telegram", at(10, 22, 30), closed=at(10, 22, 45))
    await h.say(d4, "customer", at(10, 22, 30, 0), "хочу вернуть товар", "return_policy")
    await h.say(d4, "bot", at(10, 22, 30, 1))
    await h.ticket(
        d4, "complaint", at(10, 22, 30, 1), operator="boris", intent="return_policy",
        callback_at=at(11, 9, 0), claimed_at=at(10, 22, 39, 0), answered_at=at(10, 22, 40, 0),
    )  # fmt: skip
    await h.say(d4, "operator", at(10, 22, 40))
    await h.lead(d4, "callback")
    # D5: reopened: not understood twice -> a person (late, 10 min) -> back to the bot -> "no" ->
    # handed off again, nobody takes it, closed; a lead is left.
    d5 = await h.dialogue("web", at(11, 9, 0), closed=at(11, 9, 40))
    await h.say(d5, "customer", at(11, 9, 0, 0), "не понимаю", FALLBACK)
    await h.say(d5, "bot", at(11, 9, 0, 1))
    await h.say(d5, "customer", at(11, 9, 1, 0), "???", FALLBACK)
    await h.say(d5, "bot", at(11, 9, 1, 1))
    await h.ticket(
        d5, "misunderstood", at(11, 9, 1, 1), operator="anna", intent="order_status", status="returned",
        claimed_at=at(11, 9, 10, 1), answered_at=at(11, 9, 11, 1),
    )  # fmt: skip
    await h.say(d5, "operator", at(11, 9, 11, 1))
    await h.say(d5, "system", at(11, 9, 15))
    await h.say(d5, "customer", at(11, 9, 20, 0), "а где заказ", "order_status")
    await h.say(d5, "bot", at(11, 9, 20, 1))
    await h.say(d5, "customer", at(11, 9, 21, 0), "нет", "deny")
    await h.say(d5, "bot", at(11, 9, 21, 1))
    await h.ticket(d5, "did_not_help", at(11, 9, 21, 1), intent="order_status", status="closed")
    await h.feedback(d5, "bot", helpful=False)
    await h.lead(d5, "lead")
    # Outside the period: the minute before it, and the day after.
    d6 = await h.dialogue("web", at(9, 23, 59))
    await h.say(d6, "customer", at(10, 0, 1), "привет", "greet")
    d7 = await h.dialogue("web", at(12, 0, 0))
    await h.say(d7, "customer", at(12, 0, 0), "привет", "greet")
    await session.commit()
