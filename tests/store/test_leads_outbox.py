"""Leads with their CRM push in one transaction, the outbox worker's claims, forgetting a customer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import (
    CRM_LEAD,
    Customer,
    Database,
    InputRejected,
    Lead,
    LeadKind,
    Message,
    OutboxItem,
    OutboxStatus,
    Sender,
    claim_due,
    create_lead,
    create_ticket,
    enqueue,
    forget_customer,
    lead_key,
    mark_dead,
    mark_failed,
    mark_sent,
    retry_dead,
    retry_delay,
    store_outbound,
)
from bot.store.models import ChannelIdentity, Conversation, HandoffTicket, utcnow
from handoff.crm import LeadCard
from tests.helpers.store import customer_says, inbound, new_conversation


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _lead(session: AsyncSession, external_id: str = "1001") -> Lead:
    customer, conversation = await new_conversation(session, external_id)
    return await create_lead(
        session,
        customer_id=customer.id,
        conversation_id=conversation.id,
        channel="telegram",
        name="Анна",
        phone="+79161234567",
        consent=True,
        interest=["bicycles"],
        source="buying_interest",
    )


async def test_lead_and_its_crm_push_commit_together(db: Database) -> None:
    async with db.sessions() as session:
        lead = await _lead(session)
        await session.commit()
    async with db.sessions() as session:
        item = (await session.execute(select(OutboxItem))).scalar_one()
        assert item.kind == CRM_LEAD and item.idempotency_key == lead_key(lead)
        assert item.status == OutboxStatus.PENDING and item.attempts == 0
        assert item.payload["phone"] == "+79161234567" and item.payload["customer_id"] == str(
            lead.customer_id
        )
        assert item.payload["consent"] is True and item.payload["interest"] == ["bicycles"]
        stored = await session.get(Lead, lead.id)
        assert stored is not None and stored.consent_at is not None and stored.kind == LeadKind.LEAD


async def test_a_rollback_leaves_neither_lead_nor_push(db: Database) -> None:
    async with db.sessions() as session:
        await _lead(session)
        await session.rollback()
    async with db.sessions() as session:
        assert await _count(session, Lead) == 0
        assert await _count(session, OutboxItem) == 0


async def test_contact_details_need_consent(session: AsyncSession) -> None:
    customer, conversation = await new_conversation(session)
    with pytest.raises(InputRejected, match="consent"):
        await create_lead(
            session, customer_id=customer.id, conversation_id=conversation.id, channel="web", phone="+7916"
        )
    callback = await create_lead(
        session,
        customer_id=customer.id,
        conversation_id=conversation.id,
        channel="web",
        kind=LeadKind.CALLBACK,
    )
    assert callback.consent_at is None


async def test_the_push_is_a_valid_crm_lead_card(session: AsyncSession) -> None:
    customer, conversation = await new_conversation(session)
    await inbound(session, conversation, "Сколько стоит велосипед?")
    await store_outbound(session, conversation, "🤖 От 15 000 ₽. Оставите телефон?")
    await store_outbound(session, conversation, "служебное", sender=Sender.SYSTEM)
    await inbound(session, conversation, "+7 999 123-45-67, Анна")
    lead = await create_lead(
        session,
        customer_id=customer.id,
        conversation_id=conversation.id,
        channel="telegram",
        name="Анна",
        phone="+7 999 123-45-67",
        consent=True,
        interest=["price_request"],
    )
    await session.commit()
    (item,) = (await session.execute(select(OutboxItem))).scalars()
    card = LeadCard.model_validate(item.payload)
    assert card.idempotency_key == item.idempotency_key == lead_key(lead)
    assert card.phone == "+79991234567" and card.conversation_id == str(conversation.id)
    assert [(line.sender, line.text) for line in card.last_messages] == [
        ("customer", "Сколько стоит велосипед?"),
        ("bot", "🤖 От 15 000 ₽. Оставите телефон?"),
        ("customer", "+7 999 123-45-67, Анна"),
    ]


async def test_enqueue_is_idempotent_by_key(session: AsyncSession) -> None:
    first = await enqueue(session, "crm.lead", {"n": 1}, "key-1")
    second = await enqueue(session, "crm.lead", {"n": 2}, "key-1")
    await session.commit()
    stored = await session.get_one(OutboxItem, second)
    assert first == second and stored.payload == {"n": 1}
    assert await _count(session, OutboxItem) == 1


async def test_claimed_items_are_leased(session: AsyncSession) -> None:
    for n in range(3):
        await enqueue(session, "crm.lead", {"n": n}, f"k{n}")
    await session.commit()
    now = utcnow()
    claimed = await claim_due(session, limit=2, now=now)
    assert [item.payload["n"] for item in claimed] == [0, 1]
    assert [item.payload["n"] for item in await claim_due(session, limit=5, now=now)] == [2]
    assert await claim_due(session, limit=5, now=now) == []
    # A worker that died never marks its items; when the lease ends they are due again.
    again = await claim_due(session, limit=5, now=now + timedelta(minutes=6))
    assert sorted(item.payload["n"] for item in again) == [0, 1, 2]
    await mark_sent(session, again[0])
    assert await claim_due(session, limit=5, now=now + timedelta(minutes=12)) != []
    sent = await session.get(OutboxItem, again[0].id, populate_existing=True)
    assert sent is not None and sent.status == OutboxStatus.SENT and sent.sent_at is not None


async def test_concurrent_workers_never_share_an_item(db: Database, db_url: str) -> None:
    async with db.sessions() as session:
        for n in range(60):
            await enqueue(session, "crm.lead", {"n": n}, f"key-{n}")
        await session.commit()

    async def worker(workers: Database) -> list[int]:
        mine: list[int] = []
        async with workers.sessions() as session:
            while batch := await claim_due(session, limit=3):
                mine.extend(item.id for item in batch)
                await asyncio.sleep(0)
        return mine

    async with Database.open(db_url) as one, Database.open(db_url) as two:
        results = await asyncio.gather(*(worker(one if i % 2 else two) for i in range(6)))
    claimed = [item for result in results for item in result]
    assert len(claimed) == 60 and len(set(claimed)) == 60


@pytest.mark.postgres
async def test_skip_locked_passes_over_rows_another_worker_holds(pg_db: Database) -> None:
    db = pg_db
    async with db.sessions() as session:
        for n in range(4):
            await enqueue(session, "crm.lead", {"n": n}, f"key-{n}")
        await session.commit()
    async with db.sessions() as holder, db.sessions() as other:
        locked = (
            await holder.execute(select(OutboxItem).order_by(OutboxItem.id).limit(2).with_for_update())
        ).scalars()
        held = {item.id for item in locked}
        got = await asyncio.wait_for(claim_due(other, limit=10), timeout=5)
        assert {item.id for item in got}.isdisjoint(held) and len(got) == 2
        await holder.rollback()


async def test_mark_failed_backs_off_then_gives_up(session: AsyncSession) -> None:
    await enqueue(session, "crm.lead", {"n": 1}, "flaky")
    await session.commit()
    now = utcnow()
    (item,) = await claim_due(session, now=now)
    assert await mark_failed(session, item, "CRM answered 500", now=now) == OutboxStatus.PENDING
    assert item.attempts == 1 and item.next_attempt_at == now + retry_delay(1) == now + timedelta(seconds=30)
    assert await claim_due(session, now=now + timedelta(seconds=29)) == []
    (item,) = await claim_due(session, now=now + timedelta(seconds=30))
    assert await mark_failed(session, item, "timeout", now=now) == OutboxStatus.PENDING
    assert item.next_attempt_at == now + timedelta(minutes=1)
    assert retry_delay(3) == timedelta(minutes=2) and retry_delay(30) == timedelta(hours=1)

    later = now + timedelta(days=1)
    (item,) = await claim_due(session, now=later)
    assert await mark_failed(session, item, "still down", max_attempts=3, now=later) == OutboxStatus.DEAD
    assert await claim_due(session, now=later + timedelta(days=1)) == []
    stored = await session.get(OutboxItem, item.id, populate_existing=True)
    assert stored is not None and stored.status == OutboxStatus.DEAD
    assert stored.attempts == 3 and stored.last_error == "still down"
    assert await retry_dead(session) == 1
    (revived,) = await claim_due(session, now=utcnow())
    await mark_dead(session, revived, "CRM refused the card: 422")
    assert revived.status == OutboxStatus.DEAD and revived.attempts == 1


async def test_forget_customer_removes_personal_data(db: Database) -> None:
    async with db.sessions() as session:
        lead = await _lead(session, "forget-me")
        customer_id = lead.customer_id
        await session.commit()
        (pushed,) = await claim_due(session)
        await mark_sent(session, pushed)
        conversation = await session.get(Conversation, lead.conversation_id)
        assert conversation is not None
        await inbound(session, conversation, "мой телефон +79161234567")
        conversation.slots = {"phone": "+79161234567"}
        conversation.dialogue = {"turns": [["inform", "+79161234567", True]]}
        await create_ticket(
            session, conversation.id, reason="human_only", note={"summary": "телефон +7916..."}
        )
        await create_lead(
            session,
            customer_id=customer_id,
            conversation_id=conversation.id,
            channel="telegram",
            name="Анна",
            consent=True,
        )
        await session.commit()
        keeper, keeper_conversation = await new_conversation(session, "keep-me")
        await inbound(session, keeper_conversation, "я остаюсь")

    async with db.sessions() as session:
        report = await forget_customer(session, customer_id)
        assert (report.messages, report.leads, report.identities, report.outbox_items) == (1, 2, 1, 2)

    async with db.sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None and customer.forgotten_at is not None
        assert (customer.display_name, customer.phone, customer.email) == (None, None, None)
        assert await _count(session, Lead) == 0
        assert await _count(session, ChannelIdentity) == 1  # the other customer's
        assert [m.text for m in (await session.execute(select(Message))).scalars()] == ["я остаюсь"]
        (outbox,) = (await session.execute(select(OutboxItem))).scalars()
        assert outbox.payload == {"forgotten": True} and outbox.status == OutboxStatus.SENT
        forgotten_conversation = await session.get(Conversation, lead.conversation_id)
        assert forgotten_conversation is not None
        assert forgotten_conversation.slots == {} and forgotten_conversation.dialogue == {}
        (ticket,) = (await session.execute(select(HandoffTicket))).scalars()
        assert ticket.note == {}
        # Writing again makes a new customer: nothing links back to the forgotten one.
    again = await customer_says(db, "я снова здесь", sender="forget-me")
    assert again.customer_id not in (customer_id, keeper.id) and again.first_contact
