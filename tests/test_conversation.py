"""The conversation service end to end: real NLU, dialogue, store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actions.base import ActionOutcome
from bot.conversation import ConversationService
from bot.messages import InboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Conversation, ConversationState, Database, HandoffTicket, Lead, Message, OutboxItem

DAYTIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
NIGHT = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 02:00 in Moscow


def service(
    project: Project, pipeline: Pipeline, database: Database, now: datetime = DAYTIME
) -> ConversationService:
    return ConversationService(
        project.config, database.turns, lambda: pipeline, project.engine(seed=0), clock=lambda: now
    )


def web(text: str, sender: str = "visitor-1", message_id: str | None = None) -> InboundMessage:
    return InboundMessage(channel="web", sender_id=sender, text=text, message_id=message_id)


async def test_faq_answer_is_stored_and_labelled(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    handled = await service(trained_ru, ru_pipeline, db).handle(web("сколько стоит доставка?"))
    assert handled.replies[0].sender == "bot" and handled.replies[0].sender_name == "🤖 Бот"
    assert handled.replies[0].labelled().startswith("🤖 Бот: Здравствуйте")
    assert any("390" in r.text for r in handled.replies)
    async with db.session() as session:
        messages = (await session.execute(select(Message).order_by(Message.id))).scalars().all()
        assert (
            messages[0].text == "сколько стоит доставка?"
            and messages[0].nlu["intent"]["name"] == "delivery_terms"
        )
        assert messages[0].model_version == ru_pipeline.version
        assert [m.sender.value for m in messages[1:]] == ["bot"] * len(handled.replies)


async def test_redelivered_message_is_handled_once(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    svc = service(trained_ru, ru_pipeline, db)
    first = await svc.handle(web("привет", message_id="tg-1"))
    again = await svc.handle(web("привет", message_id="tg-1"))
    assert first.replies and again.duplicate and not again.replies
    async with db.session() as session:
        assert await session.scalar(select(func.count(Message.id)).where(Message.sender == "customer")) == 1


async def test_handoff_queues_and_the_bot_falls_silent(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    svc = service(trained_ru, ru_pipeline, db)
    handled = await svc.handle(web("позовите оператора"))
    assert handled.ticket_id is not None
    assert "1-й в очереди" in handled.replies[-1].text
    acked = await svc.handle(web("у меня сломался руль"))  # the bot is silent, but says it reached them
    assert acked.silent and [r.text for r in acked.replies] == [
        "Ваше сообщение передано оператору, вы 1-й в очереди, примерное ожидание — 3 мин."
    ]
    silent = await svc.handle(web("алло, есть кто?"))
    assert silent.silent and not silent.replies  # once per place in the queue
    async with db.session() as session:
        ticket = await session.get_one(HandoffTicket, handled.ticket_id)
        assert ticket.reason == "human_request" and ticket.priority == 5
        assert ticket.note["intent"] == "human_request" and ticket.note["summary"] == []  # no FAQ answer yet
        conversation = await session.get_one(Conversation, handled.conversation_id)
        assert conversation.state == ConversationState.QUEUED
        last = (await session.execute(select(Message).order_by(Message.id.desc()).limit(1))).scalar_one()
        assert last.text == "алло, есть кто?" and last.nlu is not None, "NLU recorded for the editor"


async def test_after_hours_ticket_waits_for_the_morning(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    handled = await service(trained_ru, ru_pipeline, db, NIGHT).handle(web("позовите оператора"))
    async with db.session() as session:
        ticket = await session.get_one(HandoffTicket, handled.ticket_id)
        assert ticket.callback_at is not None and ticket.callback_at.hour == 6  # 09:00 Moscow in UTC
        conversation = await session.get_one(Conversation, handled.conversation_id)
        assert conversation.state == ConversationState.AFTER_HOURS


async def test_lead_with_consent_goes_to_the_outbox(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    svc = service(trained_ru, ru_pipeline, db)
    for text in ["сколько стоит велосипед?", "да", "Анна", "8 912 345-67-89"]:
        await svc.handle(web(text))
    done = await svc.handle(web("согласен"))
    assert done.lead_id is not None
    async with db.session() as session:
        lead = await session.get_one(Lead, done.lead_id)
        assert (lead.name, lead.phone, lead.consent) == ("Анна", "+79123456789", True)
        assert lead.consent_at is not None and "price_request" in lead.interest
        assert await session.scalar(select(func.count(OutboxItem.id))) == 1


async def test_declined_consent_stores_no_personal_data(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    svc = service(trained_ru, ru_pipeline, db)
    for text in ["перезвоните мне", "Иван", "+7 912 345 67 89"]:
        await svc.handle(web(text))
    done = await svc.handle(web("нет"))
    assert done.lead_id is None
    async with db.session() as session:
        assert await session.scalar(select(func.count(Lead.id))) == 0
        texts = [m.text for m in (await session.execute(select(Message))).scalars()]
        assert not any("Иван" in t or "+7 912 345 67 89" in t for t in texts), texts
        conversation = await session.get_one(Conversation, done.conversation_id)
        assert "Иван" not in str(conversation.dialogue) and "912" not in str(conversation.slots)


async def test_state_survives_a_restart(trained_ru: Project, ru_pipeline: Pipeline, db: Database) -> None:
    await service(trained_ru, ru_pipeline, db).handle(web("перезвоните мне"))
    restarted = service(trained_ru, ru_pipeline, db)  # a new process: nothing in memory
    handled = await restarted.handle(web("Пётр"))
    assert "номер телефона" in handled.replies[-1].text


async def test_same_customer_two_channels(trained_ru: Project, ru_pipeline: Pipeline, db: Database) -> None:
    svc = service(trained_ru, ru_pipeline, db)
    a = await svc.handle(web("привет", sender="web-42"))
    b = await svc.handle(InboundMessage(channel="telegram", sender_id="tg-42", text="привет"))
    assert a.conversation_id != b.conversation_id
    assert b.replies[0].channel == "telegram" and b.replies[0].recipient_id == "tg-42"


@pytest.mark.parametrize("text", ["", "   ", "x" * 5000, "bin\x00ary"])
async def test_bad_input_changes_nothing(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database, text: str
) -> None:
    from bot.store import InputRejected

    svc = service(trained_ru, ru_pipeline, db)
    with pytest.raises(InputRejected):
        await svc.handle(web(text))
    async with db.session() as session:
        assert await session.scalar(select(func.count(Message.id))) == 0


async def test_a_photo_alone_is_kept_and_answered_without_nlu(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    photo = InboundMessage("web", "visitor-9", "", attachments=({"type": "photo", "file_id": "p1"},))
    handled = await service(trained_ru, ru_pipeline, db).handle(photo)
    assert handled.replies  # the bot says it reads text
    async with db.session() as session:
        stored = await session.scalar(select(Message).where(Message.sender == "customer"))
        assert stored is not None and stored.attachments == [{"type": "photo", "file_id": "p1"}]
        # SQL NULL (nothing parsed), not the JSON value null
        unparsed = select(func.count()).where(Message.sender == "customer", Message.nlu.is_(None))
        assert await session.scalar(unparsed) == 1


async def test_a_failing_bot_keeps_the_message_for_recovery(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Persist first: the turn is one transaction, but a message whose turn fails is still stored."""
    svc = service(trained_ru, ru_pipeline, db)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in a custom policy")

    monkeypatch.setattr(svc.engine, "handle", broken)
    with pytest.raises(RuntimeError, match="custom policy"):
        await svc.handle(web("сколько стоит доставка?", message_id="m-1"))
    async with db.session() as session:
        stored = await session.scalar(select(Message).where(Message.sender == "customer"))
        assert stored is not None and stored.text == "сколько стоит доставка?" and stored.nlu is None
        assert await session.scalar(select(func.count()).where(Message.sender == "bot")) == 0
    monkeypatch.undo()
    handled = await svc.answer_stored(stored.id)  # the recovery sweep's call, once the bug is gone
    assert handled is not None and any("390" in r.text for r in handled.replies)
    again = await svc.handle(web("сколько стоит доставка?", message_id="m-1"))
    assert again.duplicate  # the client's retry is not a second question


