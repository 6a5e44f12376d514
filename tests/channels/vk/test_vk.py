"""The VK channel against a fake VK API: botdesk under uvicorn, its own VK client talking to 127.0.0.1.

Customers' events go in through Bots Long Poll (default) or the Callback API; what botdesk
says comes out as messages.send calls the fake records (``texts``: what the customer sees,
each random_id once).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.vk.outbound import MAX_CHARS, vk_len
from bot.errors import ConfigError
from bot.messages import OutboundMessage
from bot.project import Project
from bot.store import ChannelIdentity, Customer, Message, OutboxItem, Sender
from tests.channels.vk.fake_vk import CONFIRMATION, GROUP_ID, SLOW_MACHINE, FakeVk
from tests.helpers.server import AppFactory, project_with, serve, state_of
from tests.server.api_helpers import add_operator, logged_in

BOT = "🤖 Бот: "
IVAN = 5550001
PAYMENT = "как оплатить заказ?"
PAID = tuple(BOT + text for text in ("Оплатить заказ можно", "Принимаем карты"))  # two variants


async def stored(app: Any, model: Any, *where: Any) -> list[Any]:
    async with state_of(app).db.reader() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def identity(app: Any, user_id: int = IVAN) -> ChannelIdentity:
    (found,) = await stored(
        app, ChannelIdentity, ChannelIdentity.channel == "vk", ChannelIdentity.external_id == str(user_id)
    )
    return found


async def customer_messages(app: Any) -> int:
    async with state_of(app).db.reader() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.sender == Sender.CUSTOMER)
        )
    return int(count or 0)


async def until(check: Any, seconds: float = 20.0) -> None:
    """Wait until the async ``check()`` holds (the channel works in the background)."""
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    assert await check()


def vk_project(trained_ru: Project, target: Path, section: str) -> Project:
    return project_with(trained_ru, target, {"\nchannels:\n": f"\nchannels:\n  vk:\n{section}"})


@pytest.fixture
def callback_project(trained_ru: Project, tmp_path: Path) -> Project:
    return vk_project(trained_ru, tmp_path / "callback-bot", "    mode: callback\n")


async def test_long_poll_answers_labelled_with_the_customers_name(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    fake.user(IVAN, "Иван", "Петров", screen_name="ivanp")
    app = make_app()
    async with serve(app):
        assert state_of(app).router.get("vk") is not None
        await fake.wait(lambda: fake.polls > 0)
        assert fake.long_poll is not None and fake.long_poll["message_new"] == "1"  # switched on for us
        assert fake.long_poll["group_id"] == str(GROUP_ID) and fake.long_poll["api_version"] == "5.199"

        fake.text(IVAN, "Начать", payload={"command": "start"})  # VK's start button: a greeting
        await fake.wait(lambda: len(fake.texts(IVAN)) >= 2)
        assert fake.texts(IVAN)[0].startswith(BOT + "Здравствуйте! Я бот-помощник магазина")
        fake.text(IVAN, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        assert all(text.startswith(BOT) for text in fake.texts(IVAN))
        assert any(text.startswith(PAID) for text in fake.texts(IVAN))
        question = fake.sent(peer_id=IVAN)[-1]
        yes = {"action": {"type": "text", "label": "Да", "payload": '{"b":"/affirm"}'}, "color": "primary"}
        no = {"action": {"type": "text", "label": "Нет", "payload": '{"b":"/deny"}'}, "color": "secondary"}
        assert question.keyboard() == {"one_time": True, "buttons": [[yes, no]]}
        assert all(call.params["dont_parse_links"] == "1" for call in fake.sent(peer_id=IVAN))

        customer = await identity(app)
        assert customer.profile["username"] == "ivanp" and customer.reachable
        (person,) = await stored(app, Customer, Customer.id == customer.customer_id)
        assert person.display_name == "Иван Петров"
        said = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert [m.text for m in said] == ["/greet", PAYMENT]
        assert len(fake.sent("users.get")) == 1  # asked once per customer


async def test_a_pressed_button_goes_in_as_its_payload_and_the_keyboard_is_cleared(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    async with serve(make_app()):
        fake.text(IVAN, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        keyboard = fake.sent(peer_id=IVAN)[-1].keyboard()
        assert keyboard is not None
        fake.press(IVAN, keyboard["buttons"][0][0])  # "Да"
        await fake.wait(lambda: any("Оцените" in t for t in fake.texts(IVAN)))
        thanks, score = fake.sent(peer_id=IVAN)[-2:]
        assert thanks.params["message"] == BOT + "Рад был помочь! Если что-то ещё — спрашивайте."
        assert "keyboard" not in thanks.params  # VK hid the one-time keyboard on the press
        score_keyboard = score.keyboard()
        assert score_keyboard is not None
        assert [b["action"]["label"] for b in score_keyboard["buttons"][0]] == ["1", "2", "3", "4", "5"]

        before = len(fake.texts(IVAN))
        fake.text(IVAN, "спасибо")  # typed, not pressed: the next answer takes the keyboard away
        await fake.wait(lambda: len(fake.texts(IVAN)) > before)
        assert fake.sent(peer_id=IVAN)[before].keyboard() == {"one_time": True, "buttons": []}


async def test_callback_api_confirms_checks_the_secret_and_stores_a_retry_once(
    vk_env: FakeVk, make_app: AppFactory, callback_project: Project, db_url: str
) -> None:
    """On SQLite and PostgreSQL: the retry after a restart is refused by the store's own constraint."""
    fake = vk_env
    app = make_app(callback_project, database_url=db_url)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base, timeout=SLOW_MACHINE) as client:
        url = f"{base}/webhooks/vk"
        assert fake.polls == 0 and not fake.sent("groups.getLongPollServer")  # no Long Poll here

        confirm = await client.post("/webhooks/vk", json={"type": "confirmation", "group_id": GROUP_ID})
        assert (confirm.status_code, confirm.text) == (200, CONFIRMATION)
        other = await client.post("/webhooks/vk", json={"type": "confirmation", "group_id": 1})
        assert other.status_code == 403

        event = fake.text(IVAN, PAYMENT)
        for secret in (None, "wrong"):
            refused = await fake.callback(url, event, secret=secret)
            assert refused.status_code == 403 and refused.text != "ok"
        assert await customer_messages(app) == 0

        answer = await fake.callback(url, event)
        assert (answer.status_code, answer.text) == (200, "ok")
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        sent = len(fake.sent(peer_id=IVAN))
        again = await fake.callback(url, event)  # VK did not get "ok" in time: the same event again
        assert (again.status_code, again.text) == (200, "ok")
        resent = {**event, "event_id": "another-delivery-of-the-same-message"}
        assert (await fake.callback(url, resent)).text == "ok"
        await asyncio.sleep(0.2)
        assert await customer_messages(app) == 1 and len(fake.sent(peer_id=IVAN)) == sent

        for body in (b"not json", b"[]", b'{"no": "type"}'):
            bad = await client.post("/webhooks/vk", content=body)
            assert bad.status_code == 400
        huge = await client.post("/webhooks/vk", content=b"{" + b" " * 300_000 + b"}")
        assert huge.status_code == 413

    app = make_app(
        callback_project, database_url=db_url
    )  # restarted, the same store: VK's late retry is still a duplicate
    async with serve(app) as (base, _):
        late = await fake.callback(f"{base}/webhooks/vk", event)
        assert (late.status_code, late.text) == (200, "ok")
        await asyncio.sleep(0.2)
        assert await customer_messages(app) == 1 and len(fake.sent(peer_id=IVAN)) == sent


