"""``botdesk demo-data``: a month of realistic traffic, so the dashboard has something to show.

Written straight into the store with controlled timestamps (the services would stamp
"now"): customers, dialogues, messages with their NLU result, handoff tickets, leads and
survey answers, in the shapes the live services write them. The same seed gives the
same history. Demo customers are named ``demo-…`` and demo operators ``demo-…``, so
they are easy to tell apart (and to delete).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.nlu.base import FALLBACK_INTENT
from bot.settings import BotdeskConfig
from bot.store.models import (
    Conversation,
    ConversationState,
    Customer,
    Direction,
    Feedback,
    FeedbackAbout,
    HandoffTicket,
    Lead,
    LeadKind,
    Message,
    Operator,
    OperatorRole,
    Sender,
    TicketStatus,
)
from bot.store.operators import ensure_department

# Customer messages by intent, (ru, en).
QUESTIONS: dict[str, tuple[str, str]] = {
    "delivery_terms": ("сколько стоит доставка?", "how much is delivery?"),
    "order_status": ("где мой заказ?", "where is my order?"),
    "payment_methods": ("можно оплатить картой?", "can I pay by card?"),
    "return_policy": ("как вернуть товар?", "how do I return an item?"),
    "working_hours": ("во сколько вы открываетесь?", "when do you open?"),
    "product_availability": ("есть ли в наличии самокат?", "is the scooter in stock?"),
    "discounts": ("есть скидки?", "any discounts?"),
    "store_address": ("где ваш магазин?", "where is your shop?"),
    "warranty": ("какая гарантия на велосипед?", "what is the warranty on the bike?"),
    "price_request": ("сколько стоит велосипед?", "how much is the bike?"),
}
WEIGHTS = (18, 16, 10, 9, 8, 8, 6, 5, 4, 6)
UNRECOGNISED = (
    ("а у вас есть подарочная упаковка", "do you gift wrap"),
    ("можно ли забрать заказ у соседа", "can my neighbour pick up the order"),
    ("промокод не работает", "the promo code does not work"),
    ("ghjdthrf", "asdfgh"),
    ("что с моим кешбэком", "what about my cashback"),
)
# What customers say once a person is there, and what operators answer.
WITH_OPERATOR = (
    (("номер заказа 4815162", "order number 4815162"), "order_status"),
    (("спасибо, понятно", "thanks, got it"), "thanks"),
    (("а когда привезут?", "when will it arrive?"), "order_status"),
    (("хорошо, жду", "ok, I'll wait"), "affirm"),
)
GREETING = ("Здравствуйте! Меня зовут {name}, сейчас посмотрю.", "Hello! I'm {name}, looking into it now.")
ANSWER = ("Проверила: всё в порядке, заказ уже в пути.", "Checked: all is well, the order is on its way.")
CHANNELS = (("web", 55), ("telegram", 35), ("rest", 10))
HOUR_WEIGHTS = (1, 1, 0, 0, 0, 0, 1, 2, 4, 7, 9, 10, 10, 9, 8, 8, 8, 7, 7, 8, 9, 8, 5, 2)
OPERATORS = (("demo-anna", "Анна"), ("demo-boris", "Борис"), ("demo-vera", "Вера"))
DEMO_PREFIX = "demo-"


@dataclass
class DemoSummary:
    dialogues: int = 0
    messages: int = 0
    handoffs: int = 0
    leads: int = 0
    feedback: int = 0


class DemoWriter:
    def __init__(
        self, session: AsyncSession, config: BotdeskConfig, seed: int, answers: dict[str, str] | None = None
    ) -> None:
        self.answers = answers or {}
        self.session = session
        self.config = config
        self.rng = random.Random(seed)
        self.lang = 0 if config.language == "ru" else 1
        self.tz = ZoneInfo(config.kpis.timezone or config.departments[0].hours.timezone)
        self.summary = DemoSummary()
        self.operators: list[int] = []
        self.names: dict[int, str] = {}
        self.departments: list[tuple[int, Any]] = []

    async def prepare(self) -> None:
        for dep in self.config.departments:
            self.departments.append((await ensure_department(self.session, dep.key, dep.name), dep))
        for login, name in OPERATORS:
            found = await self.session.scalar(select(Operator).where(Operator.login == login))
            if found is None:
                found = Operator(login=login, display_name=name, role=OperatorRole.OPERATOR, active=False)
                self.session.add(found)
                await self.session.flush()
            self.operators.append(found.id)
            self.names[found.id] = found.display_name

    def _pick(self, items: tuple[tuple[str, int], ...]) -> str:
        return self.rng.choices([k for k, _ in items], [w for _, w in items])[0]

    def _moment(self, day: date) -> datetime:
        hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
        local = datetime.combine(day, time(hour, self.rng.randrange(60), self.rng.randrange(60)), self.tz)
        return local

    async def _say(
        self, conversation: Conversation, sender: Sender, when: datetime, text: str, **kw: Any
    ) -> None:
        self.session.add(
            Message(
                conversation_id=conversation.id,
                direction=Direction.IN if sender == Sender.CUSTOMER else Direction.OUT,
                sender=sender,
                text=text,
                created_at=when,
                **kw,
            )
        )
        self.summary.messages += 1

    async def _answer(self, conversation: Conversation, when: datetime, intent: str) -> None:
        """The bot's reply: the project's own answer text when it has one."""
        text = self.answers.get(f"utter_{intent}") or f"[{intent}]"
        await self._say(conversation, Sender.BOT, when, text)

    async def _customer(
        self, conversation: Conversation, when: datetime, text: str, intent: str, confidence: float
    ) -> None:
        nlu = {"text": text, "intent": {"name": intent, "confidence": confidence}, "intent_ranking": []}
        await self._say(conversation, Sender.CUSTOMER, when, text, nlu=nlu)

    async def dialogue(self, day: date, number: int) -> None:
        rng = self.rng
        start = self._moment(day)
        channel = self._pick(CHANNELS)
        customer = Customer(display_name=f"{DEMO_PREFIX}{number}", created_at=start)
        self.session.add(customer)
        await self.session.flush()
        conversation = Conversation(
            customer_id=customer.id, channel=channel, started_at=start, language=self.config.language
        )
        self.session.add(conversation)
        await self.session.flush()
        self.summary.dialogues += 1
        t = start
        intent = rng.choices(list(QUESTIONS), WEIGHTS)[0]
        roll = rng.random()
        if roll < 0.12:  # not understood; half leave, half ask for a person
            text = rng.choice(UNRECOGNISED)[self.lang]
            await self._customer(conversation, t, text, FALLBACK_INTENT, rng.uniform(0.1, 0.4))
            await self._say(conversation, Sender.BOT, t + timedelta(seconds=1), self.config.bot.fallback)
            if rng.random() < 0.5:
                return
            t += timedelta(seconds=rng.randint(20, 90))
            await self._customer(conversation, t, rng.choice(UNRECOGNISED)[self.lang], FALLBACK_INTENT, 0.2)
            await self._handoff(conversation, t + timedelta(seconds=1), "misunderstood", intent)
            return
        text = QUESTIONS[intent][self.lang]
        await self._customer(conversation, t, text, intent, rng.uniform(0.6, 0.99))
        if roll < 0.22:
            await self._handoff(
                conversation, t + timedelta(seconds=1), rng.choice(("human_request", "complaint")), intent
            )
            return
        await self._answer(conversation, t + timedelta(seconds=1), intent)
        follow_ups = rng.choices((0, 1, 2), (5, 3, 2))[0]
        for _ in range(follow_ups):
            t += timedelta(seconds=rng.randint(15, 240))
            intent = rng.choices(list(QUESTIONS), WEIGHTS)[0]
            await self._customer(
                conversation, t, QUESTIONS[intent][self.lang], intent, rng.uniform(0.6, 0.99)
            )
            await self._answer(conversation, t + timedelta(seconds=1), intent)
        if rng.random() < 0.08:
            await self._lead(conversation, t + timedelta(minutes=1), LeadKind.LEAD)
        if rng.random() < 0.45 and self.config.survey.enabled:
            helpful = rng.random() < 0.78
            await self._feedback(conversation, t + timedelta(minutes=10), FeedbackAbout.BOT, None, helpful)
            if not helpful and rng.random() < 0.6:
                t += timedelta(minutes=10, seconds=30)
                await self._customer(conversation, t, "нет" if self.lang == 0 else "no", "deny", 0.95)
                await self._handoff(conversation, t + timedelta(seconds=1), "did_not_help", intent)

    async def _handoff(self, conversation: Conversation, t: datetime, reason: str, intent: str) -> None:
        rng = self.rng
        dep_id, dep = rng.choice(self.departments)
        self.summary.handoffs += 1
        after_hours = not dep.hours.is_open(t)
        opening = dep.hours.next_opening(t) if after_hours else None
        ticket = HandoffTicket(
            conversation_id=conversation.id,
            reason=reason,
            department_id=dep_id,
            note={"reason": reason, "intent": intent, "after_hours": after_hours},
            created_at=t,
            callback_at=opening,
            status=TicketStatus.QUEUED,
        )
        self.session.add(ticket)
        conversation.department_id = dep_id
        await self._answer(conversation, t, "handoff_queued")
        if after_hours and opening is not None:
            await self._lead(conversation, t + timedelta(minutes=1), LeadKind.CALLBACK)
            t = opening
        if rng.random() < 0.07:  # the customer gives up waiting
            ticket.status = TicketStatus.CLOSED
            ticket.resolution = "abandoned"
            conversation.state = ConversationState.CLOSED
            conversation.closed_at = t + timedelta(minutes=rng.randint(5, 20))
            return
        operator = rng.choice(self.operators)
        wait = timedelta(seconds=min(rng.expovariate(1 / 110), 1500))
        ticket.claimed_at = t + wait
        ticket.answered_at = ticket.claimed_at + timedelta(seconds=rng.randint(10, 90))
        ticket.operator_id = operator
        ticket.status = TicketStatus.CLOSED
        ticket.resolution = "solved"
        conversation.operator_id = operator
        t = ticket.answered_at
        greeting = GREETING[self.lang].format(name=self.names[operator])
        await self._say(conversation, Sender.OPERATOR, t, greeting, operator_id=operator)
        for _ in range(rng.randint(1, 3)):
            t += timedelta(seconds=rng.randint(30, 300))
            text, said_intent = rng.choice(WITH_OPERATOR)
            await self._customer(conversation, t, text[self.lang], said_intent, rng.uniform(0.5, 0.95))
            t += timedelta(seconds=rng.randint(20, 200))
            await self._say(conversation, Sender.OPERATOR, t, ANSWER[self.lang], operator_id=operator)
        t += timedelta(minutes=rng.randint(1, 10))
        conversation.state = ConversationState.CLOSED
        conversation.closed_at = t
        ticket.updated_at = t
        if self.config.survey.enabled and self.config.survey.after_operator and rng.random() < 0.55:
            helpful = rng.random() < 0.85
            await self._feedback(conversation, t, FeedbackAbout.OPERATOR, operator, helpful, ticket)

    async def _lead(self, conversation: Conversation, t: datetime, kind: LeadKind) -> None:
        self.summary.leads += 1
        self.session.add(
            Lead(
                customer_id=conversation.customer_id,
                conversation_id=conversation.id,
                kind=kind,
                name=f"{DEMO_PREFIX}{conversation.customer_id}",
                consent=True,
                consent_at=t,
                channel=conversation.channel,
                source="demo",
                created_at=t,
            )
        )

    async def _feedback(
        self,
        conversation: Conversation,
        t: datetime,
        about: FeedbackAbout,
        operator: int | None,
        helpful: bool,
        ticket: HandoffTicket | None = None,
    ) -> None:
        self.summary.feedback += 1
        answered = self.rng.random() < 0.8
        score = None
        if answered and self.rng.random() < 0.6:
            score = self.rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 6) if helpful else (5, 4, 2, 1, 0))[0]
        if ticket is not None:
            await self.session.flush()
        self.session.add(
            Feedback(
                conversation_id=conversation.id,
                ticket_id=ticket.id if ticket is not None else None,
                customer_id=conversation.customer_id,
                about=about,
                operator_id=operator,
                helpful=helpful if answered else None,
                score=score,
                channel=conversation.channel,
                created_at=t,
                answered_at=t + timedelta(seconds=40) if answered else None,
            )
        )


async def write_demo(
    session: AsyncSession,
    config: BotdeskConfig,
    last_day: date,
    days: int = 30,
    per_day: int = 40,
    seed: int = 7,
    answers: dict[str, str] | None = None,
) -> DemoSummary:
    """``days`` days of traffic ending on ``last_day`` (local), about ``per_day`` dialogues a day. Commits.

    ``answers``: response name -> text (the project's), for bot messages that read like the real bot.
    """
    writer = DemoWriter(session, config, seed, answers)
    await writer.prepare()
    number = 0
    for offset in range(days - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        weekend = day.weekday() >= 5
        count = max(1, round(writer.rng.gauss(per_day * (0.7 if weekend else 1.0), per_day * 0.15)))
        for _ in range(count):
            number += 1
            await writer.dialogue(day, number)
        await session.commit()
    return writer.summary
