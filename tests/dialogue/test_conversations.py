"""Whole conversations through the real NLU and dialogue engine (no storage needed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.state import DialogueState, TurnResult
from bot.nlu.pipeline import Pipeline
from bot.project import Project

DAYTIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 12:00 in Moscow: operators on duty
NIGHT = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # Wednesday 02:00 in Moscow


class ChatBot:
    """Push a message, read the replies — the errbot-style test backend."""

    def __init__(self, project: Project, pipeline: Pipeline, now: datetime = DAYTIME) -> None:
        self.engine: DialogueEngine = project.engine(seed=1)
        self.pipeline = pipeline
        self.state = DialogueState()
        self.now = now

    def say(self, text: str) -> TurnResult:
        return asyncio.run(self.engine.handle(self.state, self.pipeline.parse(text), self.now))

    @staticmethod
    def texts(result: TurnResult) -> str:
        return "\n".join(reply.text for reply in result.replies)


@pytest.fixture
def bot(trained_ru: Project, ru_pipeline: Pipeline) -> ChatBot:
    return ChatBot(trained_ru, ru_pipeline)


def test_first_message_introduces_the_bot_then_answers(bot: ChatBot) -> None:
    result = bot.say("сколько стоит доставка?")
    assert result.replies[0].text.startswith("Здравствуйте! Я бот-помощник")
    assert "оператор" in result.replies[0].text
    assert "390" in bot.texts(result)  # the delivery answer itself
    second = bot.say("а где вы находитесь?")
    assert all(r.response != "introduction" for r in second.replies), "introduced only once"


def test_faq_answer_asks_for_feedback_and_no_escalates(bot: ChatBot) -> None:
    result = bot.say("как вернуть товар?")
    assert result.replies[-1].response == "utter_ask_feedback"
    result = bot.say("нет")
    assert result.escalation is not None and result.escalation.reason == "did_not_help"
    assert result.replies[-1].response == "utter_handoff_queued"


def test_feedback_yes_is_thanked(bot: ChatBot) -> None:
    bot.say("как вернуть товар?")
    result = bot.say("да, спасибо помогло")
    assert result.escalation is None


def test_buying_interest_offers_a_contact_but_never_first(bot: ChatBot) -> None:
    first = bot.say("привет")
    assert all(r.response != "utter_offer_lead" for r in first.replies)
    result = bot.say("сколько стоит велосипед?")
    assert result.replies[-1].response == "utter_offer_lead"
    declined = bot.say("нет")
    assert declined.replies[-1].response == "utter_offer_declined"
    again = bot.say("а есть ли в наличии самокаты?")
    assert all(r.response != "utter_offer_lead" for r in again.replies), "offered once per conversation"


def test_lead_form_with_consent(bot: ChatBot) -> None:
    bot.say("сколько стоит велосипед?")
    assert bot.say("да").replies[-1].response == "utter_ask_name"
    assert bot.say("Анна").replies[-1].response == "utter_ask_phone"
    wrong = bot.say("12")
    assert [r.response for r in wrong.replies] == ["utter_invalid_phone", "utter_ask_phone"]
    assert bot.say("8 (912) 345-67-89").replies[-1].response == "utter_ask_consent"
    done = bot.say("да")
    assert done.lead is not None
    assert (done.lead.name, done.lead.phone, done.lead.consent, done.lead.kind) == (
        "Анна",
        "+79123456789",
        True,
        "lead",
    )
    assert "price_request" in done.lead.interest
    assert "Анна" in bot.texts(done) and "+79123456789" in bot.texts(done)
    assert "phone" not in bot.state.tracker.slots, "the dialogue forgets the number once the card has it"


def test_declined_consent_keeps_nothing(bot: ChatBot) -> None:
    bot.say("перезвоните мне пожалуйста")
    bot.say("Иван")
    bot.say("+7 912 345 67 89")
    result = bot.say("нет")
    assert result.lead is None
    assert result.replies[-1].response == "utter_lead_declined"
    assert result.forget_form_answers, "the store is told to blank the answers it logged"
    dump = str(bot.state.to_dict())
    assert "Иван" not in dump and "912" not in dump


def test_callback_request_starts_the_form_directly(bot: ChatBot) -> None:
    result = bot.say("перезвоните мне пожалуйста")
    assert result.replies[-1].response == "utter_ask_name"
    bot.say("Пётр")
    bot.say("89123456789")
    done = bot.say("согласен")
    assert done.lead is not None and done.lead.kind == "callback"


def test_after_hours_says_when_and_offers_a_call_back(trained_ru: Project, ru_pipeline: Pipeline) -> None:
    bot = ChatBot(trained_ru, ru_pipeline, NIGHT)
    result = bot.say("позовите оператора")
    assert result.escalation is not None and result.after_hours
    assert "сегодня в 09:00" in bot.texts(result)
    assert result.opening is not None and result.opening.hour == 9
    assert bot.say("да").replies[-1].response == "utter_ask_name"


def test_after_hours_never_insists(trained_ru: Project, ru_pipeline: Pipeline) -> None:
    bot = ChatBot(trained_ru, ru_pipeline, NIGHT)
    bot.say("позовите оператора")
    result = bot.say("нет")
    assert result.replies[-1].response == "utter_offer_declined"
    assert bot.state.tracker.active_loop is None


def test_complaint_escalates_with_priority(bot: ChatBot) -> None:
    result = bot.say("это безобразие, привезли сломанный велосипед, я очень недоволен")
    assert result.escalation is not None
    assert (result.escalation.reason, result.escalation.priority) == ("complaint", 10)


def test_human_only_intent(bot: ChatBot) -> None:
    result = bot.say("хочу отменить заказ")
    assert result.escalation is not None and result.escalation.reason == "human_only"


def test_not_understood_twice(bot: ChatBot) -> None:
    first = bot.say("фыва олдж ячсмит")
    assert first.escalation is None and first.replies[-1].response == "fallback"
    second = bot.say("пролдж ывапр")
    assert second.escalation is not None and second.escalation.reason == "two_stage_fallback"


def test_repeated_question(bot: ChatBot) -> None:
    bot.say("как оформить возврат товара?")
    bot.say("ок")
    result = bot.say("так как вернуть товар??")
    assert result.escalation is not None and result.escalation.reason == "repeated_question"


def test_story_context(bot: ChatBot) -> None:
    bot.say("сколько стоит доставка?")
    result = bot.say("спасибо")
    assert result.actions == ["utter_thanks"]


def test_same_conversation_same_answers(trained_ru: Project, ru_pipeline: Pipeline) -> None:
    script = ["привет", "сколько стоит велосипед", "да", "Анна", "89123456789", "да", "спасибо"]
    runs = []
    for _ in range(2):
        bot = ChatBot(trained_ru, ru_pipeline)
        runs.append([[r.text for r in bot.say(line).replies] for line in script])
    assert runs[0] == runs[1]


def test_state_survives_a_restart(bot: ChatBot, trained_ru: Project, ru_pipeline: Pipeline) -> None:
    bot.say("сколько стоит велосипед?")
    bot.say("да")
    bot.say("Анна")
    restored = ChatBot(trained_ru, ru_pipeline)
    restored.state = DialogueState.from_dict(bot.state.to_dict())
    assert restored.say("89123456789").replies[-1].response == "utter_ask_consent"