async def test_long_poll_mode_has_no_callback_route(vk_env: FakeVk, make_app: AppFactory) -> None:
    fake = vk_env
    async with serve(make_app()) as (base, _):
        answer = await fake.callback(f"{base}/webhooks/vk", fake.text(IVAN, "привет"))
        assert answer.status_code == 404


async def test_long_poll_survives_failed_1_2_and_3(vk_env: FakeVk, make_app: AppFactory) -> None:
    fake = vk_env
    async with serve(make_app()):
        await fake.wait(lambda: fake.polls > 0)
        fake.poll_failures.extend([2, 3, 1])
        await fake.wait(lambda: not fake.poll_failures)
        fake.text(IVAN, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        assert len(fake.sent("groups.getLongPollServer")) >= 3  # the first, after 2 and after 3


async def test_long_poll_answers_what_was_written_while_botdesk_was_down(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    petr = IVAN + 1
    async with serve(make_app()):
        fake.text(petr, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(petr))
    answered_petr = len(fake.texts(petr))

    fake.text(IVAN, "старое сообщение", date=int(time.time()) - 3 * 86400)  # long ago: left alone
    fake.text(petr + 1, "тоже давно", date=int(time.time()) - 3 * 86400)
    fake.text(IVAN, PAYMENT)  # while botdesk is down: a new Long Poll session would never see it
    app = make_app()  # the same store
    async with serve(app):
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN))
        await asyncio.sleep(0.3)
        said = [m.text for m in await stored(app, Message, Message.sender == Sender.CUSTOMER)]
        assert sorted(said) == [PAYMENT, PAYMENT]  # Petr's, stored before; Ivan's, caught up
        assert len(fake.texts(petr)) == answered_petr and fake.texts(petr + 1) == []
        before = len(fake.texts(IVAN))
        fake.text(IVAN, "спасибо")  # and the session goes on as usual
        await fake.wait(lambda: len(fake.texts(IVAN)) > before)
        assert len(fake.sent("messages.getConversations")) == 2  # once per session


