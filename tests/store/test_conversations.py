"""Customers, identities, conversations and messages: what a customer turn writes, and the rest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from bot.messages import InboundMessage
from bot.store import (
    MAX_MESSAGE_CHARS,
    ChannelIdentity,
    ConversationState,
    Customer,
    Database,
    InputRejected,
    Message,
    MessageTooLong,
    Sender,
    close_conversation,
    conversation_messages,
    history,
    link_identity,
    merge_customers,
    redact_messages,
    store_outbound,
)
from tests.helpers.store import customer_says, new_conversation, reload


async def _count(db: Database, model: type[object]) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_returning_sender_is_the_same_customer_and_their_profile_grows(db: Database) -> None:
    first = await customer_says(db, "привет", sender="42", profile={"first_name": "Иван"})
    again = await customer_says(db, "это снова я", sender="42", profile={"username": "ivan"})
    assert first.first_contact and not again.first_contact
    assert (first.customer_id, first.conversation_id) == (again.customer_id, again.conversation_id)
    async with db.reader() as session:
        customer = await session.get(Customer, first.customer_id)
        identity = (await session.scalars(select(ChannelIdentity))).one()
    assert customer is not None and customer.display_name == "Иван"
    assert identity.profile == {"first_name": "Иван", "username": "ivan"}
    assert await _count(db, Customer) == 1


async def test_a_nameless_customer_gets_the_name_a_later_profile_brings(db: Database) -> None:
    first = await customer_says(db, "привет", sender="7")
    await customer_says(db, "я Анна", sender="7", profile={"name": "Анна"})
    await customer_says(db, "уже Вера?", sender="7", profile={"name": "Вера"})
    async with db.reader() as session:
        customer = await session.get(Customer, first.customer_id)
    assert customer is not None and customer.display_name == "Анна"  # a known name is kept


async def test_first_contact_race_makes_one_customer(db: Database) -> None:
    entered = await asyncio.gather(*(customer_says(db, f"привет {n}", sender="visitor-7") for n in range(10)))
    assert len({e.customer_id for e in entered}) == 1
    assert len({e.conversation_id for e in entered}) == 1
    assert await _count(db, Customer) == 1
    assert await _count(db, Message) == 10


async def test_history_spans_all_channels_of_a_customer(db: Database) -> None:
    telegram = await customer_says(
        db, "привет", sender="555", message_id="tg-1", replies=("🤖 Здравствуйте!",)
    )
    async with db.sessions() as session:
        customer = await session.get(Customer, telegram.customer_id)
        assert customer is not None
        await link_identity(session, customer, "web", "cookie-abc")
        await session.commit()
    web = await customer_says(db, "я с сайта", channel="web", sender="cookie-abc", replies=("🤖 Слушаю",))
    await customer_says(db, "снова в телеграме", sender="555", message_id="tg-2")
    await customer_says(db, "чужое сообщение", sender="999")
    assert web.customer_id == telegram.customer_id and web.conversation_id != telegram.conversation_id
    async with db.reader() as session:
        entries = await history(session, telegram.customer_id, limit=50)
        assert [(e.channel, e.message.text) for e in entries] == [
            ("telegram", "привет"),
            ("telegram", "🤖 Здравствуйте!"),
            ("web", "я с сайта"),
            ("web", "🤖 Слушаю"),
            ("telegram", "снова в телеграме"),
        ]
        last_two = await history(session, telegram.customer_id, limit=2)
        assert [e.message.text for e in last_two] == ["🤖 Слушаю", "снова в телеграме"]
        older = await history(session, telegram.customer_id, limit=10, before_id=last_two[0].message.id)
        assert [e.message.text for e in older] == ["привет", "🤖 Здравствуйте!", "я с сайта"]


async def test_a_committed_turn_is_visible_to_another_process(db: Database, db_url: str) -> None:
    entered = await customer_says(db, "где мой заказ?", message_id="m-1")
    async with Database.open(db_url) as other, other.reader() as reader:
        stored = await reader.get(Message, entered.message_id)
    assert stored is not None and stored.text == "где мой заказ?"
    assert stored.sender == Sender.CUSTOMER and stored.created_at.tzinfo is UTC


async def test_a_turn_left_without_commit_writes_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError, match="the bot failed"):
        async with db.turns.transaction() as turn:
            await turn.enter(
                InboundMessage("rest", "anna", "привет"),
                nlu=None,
                model_version=None,
                language="ru",
                now=datetime.now(UTC),
            )
            raise RuntimeError("the bot failed")
    assert await _count(db, Customer) == 0 and await _count(db, Message) == 0
    await customer_says(db, "теперь получится", sender="anna", channel="rest")  # the writer is free again
    assert await _count(db, Message) == 1


async def test_redelivered_message_is_stored_once(db: Database) -> None:
    first = await customer_says(db, "привет", message_id="update-77", replies=("🤖 Здравствуйте!",))
    again = await customer_says(db, "привет", message_id="update-77", replies=("🤖 не должно быть",))
    assert not first.duplicate and again.duplicate
    assert again.conversation_id == first.conversation_id
    await customer_says(db, "без id")
    await customer_says(db, "без id")
    assert await _count(db, Message) == 4  # two with ids stored once, one reply, two without ids


async def test_concurrent_redelivery_is_stored_once(db: Database) -> None:
    await customer_says(db, "привет")
    entered = await asyncio.gather(*(customer_says(db, "дубль", message_id="same-id") for _ in range(8)))
    assert sorted(e.duplicate for e in entered) == [False] + [True] * 7


async def test_text_over_the_limit_is_a_clear_error(db: Database) -> None:
    with pytest.raises(MessageTooLong, match=f"the limit is {MAX_MESSAGE_CHARS} characters"):
        await customer_says(db, "я" * (MAX_MESSAGE_CHARS + 1))
    with pytest.raises(InputRejected, match="NUL"):
        await customer_says(db, "bin\x00ary")
    with pytest.raises(InputRejected, match="Unicode"):
        await customer_says(db, "broken \ud800")
    with pytest.raises(InputRejected, match="sender id"):
        await customer_says(db, "привет", sender="x" * 300)
    entered = await customer_says(db, "я" * MAX_MESSAGE_CHARS)
    async with db.sessions() as session:
        _, conversation = await new_conversation(session, "2002")
        with pytest.raises(MessageTooLong):
            await store_outbound(session, conversation, "x" * (MAX_MESSAGE_CHARS + 1))
    assert await _count(db, Message) == 1 and await _count(db, Customer) == 2
    async with db.reader() as session:
        stored = await session.get(Message, entered.message_id)
    assert stored is not None and len(stored.text) == MAX_MESSAGE_CHARS


async def test_nlu_result_is_kept_with_the_message(db: Database) -> None:
    parse = {
        "text": "сколько стоит доставка",
        "intent": {"name": "delivery_terms", "confidence": 0.97},
        "entities": [],
        "intent_ranking": [{"name": "delivery_terms", "confidence": 0.97}],
    }
    async with db.turns.transaction() as turn:
        entered = await turn.enter(
            InboundMessage("telegram", "1001", parse["text"]),  # type: ignore[arg-type]
            nlu=parse,
            model_version="20261123-110006-c448f12f",
            language="ru",
            now=datetime.now(UTC),
        )
        await turn.commit()
    async with db.reader() as session:
        stored = await session.get(Message, entered.message_id)
    assert stored is not None and stored.nlu == parse
    assert stored.model_version == "20261123-110006-c448f12f"


async def test_a_conversation_is_reused_until_closed(db: Database) -> None:
    first = await customer_says(db, "привет")
    assert first.state == ConversationState.BOT
    assert (await customer_says(db, "ещё вопрос")).conversation_id == first.conversation_id
    async with db.sessions() as session:
        conversation = await reload(session, first.conversation_id)
        await close_conversation(session, conversation)
        await session.commit()
        assert conversation.closed_at is not None and conversation.closed_at.tzinfo is UTC
    fresh = await customer_says(db, "я вернулся")
    assert fresh.conversation_id != first.conversation_id and fresh.dialogue == {}


async def test_naive_timestamps_are_refused(db: Database) -> None:
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        conversation.closed_at = datetime(2026, 1, 1)  # naive on purpose
        with pytest.raises(StatementError, match="naive datetime"):
            await session.commit()


async def test_merge_customers_moves_identities_and_history(db: Database) -> None:
    kept = await customer_says(db, "из телеграма", sender="1")
    merged = await customer_says(db, "с сайта", channel="web", sender="visitor")
    async with db.sessions() as session:
        customer = await session.get(Customer, kept.customer_id)
        assert customer is not None
        with pytest.raises(InputRejected, match="merge the customers"):
            await link_identity(session, customer, "web", "visitor")
        await merge_customers(session, kept.customer_id, merged.customer_id, reason="verified phone")
        await session.commit()
    again = await customer_says(db, "снова с сайта", channel="web", sender="visitor")
    assert again.customer_id == kept.customer_id
    async with db.reader() as session:
        texts = [e.message.text for e in await history(session, kept.customer_id)]
        assert texts == ["из телеграма", "с сайта", "снова с сайта"]
        assert await session.get(Customer, merged.customer_id) is None


async def test_dialogue_state_survives_a_restart(db: Database, db_url: str) -> None:
    state = {"tracker": {"history": [["intent", "greet", None]], "slots": {}, "active_loop": "lead_form"}}
    first = await customer_says(db, "привет")
    async with db.turns.transaction() as turn:
        await turn.save_dialogue(
            first.conversation_id,
            dialogue=state,
            slots={"city": "Казань"},
            active_loop="lead_form",
            misunderstood=2,
            now=datetime.now(UTC),
        )
        await turn.commit()
    async with Database.open(db_url) as restarted:
        again = await customer_says(restarted, "я тут")
        async with restarted.reader() as session:
            conversation = await reload(session, again.conversation_id)
    assert again.conversation_id == first.conversation_id and again.dialogue == state
    assert (conversation.active_loop, conversation.misunderstood_in_a_row) == ("lead_form", 2)
    assert conversation.slots == {"city": "Казань"}


async def test_redact_messages_blanks_form_answers(db: Database) -> None:
    kept = await customer_says(db, "хочу велосипед")
    phone = await customer_says(
        db, "+79161234567", nlu={"text": "+79161234567", "intent": {"name": "inform"}}
    )
    async with db.sessions() as session:
        assert await redact_messages(session, [phone.message_id or 0]) == 1
        await session.commit()
    async with db.reader() as session:
        texts = [(m.text, m.nlu) for m in await conversation_messages(session, kept.conversation_id)]
    assert texts == [("хочу велосипед", None), ("", None)]


async def test_a_failed_turns_message_is_kept_unanswered(db: Database) -> None:
    inbound = InboundMessage("rest", "anna", "помогите", "m-9", (), {"name": "Анна"})
    await db.turns.keep_unanswered(inbound, language="ru", now=datetime.now(UTC))
    async with db.reader() as session:
        stored = (await session.scalars(select(Message))).one()
    assert (stored.text, stored.nlu, stored.channel_message_id) == ("помогите", None, "m-9")
    found = await db.turns.stranded(stored.id)  # what recovery answers later: as it came in
    assert found is not None
    assert (found.inbound.channel, found.inbound.sender_id) == ("rest", "anna")
    assert (found.inbound.text, found.inbound.message_id) == ("помогите", "m-9")
