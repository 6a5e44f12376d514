"""The inbox from a recorded log: the real NLU, dialogue, operator service and store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.conversation import ConversationService
from bot.conversation.story_runner import run_stories
from bot.dialogue.test_stories import load_test_stories
from bot.editor.inbox import inbox
from bot.editor.stories import append_story, conversation_steps, record_story
from bot.kpis import Filters, kpi_report, period_for
from bot.messages import InboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, create_operator
from handoff.service import OperatorService

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: operators on duty


async def _nothing(message: Any) -> None:
    return None


class Log:
    """Customers and an operator, through the real services."""

    def __init__(self, project: Project, pipeline: Pipeline, db: Database) -> None:
        engine = project.engine(seed=0)
        self.customers = ConversationService(
            project.config, db.turns, lambda: pipeline, engine, clock=lambda: NOW
        )
        self.operators = OperatorService(project.config, db, engine, deliver=_nothing, clock=lambda: NOW)

    async def say(self, sender: str, text: str) -> Any:
        return await self.customers.handle(InboundMessage(channel="web", sender_id=sender, text=text))


@pytest.fixture
async def recorded(trained_ru: Project, ru_pipeline: Pipeline, db: Database) -> dict[str, Any]:
    log = Log(trained_ru, ru_pipeline, db)
    async with db.session() as session:
        anna = await create_operator(session, "anna", "Анна")
        await session.commit()
    await log.say("weather", "какая погода завтра")  # not understood
    await log.say("twice", "расскажи анекдот")
    handed = await log.say("twice", "кто выиграл матч")  # twice in a row: a person takes over
    assert handed.ticket_id is not None
    assert await log.operators.claim(handed.ticket_id, anna.id)
    delivery = trained_ru.data.responses["utter_delivery_terms"][0]["text"]
    await log.operators.reply(handed.ticket_id, anna.id, f"Здравствуйте! {delivery}")
    await log.say("no", "какие способы оплаты есть")
    said_no = await log.say("no", "нет")  # "did this answer your question?" -> no
    assert said_no.ticket_id is not None
    await log.say("person", "позовите оператора")  # a person by design: not for the inbox
    await log.say("happy", "сколько стоит доставка по Москве?")  # answered
    await log.say("pii", "мой телефон 89123456789, какая погода в Москве")
    return await inbox(db, trained_ru.config, trained_ru.data.responses, NOW + timedelta(minutes=1))


def by_text(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["text"]: m for g in data["groups"] for m in g["messages"]}


async def test_the_inbox_holds_what_the_bot_did_not_answer_alone(recorded: dict[str, Any]) -> None:
    found = by_text(recorded)
    assert found["какая погода завтра"]["reasons"] == ["fallback"]
    assert found["кто выиграл матч"]["reasons"] == ["fallback", "escalation", "bot_could_answer"]
    assert found["кто выиграл матч"]["could_answer"]["intent"] == "delivery_terms"
    assert found["кто выиграл матч"]["operator_answer"].startswith("Здравствуйте! Курьером")
    assert found["какие способы оплаты есть"]["reasons"] == ["said_no"]
    assert found["какие способы оплаты есть"]["intent"] == "payment_methods"
    assert "мой телефон <phone>, какая погода в Москве" in found  # masked
    assert found["мой телефон <phone>, какая погода в Москве"]["has_personal_data"]
    for answered in ("позовите оператора", "сколько стоит доставка по Москве?", "нет"):
        assert answered not in found
    assert recorded["total"] == len(found)
    context = found["кто выиграл матч"]["context"]
    assert [line["text"] for line in context if line["this"]] == ["кто выиграл матч"]
    assert context[0]["text"] == "расскажи анекдот"


async def test_a_conversation_becomes_a_test_story_that_botdesk_test_passes(
    trained_ru: Project,
    ru_pipeline: Pipeline,
    db: Database,
    recorded: dict[str, Any],
    tmp_path: Any,
) -> None:
    conversation = by_text(recorded)["какие способы оплаты есть"]["conversation_id"]
    at, steps = await conversation_steps(db, conversation, keep_personal_data=False)
    story = await record_story(trained_ru, ru_pipeline, "payment, did not help", at, steps)
    assert story["steps"][:3] == [
        {"user": "какие способы оплаты есть", "intent": "payment_methods"},
        {"action": "utter_payment_methods"},
        {"action": "utter_ask_feedback"},
    ]
    assert story["steps"][3] == {"user": "нет", "intent": "deny"}
    assert story["steps"][4] == {"action": "action_handoff"}
    path = tmp_path / "tests" / "test_stories.yml"
    path.parent.mkdir()
    path.write_text('# my stories\nversion: "3.1"\nstories: []\n', encoding="utf-8")
    text = append_story(path, story)
    assert text.startswith("# my stories\n")
    loaded = load_test_stories([path])
    assert [s.name for s in loaded] == ["payment, did not help"]
    (outcome,) = await run_stories(trained_ru, ru_pipeline, loaded)
    assert outcome.passed, outcome.failures


async def test_form_and_survey_answers_are_not_misunderstood_messages(
    trained_ru: Project, ru_pipeline: Pipeline, db: Database
) -> None:
    """A name, a phone number and a "5" answer the questions the bot asked: understood, so they are
    neither in the editor's inbox nor among the KPIs' unrecognised messages."""
    log = Log(trained_ru, ru_pipeline, db)
    for text in ("перезвоните мне пожалуйста", "Игорь Петрович", "8 912 345-67-89", "согласен"):
        await log.say("lead", text)
    for text in ("какие способы оплаты есть", "да", "5"):
        await log.say("survey", text)
    await log.say("lost", "какая погода завтра")  # really not understood
    found = by_text(await inbox(db, trained_ru.config, trained_ru.data.responses, NOW + timedelta(minutes=1)))
    assert list(found) == ["какая погода завтра"]

    period = period_for(trained_ru.config, NOW.date(), NOW.date(), NOW)
    report = await kpi_report(db, trained_ru.config, period, Filters(), NOW + timedelta(minutes=1))
    assert [row["text"] for row in report["top_unrecognised"]] == ["какая погода завтра"]
