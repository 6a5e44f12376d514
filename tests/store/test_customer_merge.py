"""One person, several channels: a shared phone or e-mail merges customers into the older one."""

from __future__ import annotations

from sqlalchemy import update

from bot.store import Conversation, Customer, Database, identities_of, remember_contact
from tests.helpers.store import customer_says
from tests.store.conftest import db, db_url  # noqa: F401  (fixtures: migrated SQLite / PostgreSQL)


async def _customer(db: Database, channel: str, sender: str, **contact: str) -> tuple[int, int]:
    """(customer id, conversation id) of a sender who wrote once; ``contact``: phone/email on file."""
    entered = await customer_says(db, "здравствуйте", channel=channel, sender=sender)
    if contact:
        async with db.session() as session:
            await session.execute(
                update(Customer).where(Customer.id == entered.customer_id).values(**contact)
            )
            await session.commit()
    return entered.customer_id, entered.conversation_id


async def test_same_phone_from_telegram_merges_into_the_web_customer(db: Database) -> None:
    web_id, _ = await _customer(db, "rest", "site-1", phone="+79123456789")
    telegram_id, talk_id = await _customer(db, "telegram", "111")
    async with db.session() as session:
        kept = await remember_contact(session, telegram_id, phone="79123456789")  # as Telegram sends it
        await session.commit()
        assert kept == web_id
        assert await session.get(Customer, telegram_id) is None
        assert {i.channel for i in await identities_of(session, web_id)} == {"rest", "telegram"}
        assert (await session.get_one(Conversation, talk_id)).customer_id == web_id


async def test_email_alone_merges_and_fills_what_was_missing(db: Database) -> None:
    old_id, _ = await _customer(db, "rest", "site-2", email="anna@example.com")
    new_id, _ = await _customer(db, "telegram", "222")
    async with db.session() as session:
        kept = await remember_contact(session, new_id, phone="+7 912 000-11-22", email="Anna@Example.com ")
        await session.commit()
        found = await session.get_one(Customer, kept)
        assert kept == old_id and found.phone == "+79120001122" and found.email == "anna@example.com"


async def test_two_accounts_in_one_channel_are_not_merged(db: Database) -> None:
    first_id, _ = await _customer(db, "telegram", "333", phone="+79990001122")
    second_id, _ = await _customer(db, "telegram", "444")
    async with db.session() as session:
        kept = await remember_contact(session, second_id, phone="+79990001122")
        await session.commit()
        assert kept == second_id and await session.get(Customer, first_id) is not None
        assert (await session.get_one(Customer, second_id)).phone == "+79990001122"


async def test_nothing_to_remember_changes_nothing(db: Database) -> None:
    alone, _ = await _customer(db, "telegram", "555")
    async with db.session() as session:
        assert await remember_contact(session, alone, phone="12", email="  ") == alone
        assert (await session.get_one(Customer, alone)).phone is None
