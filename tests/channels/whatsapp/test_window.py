"""The 24-hour window read from the store (SQLite and PostgreSQL): the customer's last message counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.channels.whatsapp import ServiceWindows
from bot.messages import InboundMessage
from bot.store import Database

WA = "79001234567"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def customer_writes(
    db: Database, sender: str, text: str, at: datetime, *, bot_answers: bool = False
) -> None:
    async with db.turns.transaction() as turn:
        entered = await turn.enter(
            InboundMessage("whatsapp", sender, text, message_id=f"wamid.{sender}.{at.timestamp()}"),
            nlu=None,
            model_version=None,
            language="ru",
            now=at,
        )
        if bot_answers:
            await turn.say(entered.conversation_id, ["🤖 ответ"], at + timedelta(hours=2))
        await turn.commit()


async def test_the_window_follows_the_customers_last_message(db: Database) -> None:
    clock = Clock()
    windows = ServiceWindows(db, clock, "whatsapp")
    assert not await windows.is_open(WA)  # never wrote: only templates

    await customer_writes(db, WA, "привет", START, bot_answers=True)
    clock.now = START + timedelta(hours=23, minutes=59)
    assert await windows.is_open(WA)
    clock.now = START + timedelta(hours=24, minutes=1)
    assert not await windows.is_open(WA)  # our own later messages do not reopen it

    await customer_writes(db, "79009999999", "а я?", clock.now)  # another customer's message
    assert not await windows.is_open(WA)
    await customer_writes(db, WA, "я снова тут", clock.now)
    assert await windows.is_open(WA)

    windows.closed(WA)  # WhatsApp said 131047 after all
    assert not await windows.is_open(WA)
    clock.now += timedelta(minutes=1)
    await customer_writes(db, WA, "и ещё", clock.now)
    assert await windows.is_open(WA)
