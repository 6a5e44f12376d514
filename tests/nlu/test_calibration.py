"""Confidence keeps its meaning as intents are added: the softmax's temperature is fitted
to the bot's own out-of-fold scores, so right answers stay confident with 5 or 23 intents."""

from __future__ import annotations

import numpy as np

from bot.nlu.data import TrainingData
from bot.nlu.pipeline import Pipeline
from bot.project import Project


def _held_out_confidence(project: Project, intents: list[str]) -> float:
    data = project.data
    keep = [i for i, e in enumerate(data.examples) if e.intent in intents]
    held = keep[::5]
    train = TrainingData(examples=[data.examples[i] for i in keep if i not in set(held)])
    pipeline = Pipeline(project.config.language, project.config.pipeline)
    pipeline.train(train)
    messages = pipeline.parse_many([data.examples[i].text for i in held])
    right = [
        m.ranking[0].confidence
        for m, i in zip(messages, held, strict=True)
        if m.ranking[0].name == data.examples[i].intent
    ]
    return float(np.mean(right))


def test_confidence_does_not_shrink_with_more_intents(ru_project: Project) -> None:
    few = ["greet", "thanks", "delivery_terms", "order_status", "payment_methods"]
    all_intents = ru_project.data.intents
    small = _held_out_confidence(ru_project, few)
    large = _held_out_confidence(ru_project, all_intents)
    # A softmax with a fixed temperature would spread the same mass over 23 instead of 5 classes.
    assert large > 0.75 and small > 0.75
    assert abs(large - small) < 0.15, (small, large)


def test_per_intent_threshold(ru_project: Project) -> None:
    specs = [
        s if s.name != "FallbackClassifier" else s.model_copy(update={"intent_thresholds": {"greet": 1.01}})
        for s in ru_project.config.pipeline
    ]
    pipeline = Pipeline("ru", specs)
    pipeline.train(ru_project.data)
    message = pipeline.parse("привет")
    assert message.intent is not None and message.intent.name == "nlu_fallback"
    assert message.fallback_reason == "low_confidence"
    assert message.ranking[0].name == "greet"
