"""One person, several channels: only contacts the channel verifies merge customers by themselves.

A typed phone or e-mail (issue 17, item 3: a widget visitor typed another customer's
number into the call-back form and was merged with them) only suggests "possibly the
same customer" to operators; an operator merges or dismisses it, and every merge is
recorded in ``customer_merges``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import (
    Conversation,
    Customer,
    Database,
    Operator,
    OperatorRole,
    create_operator,
    identities_of,
    remember_contact,
)
from bot.store.matches import dismiss_match, merge_history, merge_match, possible_matches
from bot.store.models import CustomerMatch, Feedback, FeedbackAbout, MatchStatus, utcnow
from tests.helpers.store import add_conversation, add_customer

VICTIM_PHONE = "+79123456789"


async def victim_and_attacker(session: AsyncSession) -> tuple[int, int, int, int]:
    """A Telegram customer whose number Telegram verified, with a conversation; a widget visitor."""
    victim = await add_customer(session, "telegram", "111", {"first_name": "Вера"})
    victim_talk = await add_conversation(session, victim, "telegram")
    await session.commit()
    assert await remember_contact(session, victim.id, phone="79123456789", verified=True) == victim.id
    attacker = await add_customer(session, "web", "visitor-666")
    attacker_talk = await add_conversation(session, attacker, "web")
    await session.commit()
    return victim.id, victim_talk.id, attacker.id, attacker_talk.id


async def test_a_typed_phone_never_merges_it_only_suggests(db: Database) -> None:
    async with db.session() as session:
        victim, victim_talk, attacker, attacker_talk = await victim_and_attacker(session)
        kept = await remember_contact(session, attacker, phone="+7 912 345-67-89")  # typed in a form
        await session.commit()
        assert kept == attacker
        assert (await session.get_one(Conversation, attacker_talk)).customer_id == attacker
        assert (await session.get_one(Conversation, victim_talk)).customer_id == victim
        typed = await session.get_one(Customer, attacker, populate_existing=True)
        assert (typed.display_name, typed.phone, typed.phone_verified) == (None, VICTIM_PHONE, False)
        [suggested] = await possible_matches(session, attacker)
        assert (suggested.other.id, suggested.reason, suggested.channels) == (victim, "phone", ["telegram"])
        assert [m.other.id for m in await possible_matches(session, victim)] == [attacker]
        assert await merge_history(session) == []


async def test_a_verified_number_does_not_merge_with_a_typed_one(db: Database) -> None:
    async with db.session() as session:
        typist = await add_customer(session, "web", "site-1", {"name": "Кто-то"})
        await session.commit()
        await remember_contact(session, typist.id, phone=VICTIM_PHONE)  # typed first
        owner = await add_customer(session, "telegram", "222")
        await session.commit()
        kept = await remember_contact(session, owner.id, phone=VICTIM_PHONE, verified=True)  # the real owner
        await session.commit()
        assert kept == owner.id and await session.get(Customer, typist.id, populate_existing=True) is not None
        assert [m.other.id for m in await possible_matches(session, owner.id)] == [typist.id]


async def test_two_verified_numbers_merge_into_the_older_and_are_audited(db: Database) -> None:
    async with db.session() as session:
        first = await add_customer(session, "telegram", "333", {"first_name": "Ира"})
        talk = await add_conversation(session, first, "telegram")
        await session.commit()
        await remember_contact(session, first.id, phone=VICTIM_PHONE, verified=True)
        second = await add_customer(session, "whatsapp", "79123456789")
        await session.commit()
        kept = await remember_contact(session, second.id, phone=VICTIM_PHONE, verified=True)
        await session.commit()
        assert kept == first.id and await session.get(Customer, second.id, populate_existing=True) is None
        assert {i.channel for i in await identities_of(session, first.id)} == {"telegram", "whatsapp"}
        assert (await session.get_one(Conversation, talk.id)).customer_id == first.id
        [audit] = await merge_history(session)
        assert (audit.kept_customer_id, audit.merged_customer_id, audit.reason) == (
            first.id,
            second.id,
            "verified phone",
        )
        assert audit.operator_id is None and audit.operator_login is None


async def test_two_accounts_in_one_channel_are_neither_merged_nor_suggested(db: Database) -> None:
    async with db.session() as session:
        first = await add_customer(session, "telegram", "444")
        await session.commit()
        await remember_contact(session, first.id, phone="+79990001122", verified=True)
        second = await add_customer(session, "telegram", "555")
        await session.commit()
        kept = await remember_contact(session, second.id, phone="+79990001122", verified=True)
        await session.commit()
        assert kept == second.id and await session.get(Customer, first.id, populate_existing=True) is not None
        assert (await session.get_one(Customer, second.id, populate_existing=True)).phone == "+79990001122"
        assert await possible_matches(session, second.id) == []


async def test_an_operator_merges_a_suggestion_and_the_merge_is_audited(db: Database) -> None:
    async with db.session() as session:
        victim, _, attacker, attacker_talk = await victim_and_attacker(session)
        session.add(
            Feedback(
                conversation_id=attacker_talk, customer_id=attacker, about=FeedbackAbout.BOT, channel="web"
            )
        )
        await remember_contact(session, attacker, email="Vera@Example.com ")
        await remember_contact(session, attacker, phone=VICTIM_PHONE)
        anna = await create_operator(session, "anna", "Анна", role=OperatorRole.OPERATOR)
        await session.commit()
        [suggested] = await possible_matches(session, attacker)
        now = utcnow()
        kept = await merge_match(session, suggested.match_id, anna, now)
        await session.commit()
        assert kept == victim, "into the older customer"
        assert (await session.get_one(Conversation, attacker_talk)).customer_id == victim
        moved = await session.scalar(select(Feedback.customer_id))
        assert moved == victim, "every table that points at a customer moves along"
        merged = await session.get_one(Customer, victim, populate_existing=True)
        assert (merged.phone, merged.phone_verified, merged.email) == (VICTIM_PHONE, True, "vera@example.com")
        [audit] = await merge_history(session)
        assert (audit.kept_customer_id, audit.merged_customer_id) == (victim, attacker)
        assert (audit.reason, audit.operator_id, audit.operator_login) == ("operator", anna.id, "anna")
        assert audit.match_id == suggested.match_id and audit.merged_at == now
        assert await possible_matches(session, victim) == []


async def test_a_dismissed_suggestion_is_not_shown_again(db: Database) -> None:
    async with db.session() as session:
        _, _, attacker, _ = await victim_and_attacker(session)
        await remember_contact(session, attacker, phone=VICTIM_PHONE)
        anna = Operator(login="anna", display_name="Анна", role=OperatorRole.OPERATOR, active=True)
        session.add(anna)
        await session.commit()
        [suggested] = await possible_matches(session, attacker)
        await dismiss_match(session, suggested.match_id, anna, utcnow())
        await session.commit()
        await remember_contact(session, attacker, phone=VICTIM_PHONE)  # typed again
        await session.commit()
        assert await possible_matches(session, attacker) == []
        status = await session.scalar(select(CustomerMatch.status))
        assert status == MatchStatus.DISMISSED


async def test_nothing_to_remember_changes_nothing(db: Database) -> None:
    async with db.session() as session:
        alone = await add_customer(session, "telegram", "555")
        await session.commit()
        assert await remember_contact(session, alone.id, phone="12", email="  ") == alone.id
        assert (await session.get_one(Customer, alone.id, populate_existing=True)).phone is None
