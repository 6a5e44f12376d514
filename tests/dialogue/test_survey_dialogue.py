"""The survey in the dialogue engine: once per dialogue, "yes" then an optional score, in ru and en."""

from __future__ import annotations

import pytest

from bot.nlu.pipeline import Pipeline
from bot.project import Project
from tests.dialogue.test_conversations import ChatBot


@pytest.fixture
def bot(trained_ru: Project, ru_pipeline: Pipeline) -> ChatBot:
    return ChatBot(trained_ru, ru_pipeline)


def test_asked_once_then_a_score_is_taken(bot: ChatBot) -> None:
    first = bot.say("как вернуть товар?")
    assert first.survey_asked and first.replies[-1].response == "utter_ask_feedback"
    yes = bot.say("да")
    assert yes.feedback is True
    assert [r.response for r in yes.replies] == ["utter_feedback_thanks", "utter_ask_score"]
    assert [b["payload"] for b in yes.replies[-1].buttons] == ["1", "2", "3", "4", "5"]
    score = bot.say("4")
    assert score.score == 4 and score.replies[-1].response == "utter_score_thanks"
    later = bot.say("какие способы оплаты есть?")
    assert not later.survey_asked and "utter_ask_feedback" not in [r.response for r in later.replies]


def test_a_number_that_is_not_a_score_is_an_ordinary_message(bot: ChatBot) -> None:
    bot.say("как вернуть товар?")
    bot.say("да")
    result = bot.say("10")
    assert result.score is None and result.replies[-1].response != "utter_score_thanks"


def test_a_score_is_not_taken_when_none_was_asked(bot: ChatBot) -> None:
    assert bot.say("5").score is None


def test_no_is_recorded_and_escalates(bot: ChatBot) -> None:
    bot.say("как вернуть товар?")
    result = bot.say("нет")
    assert result.feedback is False
    assert result.escalation is not None and result.escalation.reason == "did_not_help"


def test_english_bot_asks_in_english(trained_en: Project, en_pipeline: Pipeline) -> None:
    bot = ChatBot(trained_en, en_pipeline)
    first = bot.say("how do I return an item?")
    assert first.replies[-1].text == "Did this answer your question?"
    yes = bot.say("yes")
    assert yes.feedback is True and yes.replies[-1].text == "If you like, rate it from 1 to 5:"
    assert bot.say("5").replies[-1].text == "Thanks for the rating!"
