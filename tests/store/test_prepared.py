"""Prepared statements on the driver connection write and read exactly what the ORM does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from bot.store import Conversation, ConversationState, Customer, Database, Message, Sender
from bot.store.prepared import Prepared, SQLAlchemyDriver, driver_of
from bot.store.turns import (
    InboundRow,
    create_sender,
    insert_inbound,
    insert_replies,
    sender_row,
    start_conversation,
)

MOSCOW = timezone(timedelta(hours=3))
_CUSTOMERS = Customer.__table__
_CONVERSATIONS = Conversation.__table__


async def test_a_turn_written_by_the_driver_reads_back_through_the_orm(db: Database) -> None:
    """Aware timestamps, JSON, enums and NULLs come back as the ORM wrote them, on both stores."""
    now = datetime(2026, 11, 23, 23, 30, 15, 123456, tzinfo=MOSCOW)
    async with db.session() as session:
        driver = await driver_of(await session.connection())
        customer_id = await create_sender(driver, "rest", "anna", {"name": "Анна", "city": "Тверь"}, now)
        assert customer_id is not None
        conversation_id = await start_conversation(driver, customer_id, "rest", "ru", now)
        nlu = {"intent": {"name": "greet", "confidence": 0.93}, "entities": [], "text": "привет 😊"}
        photo = [{"kind": "photo", "file_id": "f1"}]
        message_id = await insert_inbound(
            driver, conversation_id, InboundRow("привет 😊", "m-1", photo, nlu, "v1", now)
        )
        again = await insert_inbound(
            driver, conversation_id, InboundRow("привет", "m-1", [], None, None, now)
        )
        await session.commit()
    assert message_id is not None and again is None  # the same message id is stored once
    async with db.reader() as reader:
        customer = await reader.get_one(Customer, customer_id)
        conversation = await reader.get_one(Conversation, conversation_id)
        stored = (await reader.execute(select(Conversation.state, Conversation.started_at))).one()
    assert customer.display_name == "Анна"
    assert customer.created_at == now.astimezone(UTC) and customer.created_at.tzinfo is not None
    assert conversation.state is ConversationState.BOT and stored.state is ConversationState.BOT
    assert conversation.slots == {} and conversation.dialogue == {} and conversation.language == "ru"
    assert stored.started_at == now
    async with db.session() as session:
        driver = await driver_of(await session.connection())
        row = await sender_row(driver, "rest", "anna")
        await session.rollback()
    assert row is not None and row.customer_id == customer_id and row.conversation_id == conversation_id
    assert row.profile == {"name": "Анна", "city": "Тверь"} and row.state is ConversationState.BOT
    assert row.reachable is True and row.dialogue == {}


async def test_the_sqlalchemy_fallback_reads_the_same_rows(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        driver = await driver_of(await session.connection())
        customer_id = await create_sender(driver, "rest", "boris", {"name": "Борис"}, now)
        assert customer_id is not None
        await start_conversation(driver, customer_id, "rest", None, now)
        direct = await sender_row(driver, "rest", "boris")
        through_sqlalchemy = await sender_row(SQLAlchemyDriver(await session.connection()), "rest", "boris")
        await session.rollback()
    assert direct == through_sqlalchemy and direct is not None


async def test_a_driver_error_is_sqlalchemys_exception(db: Database) -> None:
    """Callers and the server's 503 handling catch SQLAlchemy's exceptions, not sqlite3's or psycopg's."""
    now = datetime.now(UTC)
    async with db.session() as session:
        driver = await driver_of(await session.connection())
        with pytest.raises(IntegrityError):  # no customer 999999: the foreign key refuses it
            await start_conversation(driver, 999_999, "rest", None, now)
        await session.rollback()


def test_a_column_sqlalchemy_would_fill_in_is_refused() -> None:
    """Run outside SQLAlchemy, a Python-side default would silently be NULL: it must be passed."""
    forgot_created_at = Prepared(insert(_CUSTOMERS).returning(_CUSTOMERS.c.id), ["display_name"])
    with pytest.raises(ValueError, match="created_at"):
        forgot_created_at.compiled(sqlite.dialect())


async def test_literals_in_a_statement_are_bound_for_the_driver(db: Database) -> None:
    """``state != 'closed'`` in a prepared query is a constant the driver gets, converted."""
    now = datetime.now(UTC)
    open_ones = Prepared(
        select(_CONVERSATIONS.c.id).where(
            _CONVERSATIONS.c.customer_id == bindparam("customer"),
            _CONVERSATIONS.c.state != ConversationState.CLOSED,
        )
    )
    async with db.session() as session:
        driver = await driver_of(await session.connection())
        customer_id = await create_sender(driver, "rest", "vera", None, now)
        assert customer_id is not None
        conversation_id = await start_conversation(driver, customer_id, "rest", None, now)
        assert await driver.rows(open_ones, {"customer": customer_id}) == [(conversation_id,)]
        await session.rollback()


async def test_replies_are_stored_in_order_with_their_own_ids(db: Database) -> None:
    """Up to four replies in one INSERT, more in several: each id is its own reply's, in order."""
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    async with db.session() as session:
        driver = await driver_of(await session.connection())
        customer_id = await create_sender(driver, "rest", "vera", None, now)
        assert customer_id is not None
        conversation_id = await start_conversation(driver, customer_id, "rest", "ru", now)
        texts = [f"ответ {n}" for n in range(6)]
        ids = await (await insert_replies(driver, conversation_id, texts, now)).ids()
        one = await (await insert_replies(driver, conversation_id, ["ещё"], now)).ids()
        await session.commit()
    assert len(ids) == 6 and ids == sorted(ids) and one[0] > ids[-1]
    async with db.reader() as reader:
        stored = {row.id: row.text for row in await reader.execute(select(Message.id, Message.text))}
        senders = set((await reader.execute(select(Message.sender))).scalars())
    assert [stored[i] for i in ids] == texts and stored[one[0]] == "ещё"
    assert senders == {Sender.BOT}
