"""The Telegram channel end to end: botdesk under uvicorn, python-telegram-bot talking to a fake Bot API.

Customers' updates go in through getUpdates (or the webhook); what botdesk says comes out
as sendMessage calls the fake records.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.telegram.outbound import MAX_CHARS, utf16_len
from bot.errors import ConfigError
from bot.project import Project
from bot.store import ChannelIdentity, Customer, Lead, Message, OutboxItem, Sender
from bot.store.matches import possible_matches
from bot.store.models import StoredFileRow
from tests.channels.telegram.fake_telegram import FakeTelegram
from tests.helpers import files
from tests.helpers.server import AppFactory, project_with, serve, state_of
from tests.helpers.telegram import SECRET
from tests.server.api_helpers import add_operator, logged_in

BOT = "🤖 Бот: "
IVAN = 111222333
PAYMENT = "как оплатить заказ?"
PAID_TEXT = ("Оплатить заказ можно", "Принимаем карты")  # the answer's two variants
PAID = tuple(BOT + text for text in PAID_TEXT)


async def stored(app: Any, model: Any, *where: Any) -> list[Any]:
    async with state_of(app).db.reader() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def identity(app: Any, user_id: int = IVAN) -> ChannelIdentity:
    (found,) = await stored(
        app,
        ChannelIdentity,
        ChannelIdentity.channel == "telegram",
        ChannelIdentity.external_id == str(user_id),
    )
    return found


async def ticket_of(app: Any) -> int:
    (entry,) = await state_of(app).operators.queue()
    return entry.ticket_id


async def test_start_greets_and_answers_are_labelled(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app):
        assert [c.method for c in fake.calls[:2]] == ["getMe", "deleteWebhook"]  # polling, no webhook left
        assert state_of(app).router.get("telegram") is not None
        fake.text(IVAN, "/start", first_name="Иван", last_name="Петров", username="ivanp")
        await fake.wait(lambda: len(fake.sent(chat_id=IVAN)) >= 2)
        intro, greeting = fake.sent(chat_id=IVAN)[:2]
        assert intro.params["text"].startswith(BOT + "Здравствуйте! Я бот-помощник магазина")
        assert greeting.params["text"].startswith(BOT)  # "Здравствуйте! ..." or "Добрый день! ..."

        fake.text(IVAN, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        assert all(text.startswith(BOT) for text in fake.texts(IVAN))
        assert any(t.startswith(PAID) for t in fake.texts(IVAN))
        question = fake.sent(chat_id=IVAN)[-1].params
        assert question["reply_markup"]["inline_keyboard"] == [
            [{"text": "Да", "callback_data": "/affirm"}],
            [{"text": "Нет", "callback_data": "/deny"}],
        ]

        customer = await identity(app)
        assert customer.profile["username"] == "ivanp" and customer.reachable
        (person,) = await stored(app, Customer, Customer.id == customer.customer_id)
        assert person.display_name == "Иван Петров"
        said = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert [m.text for m in said] == ["/greet", PAYMENT]


async def test_inline_button_press_goes_in_as_its_payload(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    async with serve(make_app()):
        fake.text(IVAN, PAYMENT)
        await fake.wait(lambda: any("Ответ помог?" in t for t in fake.texts(IVAN)))
        question = fake.sent(chat_id=IVAN)[-1]
        yes = question.params["reply_markup"]["inline_keyboard"][0][0]
        assert yes == {"text": "Да", "callback_data": "/affirm"}
        query = fake.press(IVAN, "/affirm", question)
        await fake.wait(lambda: any("Оцените" in t for t in fake.texts(IVAN)))  # the turn's last reply
        (answered,) = fake.sent("answerCallbackQuery")
        assert answered.params["callback_query_id"] == query["callback_query"]["id"]
        (edited,) = fake.sent("editMessageReplyMarkup")  # the pressed keyboard is taken away
        assert edited.params["message_id"] == query["callback_query"]["message"]["message_id"]
        assert fake.texts(IVAN)[-2:] == [  # survey.ask_score: "yes" brings the optional 1-5 score
            BOT + "Рад был помочь! Если что-то ещё — спрашивайте.",
            BOT + "Оцените, пожалуйста, от 1 до 5 (по желанию):",
        ]


async def test_handoff_and_operator_reply_carry_the_operators_name(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app):
        fake.text(IVAN, "позовите оператора")
        await fake.wait(lambda: any("очеред" in t for t in fake.texts(IVAN)))
        ticket = await ticket_of(app)
        anna = await add_operator(app, "anna", name="Анна")
        operators = state_of(app).operators
        assert await operators.claim(ticket, anna)
        await operators.reply(ticket, anna, "Здравствуйте! Сейчас посмотрю ваш заказ.")
        await fake.wait(lambda: "Анна: Здравствуйте! Сейчас посмотрю ваш заказ." in fake.texts(IVAN))
        assert BOT + "Анна (оператор) подключилась к чату." in fake.texts(IVAN)

        count = len(fake.texts(IVAN))
        fake.text(IVAN, "спасибо, жду")  # a person owns the dialogue: the bot stays silent
        await fake.wait(lambda: len(asyncio.all_tasks()) > 0 and _customer_said(fake, "спасибо, жду"))
        await asyncio.sleep(0.2)
        assert len(fake.texts(IVAN)) == count
        said = await stored(app, Message, Message.text == "спасибо, жду")
        assert len(said) == 1


def _customer_said(fake: FakeTelegram, text: str) -> bool:
    return not any(u.get("message", {}).get("text") == text for u in fake.pending)


async def test_flood_limit_is_waited_out_and_nothing_is_lost(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    async with serve(make_app()):
        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        fake.text(IVAN, "как оплатить заказ?")
        await fake.wait(lambda: len(fake.sent(chat_id=IVAN)) >= 3)
        texts = fake.texts(IVAN)
        assert texts[0] == texts[1]  # the refused message was sent again
        assert texts[0].startswith(BOT + "Здравствуйте!") and texts[2].startswith(BOT)


async def test_blocked_customer_is_marked_unreachable_and_the_message_kept(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app):
        fake.text(IVAN, "привет")
        await fake.wait(lambda: len(fake.sent(chat_id=IVAN)) >= 1)
        await asyncio.sleep(0.1)
        delivered = len(fake.sent(chat_id=IVAN))
        fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", times=10)
        fake.text(IVAN, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        for _ in range(50):
            if not (await identity(app)).reachable:
                break
            await asyncio.sleep(0.02)
        assert not (await identity(app)).reachable
        (question,) = await stored(app, Message, Message.text == PAYMENT)
        answers = await stored(app, Message, Message.sender == Sender.BOT, Message.id > question.id)
        assert any(m.text.startswith(PAID_TEXT) for m in answers)  # undelivered, stored
        attempts = len(fake.sent(chat_id=IVAN)) - delivered
        assert attempts == len(answers)  # one attempt per message: no retry storm
        assert await stored(app, OutboxItem) == []  # and no redelivery against a block

        fake.failures.clear()
        fake.blocked(IVAN, blocked=False)  # unblocked: Telegram says so
        for _ in range(50):
            if (await identity(app)).reachable:
                break
            await asyncio.sleep(0.02)
        assert (await identity(app)).reachable
        fake.blocked(IVAN)
        for _ in range(50):
            if not (await identity(app)).reachable:
                break
            await asyncio.sleep(0.02)
        assert not (await identity(app)).reachable


async def test_photo_is_kept_in_the_file_store_and_operators_can_open_it(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app) as (base, _):
        update = fake.photo(IVAN, b"\xff\xd8\xff fake jpeg bytes")
        await fake.wait(lambda: len(fake.sent(chat_id=IVAN)) >= 2)
        answer = fake.sent(chat_id=IVAN)[-1]
        assert answer.params["text"].startswith(BOT + "Я бот и понимаю только текст")
        assert answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/human_request"

        (message,) = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        telegram_id = update["message"]["photo"][-1]["file_id"]
        (attachment,) = message.attachments
        assert message.text == "" and message.nlu is None
        assert attachment["type"] == "photo" and attachment["stored"] is True
        assert attachment["telegram_file_id"] == telegram_id and attachment["mime_type"] == "image/jpeg"
        assert attachment["url"] == f"/api/files/{attachment['file_id']}"  # one route for every channel
        (row,) = await stored(app, StoredFileRow)
        assert (row.id, row.message_id, row.channel) == (attachment["file_id"], message.id, "telegram")

        async with httpx.AsyncClient(base_url=base) as anonymous:
            assert (await anonymous.get(attachment["url"])).status_code == 401
        await add_operator(app, "anna", name="Анна")
        downloads = len(fake.sent("download"))
        async with logged_in(base, "anna") as client:
            got = await client.get(attachment["url"])
            assert got.status_code == 200 and got.content == b"\xff\xd8\xff fake jpeg bytes"
            assert got.headers["content-type"] == "image/jpeg"
            assert got.headers["x-content-type-options"] == "nosniff"
            assert fake.token not in got.text and fake.token not in str(got.headers)
            assert (await client.get("/api/files/telegram/AgACnever-sent")).status_code == 404
        assert len(fake.sent("download")) == downloads  # served from the store, not Telegram

        fake.text(IVAN, "позовите оператора")  # the button's offer, typed
        await fake.wait(lambda: any("очеред" in t for t in fake.texts(IVAN)))


async def test_a_file_the_store_refuses_stays_on_telegram_and_still_opens(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    page = b"<!DOCTYPE html><script>alert(1)</script>"  # named a photo, but a page a browser would run
    async with serve(app) as (base, _):
        update = fake.photo(IVAN, page)
        await fake.wait(lambda: len(fake.sent(chat_id=IVAN)) >= 2)
        (message,) = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        (attachment,) = message.attachments
        telegram_id = update["message"]["photo"][-1]["file_id"]
        assert "stored" not in attachment and attachment["url"] == f"/api/files/telegram/{telegram_id}"
        assert await stored(app, StoredFileRow) == []
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as client:
            got = await client.get(attachment["url"])  # the proxy, as before the file store
        assert got.status_code == 200
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]


async def test_an_operator_sends_a_photo_and_a_document_to_telegram(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app) as (base, _):
        fake.text(IVAN, "позовите оператора")
        await fake.wait(lambda: any("очеред" in t for t in fake.texts(IVAN)))
        await add_operator(app, "anna", name="Анна")
        ticket = await ticket_of(app)
        async with logged_in(base, "anna") as client:
            assert (await client.post(f"/api/tickets/{ticket}/claim")).status_code == 200
            for content, name in ((files.png(), "схема.png"), (files.PDF, "инструкция.pdf")):
                sent = await client.post(
                    f"/api/uploads/tickets/{ticket}",
                    content=content,
                    headers={"Content-Type": "application/octet-stream", "X-File-Name": quote(name)},
                )
                assert sent.status_code == 200, sent.text
        await fake.wait(lambda: bool(fake.sent("sendDocument", chat_id=IVAN)))
    (photo,) = fake.sent("sendPhoto", chat_id=IVAN)
    (document,) = fake.sent("sendDocument", chat_id=IVAN)
    assert photo.params["photo"].content == files.png() and photo.params["caption"] == "Анна"
    assert document.params["document"].content == files.PDF
    assert document.params["document"].filename == "инструкция.pdf" and document.params["caption"] == "Анна"
    assert not [t for t in fake.texts(IVAN) if t.strip() in ("Анна:", "Анна: ")]  # no empty text message


async def test_shared_contact_is_verified_and_only_suggests_the_web_customer_who_typed_it(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app) as (base, _):
        async with httpx.AsyncClient(base_url=base) as web:  # someone on the site typed this number earlier
            for text in ("перезвоните мне", "Иван", "+7 912 345-67-89", "да"):
                answer = await web.post("/webhooks/rest/webhook", json={"sender": "site-1", "message": text})
                assert answer.status_code == 200
        (web_lead,) = await stored(app, Lead)

        fake.text(IVAN, "перезвоните мне")
        await fake.wait(lambda: any("обращаться" in t for t in fake.texts(IVAN)))
        fake.text(IVAN, "Иван")
        await fake.wait(lambda: any("номер телефона" in t for t in fake.texts(IVAN)))
        asking = fake.sent(chat_id=IVAN)[-1].params
        (button,) = asking["reply_markup"]["keyboard"][0]
        assert button["request_contact"] is True and "номер" in button["text"]

        fake.contact(IVAN, "79123456789")
        await fake.wait(lambda: any("Согласны" in t for t in fake.texts(IVAN)))
        consent = fake.sent(chat_id=IVAN)[-1]
        fake.press(IVAN, "/affirm", consent)
        await fake.wait(lambda: any("+79123456789" in t for t in fake.texts(IVAN)))

        leads = await stored(app, Lead, Lead.channel == "telegram")
        assert [lead.phone for lead in leads] == ["+79123456789"]
        telegram = await identity(app)
        # A typed number proves nothing (issue 17): two customers, suggested to operators as one.
        assert telegram.customer_id != web_lead.customer_id and leads[0].customer_id == telegram.customer_id
        (customer,) = await stored(app, Customer, Customer.id == telegram.customer_id)
        assert (customer.phone, customer.phone_verified) == ("+79123456789", True)  # Telegram vouches for it
        (typist,) = await stored(app, Customer, Customer.id == web_lead.customer_id)
        assert (typist.phone, typist.phone_verified) == ("+79123456789", False)
        history = await state_of(app).operators.history(customer.id)
        assert {entry.channel for entry in history} == {"telegram"}
        async with state_of(app).db.reader() as session:
            (suggested,) = await possible_matches(session, customer.id)
        assert (suggested.other.id, suggested.reason) == (web_lead.customer_id, "phone")


async def test_long_operator_reply_is_split_and_every_part_labelled(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app):
        fake.text(IVAN, "позовите оператора")
        await fake.wait(lambda: any("очеред" in t for t in fake.texts(IVAN)))
        ticket = await ticket_of(app)
        anna = await add_operator(app, "anna", name="Анна")
        assert await state_of(app).operators.claim(ticket, anna)
        paragraphs = [f"Пункт {i}: " + "подробности " * 60 for i in range(6)]
        text = "\n\n".join(p.strip() for p in paragraphs)[:4096]  # the longest a message can be
        await state_of(app).operators.reply(ticket, anna, text)
        await fake.wait(lambda: sum(t.startswith("Анна: ") for t in fake.texts(IVAN)) >= 2)
        parts = [t for t in fake.texts(IVAN) if t.startswith("Анна: ")]
        assert len(parts) == 2 and all(utf16_len(p) <= MAX_CHARS for p in parts)
        assert parts[0].endswith("подробности")  # cut at a paragraph, not inside a word
        assert parts[1].removeprefix("Анна: ").startswith("Пункт")
        joined = " ".join(p.removeprefix("Анна: ") for p in parts)
        assert joined.split() == text.split()  # nothing lost


async def test_edited_message_is_answered_as_a_new_one(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app):
        original = fake.text(IVAN, "привет")
        await fake.wait(lambda: len(fake.sent(chat_id=IVAN)) >= 2)
        fake.edit(original, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        said = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert [m.text for m in said] == ["привет", PAYMENT]
        assert said[1].channel_message_id.startswith(f"{original['message']['message_id']}:edit:")


@pytest.fixture
def webhook_project(trained_ru: Project, tmp_path: Path) -> Project:
    return project_with(
        trained_ru,
        tmp_path / "webhook-bot",
        {"    mode: polling": "    mode: webhook\n    webhook_url: https://shop.example/webhooks/telegram"},
    )


async def test_webhook_mode_checks_the_secret_on_every_update(
    telegram_env: FakeTelegram, make_app: AppFactory, webhook_project: Project
) -> None:
    fake = telegram_env
    app = make_app(webhook_project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://shop.example/webhooks/telegram"
        assert fake.webhook["secret_token"] == SECRET
        assert "callback_query" in fake.webhook["allowed_updates"]
        assert not fake.sent("deleteWebhook")  # no polling in webhook mode

        update = fake.update(message=fake.message(IVAN, text="как оплатить заказ?"))
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            refused = await client.post("/webhooks/telegram", json=update, headers=headers)
            assert refused.status_code == 403
        assert await stored(app, Message) == []

        right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        answer = await client.post("/webhooks/telegram", json=update, headers=right)
        assert answer.status_code == 200
        assert len(fake.sent(chat_id=IVAN)) >= 2  # answered before the webhook call returned
        again = await client.post("/webhooks/telegram", json=update, headers=right)  # Telegram retries
        assert again.status_code == 200
        async with state_of(app).db.reader() as session:
            count = await session.scalar(
                select(func.count()).select_from(Message).where(Message.sender == Sender.CUSTOMER)
            )
        assert count == 1
        bad = await client.post("/webhooks/telegram", content=b"not json", headers=right)
        assert bad.status_code == 400


async def test_polling_mode_has_no_webhook_route(telegram_env: FakeTelegram, make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        answer = await client.post(
            "/webhooks/telegram", json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert answer.status_code == 404


async def test_token_telegram_refuses_stops_the_start(
    fake: FakeTelegram, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:not-the-token")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.base_url)
    app = make_app()
    with pytest.raises(ConfigError, match="BotFather"):
        async with app.router.lifespan_context(app):
            pass


async def test_without_a_token_there_is_no_telegram(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as client:
        assert (
            "telegram" not in [c.name for c in state_of(app).channels]
            and state_of(app).router.get("telegram") is None
        )
        assert (await client.post("/webhooks/telegram", json={"update_id": 1})).status_code == 404
