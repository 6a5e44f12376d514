"""Issue 22, end to end: a VK customer gets a bot-labelled FAQ answer, asks for a person, lands in the
one operator queue beside a web customer, and the operator's answer from the panel reaches VK.

botdesk runs under uvicorn in callback mode; the fake VK POSTs events to /webhooks/vk with the
secret key as VK does, and records messages.send. The operator works through the panel's HTTP API.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bot.project import Project
from tests.channels.vk.fake_vk import SLOW_MACHINE, FakeVk
from tests.helpers.server import AppFactory, project_with, serve
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in

BOT = "🤖 Бот: "
IVAN = 5550001
ANSWERS = ("Оплатить заказ можно", "Принимаем карты")  # the payment answer's two variants


@pytest.fixture
def callback_project(trained_ru: Project, tmp_path: Path) -> Project:
    return project_with(
        trained_ru, tmp_path / "vk-bot", {"\nchannels:\n": "\nchannels:\n  vk:\n    mode: callback\n"}
    )


async def test_vk_customer_gets_the_bot_then_an_operator_from_the_shared_queue(
    vk_env: FakeVk, make_app: AppFactory, callback_project: Project
) -> None:
    fake = vk_env
    fake.user(IVAN, "Иван", "Петров")
    app = make_app(callback_project)
    async with serve(app) as (base, _):
        webhook = f"{base}/webhooks/vk"

        # The bot answers the FAQ, labelled as the bot.
        answer = await fake.callback(webhook, fake.text(IVAN, "как оплатить заказ?"))
        assert (answer.status_code, answer.text) == (200, "ok")
        await fake.wait(lambda: any(t.startswith(tuple(BOT + a for a in ANSWERS)) for t in fake.texts(IVAN)))
        assert all(t.startswith(BOT) for t in fake.texts(IVAN))

        # "позовите оператора": into the same queue as a customer from the site.
        async with httpx.AsyncClient(base_url=base) as web:
            await ask_for_a_person(web, "site-visitor-1")
        assert (await fake.callback(webhook, fake.text(IVAN, "позовите оператора"))).text == "ok"
        await fake.wait(lambda: any("очеред" in t for t in fake.texts(IVAN)))

        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as anna:
            anna.timeout = SLOW_MACHINE
            queue = (await anna.get("/api/queue")).json()
            channels = {entry["channel"]: entry for entry in queue["waiting"]}
            assert set(channels) == {"rest", "vk"}
            vk_ticket = channels["vk"]
            assert vk_ticket["customer_name"] == "Иван Петров"
            assert vk_ticket["last_customer_message"] == "позовите оператора"

            claimed = await anna.post(f"/api/tickets/{vk_ticket['ticket_id']}/claim")
            assert claimed.status_code == 200
            await fake.wait(lambda: BOT + "Анна (оператор) подключилась к чату." in fake.texts(IVAN))
            replied = await anna.post(
                f"/api/tickets/{vk_ticket['ticket_id']}/reply",
                json={"text": "Здравствуйте! Сейчас посмотрю."},
            )
            assert replied.status_code == 200, replied.text

            # The operator's answer arrives in VK, under her name, through messages.send.
            await fake.wait(lambda: "Анна: Здравствуйте! Сейчас посмотрю." in fake.texts(IVAN))
            (sent,) = [c for c in fake.sent(peer_id=IVAN) if c.params["message"].startswith("Анна:")]
            assert int(sent.params["random_id"]) > 0

            # The customer's answer reaches the operator ("ok" means stored); the bot stays out of it.
            before = len(fake.texts(IVAN))
            assert (await fake.callback(webhook, fake.text(IVAN, "заказ 12345"))).text == "ok"
            shown = (await anna.get(f"/api/conversations/{vk_ticket['conversation_id']}")).json()
            assert shown["conversation"]["channel"] == "vk"
            assert shown["customer"]["channels"] == [
                {"channel": "vk", "external_id": str(IVAN), "reachable": True}
            ]
            texts = [m["text"] for m in shown["history"]]
            assert texts[-1] == "заказ 12345" and "Здравствуйте! Сейчас посмотрю." in texts
            await asyncio.sleep(0.2)
            assert len(fake.texts(IVAN)) == before
