"""The e-mail channel end to end: botdesk under uvicorn, a real dovecot (IMAP) and an SMTP server.

Customers' mail goes in by SMTP into the shop's dovecot mailbox, as it would from their
mail client; botdesk reads it by IMAP (IDLE) and answers by SMTP, which delivers the
answer into the customer's own dovecot mailbox. Nothing is mocked between them.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.project import Project
from bot.store import ChannelIdentity, Conversation, ConversationState, Customer, Message, OutboxItem, Sender
from tests.helpers.dovecot import Dovecot, Mail, SmtpSink
from tests.helpers.email import (
    IVAN,
    PETR,
    SHOP,
    SHOP_PASSWORD,
    answer_to,
    customer_mail,
    email_project,
    send_by_smtp,
    wait_until,
)
from tests.helpers.server import AppFactory, Clock, serve, state_of
from tests.server.api_helpers import add_operator

BOT = "🤖 Бот: "
PAYMENT = "Как оплатить заказ?"
PAID_TEXT = ("Оплатить заказ можно", "Принимаем карты")


@pytest.fixture
def email_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_IMAP_PASSWORD", SHOP_PASSWORD)
    monkeypatch.delenv("EMAIL_SMTP_PASSWORD", raising=False)


@pytest.fixture
def project(trained_ru: Project, tmp_path: Path, dovecot: Dovecot, mail_sink: SmtpSink, email_env: None) -> Project:
    return email_project(trained_ru, tmp_path / "bot", dovecot, mail_sink)


def inbox(dovecot: Dovecot, user: str) -> list[Mail]:
    return dovecot.messages(user)


def text_of(mail: Mail) -> str:
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def stored(app: Any, model: Any, *where: Any) -> list[Any]:
    async with state_of(app).db.reader() as session:
        return list((await session.scalars(select(model).where(*where).order_by(model.id))).all())


async def test_faq_answer_handoff_and_operator_reply_in_one_thread(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(project)
    async with serve(app):
        first = customer_mail(PAYMENT, subject="Оплата заказа")
        await send_by_smtp(mail_sink, first)
        (answer,) = await wait_until(lambda: inbox(dovecot, IVAN), what="the bot's answer")
        said = text_of(answer)
        assert said.startswith(BOT)  # labelled: the bot never passes for a person
        assert any(text in said for text in PAID_TEXT)
        mail = answer.message
        assert mail["In-Reply-To"] == first["Message-ID"]
        assert first["Message-ID"] in str(mail["References"])
        assert mail["Subject"] == "Re: Оплата заказа"
        assert mail["Auto-Submitted"] == "auto-replied"
        assert SHOP in str(mail["From"])
        (read,) = inbox(dovecot, SHOP)
        assert read.seen  # handled: a restart does not answer it again

        # the customer answers in the thread, quoting the bot: only the new words reach the bot
        second = answer_to(mail, "позовите оператора")
        await send_by_smtp(mail_sink, second)
        queued = await wait_until(lambda: inbox(dovecot, IVAN)[1:], what="the queue answer")
        assert "очеред" in text_of(queued[0])
        assert queued[0].message["In-Reply-To"] == second["Message-ID"]
        (entry,) = await state_of(app).operators.queue()
        customer_said = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert [m.text for m in customer_said] == [PAYMENT, "позовите оператора"]
        assert len({m.conversation_id for m in customer_said}) == 1  # one thread, one conversation

        anna = await add_operator(app, "anna", name="Анна")
        operators = state_of(app).operators
        assert await operators.claim(entry.ticket_id, anna)
        await operators.reply(entry.ticket_id, anna, "Здравствуйте! Сейчас посмотрю ваш заказ.")
        replies = await wait_until(
            lambda: [m for m in inbox(dovecot, IVAN) if "Анна: Здравствуйте!" in text_of(m)],
            what="the operator's reply",
        )
        reply = replies[0].message
        assert reply["In-Reply-To"] == second["Message-ID"]  # in the customer's thread
        assert first["Message-ID"] in str(reply["References"])
        assert reply["Subject"] == "Re: Оплата заказа"
        assert "Анна" in str(reply["From"])
        assert reply["Auto-Submitted"] is None  # a person's mail
        (person,) = await stored(app, Customer)
        assert person.display_name == "Иван Петров"
        assert person.email == IVAN and not person.email_verified  # a From address proves nothing
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (IVAN, "Иван", PAYMENT, "позовите", "Сейчас посмотрю", SHOP_PASSWORD):
        assert secret not in logged, secret


async def test_auto_replies_bounces_and_lists_are_never_answered(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink
) -> None:
    automatic = [
        customer_mail("Я в отпуске до понедельника.", headers={"Auto-Submitted": "auto-replied"}),
        customer_mail("Out of office", headers={"X-Autoreply": "yes"}),
        customer_mail("Newsletter", headers={"Precedence": "bulk"}),
        customer_mail("List mail", headers={"List-Id": "<news.example.com>"}),
        customer_mail("Delivery failed", sender="mailer-daemon@example.com", name=None),
        customer_mail("Undeliverable", headers={"Return-Path": "<>"}),
    ]
    async with serve(make_app(project)) as _:
        for mail in automatic:
            await asyncio.to_thread(dovecot.deliver, SHOP, bytes(mail))
        await wait_until(lambda: all(m.seen for m in inbox(dovecot, SHOP)), what="all read")
        await send_by_smtp(mail_sink, customer_mail(PAYMENT, sender=PETR, name="Пётр"))
        await wait_until(lambda: inbox(dovecot, PETR), what="a person's mail answered")
    assert inbox(dovecot, IVAN) == []
    assert {s.rcpt_tos[0] for s in mail_sink.received if SHOP not in s.rcpt_tos} == {PETR}


async def test_a_restart_does_not_answer_again(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink
) -> None:
    await send_by_smtp(mail_sink, customer_mail(PAYMENT))
    async with serve(make_app(project)):
        await wait_until(lambda: inbox(dovecot, IVAN), what="the answer")
    with dovecot.imap(SHOP) as client:  # as if the process died before marking it read
        client.store("1:*", "-FLAGS", r"(\Seen)")
    async with serve(make_app(project)) as _:
        await wait_until(lambda: all(m.seen for m in inbox(dovecot, SHOP)), what="read again")
    assert len(inbox(dovecot, IVAN)) == 1
