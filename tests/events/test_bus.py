"""Live events: what an operator's panel learns without a reload, in the order it happened."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.conversation import ConversationService
from bot.events import Event, EventBus
from bot.messages import InboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, create_operator
from handoff.service import OperatorService


def drain(subscription: object) -> list[Event]:
    queue = subscription._queue  # type: ignore[attr-defined]
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


async def test_a_handoff_is_announced_step_by_step(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    bus = EventBus()
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # noon in Moscow: operators on duty
    engine = trained_ru.engine(seed=0)
    customers = ConversationService(
        trained_ru.config, db.turns, lambda: ru_pipeline, engine, clock=lambda: now, events=bus
    )
    operators = OperatorService(trained_ru.config, db, engine, clock=lambda: now, events=bus)
    async with db.session() as session:
        anna = (await create_operator(session, "anna", "Анна")).id
        await session.commit()

    with bus.subscribe() as events:
        handled = await customers.handle(InboundMessage("web", "v1", "позовите оператора"))
        first = drain(events)
        assert [e.kind for e in first][:2] == ["message", "message"]
        assert first[0].data["sender"] == "customer"
        assert first[0].data["text"] == "позовите оператора"
        assert first[0].data["intent"] == "human_request"
        assert first[-1].kind == "ticket" and first[-1].data["status"] == "queued"
        ticket = first[-1].data["ticket_id"]
        assert ticket == handled.ticket_id

        assert await operators.claim(ticket, anna)
        claimed = drain(events)
        joined = [e for e in claimed if e.kind == "message"]
        assert joined and joined[0].data["sender"] == "system" and "Анна" in joined[0].data["text"]
        assert claimed[-1].kind == "ticket" and claimed[-1].data["status"] == "claimed"
        assert claimed[-1].data["operator_id"] == anna

        await customers.handle(InboundMessage("web", "v1", "у меня сломался руль"))
        silent = drain(events)  # the bot is silent, but the operator sees the message at once
        assert [(e.kind, e.data["sender"]) for e in silent] == [("message", "customer")]

        await operators.reply(ticket, anna, "Сейчас разберёмся")
        assert [e.data.get("sender_name") for e in drain(events)] == ["Анна"]

        assert await operators.return_to_bot(ticket, anna)
        assert drain(events)[-1].data["status"] == "returned"
    assert bus.subscribers == 0


async def test_a_slow_listener_loses_the_oldest_events_not_the_newest() -> None:
    bus = EventBus(queue_limit=3)
    with bus.subscribe() as slow, bus.subscribe() as fast:
        for n in range(5):
            bus.emit("message", 1, n=n)
        assert [e.data["n"] for e in drain(slow)] == [2, 3, 4]
        assert slow.lost == 2
        assert (await fast.get()).data["n"] == 2
