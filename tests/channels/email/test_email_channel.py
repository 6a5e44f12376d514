"""The e-mail channel end to end: botdesk under uvicorn, a real dovecot (IMAP) and an SMTP server.

Customers' mail goes in by SMTP into the shop's dovecot mailbox, as it would from their
mail client; botdesk reads it by IMAP (IDLE) and answers by SMTP, which delivers the
answer into the customer's own dovecot mailbox. Nothing is mocked between them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.channels.email import EmailChannel
from bot.project import Project
from bot.store import (
    ChannelIdentity,
    Conversation,
    ConversationState,
    Customer,
    Message,
    OutboxItem,
    Sender,
    remember_contact,
)
from bot.store.matches import possible_matches
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
from tests.helpers.store import customer_says
from tests.server.api_helpers import add_operator, logged_in

BOT = "🤖 Бот: "
PAYMENT = "Как оплатить заказ?"
PAID_TEXT = ("Оплатить заказ можно", "Принимаем карты")


@pytest.fixture
def email_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_IMAP_PASSWORD", SHOP_PASSWORD)
    monkeypatch.delenv("EMAIL_SMTP_PASSWORD", raising=False)


@pytest.fixture
def project(
    trained_ru: Project, tmp_path: Path, dovecot: Dovecot, mail_sink: SmtpSink, email_env: None
) -> Project:
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
    project: Project,
    make_app: AppFactory,
    dovecot: Dovecot,
    mail_sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(project)
    async with serve(app) as (base, _):
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
        assert mail_sink.logins == [SHOP]  # sent with the mailbox's own login (EMAIL_IMAP_PASSWORD)
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

        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:  # the operator answers from the panel
            claimed = await panel.post(f"/api/tickets/{entry.ticket_id}/claim")
            assert claimed.status_code == 200, claimed.text
            answered = await panel.post(
                f"/api/tickets/{entry.ticket_id}/reply",
                json={"text": "Здравствуйте! Сейчас посмотрю ваш заказ."},
            )
            assert answered.status_code == 200, answered.text
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


async def test_operator_reply_waits_out_an_smtp_outage(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink, clock: Clock
) -> None:
    app = make_app(project)
    async with serve(app):
        question = customer_mail("позовите оператора")
        await send_by_smtp(mail_sink, question)
        await wait_until(lambda: inbox(dovecot, IVAN), what="the queue answer")
        (entry,) = await state_of(app).operators.queue()
        anna = await add_operator(app, "anna", name="Анна")
        operators = state_of(app).operators
        assert await operators.claim(entry.ticket_id, anna)
        await wait_until(lambda: len(inbox(dovecot, IVAN)) == 2, what="'Анна joined'")

        mail_sink.stop()  # the SMTP server is down
        await operators.reply(entry.ticket_id, anna, "Ваш заказ уже в пути.")
        (waiting,) = await stored(app, OutboxItem)
        assert waiting.status == "pending"  # kept for redelivery, not lost

        mail_sink.start()  # back up; the retry is due after its back-off
        clock.now += timedelta(minutes=5)
        replies = await wait_until(
            lambda: [m for m in inbox(dovecot, IVAN) if "Анна: Ваш заказ уже в пути." in text_of(m)],
            what="the redelivered reply",
        )
        assert replies[0].message["In-Reply-To"] == question["Message-ID"]
        for _ in range(200):  # marked sent once the SMTP server's answer is back
            (item,) = await stored(app, OutboxItem)
            if item.status == "sent":
                break
            await asyncio.sleep(0.05)
        assert item.status == "sent"


async def test_a_refused_address_is_unreachable_without_retries(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink
) -> None:
    mail_sink.refused.add(IVAN)
    app = make_app(project)
    async with serve(app):
        await send_by_smtp(mail_sink, customer_mail(PAYMENT))
        await wait_until(lambda: all(m.seen for m in inbox(dovecot, SHOP)), what="read")  # after the answer
        (identity,) = await stored(app, ChannelIdentity)
        assert not identity.reachable
        assert await stored(app, OutboxItem) == []  # nothing queued to hammer the server with
        answers = await stored(app, Message, Message.sender == Sender.BOT)
        assert any(m.text.startswith(PAID_TEXT) for m in answers)  # kept in the store


async def test_a_new_thread_is_a_new_conversation_and_replies_find_theirs(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink
) -> None:
    app = make_app(project)
    async with serve(app):
        first = customer_mail(PAYMENT, subject="Оплата")
        await send_by_smtp(mail_sink, first)
        (answer,) = await wait_until(lambda: inbox(dovecot, IVAN), what="the first answer")
        second = customer_mail("Сколько идёт доставка?", subject="Доставка")
        await send_by_smtp(mail_sink, second)
        await wait_until(lambda: len(inbox(dovecot, IVAN)) == 2, what="the second answer")
        conversations = await stored(app, Conversation)
        assert [c.state for c in conversations] == [ConversationState.CLOSED, ConversationState.BOT]

        # a reply in the first thread: its conversation is closed, so it opens a new one,
        # and the answer stays in the first thread
        third = answer_to(answer.message, "А картой можно?")
        await send_by_smtp(mail_sink, third)
        answers = await wait_until(lambda: inbox(dovecot, IVAN)[2:], what="the third answer")
        assert answers[0].message["In-Reply-To"] == third["Message-ID"]
        assert answers[0].message["Subject"] == "Re: Оплата"
        said = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert [m.text for m in said] == [PAYMENT, "Сколько идёт доставка?", "А картой можно?"]

        # while a person holds the conversation, a new thread joins it: the operator sees it
        await send_by_smtp(mail_sink, answer_to(answers[0].message, "позовите оператора"))
        await wait_until(lambda: len(inbox(dovecot, IVAN)) == 4, what="the queue answer")
        await send_by_smtp(mail_sink, customer_mail("И ещё вопрос про возврат", subject="Возврат"))
        await wait_until(lambda: all(m.seen for m in inbox(dovecot, SHOP)), what="read")
        said = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert said[-1].text == "И ещё вопрос про возврат"
        assert said[-1].conversation_id == said[-2].conversation_id
        # A person owns it: the bot does not answer the question, it only tells the waiting
        # customer once that the message went to the operators (issue 21's acknowledgement).
        mails = await wait_until(lambda: inbox(dovecot, IVAN)[4:], what="the acknowledgement")
        assert len(inbox(dovecot, IVAN)) == 5
        acknowledged = mails[0].message.get_body(("plain",))
        assert acknowledged is not None
        text = acknowledged.get_content()
        assert "оператор" in text and "возврат" not in text.lower()


async def test_polling_html_mail_and_attachments(
    trained_ru: Project,
    tmp_path: Path,
    make_app: AppFactory,
    dovecot: Dovecot,
    mail_sink: SmtpSink,
    email_env: None,
) -> None:
    project = email_project(trained_ru, tmp_path / "bot", dovecot, mail_sink, idle="false", poll_seconds=1)
    app = make_app(project)
    async with serve(app):
        channel = state_of(app).router.get("email")
        assert channel is not None
        html = (
            "<html><head><style>p {color: red}</style><script>alert('x')</script></head>"
            "<body><p>Как&nbsp;оплатить <b>заказ</b>?</p><div class='gmail_quote'>old</div></body></html>"
        )
        pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
        program = b"MZ\x90\x00" * 8
        mail = customer_mail(
            None,
            html=html,
            attachments=[("чек.pdf", "application/pdf", pdf), ("setup.exe", "application/pdf", program)],
        )
        await send_by_smtp(mail_sink, mail)
        (answer,) = await wait_until(lambda: inbox(dovecot, IVAN), what="the answer (polling)")
        assert any(text in text_of(answer) for text in PAID_TEXT)
        (said,) = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert said.text == "Как оплатить заказ?"
        kept, refused = said.attachments
        assert kept["stored"] and kept["file_name"] == "чек.pdf" and kept["mime_type"] == "application/pdf"
        assert kept["url"] == f"/api/files/{kept['file_id']}"
        assert await state_of(app).files.read(kept["file_id"]) == pdf  # the same bytes, in the file store
        row = await state_of(app).files.for_operator(kept["file_id"])
        assert row is not None and row.message_id == said.id  # linked to the stored message
        # a program is not kept, whatever the mail calls it; the operator still sees it was sent
        assert refused == {
            "type": "document",
            "stored": False,
            "file_name": "setup.exe",
            "mime_type": "application/pdf",
            "file_size": len(program),
            "not_kept": "type not accepted",
        }


async def test_an_operators_file_goes_as_an_attachment(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink
) -> None:
    app = make_app(project)
    async with serve(app):
        await send_by_smtp(mail_sink, customer_mail("позовите оператора"))
        await wait_until(lambda: inbox(dovecot, IVAN), what="the queue answer")
        (entry,) = await state_of(app).operators.queue()
        anna = await add_operator(app, "anna", name="Анна")
        operators = state_of(app).operators
        assert await operators.claim(entry.ticket_id, anna)
        invoice = b"%PDF-1.4\ninvoice\n%%EOF\n"
        kept = await state_of(app).files.accept(
            invoice,
            name="счёт.pdf",
            channel="email",
            sender=Sender.OPERATOR,
            conversation_id=entry.conversation_id,
            operator_id=anna,
        )
        await operators.reply(entry.ticket_id, anna, "Счёт во вложении.", files=[kept.attachment])
        (mail,) = await wait_until(
            lambda: [m for m in inbox(dovecot, IVAN) if "Анна: Счёт во вложении." in text_of(m)],
            what="the operator's mail",
        )
        (attached,) = mail.message.iter_attachments()
        assert attached.get_filename() == "счёт.pdf"
        assert attached.get_content_type() == "application/pdf"
        assert attached.get_content() == invoice


async def test_loops_floods_and_oversized_mail_are_not_answered(
    trained_ru: Project,
    tmp_path: Path,
    make_app: AppFactory,
    dovecot: Dovecot,
    mail_sink: SmtpSink,
    email_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="botdesk.channels.email")
    project = email_project(
        trained_ru, tmp_path / "bot", dovecot, mail_sink, per_sender_per_hour=2, max_message_bytes=20000
    )
    app = make_app(project)
    async with serve(app):
        await send_by_smtp(mail_sink, customer_mail(PAYMENT))
        (answer,) = await wait_until(lambda: inbox(dovecot, IVAN), what="the answer")
        # our own answer come back through an alias that rewrites From (a forward): its Message-ID is ours
        echo = answer.message
        for header in ("From", "Auto-Submitted", "X-Auto-Response-Suppress"):
            del echo[header]
        echo["From"] = "alias@example.com"
        await asyncio.to_thread(dovecot.deliver, SHOP, bytes(echo))
        # a mail "from" our own address
        await asyncio.to_thread(dovecot.deliver, SHOP, bytes(customer_mail("Привет", sender=SHOP, name=None)))
        # too big to read
        big = customer_mail("Вот фото", attachments=[("photo.jpg", "image/jpeg", b"\xff" * 30000)])
        await asyncio.to_thread(dovecot.deliver, SHOP, bytes(big))
        # the third mail within the hour from one sender (the cap is 2)
        await send_by_smtp(mail_sink, customer_mail("Где мой заказ?"))
        await send_by_smtp(mail_sink, customer_mail("А сейчас где?"))
        await wait_until(lambda: len(inbox(dovecot, SHOP)) == 6 and all(m.seen for m in inbox(dovecot, SHOP)))
    said = [m.text for m in await stored(app, Message, Message.sender == Sender.CUSTOMER)]
    assert said == [PAYMENT, "Где мой заказ?"]
    assert len(inbox(dovecot, IVAN)) == 2
    notes = [r.getMessage() for r in caplog.records if r.name == "botdesk.channels.email"]
    assert any("our own mail came back" in note for note in notes)
    assert any("sent from our own address" in note for note in notes)
    assert any("over channels.email.max_message_bytes" in note for note in notes)
    assert any("more than 2 mails in an hour" in note for note in notes)


async def test_the_reader_comes_back_when_the_imap_server_restarts(
    trained_ru: Project,
    tmp_path: Path,
    make_app: AppFactory,
    email_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    users = {SHOP: SHOP_PASSWORD, IVAN: "ivan password"}
    server = Dovecot(users).start()
    sink = SmtpSink(server).start()
    try:
        app = make_app(email_project(trained_ru, tmp_path / "bot", server, sink))
        async with serve(app):
            await send_by_smtp(sink, customer_mail(PAYMENT))
            await wait_until(lambda: inbox(server, IVAN), what="the first answer")
            port = server.port
            server.stop()  # the connection in IDLE is dropped
            server = sink.dovecot = Dovecot(users, port=port).start()
            await send_by_smtp(sink, customer_mail("Сколько идёт доставка?"))
            (answer,) = await wait_until(lambda: inbox(server, IVAN), what="an answer after the restart")
            assert text_of(answer).startswith(BOT)
    finally:
        sink.stop()
        server.stop()
    notes = [r.getMessage() for r in caplog.records if r.name == "botdesk.channels.email"]
    assert any("cannot be read" in note and "trying again" in note for note in notes)


async def test_a_refused_login_is_retried_and_never_logged(
    trained_ru: Project,
    tmp_path: Path,
    make_app: AppFactory,
    dovecot: Dovecot,
    mail_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("EMAIL_IMAP_PASSWORD", "wrong password 123")
    app = make_app(email_project(trained_ru, tmp_path / "bot", dovecot, mail_sink))
    async with serve(app):
        await wait_until(
            lambda: any("login refused" in r.getMessage() for r in caplog.records), what="the refusal logged"
        )
        assert state_of(app).router.get("email") is not None  # the server runs; the reader keeps trying
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "wrong password 123" not in logged


async def test_a_from_address_never_merges_customers_of_another_channel(
    project: Project, make_app: AppFactory, dovecot: Dovecot, mail_sink: SmtpSink
) -> None:
    app = make_app(project)
    async with serve(app):
        db = state_of(app).db
        telegram = await customer_says(db, "привет", channel="telegram", sender="555")
        async with db.session() as session:  # Ivan's e-mail, verified by some other channel
            await remember_contact(session, telegram.customer_id, email=IVAN, verified=True)
            await session.commit()
        await send_by_smtp(mail_sink, customer_mail(PAYMENT))  # anyone can put Ivan's address in From
        await wait_until(lambda: inbox(dovecot, IVAN), what="the answer")
        customers = await stored(app, Customer)
        assert len(customers) == 2  # not merged
        (by_mail,) = await stored(app, ChannelIdentity, ChannelIdentity.channel == "email")
        async with db.reader() as session:
            (suggestion,) = await possible_matches(session, by_mail.customer_id)
        assert suggestion.other.id == telegram.customer_id  # only suggested to operators


async def test_a_store_outage_leaves_the_mail_unread_and_a_bug_does_not_loop(
    trained_ru: Project,
    tmp_path: Path,
    make_app: AppFactory,
    dovecot: Dovecot,
    mail_sink: SmtpSink,
    email_env: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.channels.email import inbound

    real_stored = inbound.inbound_stored
    outages = [OperationalError("SELECT", {}, Exception("database is locked"))]

    async def store_down_once(*args: Any) -> bool:
        if outages:
            raise outages.pop()
        return await real_stored(*args)

    def broken_parser(raw: bytes, **limits: int) -> Any:
        if b"BROKEN" in raw:
            raise ValueError("Секретный текст письма")
        return real_parse(raw, **limits)

    real_parse = inbound.parse_mail
    monkeypatch.setattr(inbound, "inbound_stored", store_down_once)
    monkeypatch.setattr(inbound, "parse_mail", broken_parser)
    app = make_app(email_project(trained_ru, tmp_path / "bot", dovecot, mail_sink, poll_seconds=1))
    async with serve(app):
        await send_by_smtp(mail_sink, customer_mail(PAYMENT))
        await wait_until(lambda: inbox(dovecot, IVAN), what="the answer after the outage")
        assert outages == []  # the first try met the outage; the mail stayed unread and was tried again
        await send_by_smtp(mail_sink, customer_mail("BROKEN"))
        await wait_until(lambda: all(m.seen for m in inbox(dovecot, SHOP)), what="the broken mail read")
    notes = [r.getMessage() for r in caplog.records if r.name == "botdesk.channels.email"]
    assert any("not handled now (OperationalError)" in note for note in notes)
    assert any("could not be handled (ValueError at" in note for note in notes)
    assert not any("Секретный" in r.getMessage() for r in caplog.records)
    assert len(inbox(dovecot, IVAN)) == 1


async def test_a_sending_only_process_reads_no_mail(
    trained_ru: Project,
    tmp_path: Path,
    make_app: AppFactory,
    dovecot: Dovecot,
    mail_sink: SmtpSink,
    email_env: None,
) -> None:
    app = make_app(email_project(trained_ru, tmp_path / "bot", dovecot, mail_sink, receive="false"))
    async with serve(app):
        channel = state_of(app).router.get("email")
        assert isinstance(channel, EmailChannel)
        assert channel.reader is None  # another process reads the mailbox
        assert channel.postman is not None  # but this one delivers operators' replies
