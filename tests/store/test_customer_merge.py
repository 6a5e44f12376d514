"""One person, several channels: a shared phone or e-mail merges customers into the older one."""

from __future__ import annotations

from bot.store import (
    Conversation,
    Customer,
    Database,
    identify_customer,
    identities_of,
    open_conversation,
    remember_contact,
)
from tests.store.conftest import db, db_url  # noqa: F401  (fixtures: migrated SQLite / PostgreSQL)


async def test_same_phone_from_telegram_merges_into_the_web_customer(db: Database) -> None:
    async with db.session() as session:
        web, _ = await identify_customer(session, "rest", "site-1", {"name": "Иван"})
        web.phone = "+79123456789"
        await open_conversation(session, web, "rest")
        await session.commit()
        telegram, _ = await identify_customer(session, "telegram", "111", {"first_name": "Ваня"})
        talk = await open_conversation(session, telegram, "telegram")
        await session.commit()
        web_id, telegram_id, talk_id = web.id, telegram.id, talk.id

        kept = await remember_contact(session, telegram_id, phone="79123456789")  # as Telegram sends it
        await session.commit()
        assert kept == web_id
        assert await session.get(Customer, telegram_id) is None
        assert {i.channel for i in await identities_of(session, web_id)} == {"rest", "telegram"}
        assert (await session.get_one(Conversation, talk_id)).customer_id == web_id


async def test_email_alone_merges_and_fills_what_was_missing(db: Database) -> None:
    async with db.session() as session:
        old, _ = await identify_customer(session, "rest", "site-2")
        old.email = "anna@example.com"
        await session.commit()
        new, _ = await identify_customer(session, "telegram", "222")
        await session.commit()
        kept = await remember_contact(session, new.id, phone="+7 912 000-11-22", email="Anna@Example.com ")
        await session.commit()
        found = await session.get_one(Customer, kept)
        assert kept == old.id and found.phone == "+79120001122" and found.email == "anna@example.com"


async def test_two_accounts_in_one_channel_are_not_merged(db: Database) -> None:
    async with db.session() as session:
        first, _ = await identify_customer(session, "telegram", "333")
        first.phone = "+79990001122"
        await session.commit()
        second, _ = await identify_customer(session, "telegram", "444")
        await session.commit()
        kept = await remember_contact(session, second.id, phone="+79990001122")
        await session.commit()
        assert kept == second.id and await session.get(Customer, first.id) is not None
        assert (await session.get_one(Customer, second.id)).phone == "+79990001122"


async def test_nothing_to_remember_changes_nothing(db: Database) -> None:
    async with db.session() as session:
        alone, _ = await identify_customer(session, "telegram", "555")
        await session.commit()
        assert await remember_contact(session, alone.id, phone="12", email="  ") == alone.id
        assert (await session.get_one(Customer, alone.id)).phone is None
