"""`language: en` works as well as Russian: the English example bot."""

from __future__ import annotations

import pytest

from bot.nlu.evaluate import cross_validate, summarise
from bot.nlu.pipeline import Pipeline
from bot.project import Project


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hi there!", "greet"),
        ("how much is shipping to Boston?", "delivery_terms"),
        ("where is my order 1234567", "order_status"),
        ("can i pay with paypal", "payment_methods"),
        ("are you a robot?", "bot_challenge"),
        ("let me talk to a real person", "human_request"),
        ("thx a lot!!!", "thanks"),
        ("i want to return the helmet, how?", "return_policy"),
        ("what time do you open on sunday", "working_hours"),
        ("plz cancel my order", "order_cancel"),
    ],
)
def test_english_messages(en_pipeline: Pipeline, text: str, intent: str) -> None:
    message = en_pipeline.parse(text)
    assert message.intent is not None and message.intent.name == intent, message.ranking[:3]


def test_english_entities(en_pipeline: Pipeline) -> None:
    entities = {
        (e.entity, e.value) for e in en_pipeline.parse("ship to Chicago by courier, order 7654321").entities
    }
    assert ("city", "Chicago") in entities
    assert ("order_number", "7654321") in entities
    assert ("delivery_method", "courier") in entities


def test_english_cross_validation(en_project: Project) -> None:
    predictions, _ = cross_validate("en", en_project.config.pipeline, en_project.data, folds=5)
    result = summarise("cv", predictions, 0.0, 0.0)
    assert result.top1_accuracy >= 0.9, result.top1_accuracy


def test_english_lookup_matches_on_stems(en_pipeline: Pipeline) -> None:
    """Lookup entries are stemmed like the message ("Angeles" -> "angel"), so they still match."""
    entities = {(e.entity, e.value) for e in en_pipeline.parse("do you deliver to Los Angeles?").entities}
    assert ("city", "Los Angeles") in entities
