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
    assert entry.note["intent"] == "complaint" and entry.note["summary"] == []  # no FAQ answer before

    assert await operators.claim(entry.ticket_id, anna)
    assert (  # the verb agrees with a feminine first name
        channel.sent[-1].text == "Анна (оператор) подключилась к чату."
        and channel.sent[-1].sender == "system"
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
    phrases = await operators.quick_phrases("Анна")  # seeded from config.yml on first use
    assert phrases["/hi"].startswith("Здравствуйте! Меня зовут Анна")
    assert await operators.expand("/wait", "Анна") == "Минуту, уточняю информацию."
    assert await operators.expand("обычный текст", "Анна") == "обычный текст"


async def test_joined_and_left_agree_with_the_operators_gender(desk, db: Database) -> None:  # type: ignore[no-untyped-def]
    """Said in the bot's language, in the form that fits the operator: set on the account, else
    known from a Russian first name, else a neutral wording."""
    customers, operators, channel, _, (anna, boris) = desk
    async with db.session() as session:
        sasha = (await create_operator(session, "sasha", "Саша")).id  # either gender
        zhenya = await create_operator(session, "zhenya", "Женя")
        zhenya.grammatical_gender = "female"  # her own setting
        await session.commit()
        zhenya_id = zhenya.id
    said = []
    for number, operator in enumerate((anna, boris, sasha, zhenya_id)):
        ticket = (await customers.handle(InboundMessage("web", f"c{number}", "позовите оператора"))).ticket_id
        assert ticket is not None and await operators.claim(ticket, operator)
        said.append(channel.sent[-1].text)
        if operator == boris:
            assert await operators.release(ticket, operator)
            said.append(channel.sent[-1].text)
    assert said == [
        "Анна (оператор) подключилась к чату.",
        "Борис (оператор) подключился к чату.",
        "Оператор Борис передал ваш вопрос коллеге — вы снова в очереди, вас не забыли.",
        "С вами на связи оператор Саша.",
        "Женя (оператор) подключилась к чату.",
    ]


async def test_suggested_answers_never_offer_a_handoff_to_the_operator(desk) -> None:  # type: ignore[no-untyped-def]
    """An operator already in the chat is not offered "Сейчас подключу сотрудника…" (the answers of
    intents only a person handles), nor the bot's talk about itself."""
    customers, operators, _, _, (anna, _) = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    await operators.claim(ticket, anna)
    for text in ("позовите человека", "соедините с оператором пожалуйста", "ты бот?"):
        await customers.handle(say(text))
        suggested = await operators.suggestions(ticket)
        assert all(intent not in ("human_request", "complaint", "bot_challenge") for intent, _ in suggested)
        assert not any("подключу" in answer or "Передаю" in answer for _, answer in suggested), suggested
    assert not operators.suggestible("human_request") and not operators.suggestible("order_cancel")
    assert operators.suggestible("delivery_terms")


async def test_the_handoff_note_lists_the_bots_answers_not_its_intro(desk) -> None:  # type: ignore[no-untyped-def]
    customers, operators, _, _, _ = desk
    await customers.handle(say("сколько стоит доставка по Москве?"))
    await customers.handle(say("нет, спасибо"))  # declines the contact offer
    await customers.handle(say("какие способы оплаты есть"))
    await customers.handle(say("позовите оператора"))
    (entry,) = await operators.queue()
    summary = entry.note["summary"]
    variants = customers.engine.responses
    delivery = {v["text"] for v in variants["utter_delivery_terms"]}
    payment = {v["text"] for v in variants["utter_payment_methods"]}
    assert len(summary) == 2 and summary[0] in delivery and summary[1] in payment, summary  # oldest first
    assert not any(text.startswith("Здравствуйте! Я бот-помощник") for text in summary)  # no intro
    assert not any("Передаю ваш вопрос" in text or "очеред" in text for text in summary)  # no handoff line
    assert entry.note["detail"] == "the customer asked for a person"
    assert entry.note["detail_text"] == {"msgid": "the customer asked for a person", "values": {}}


async def test_after_a_close_the_survey_answer_gets_no_introduction(desk) -> None:  # type: ignore[no-untyped-def]
    """The customer's "да" to "Ответ помог?" asked as the operator closed: thanks, not "I am the bot"."""
    customers, operators, channel, _, (anna, _) = desk
    ticket = (await customers.handle(say("позовите оператора"))).ticket_id
    assert await operators.claim(ticket, anna)
    await operators.reply(ticket, anna, "Готово, заказ оформлен.")
    assert await operators.close(ticket, anna, "answered")
    assert channel.sent[-1].text == "Ответ помог?"
    answer = await customers.handle(say("да"))
    texts = [reply.text for reply in answer.replies]
    assert texts[0] == "Рад был помочь! Если что-то ещё — спрашивайте.", texts
    assert not any("Я бот-помощник" in text for text in texts)
    assert answer.feedback == ("operator", True, None)
