"""JSON columns through orjson: the same values read back, and what orjson refuses still stored."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import select

from bot.store import Conversation, ConversationState, Customer, Database
from bot.store.json_codec import dump_bytes, dumps, loads

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_values_come_back_as_json_dumps_would_give_them() -> None:
    value = {"intent": {"name": "доставка", "confidence": 0.93}, "entities": [], 1: None}
    assert loads(dumps(value)) == {
        "intent": {"name": "доставка", "confidence": 0.93},
        "entities": [],
        "1": None,
    }
    assert "доставка" in dumps(value)  # UTF-8, not \\u-escaped
    assert loads(dumps({"x": math.nan})) == {"x": None}  # valid JSON, which PostgreSQL requires


def test_what_orjson_refuses_falls_back_to_the_standard_library() -> None:
    broken = {"text": "a\udc80b", "big": 2**70}  # a lone surrogate from a broken client; a huge number
    assert loads(dumps(broken)) == broken
    assert loads(dump_bytes(broken)) == broken  # the webhook's answer: bytes that encode cleanly


async def test_a_json_column_keeps_every_value_in_the_database(db: Database) -> None:
    slots = {"city": "Казань", "note": "x\udc80", "n": 2**70, "nested": [1, {"a": True}]}
    async with db.session() as session:
        customer = Customer(display_name="Анна", created_at=NOW)
        session.add(customer)
        await session.flush()
        session.add(
            Conversation(
                customer_id=customer.id,
                channel="web",
                state=ConversationState.BOT,
                slots=slots,
                started_at=NOW,
                updated_at=NOW,
            )
        )
        await session.commit()
    async with db.reader() as session:
        assert (await session.scalars(select(Conversation.slots))).one() == slots