async def test_a_failing_nlu_keeps_the_message(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(text: str) -> None:
        raise ConnectionError("the Rasa NLU server does not answer")

    monkeypatch.setattr(ru_pipeline, "parse", down)
    with pytest.raises(ConnectionError):
        await service(trained_ru, ru_pipeline, db).handle(web("есть скидки?"))
    async with db.session() as session:
        texts = (await session.scalars(select(Message.text).where(Message.sender == "customer"))).all()
        assert texts == ["есть скидки?"]


class SlowShop:
    """An action executor whose order lookup waits until the test lets it answer."""

    def __init__(self) -> None:
        self.called = asyncio.Event()
        self.answer = asyncio.Event()

    def handles(self, action: str) -> bool:
        return action == "action_order_status"

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionOutcome:
        self.called.set()
        await self.answer.wait()
        return ActionOutcome(
            events=[{"event": "slot", "name": "order_status", "value": "в пути"}],
            responses=[{"text": "Заказ 1234567 в пути."}],
        )


async def test_a_custom_action_waiting_on_the_network_holds_no_store_connection(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    """While the shop's server is slow, other customers are answered; the waiting message stays
    recoverable (stored, no NLU result yet), and its turn completes as one once the shop answers."""
    shop = SlowShop()
    customers = ConversationService(
        trained_ru.config,
        db.turns,
        lambda: ru_pipeline,
        trained_ru.engine(seed=0, actions=shop),
        clock=lambda: DAYTIME,
    )
    asking = asyncio.create_task(customers.handle(web("где мой заказ 1234567", sender="waits")))
    await asyncio.wait_for(shop.called.wait(), 10)
    other = await asyncio.wait_for(customers.handle(web("сколько стоит доставка?", sender="other")), 10)
    assert any("390" in reply.text for reply in other.replies)  # not held up by the waiting turn
    async with db.reader() as session:
        waiting = await session.scalar(select(Message).where(Message.text == "где мой заказ 1234567"))
    assert waiting is not None and waiting.nlu is None  # recovery would answer it after a crash
    shop.answer.set()
    handled = await asyncio.wait_for(asking, 10)
    assert any("в пути" in reply.text for reply in handled.replies)
    async with db.reader() as session:
        stored = await session.get_one(Message, waiting.id, populate_existing=True)
        answered = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == handled.conversation_id)
        )
    assert stored.nlu is not None and stored.nlu["intent"]["name"] == "order_status"
    assert answered == 1 + len(handled.replies)
