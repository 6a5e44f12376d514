"""Customers, identities, conversations and messages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from bot.store import (
    MAX_MESSAGE_CHARS,
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
    identify_customer,
    link_identity,
    merge_customers,
    open_conversation,
    redact_messages,
    set_nlu,
    store_inbound,
    store_outbound,
)
from bot.store.models import ChannelIdentity
from tests.store.conftest import new_conversation


async def test_identify_customer_is_idempotent(db: Database) -> None:
    async with db.sessions() as session:
        first, identity = await identify_customer(session, "telegram", "42", {"first_name": "Иван"})
        again, same = await identify_customer(session, "telegram", "42", {"username": "ivan"})
        await session.commit()
    assert (first.id, identity.id) == (again.id, same.id)
    assert first.display_name == "Иван"
    assert same.profile == {"first_name": "Иван", "username": "ivan"}
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ChannelIdentity)) == 1
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_first_contact_race_makes_one_customer(db: Database) -> None:
    async def contact() -> int:
        async with db.sessions() as session:
            customer, _ = await identify_customer(session, "web", "visitor-7")
            await session.commit()
            return customer.id

    ids = await asyncio.gather(*(contact() for _ in range(10)))
    assert len(set(ids)) == 1
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_history_spans_all_channels_of_a_customer(db: Database) -> None:
    async with db.sessions() as session:
        customer, telegram = await new_conversation(session, "555", "telegram")
        await link_identity(session, customer, "web", "cookie-abc")
        web = await open_conversation(session, customer, "web")
        await store_inbound(session, telegram, "привет", "tg-1")
        await store_outbound(session, telegram, "🤖 Здравствуйте!")
        await session.commit()
        await store_inbound(session, web, "я с сайта", "w-1")
        await store_outbound(session, web, "🤖 Слушаю")
        await session.commit()
        await store_inbound(session, telegram, "снова в телеграме", "tg-2")
        _, other_conversation = await new_conversation(session, "999", "telegram")
        await store_inbound(session, other_conversation, "чужое сообщение")
    async with db.sessions() as session:
        again, _ = await identify_customer(session, "web", "cookie-abc")
        assert again.id == customer.id
        entries = await history(session, customer.id, limit=50)
        assert [(e.channel, e.message.text) for e in entries] == [
            ("telegram", "привет"),
            ("telegram", "🤖 Здравствуйте!"),
            ("web", "я с сайта"),
            ("web", "🤖 Слушаю"),
            ("telegram", "снова в телеграме"),
        ]
        last_two = await history(session, customer.id, limit=2)
        assert [e.message.text for e in last_two] == ["🤖 Слушаю", "снова в телеграме"]
        older = await history(session, customer.id, limit=10, before_id=last_two[0].message.id)
        assert [e.message.text for e in older] == ["привет", "🤖 Здравствуйте!", "я с сайта"]


async def test_store_inbound_commits_before_returning(db: Database, db_url: str) -> None:
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        message, created = await store_inbound(session, conversation, "где мой заказ?", "m-1")
        assert created
        # Read it back through another engine while this session is still open: it is committed.
        async with Database.open(db_url) as other, other.sessions() as reader:
            stored = await reader.get(Message, message.id)
            assert stored is not None and stored.text == "где мой заказ?"
            assert stored.sender == Sender.CUSTOMER and stored.created_at.tzinfo is UTC


async def test_redelivered_message_is_stored_once(db: Database) -> None:
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        first, created = await store_inbound(session, conversation, "привет", "update-77")
        again, created_again = await store_inbound(session, conversation, "привет", "update-77")
        assert created and not created_again and first.id == again.id
        _, no_id = await store_inbound(session, conversation, "без id")
        _, no_id_again = await store_inbound(session, conversation, "без id")
        assert no_id and no_id_again
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 3


async def test_concurrent_redelivery_is_stored_once(db: Database) -> None:
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)

    async def deliver() -> bool:
        async with db.sessions() as session:
            mine = await session.get(type(conversation), conversation.id)
            assert mine is not None
            return (await store_inbound(session, mine, "дубль", "same-id"))[1]

    created = await asyncio.gather(*(deliver() for _ in range(8)))
    assert sorted(created) == [False] * 7 + [True]


async def test_text_over_the_limit_is_a_clear_error(db: Database) -> None:
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        with pytest.raises(MessageTooLong, match=f"the limit is {MAX_MESSAGE_CHARS} characters"):
            await store_inbound(session, conversation, "я" * (MAX_MESSAGE_CHARS + 1))
        with pytest.raises(InputRejected, match="NUL"):
            await store_inbound(session, conversation, "bin\x00ary")
        with pytest.raises(InputRejected, match="Unicode"):
            await store_inbound(session, conversation, "broken \ud800")
        with pytest.raises(MessageTooLong):
            await store_outbound(session, conversation, "x" * (MAX_MESSAGE_CHARS + 1))
        message, _ = await store_inbound(session, conversation, "я" * MAX_MESSAGE_CHARS)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
        stored = await session.get(Message, message.id)
        assert stored is not None and len(stored.text) == MAX_MESSAGE_CHARS


async def test_nlu_result_is_kept_with_the_message(db: Database) -> None:
    parse = {
        "text": "сколько стоит доставка",
        "intent": {"name": "delivery_terms", "confidence": 0.97},
        "entities": [],
        "intent_ranking": [{"name": "delivery_terms", "confidence": 0.97}],
        "model_version": "20261123-110006-c448f12f",
    }
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        message, _ = await store_inbound(session, conversation, parse["text"])  # type: ignore[arg-type]
        await set_nlu(session, message, parse)
        await session.commit()
    async with db.sessions() as session:
        stored = await session.get(Message, message.id)
        assert stored is not None and stored.nlu == parse
        assert stored.model_version == "20261123-110006-c448f12f"


async def test_open_conversation_reuses_until_closed(db: Database) -> None:
    async with db.sessions() as session:
        customer, conversation = await new_conversation(session)
        assert conversation.state == ConversationState.BOT
        assert (await open_conversation(session, customer, "telegram")).id == conversation.id
        assert (await open_conversation(session, customer, "web")).id != conversation.id
        await close_conversation(session, conversation)
        await session.commit()
        fresh = await open_conversation(session, customer, "telegram")
        assert fresh.id != conversation.id
        assert conversation.closed_at is not None and conversation.closed_at.tzinfo is UTC


async def test_naive_timestamps_are_refused(db: Database) -> None:
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        conversation.closed_at = datetime(2026, 1, 1)  # naive on purpose
        with pytest.raises(StatementError, match="naive datetime"):
            await session.commit()


async def test_merge_customers_moves_identities_and_history(db: Database) -> None:
    async with db.sessions() as session:
        kept, telegram = await new_conversation(session, "1", "telegram")
        merged, web = await new_conversation(session, "visitor", "web")
        await store_inbound(session, telegram, "из телеграма")
        await store_inbound(session, web, "с сайта")
        kept_id, merged_id = kept.id, merged.id
        with pytest.raises(InputRejected, match="merge the customers"):
            await link_identity(session, kept, "web", "visitor")
        await merge_customers(session, kept_id, merged_id, reason="verified phone")
        await session.commit()
        customer, _ = await identify_customer(session, "web", "visitor")
        assert customer.id == kept_id
        assert [e.message.text for e in await history(session, kept_id)] == ["из телеграма", "с сайта"]
        assert await session.get(Customer, merged_id) is None


async def test_dialogue_state_survives_a_restart(db: Database, db_url: str) -> None:
    state = {"tracker": {"history": [["intent", "greet", None]], "slots": {}, "active_loop": "lead_form"}}
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        conversation.dialogue = state
        conversation.active_loop = "lead_form"
        conversation.misunderstood_in_a_row = 2
        await session.commit()
        conversation.slots["city"] = "Казань"  # changed in place: still saved
        await session.commit()
    async with Database.open(db_url) as restarted, restarted.sessions() as session:
        same, _ = await identify_customer(session, "telegram", "1001")
        again = await open_conversation(session, same, "telegram")
        assert again.id == conversation.id and again.dialogue == state
        assert (again.active_loop, again.misunderstood_in_a_row) == ("lead_form", 2)
        assert again.slots == {"city": "Казань"}


async def test_redact_messages_blanks_form_answers(db: Database) -> None:
    async with db.sessions() as session:
        _, conversation = await new_conversation(session)
        kept, _ = await store_inbound(session, conversation, "хочу велосипед")
        phone, _ = await store_inbound(session, conversation, "+79161234567")
        await set_nlu(session, phone, {"text": "+79161234567", "intent": {"name": "inform"}})
        assert await redact_messages(session, [phone.id]) == 1
        await session.commit()
    async with db.sessions() as session:
        texts = [(m.text, m.nlu) for m in await conversation_messages(session, conversation.id)]
        assert texts == [("хочу велосипед", None), ("", None)]
        assert kept.id != phone.id
