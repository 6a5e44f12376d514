"""What a Telegram customer sees besides messages: "typing…" while an operator types, and the queue moving.

botdesk under uvicorn, python-telegram-bot talking to the fake Bot API; an operator is at
the panel (presence), so the handoff promises a place in the queue.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from bot.store import Message
from bot.store.waiting import waiting_tickets
from tests.channels.telegram.fake_telegram import FakeTelegram
from tests.helpers.server import AppFactory, serve, state_of
from tests.server.api_helpers import add_operator

IVAN, OLGA = 111222333, 444555666
BOT = "🤖 Бот: "


async def queued(app: Any) -> dict[int, int]:
    """Telegram chat id -> ticket id of everyone waiting."""
    async with state_of(app).db.reader() as session:
        waiting = await waiting_tickets(session, now=state_of(app).operators.clock())
    return {int(item.recipient_id): item.ticket_id for item in waiting}


async def stored(app: Any, text: str) -> bool:
    async with state_of(app).db.reader() as session:
        return bool(await session.scalar(select(func.count(Message.id)).where(Message.text == text)))


async def test_an_operator_typing_shows_typing_in_the_customers_chat(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app):
        anna = await add_operator(app, "anna", name="Анна")
        state_of(app).presence.connect(anna, online=True, department=None)
        fake.text(IVAN, "позовите оператора")
        await fake.wait(lambda: any("1-й в очереди" in t for t in fake.texts(IVAN)))
        ticket = (await queued(app))[IVAN]
        operators = state_of(app).operators
        assert not await operators.typing(ticket, anna, True)  # not hers yet: nothing is shown
        assert fake.sent("sendChatAction") == []
        assert await operators.claim(ticket, anna)

        assert await operators.typing(ticket, anna, True)
        assert await operators.typing(ticket, anna, True)  # Telegram shows it for 5 s: sent once
        await fake.wait(lambda: len(fake.sent("sendChatAction", IVAN)) == 1)
    (call,) = fake.sent("sendChatAction", IVAN)
    assert call.params["action"] == "typing"


async def test_a_waiting_customer_hears_when_they_are_next_but_not_every_step(
    telegram_env: FakeTelegram, make_app: AppFactory
) -> None:
    fake = telegram_env
    app = make_app()
    async with serve(app):
        anna = await add_operator(app, "anna", name="Анна")
        state_of(app).presence.connect(anna, online=True, department=None)
        fake.text(IVAN, "позовите оператора")
        await fake.wait(lambda: any("1-й в очереди" in t for t in fake.texts(IVAN)))
        fake.text(OLGA, "позовите оператора")
        await fake.wait(lambda: any("2-й в очереди" in t for t in fake.texts(OLGA)))

        fake.text(OLGA, "я тут")  # a message while waiting: acknowledged, with the place
        await fake.wait(
            lambda: any(
                t.startswith(BOT + "Ваше сообщение передано оператору, вы 2-й") for t in fake.texts(OLGA)
            )
        )
        fake.text(OLGA, "ау")  # the same place: not said again
        while not await stored(app, "ау"):
            await asyncio.sleep(0.02)
        told = len(fake.texts(OLGA))

        tickets = await queued(app)
        assert await state_of(app).operators.claim(tickets[IVAN], anna)
        await fake.wait(lambda: any("Очередь движется: вы 1-й" in t for t in fake.texts(OLGA)))
    assert fake.texts(OLGA)[told:] == [BOT + "Очередь движется: вы 1-й, примерное ожидание — 3 мин."]
    assert sum("Ваше сообщение передано" in t for t in fake.texts(OLGA)) == 1
