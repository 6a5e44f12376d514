"""The operator side of a handoff through the real store, NLU and dialogue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation import ConversationService
from bot.messages import InboundMessage, OutboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, create_operator
from handoff.service import HandoffError, OperatorService
from tests.store.conftest import db, db_url  # noqa: F401  (fixtures: migrated SQLite / PostgreSQL)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 12:00 in Moscow

    def __call__(self) -> datetime:
        return self.now


class Channel:
    """A customer's channel: records what was delivered; can be 'down'."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.down = False

    async def __call__(self, message: OutboundMessage) -> None:
        if self.down:
            raise ConnectionError("channel unavailable")
        self.sent.append(message)


@pytest.fixture
async def desk(trained_ru: Project, ru_pipeline: Pipeline, db: Database):  # type: ignore[no-untyped-def]
    clock, channel = Clock(), Channel()
    engine = trained_ru.engine(seed=0)
    customers = ConversationService(trained_ru.config, db.turns, lambda: ru_pipeline, engine, clock=clock)
    operators = OperatorService(trained_ru.config, db, engine, deliver=channel, clock=clock)
    async with db.session() as session:
        anna = await create_operator(session, "anna", "Анна")
        boris = await create_operator(session, "boris", "Борис")
        await session.commit()
        ids = anna.id, boris.id
    return customers, operators, channel, clock, ids


def say(text: str) -> InboundMessage:
    return InboundMessage(channel="web", sender_id="v1", text=text)


async def test_whole_handoff(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, channel, _, (anna, _) = desk
    escalated = await customers.handle(say("это безобразие, привезли сломанный велосипед"))
    (entry,) = await operators.queue()
    assert entry.ticket_id == escalated.ticket_id and entry.reason == "complaint" and entry.priority == 10
    assert entry.last_customer_message == "это безобразие, привезли сломанный велосипед"
    assert entry.note["intent"] == "complaint" and entry.note["summary"]

    assert await operators.claim(entry.ticket_id, anna)
    assert (
        channel.sent[-1].text == "Анна (оператор) подключился к чату." and channel.sent[-1].sender == "system"
    )
    assert (await customers.handle(say("жду"))).silent

    reply = await operators.reply(entry.ticket_id, anna, "Здравствуйте! Сейчас разберёмся.")
    assert channel.sent[-1] == reply
    assert (
        reply.sender == "operator" and reply.sender_name == "Анна" and reply.labelled().startswith("Анна: ")
    )

    assert await operators.return_to_bot(entry.ticket_id, anna)
    assert channel.sent[-1].text.startswith("Вы снова общаетесь с ботом")
    again = await customers.handle(say("нет"))
    assert again.result is not None and again.result.escalation is not None
    assert again.result.escalation.reason == "did_not_help"


async def test_two_operators_one_ticket(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, _, _, (anna, boris) = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    results = await asyncio.gather(operators.claim(ticket, anna), operators.claim(ticket, boris))
    assert sorted(results) == [False, True]


async def test_only_the_holder_replies(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, _, _, (anna, boris) = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    await operators.claim(ticket, anna)
    with pytest.raises(HandoffError, match="not held"):
        await operators.reply(ticket, boris, "я тоже тут")


async def test_reply_to_a_channel_that_is_down_is_retried(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, channel, clock, (anna, _) = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    await operators.claim(ticket, anna)
    channel.down = True
    await operators.reply(ticket, anna, "Ваш заказ уже в пути.")
    assert not any(m.text == "Ваш заказ уже в пути." for m in channel.sent)
    channel.down = False
    clock.now += timedelta(minutes=5)
    assert await operators.redeliver() == 1
    assert channel.sent[-1].text == "Ваш заказ уже в пути." and channel.sent[-1].sender_name == "Анна"
    assert await operators.redeliver() == 0, "delivered once"


async def test_unanswered_claim_goes_back_to_the_queue(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, channel, clock, (anna, _) = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    await operators.claim(ticket, anna)
    clock.now += timedelta(minutes=6)
    report = await operators.tick()
    assert report["requeued"] == [ticket]
    assert [e.ticket_id for e in await operators.queue()] == [ticket]
    assert "вы снова в очереди" in channel.sent[-1].text


async def test_long_wait_offers_a_call_back_once(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, channel, clock, _ = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    clock.now += timedelta(minutes=11)
    assert (await operators.tick())["callback_offered"] == [ticket]
    assert channel.sent[-1].text.startswith("Извините, все операторы пока заняты")
    assert (await operators.tick())["callback_offered"] == []
    assert [e.ticket_id for e in await operators.queue()] == [ticket], "the ticket stays"


async def test_quick_phrases_and_suggested_answers(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, _, _, (anna, _) = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    await operators.claim(ticket, anna)
    await customers.handle(say("а сколько стоит доставка в Казань?"))
    suggestions = await operators.suggestions(ticket)
    assert suggestions[0][0] == "delivery_terms" and "390" in suggestions[0][1]
    assert len(suggestions) <= 3
    phrases = operators.quick_phrases("Анна")
    assert phrases["/hi"].startswith("Здравствуйте! Меня зовут Анна")
    assert operators.expand("/wait", "Анна") == "Минуту, уточняю информацию."
    assert operators.expand("обычный текст", "Анна") == "обычный текст"
