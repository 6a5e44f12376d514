"""Forgetting a customer everywhere and deleting conversations past retention, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import (
    ChannelIdentity,
    Conversation,
    ConversationState,
    Customer,
    Database,
    HandoffTicket,
    Lead,
    Message,
    OperatorNote,
    OutboxItem,
    OutboxStatus,
    UnknownCustomer,
    claim_due,
    create_lead,
    create_ticket,
    enqueue,
    forget_customer,
    mark_sent,
    purge_expired_batch,
    store_outbound,
)
from bot.store.models import Annotation, AnnotationAction, Feedback, FeedbackAbout, utcnow
from bot.store.notes import add_note
from bot.store.privacy import _dependents
from tests.helpers.store import inbound, new_conversation

PHONE = "+79161234567"


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _texts(session: AsyncSession) -> list[str]:
    return sorted((await session.scalars(select(Message.text))).all())


async def _age(session: AsyncSession, conversation_id: int, days: float) -> None:
    """Make a conversation and its messages ``days`` old."""
    then = utcnow() - timedelta(days=days)
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(started_at=then, updated_at=then)
    )
    await session.execute(
        update(Message).where(Message.conversation_id == conversation_id).values(created_at=then)
    )
    customer_id = await session.scalar(
        select(Conversation.customer_id).where(Conversation.id == conversation_id)
    )
    await session.execute(update(Customer).where(Customer.id == customer_id).values(created_at=then))
    await session.commit()


async def test_forget_removes_notes_deliveries_and_quotes_everywhere(db: Database) -> None:
    async with db.sessions() as session:
        customer, conversation = await new_conversation(session, "forget-me")
        await inbound(session, conversation, f"перезвоните мне {PHONE}")
        answer = await store_outbound(session, conversation, "Оператор скоро ответит")
        await enqueue(session, "channel.message", {"text": "Оператор скоро ответит"}, f"deliver-{answer.id}")
        await add_note(session, conversation.id, None, f"клиент оставил {PHONE}", now=utcnow())
        await create_ticket(session, conversation.id, reason="human_only", note={"summary": PHONE})
        await create_lead(
            session,
            customer_id=customer.id,
            conversation_id=conversation.id,
            channel="telegram",
            phone=PHONE,
            consent=True,
        )
        await session.commit()
        (push,) = [item for item in await claim_due(session, limit=10) if item.kind == "crm.lead"]
        await mark_sent(session, push)
        _, other = await new_conversation(session, "keep-me")
        await inbound(session, other, "я остаюсь")
        await add_note(session, other.id, None, "заметка о другом", now=utcnow())
        await session.commit()

    async with db.sessions() as session:
        report = await forget_customer(session, customer.id)
    assert (report.messages, report.leads, report.identities, report.other_rows) == (2, 1, 1, 1)

    async with db.sessions() as session:
        assert await _texts(session) == ["я остаюсь"]
        assert list((await session.scalars(select(OperatorNote.text))).all()) == ["заметка о другом"]
        assert await _count(session, Lead) == 0
        payloads = [item.payload for item in (await session.scalars(select(OutboxItem))).all()]
        assert payloads == [{"forgotten": True}], "the delivery is gone, the sent CRM push keeps only its key"
        assert PHONE not in repr(payloads)
        (ticket,) = (await session.scalars(select(HandoffTicket))).all()
        assert ticket.note == {}
        forgotten = await session.get(Customer, customer.id)
        assert forgotten is not None and forgotten.forgotten_at is not None and forgotten.phone is None


async def test_forgetting_nobody_is_a_clear_error(db: Database) -> None:
    async with db.sessions() as session:
        with pytest.raises(UnknownCustomer, match="there is no customer 999"):
            await forget_customer(session, 999)


def test_tables_added_later_that_quote_customers_are_found() -> None:
    assert "operator_notes" in {table.name for table, _ in _dependents("conversations")}
    assert "leads" not in {table.name for table, _ in _dependents("customers")}, "handled explicitly"


async def test_retention_deletes_old_conversations_and_keeps_the_rest(db: Database) -> None:
    async with db.sessions() as session:
        old_customer, old = await new_conversation(session, "old")
        await inbound(session, old, "старый вопрос")
        old_answer = await store_outbound(session, old, "старый ответ")
        await enqueue(session, "channel.message", {"text": "старый ответ"}, f"deliver-{old_answer.id}")
        await add_note(session, old.id, None, "старая заметка", now=utcnow())
        await create_ticket(session, old.id, reason="human_only")
        old.state = ConversationState.CLOSED
        await session.commit()
        lead_customer, with_lead = await new_conversation(session, "old-with-lead")
        await inbound(session, with_lead, "хочу велосипед")
        await create_lead(
            session, customer_id=lead_customer.id, conversation_id=with_lead.id, channel="telegram"
        )
        await session.commit()
        _, waiting = await new_conversation(session, "old-but-waiting")
        await inbound(session, waiting, "позовите оператора")
        waiting.state = ConversationState.QUEUED
        await session.commit()
        _, revived = await new_conversation(session, "old-but-active")
        await inbound(session, revived, "давний вопрос")
        await session.commit()
        for conversation_id in (old.id, with_lead.id, waiting.id, revived.id):
            await _age(session, conversation_id, 40)
        await inbound(session, revived, "и ещё вопрос сегодня")  # written to today: kept
        await session.commit()
        _, fresh = await new_conversation(session, "fresh")
        await inbound(session, fresh, "новый вопрос")
        await session.commit()

    async with db.sessions() as session:
        purged = await purge_expired_batch(session, before=utcnow() - timedelta(days=30))
    assert (purged.conversations, purged.messages, purged.customers) == (2, 3, 1)

    async with db.sessions() as session:
        assert await _texts(session) == [
            "давний вопрос",
            "и ещё вопрос сегодня",
            "новый вопрос",
            "позовите оператора",
        ]
        assert await _count(session, OperatorNote) == 0
        assert await _count(session, HandoffTicket) == 0
        assert await session.get(Customer, old_customer.id) is None, "nothing left of them: gone"
        assert (
            await session.scalar(
                select(func.count()).select_from(ChannelIdentity).where(ChannelIdentity.external_id == "old")
            )
            == 0
        )
        (lead,) = (await session.scalars(select(Lead))).all()
        assert lead.conversation_id is None and lead.customer_id == lead_customer.id, (
            "leads outlive retention"
        )
        pending = (
            await session.scalars(select(OutboxItem).where(OutboxItem.status == OutboxStatus.PENDING))
        ).all()
        assert [item.kind for item in pending] == ["crm.lead"], "the old delivery went with its message"

    async with db.sessions() as session:
        again = await purge_expired_batch(session, before=utcnow() - timedelta(days=30))
    assert again.conversations == 0


async def test_retention_works_in_batches(db: Database) -> None:
    async with db.sessions() as session:
        for index in range(5):
            _, conversation = await new_conversation(session, f"batch-{index}")
            await inbound(session, conversation, f"вопрос {index}")
            await session.commit()
            await _age(session, conversation.id, 10)
    before = utcnow() - timedelta(days=5)
    async with db.sessions() as session:
        first = await purge_expired_batch(session, before=before, limit=3)
        second = await purge_expired_batch(session, before=before, limit=3)
        assert (first.conversations, second.conversations) == (3, 2)
        assert await _count(session, Conversation) == 0


async def test_forget_removes_survey_answers_and_editor_annotations(db: Database) -> None:
    async with db.sessions() as session:
        customer, conversation = await new_conversation(session, "rated")
        said = await inbound(session, conversation, f"мой номер {PHONE}, перезвоните")
        _, other = await new_conversation(session, "other")
        kept = await inbound(session, other, "где мой заказ")
        for owner, where, message in ((customer.id, conversation, said), (other.customer_id, other, kept)):
            session.add(
                Feedback(
                    conversation_id=where.id, customer_id=owner, about=FeedbackAbout.BOT, channel="telegram"
                )
            )
            session.add(Annotation(message_id=message.id, text=message.text, action=AnnotationAction.IGNORE))
        await session.commit()

    async with db.sessions() as session:
        report = await forget_customer(session, customer.id)
    assert report.other_rows == 2

    async with db.sessions() as session:
        assert [a.text for a in (await session.scalars(select(Annotation))).all()] == ["где мой заказ"]
        assert [f.customer_id for f in (await session.scalars(select(Feedback))).all()] == [other.customer_id]