async def test_rate_limit_and_flood_control_are_waited_out_with_the_same_random_id(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    async with serve(make_app()):
        fake.fail_next("messages.send", 6)
        fake.fail_next("messages.send", 9)
        fake.text(IVAN, PAYMENT)
        await fake.wait(lambda: BOT + "Ответ помог?" in fake.texts(IVAN), seconds=30)
        first, second, third = fake.sent(peer_id=IVAN)[:3]
        assert first.params["random_id"] == second.params["random_id"] == third.params["random_id"]
        texts = fake.texts(IVAN)
        assert len(texts) == len(set(texts))  # every answer once
        assert texts[0].startswith(BOT + "Здравствуйте!")


async def test_an_operator_reply_whose_answer_was_lost_reaches_the_customer_once(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    app = make_app()
    async with serve(app):
        fake.text(IVAN, "позовите оператора")
        await fake.wait(lambda: any("очеред" in t for t in fake.texts(IVAN)))
        (entry,) = await state_of(app).operators.queue()
        anna = await add_operator(app, "anna", name="Анна")
        assert await state_of(app).operators.claim(entry.ticket_id, anna)
        await fake.wait(lambda: any("подключилась" in t for t in fake.texts(IVAN)))
        fake.lose_next_answer("messages.send")  # VK delivers it, but its answer never arrives
        await state_of(app).operators.reply(entry.ticket_id, anna, "Сейчас проверю заказ.")
        attempts = lambda: [c for c in fake.sent(peer_id=IVAN) if c.params["message"].startswith("Анна:")]  # noqa: E731
        await fake.wait(lambda: len(attempts()) >= 2)  # parked, then redelivered by the operator service
        first, again = attempts()[:2]
        assert first.params["random_id"] == again.params["random_id"]
        assert fake.texts(IVAN).count("Анна: Сейчас проверю заказ.") == 1  # VK showed it once
        await until(lambda: _no_pending_outbox(app))


async def _no_pending_outbox(app: Any) -> bool:
    return all(item.status.value != "pending" for item in await stored(app, OutboxItem))


async def test_a_customer_who_blocked_the_community_is_unreachable_without_retries(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    app = make_app()
    async with serve(app):
        fake.text(IVAN, "привет")
        await fake.wait(lambda: len(fake.texts(IVAN)) >= 1)
        await asyncio.sleep(0.1)
        tried = len(fake.sent(peer_id=IVAN))
        fake.blocked.add(IVAN)  # messages.send now answers 901, as VK does
        fake.text(IVAN, PAYMENT)
        await until(lambda: _unreachable(app))
        await asyncio.sleep(0.3)
        (question,) = await stored(app, Message, Message.text == PAYMENT)
        answers = await stored(app, Message, Message.sender == Sender.BOT, Message.id > question.id)
        assert answers  # stored, not delivered
        assert len(fake.sent(peer_id=IVAN)) - tried == len(answers)  # one attempt each: no retry storm
        assert await stored(app, OutboxItem) == []  # and no redelivery against a block

        fake.allow(IVAN)  # the customer allows the community's messages again: VK says so
        await until(lambda: _reachable(app))
        fake.deny(IVAN)
        await until(lambda: _unreachable(app))


async def _reachable(app: Any) -> bool:
    return (await identity(app)).reachable


async def _unreachable(app: Any) -> bool:
    return not (await identity(app)).reachable


async def test_photo_and_document_are_stored_and_operators_open_them(
    vk_env: FakeVk, make_app: AppFactory, db_url: str
) -> None:
    """On SQLite and PostgreSQL: the file is found among the stored messages."""
    fake = vk_env
    app = make_app(database_url=db_url)
    async with serve(app) as (base, _):
        event = fake.photo(IVAN, b"\xff\xd8\xff fake jpeg bytes")
        await fake.wait(lambda: len(fake.texts(IVAN)) >= 2)
        assert fake.texts(IVAN)[-1].startswith(BOT + "Я бот и понимаю только текст")
        fake.doc(IVAN, b"%PDF-1.4 the invoice", "счёт.pdf", "pdf")
        await fake.wait(lambda: len(not_understood(fake)) >= 2)

        photo_message, doc_message = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        (photo,) = photo_message.attachments
        photo_id = event["object"]["message"]["attachments"][0]["photo"]["id"]
        assert photo["type"] == "photo" and photo["file_id"] == f"photo{IVAN}_{photo_id}"
        assert photo["url"] == f"/api/files/vk/photo{IVAN}_{photo_id}"
        (doc,) = doc_message.attachments
        assert (doc["type"], doc["file_name"], doc["mime_type"]) == (
            "document",
            "счёт.pdf",
            "application/pdf",
        )

        async with httpx.AsyncClient(base_url=base, timeout=SLOW_MACHINE) as anonymous:
            assert (await anonymous.get(photo["url"])).status_code == 401
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as client:
            client.timeout = SLOW_MACHINE
            got = await client.get(photo["url"])
            assert (
                got.status_code == 200 and got.content == b"\xff\xd8\xff fake jpeg bytes"
            )  # the largest size
            assert got.headers["content-type"] == "image/jpeg"
            assert fake.token not in got.text and fake.token not in str(got.headers)
            pdf = await client.get(doc["url"])
            assert pdf.status_code == 200 and pdf.content == b"%PDF-1.4 the invoice"
            assert pdf.headers["content-disposition"].startswith("attachment;")
            assert (await client.get(f"/api/files/vk/photo{IVAN}_1")).status_code == 404
            fake.messages.clear()  # deleted in VK meanwhile
            assert (await client.get(photo["url"])).status_code == 404


def not_understood(fake: FakeVk) -> list[str]:
    return [t for t in fake.texts(IVAN) if "понимаю только текст" in t]


async def test_a_responses_picture_and_document_are_uploaded_and_attached(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    fake.files["shop/bike.png"] = (b"\x89PNG picture", "image/png")
    fake.files["shop/price.pdf"] = (b"%PDF price list", "application/pdf")
    app = make_app()
    async with serve(app):
        fake.text(IVAN, "привет")
        await fake.wait(lambda: len(fake.texts(IVAN)) >= 1)
        channel = state_of(app).router.get("vk")
        assert channel is not None
        message = OutboundMessage(
            "vk",
            str(IVAN),
            1,
            "Вот наш велосипед и прайс.",
            "bot",
            "🤖 Бот",
            message_id=999,
            image=f"{fake.url}/files/shop/bike.png",
            attachment={"url": f"{fake.url}/files/shop/price.pdf", "title": "Прайс"},
        )
        await channel.send(message)
        assert [(kind, content) for kind, _, content in fake.uploads] == [
            ("photo", b"\x89PNG picture"),
            ("doc", b"%PDF price list"),
        ]
        last = fake.delivered[-1]
        assert last["text"] == BOT + "Вот наш велосипед и прайс."
        photo, doc = last["attachment"].split(",")
        assert photo.startswith(f"photo-{GROUP_ID}_") and doc.startswith(f"doc-{GROUP_ID}_")
        assert fake.sent("docs.save")[-1].params["title"] == "Прайс"

        missing = OutboundMessage(
            "vk",
            str(IVAN),
            1,
            "Без картинки.",
            "bot",
            "🤖 Бот",
            message_id=1000,
            image=f"{fake.url}/files/shop/gone.png",
        )
        await channel.send(missing)  # the picture's server does not have it: the text still goes
        assert fake.delivered[-1]["text"] == BOT + "Без картинки." and not fake.delivered[-1]["attachment"]


async def test_long_operator_reply_is_split_and_every_part_labelled(
    vk_env: FakeVk, make_app: AppFactory
) -> None:
    fake = vk_env
    app = make_app()
    async with serve(app):
        fake.text(IVAN, "позовите оператора")
        await fake.wait(lambda: any("очеред" in t for t in fake.texts(IVAN)))
        (entry,) = await state_of(app).operators.queue()
        anna = await add_operator(app, "anna", name="Анна")
        assert await state_of(app).operators.claim(entry.ticket_id, anna)
        paragraphs = [f"Пункт {i}: " + "подробности " * 60 for i in range(6)]
        text = "\n\n".join(p.strip() for p in paragraphs)[:4096]
        await state_of(app).operators.reply(entry.ticket_id, anna, text)
        await fake.wait(lambda: sum(t.startswith("Анна: ") for t in fake.texts(IVAN)) >= 2)
        parts = [t for t in fake.texts(IVAN) if t.startswith("Анна: ")]
        assert len(parts) == 2 and all(vk_len(p) <= MAX_CHARS for p in parts)
        assert parts[0].endswith("подробности") and parts[1].removeprefix("Анна: ").startswith("Пункт")
        assert " ".join(p.removeprefix("Анна: ") for p in parts).split() == text.split()


async def test_a_token_vk_refuses_stops_the_start(
    fake_vk: FakeVk, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VK_GROUP_TOKEN", "vk1.a.not-the-token-of-this-community")
    monkeypatch.setenv("VK_API_BASE_URL", fake_vk.base_url)
    app = make_app()
    with pytest.raises(ConfigError, match="VK_GROUP_TOKEN"):
        async with app.router.lifespan_context(app):
            pass


async def test_callback_mode_without_a_secret_key_stops_the_start(
    vk_env: FakeVk, make_app: AppFactory, callback_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VK_CALLBACK_SECRET")
    app = make_app(callback_project)
    with pytest.raises(ConfigError, match="VK_CALLBACK_SECRET"):
        async with app.router.lifespan_context(app):
            pass


async def test_without_a_token_there_is_no_vk(make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VK_GROUP_TOKEN", raising=False)
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base, timeout=SLOW_MACHINE) as client:
        assert "vk" not in [c.name for c in state_of(app).channels] and state_of(app).router.get("vk") is None
        answer = await client.post("/webhooks/vk", json={"type": "confirmation", "group_id": GROUP_ID})
        assert answer.status_code == 404


async def test_an_unknown_option_is_a_config_error(
    trained_ru: Project, tmp_path: Path, make_app: AppFactory
) -> None:
    project = vk_project(trained_ru, tmp_path / "bad-bot", "    mode: webhook\n")
    with pytest.raises(ConfigError, match="mode"):
        make_app(project)
