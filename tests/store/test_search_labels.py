"""Labels and full-text search over conversations, on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import (
    Customer,
    Database,
    InputRejected,
    Message,
    forget_customer,
    get_conversation,
    redact_messages,
    remember_contact,
)
from bot.store.labels import add_label, labelled, labels_in_use, labels_of, normal_label, remove_label
from bot.store.models import utcnow
from bot.store.search import search_conversations, terms_of
from tests.helpers.store import customer_says


async def found(db: Database, query: str, label: str | None = None) -> list[tuple[int, str]]:
    async with db.reader() as session:
        return [
            (f.conversation_id, f.matched) for f in await search_conversations(session, query, label=label)
        ]


async def shop(db: Database) -> dict[str, int]:
    """Three customers' conversations, as the turn store writes them (the search's triggers fire)."""
    ivan = await customer_says(db, "Где мой заказ 5550123? Хочу оформить возврат велосипеда", sender="ivan")
    olga = await customer_says(
        db, "Сколько стоит доставка в Казань?", sender="olga", profile={"first_name": "Ольга"}
    )
    petr = await customer_says(db, "<script>alert(1)</script> возвраты принимаете?", sender="petr")
    async with db.session() as session:
        await remember_contact(session, olga.customer_id, phone="+79123456789", email="Olga.K@example.ru")
        customer = await session.get_one(Customer, olga.customer_id)
        customer.display_name = "Ольга Ковалёва"
        await session.commit()
    return {"ivan": ivan.conversation_id, "olga": olga.conversation_id, "petr": petr.conversation_id}


async def test_search_finds_words_order_numbers_names_phones_and_emails(db: Database) -> None:
    ids = await shop(db)
    assert await found(db, "5550123") == [(ids["ivan"], "message")]  # an order number as typed
    assert await found(db, "заказ 5550") == [(ids["ivan"], "message")]  # every word, a number's start
    assert {c for c, _ in await found(db, "возврат")} == {ids["ivan"], ids["petr"]}  # word forms
    assert await found(db, "ВЕЛОСИПЕДА") == [(ids["ivan"], "message")]  # case folded
    assert await found(db, "ольга") == [(ids["olga"], "customer")]
    assert await found(db, "Ковалёва") == [(ids["olga"], "customer")]
    assert await found(db, "8 (912) 345-67-89") == [(ids["olga"], "customer")]  # a phone by its digits
    assert await found(db, "olga.k@EXAMPLE.ru") == [(ids["olga"], "customer")]
    assert await found(db, "казань доставка") == [(ids["olga"], "message")]
    assert await found(db, "казань возврат") == []  # every word must be there
    assert await found(db, '"5550123"* ^(-') == [(ids["ivan"], "message")]  # search syntax is data
    assert await found(db, "') OR 1=1 --") == []  # its words "or", "1", "1": nobody wrote them
    assert await found(db, "   ") == [] and terms_of("<script>") == ["script"]


async def test_search_follows_redaction_forgetting_and_labels(db: Database) -> None:
    ids = await shop(db)
    async with db.session() as session:
        conversation = await get_conversation(session, ids["ivan"])
        assert conversation is not None
        first = await session.scalar(select(Message.id).where(Message.conversation_id == ids["ivan"]))
        assert first is not None
        await redact_messages(session, [first])  # a refused consent blanks the text: no longer found
        await add_label(session, ids["petr"], "Возврат", operator_id=None, now=utcnow())
        await session.commit()
    assert await found(db, "5550123") == []
    assert await found(db, "возврат") == [(ids["petr"], "message")]
    assert await found(db, "возврат", label="возврат") == [(ids["petr"], "message")]
    assert await found(db, "доставка", label="возврат") == []
    async with db.session() as session:
        customer_id = (await get_conversation(session, ids["olga"])).customer_id  # type: ignore[union-attr]
        await forget_customer(session, customer_id)
        await session.commit()
    assert await found(db, "ольга") == [] and await found(db, "казань") == []


async def test_labels_are_normalised_listed_and_filtered(session: AsyncSession, db: Database) -> None:
    ids = await shop(db)
    now = utcnow()
    assert normal_label("  VIP   клиент ") == "vip клиент"
    for bad in ("", " ", "x" * 41, "-dash-first", "<b>"):
        with pytest.raises(InputRejected):
            normal_label(bad)
    assert await add_label(session, ids["ivan"], "VIP", operator_id=None, now=now) == "vip"
    await add_label(session, ids["ivan"], "vip ", operator_id=None, now=now)  # the same label: no change
    await add_label(session, ids["ivan"], "Возврат", operator_id=None, now=now)
    await add_label(session, ids["olga"], "vip", operator_id=None, now=now)
    await session.commit()
    assert await labels_of(session, {ids["ivan"], ids["olga"], ids["petr"]}) == {
        ids["ivan"]: ["vip", "возврат"],
        ids["olga"]: ["vip"],
    }
    assert await labelled(session, "VIP") == {ids["ivan"], ids["olga"]}
    assert await labels_in_use(session) == [("vip", 2), ("возврат", 1)]
    assert await remove_label(session, ids["ivan"], "VIP") and not await remove_label(
        session, ids["ivan"], "vip"
    )
    await session.commit()
    assert await labelled(session, "vip") == {ids["olga"]}
