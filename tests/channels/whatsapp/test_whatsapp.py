"""The WhatsApp channel end to end: botdesk under uvicorn, the real channel talking to a fake Graph API.

Customers' messages go in as signed webhook calls (``FakeGraph.notify``); what botdesk says
comes out as ``/messages`` calls the fake records and checks against WhatsApp's limits.
Operators work through the panel's HTTP API, as the panel's JavaScript does.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.channels.whatsapp import WhatsAppChannel
from bot.errors import ConfigError
from bot.messages import OutboundMessage
from bot.store import ChannelIdentity, Customer, Message, OutboxItem, Sender
from tests.channels.whatsapp.fake_graph import FakeGraph
from tests.helpers.server import AppFactory, Clock, serve, state_of
from tests.server.api_helpers import add_operator, logged_in

BOT = "🤖 Бот: "
WA = "79001234567"
HOOK = "/webhooks/whatsapp"
PAYMENT = "как оплатить заказ?"
PAID = tuple(BOT + text for text in ("Оплатить заказ можно", "Принимаем карты"))  # the answer's variants


async def stored(app: Any, model: Any, *where: Any) -> list[Any]:
    async with state_of(app).db.reader() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def identity(app: Any, wa_id: str = WA) -> ChannelIdentity:
    (found,) = await stored(
        app, ChannelIdentity, ChannelIdentity.channel == "whatsapp", ChannelIdentity.external_id == wa_id
    )
    return found


def channel_of(app: Any) -> WhatsAppChannel:
    channel = state_of(app).router.get("whatsapp")
    assert isinstance(channel, WhatsAppChannel)
    return channel


def said(graph: FakeGraph, text: str) -> bool:
    return any(text in t for t in graph.texts(WA))


async def all_sent(app: Any, graph: FakeGraph) -> None:
    """Wait until every message botdesk stored for the customer has gone out (the replies are sent
    in the background)."""
    for _ in range(250):
        out = await stored(app, Message, Message.sender != Sender.CUSTOMER)
        if len(graph.to(WA)) >= len(out) > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(out)} stored, {len(graph.to(WA))} sent")


async def say(graph: FakeGraph, base: str, payload: dict[str, Any]) -> None:
    answer = await graph.notify(base + HOOK, payload)
    assert answer.status_code == 200, answer.text


async def hand_off_to_anna(graph: FakeGraph, app: Any, base: str, panel: httpx.AsyncClient) -> int:
    """The customer asks for a person; Anna takes the dialogue in the panel; returns the ticket."""
    await say(graph, base, graph.text(WA, "позовите оператора"))
    await graph.wait(lambda: said(graph, "очеред"))
    queue = (await panel.get("/api/queue")).json()
    (waiting,) = queue["waiting"]
    assert waiting["channel"] == "whatsapp" and waiting["customer_name"] == "Иван Петров"
    ticket = int(waiting["ticket_id"])
    assert (await panel.post(f"/api/tickets/{ticket}/claim")).status_code == 200
    await graph.wait(lambda: said(graph, "Анна (оператор) подключилась к чату."))
    return ticket


async def test_end_to_end_faq_answer_handoff_operator_reply_and_the_24_hour_refusal(
    whatsapp_env: FakeGraph, make_app: AppFactory, clock: Clock
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        # A FAQ answer, labelled as the bot's, with the survey's buttons.
        await say(graph, base, graph.text(WA, PAYMENT))
        await graph.wait(lambda: said(graph, "Ответ помог?"))
        assert all(text.startswith(BOT) for text in graph.texts(WA))
        assert any(text.startswith(PAID) for text in graph.texts(WA))
        question = graph.to(WA)[-1]
        assert question.kind == "interactive" and question.buttons == [("/affirm", "Да"), ("/deny", "Нет")]
        (customer,) = await stored(app, Customer, Customer.id == (await identity(app)).customer_id)
        assert customer.display_name == "Иван Петров"
        assert (customer.phone, customer.phone_verified) == (f"+{WA}", True)  # WhatsApp vouches for it

        # "позовите оператора": the operator queue; Anna answers from the panel.
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:
            ticket = await hand_off_to_anna(graph, app, base, panel)
            reply = f"/api/tickets/{ticket}/reply"
            answer = await panel.post(reply, json={"text": "Здравствуйте! Сейчас посмотрю ваш заказ."})
            assert answer.status_code == 200, answer.text
            await graph.wait(lambda: "Анна: Здравствуйте! Сейчас посмотрю ваш заказ." in graph.texts(WA))

        # 25 hours later WhatsApp takes only templates: the panel says so, nothing is stored or sent.
        clock.now += timedelta(hours=25)
        async with logged_in(base, "anna") as panel:  # the panel's session has expired meanwhile
            before = len(graph.sent)
            refused = await panel.post(reply, json={"text": "Вы ещё здесь?"})
            assert refused.status_code == 409
            detail = refused.json()["detail"]
            assert detail.startswith(
                "Не отправлено: клиент последний раз писал в WhatsApp более 24 часов назад"
            )
            assert "шаблоны" in detail
            assert await stored(app, Message, Message.text == "Вы ещё здесь?") == []
            assert len(graph.sent) == before

            # The customer writes again: the window opens, the reply goes out.
            await say(graph, base, graph.text(WA, "я тут"))
            answer = await panel.post(reply, json={"text": "Вы ещё здесь?"})
            assert answer.status_code == 200, answer.text
            await graph.wait(lambda: "Анна: Вы ещё здесь?" in graph.texts(WA))
        assert graph.invalid == []  # nothing WhatsApp would have refused


async def test_the_refusal_is_in_the_operators_language(
    whatsapp_env: FakeGraph, make_app: AppFactory, clock: Clock
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:
            assert (
                await panel.put("/api/me/settings", json={"display_name": "Анна", "language": "en"})
            ).status_code == 200
            ticket = await hand_off_to_anna(graph, app, base, panel)
            assert (await panel.post(f"/api/tickets/{ticket}/reply", json={"text": "One moment"})).is_success
            clock.now += timedelta(hours=24, seconds=1)  # an unanswered ticket would be back in the queue
        async with logged_in(base, "anna") as panel:
            refused = await panel.post(f"/api/tickets/{ticket}/reply", json={"text": "Hello?"})
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            "Not sent: the customer last wrote in WhatsApp more than 24 hours ago. Outside this window "
            "WhatsApp lets a business send only approved message templates; the customer has to write first."
        )


async def test_failed_status_131047_refuses_the_next_reply_like_the_window(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:
            ticket = await hand_off_to_anna(graph, app, base, panel)
            reply = f"/api/tickets/{ticket}/reply"
            assert (await panel.post(reply, json={"text": "Минуту"})).status_code == 200
            await graph.wait(lambda: "Анна: Минуту" in graph.texts(WA))
            sent = graph.to(WA)[-1]
            for status in ("sent", "delivered", "read"):
                await say(graph, base, graph.status(sent, status))
            # WhatsApp counts the window from its own clock, and says so afterwards.
            await say(graph, base, graph.status(sent, "failed", (131047, "Re-engagement message")))
            refused = await panel.post(reply, json={"text": "Вы тут?"})
            assert refused.status_code == 409 and "шаблоны" in refused.json()["detail"]
            metrics = (await panel.get("/metrics")).text
        for event, count in (("status_delivered", 1), ("status_read", 1), ("failed_window_closed", 1)):
            line = f'botdesk_channel_events_total{{channel="whatsapp",event="{event}"}} {count}.0'
            assert line in metrics, event
        assert WA not in metrics


async def test_rate_limit_is_waited_out_and_nothing_is_lost(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    async with serve(make_app()) as (base, _):
        graph.fail_next(400, 130429, "Rate limit hit")
        await say(graph, base, graph.text(WA, PAYMENT))
        await graph.wait(lambda: said(graph, "Ответ помог?"))
        texts = graph.texts(WA)
        assert texts[0].startswith(BOT + "Здравствуйте!")  # the refused message, sent again
        assert graph.attempts[WA] == len(graph.sent) + 1


async def test_undeliverable_number_is_marked_unreachable_without_a_retry_storm(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        await say(graph, base, graph.text(WA, "привет"))
        await all_sent(app, graph)
        before = graph.attempts[WA]
        graph.fail_next(400, 131026, "Message undeliverable", times=20)
        await say(graph, base, graph.text(WA, PAYMENT))
        for _ in range(100):
            if not (await identity(app)).reachable:
                break
            await asyncio.sleep(0.02)
        assert not (await identity(app)).reachable
        await asyncio.sleep(0.3)
        (question,) = await stored(app, Message, Message.text == PAYMENT)
        answers = await stored(app, Message, Message.sender == Sender.BOT, Message.id > question.id)
        assert answers  # stored, undelivered
        assert graph.attempts[WA] - before == len(answers)  # one attempt per message: no retry storm
        assert await stored(app, OutboxItem) == []  # and nothing waits to be sent again

        graph.failures.clear()
        await say(graph, base, graph.text(WA, "а так?"))  # they write again: reachable again
        await graph.wait(lambda: len(graph.to(WA)) > 1)
        assert (await identity(app)).reachable


async def test_a_platform_that_is_down_parks_the_reply_and_it_goes_out_later(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        await say(graph, base, graph.text(WA, "привет"))
        await all_sent(app, graph)
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:
            ticket = await hand_off_to_anna(graph, app, base, panel)
            graph.fail_next(503, 2, "Service temporarily unavailable")
            answer = await panel.post(f"/api/tickets/{ticket}/reply", json={"text": "Секунду, проверяю."})
            assert answer.status_code == 200  # stored; the channel delivers it when it can
        await graph.wait(
            lambda: "Анна: Секунду, проверяю." in graph.texts(WA)
        )  # the operator service's retry
        assert graph.texts(WA).count("Анна: Секунду, проверяю.") == 1


async def test_a_customers_photo_is_stored_and_operators_open_it_through_the_server(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    picture = b"\xff\xd8\xff fake jpeg bytes"
    async with serve(app) as (base, _):
        payload = graph.image(WA, picture, caption=None)
        await say(graph, base, payload)
        await graph.wait(lambda: said(graph, "понимаю только текст"))
        answer = graph.to(WA)[-1]
        assert any(key == "/human_request" for key, _ in answer.buttons)  # "call an operator"
        media_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
        (message,) = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        (attachment,) = message.attachments
        assert message.text == "" and attachment["type"] == "image" and attachment["file_id"] == media_id
        assert attachment["url"] == f"/api/files/whatsapp/{media_id}"

        async with httpx.AsyncClient(base_url=base) as anonymous:
            assert (await anonymous.get(attachment["url"])).status_code == 401
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:
            got = await panel.get(attachment["url"])
            assert got.status_code == 200 and got.content == picture
            assert got.headers["content-type"] == "image/jpeg"
            assert graph.token not in got.text and graph.token not in str(got.headers)
            assert graph.downloads == [media_id]  # fetched from WhatsApp with the token, only when asked
            assert (await panel.get("/api/files/whatsapp/123456789")).status_code == 404  # nobody sent it
            del graph.media[media_id]  # WhatsApp keeps media for 30 days
            assert (await panel.get(attachment["url"])).status_code == 404


async def test_a_document_keeps_its_name_and_a_caption_is_the_text(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        await say(graph, base, graph.document(WA, b"%PDF-1.4 receipt", "чек.pdf"))
        await say(graph, base, graph.image(WA, b"\xff\xd8\xff", caption="как оплатить заказ?"))
        await graph.wait(lambda: said(graph, "Ответ помог?"))  # the caption was read as the question
        document, photo = await stored(app, Message, Message.sender == Sender.CUSTOMER)
        assert document.attachments[0]["file_name"] == "чек.pdf"
        assert document.attachments[0]["mime_type"] == "application/pdf"
        assert photo.text == "как оплатить заказ?"


async def test_pictures_go_out_by_link_or_uploaded(whatsapp_env: FakeGraph, make_app: AppFactory) -> None:
    graph = whatsapp_env
    app = make_app()
    graph.pictures["bike.png"] = ("image/png", b"\x89PNG fake picture")
    async with serve(app) as (base, _):
        await say(graph, base, graph.text(WA, "привет"))
        await all_sent(app, graph)
        (conversation_id,) = {m.conversation_id for m in await stored(app, Message)}
        channel = channel_of(app)

        def picture(url: str) -> OutboundMessage:
            return OutboundMessage("whatsapp", WA, conversation_id, "Вот он:", "bot", "🤖 Бот", image=url)

        await channel.send(picture(f"{graph.base_url}/pictures/bike.png"))  # not https: uploaded
        (media_id,) = graph.uploads
        assert graph.media[media_id] == ("image/png", b"\x89PNG fake picture", "picture.png")
        assert graph.to(WA)[-2].text == "🤖 Бот: Вот он:"
        assert graph.to(WA)[-1].payload == {"type": "image", "image": {"id": media_id}}
        await channel.send(picture("https://shop.example/bike.jpg"))  # WhatsApp fetches it itself
        assert graph.to(WA)[-1].payload == {
            "type": "image",
            "image": {"link": "https://shop.example/bike.jpg"},
        }
        assert channel.counters()["media_out"] == 2


async def test_a_list_of_choices_and_a_pressed_row(whatsapp_env: FakeGraph, make_app: AppFactory) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        await say(graph, base, graph.text(WA, "привет"))
        await all_sent(app, graph)
        (conversation_id,) = {m.conversation_id for m in await stored(app, Message)}
        topics = ["Доставка", "Оплата", "Возврат товара", "Адреса магазинов", "Гарантия"]
        buttons = [{"title": t, "payload": "как оплатить заказ?" if t == "Оплата" else t} for t in topics]
        message = OutboundMessage(
            "whatsapp", WA, conversation_id, "О чём рассказать?", "bot", "🤖 Бот", buttons
        )
        await channel_of(app).send(message)
        menu = graph.to(WA)[-1]
        assert menu.payload["interactive"]["type"] == "list"
        assert menu.payload["interactive"]["action"]["button"] == "Выбрать"
        await say(graph, base, graph.button(WA, menu, index=1))  # "Оплата"
        await graph.wait(lambda: any(t.startswith(PAID) for t in graph.texts(WA)))


async def test_a_token_meta_refuses_stops_the_start(
    whatsapp_env: FakeGraph, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHATSAPP_TOKEN", "EAAexpiredTOKEN0000000000")
    app = make_app()
    with pytest.raises(ConfigError, match="Meta refused WHATSAPP_TOKEN"):
        async with app.router.lifespan_context(app):
            pass
    assert whatsapp_env.unauthorized >= 1


async def test_a_long_operator_reply_is_split_and_every_part_labelled(
    whatsapp_env: FakeGraph, make_app: AppFactory
) -> None:
    graph = whatsapp_env
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:
            ticket = await hand_off_to_anna(graph, app, base, panel)
            paragraphs = [f"Пункт {i}: " + "подробности " * 60 for i in range(6)]
            text = "\n\n".join(p.strip() for p in paragraphs)[:4096]
            assert (await panel.post(f"/api/tickets/{ticket}/reply", json={"text": text})).status_code == 200
        await graph.wait(lambda: sum(t.startswith("Анна: ") for t in graph.texts(WA)) >= 2)
        parts = [t for t in graph.texts(WA) if t.startswith("Анна: ")]
        assert len(parts) == 2 and parts[1].removeprefix("Анна: ").startswith("Пункт")
        assert " ".join(p.removeprefix("Анна: ") for p in parts).split() == text.split()
        assert graph.invalid == []
