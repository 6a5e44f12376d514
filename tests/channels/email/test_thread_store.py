"""The e-mail threads in the store (SQLite and PostgreSQL): lookups confined to one sender, forgetting."""

from __future__ import annotations

from sqlalchemy import select

from bot.privacy import forget
from bot.store import ConversationState, Database, get_conversation
from bot.store.email_threads import (
    close_bot_conversation,
    inbound_stored,
    open_conversation,
    remember_header,
    reply_context,
    sent_by_us,
    thread_conversation,
)
from bot.store.models import EmailHeader
from tests.helpers.store import customer_says

IVAN = "ivan@example.com"
PETR = "petr@example.com"


async def test_a_thread_is_found_only_among_the_senders_own_conversations(db: Database) -> None:
    ivan = await customer_says(db, "Где заказ?", channel="email", sender=IVAN, message_id="q1@example.com")
    petr = await customer_says(db, "Доставка?", channel="email", sender=PETR, message_id="q2@example.com")
    async with db.session() as session:
        for entered, key in ((ivan, "q1@example.com"), (petr, "q2@example.com")):
            await remember_header(
                session,
                conversation_id=entered.conversation_id,
                header_id=key,
                outbound=False,
                subject="Заказ",
            )
        await remember_header(
            session,
            conversation_id=ivan.conversation_id,
            header_id="botdesk.a@shop",
            outbound=True,
            subject="Re",
        )
        await session.commit()
    async with db.reader() as session:
        assert (
            await thread_conversation(session, "email", IVAN, ["x@y", "q1@example.com"])
            == ivan.conversation_id
        )
        assert await thread_conversation(session, "email", IVAN, ["botdesk.a@shop"]) == ivan.conversation_id
        # Petr naming Ivan's mail (a forged In-Reply-To) finds nothing of Ivan's
        assert await thread_conversation(session, "email", PETR, ["q1@example.com"]) is None
        assert await thread_conversation(session, "email", PETR, []) is None
        assert await inbound_stored(session, "email", IVAN, "q1@example.com")
        assert not await inbound_stored(session, "email", PETR, "q1@example.com")
        assert await sent_by_us(session, ["botdesk.a@shop"])
        assert not await sent_by_us(session, ["q1@example.com"])


async def test_remembering_twice_keeps_one_row_and_the_answer_names_the_latest_mail(db: Database) -> None:
    entered = await customer_says(db, "Вопрос", channel="email", sender=IVAN, message_id="q1@example.com")
    conversation_id = entered.conversation_id
    long_id = "x" * 300 + "@example.com"
    async with db.session() as session:
        assert await reply_context(session, conversation_id) is None
        for _ in range(2):
            await remember_header(
                session,
                conversation_id=conversation_id,
                header_id="q1@example.com",
                outbound=False,
                subject="Тема",
            )
        await remember_header(
            session,
            conversation_id=conversation_id,
            header_id="botdesk.b@shop",
            outbound=True,
            subject="Re: Тема",
        )
        await remember_header(
            session,
            conversation_id=conversation_id,
            header_id="sha256:abc",
            reply_to=long_id,
            outbound=False,
            subject="Тема",
        )
        await session.commit()
    async with db.reader() as session:
        rows = (await session.scalars(select(EmailHeader).order_by(EmailHeader.id))).all()
        assert [row.header_id for row in rows] == ["q1@example.com", "botdesk.b@shop", "sha256:abc"]
        context = await reply_context(session, conversation_id)
    assert context is not None
    assert context.in_reply_to == long_id  # the Message-ID as sent, not the stored key
    assert context.references == ["q1@example.com", "botdesk.b@shop", long_id]
    assert context.subject == "Тема"


async def test_only_a_bot_conversation_is_closed_for_a_new_thread(db: Database) -> None:
    entered = await customer_says(db, "Вопрос", channel="email", sender=IVAN, message_id="q1@example.com")
    async with db.session() as session:
        current = await open_conversation(session, "email", IVAN)
        assert current is not None and current.state == ConversationState.BOT
        conversation = await get_conversation(session, entered.conversation_id)
        assert conversation is not None
        conversation.state = ConversationState.OPERATOR
        await session.commit()
        assert not await close_bot_conversation(session, entered.conversation_id)  # a person holds it
        conversation.state = ConversationState.BOT
        await session.commit()
        assert await close_bot_conversation(session, entered.conversation_id)
        await session.commit()
        assert await open_conversation(session, "email", IVAN) is None
    again = await customer_says(db, "Новый вопрос", channel="email", sender=IVAN, message_id="q2@example.com")
    assert again.conversation_id != entered.conversation_id


async def test_forgetting_a_customer_removes_their_mail_headers(db: Database) -> None:
    entered = await customer_says(db, "Вопрос", channel="email", sender=IVAN, message_id="q1@example.com")
    async with db.session() as session:
        await remember_header(
            session,
            conversation_id=entered.conversation_id,
            header_id="q1@example.com",
            outbound=False,
            subject="S",
        )
        await session.commit()
    await forget(db, entered.customer_id, by="test")
    async with db.reader() as session:
        assert (await session.scalars(select(EmailHeader))).all() == []
