"""The NLU on hostile text: whatever a customer sends, parse answers with a ranked, bounded result.

The store refuses most of this before the NLU sees it; the pipeline must not rely on
that (``botdesk nlu parse`` and evaluation call it directly).
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, example, given, settings

from bot.nlu.base import FALLBACK_INTENT
from bot.nlu.pipeline import Pipeline, is_fallback
from tests.security.hostile import ONE_MEGABYTE, WHITESPACE, hostile_text

BOUNDED = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(text=hostile_text)
@example(text="\ud800")  # a lone surrogate: broken UTF-16 from a client
@example(text="доставка \udfff завтра")
@example(text="я\U00017000")  # a letter unicodedata has no name for: pymorphy3 raised ValueError
@example(text="\x00" * 64)
@example(text="я" * ONE_MEGABYTE)
@example(text="")
def test_parse_never_crashes_and_answers_a_known_intent(ru_pipeline: Pipeline, text: str) -> None:
    message = ru_pipeline.parse(text)
    known = set(ru_pipeline.intents) | {FALLBACK_INTENT}
    assert message.text == text
    if message.intent is not None:
        assert message.intent.name in known
        assert 0.0 <= message.intent.confidence <= 1.0 and not math.isnan(message.intent.confidence)
    confidences = [score.confidence for score in message.ranking]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert confidences == sorted(confidences, reverse=True), "the ranking is best first"
    assert {score.name for score in message.ranking} <= known
    parsed = message.to_parse_dict()  # what /model/parse-style callers serialise
    assert parsed["intent"]["name"] in known


def test_blank_text_is_not_understood_as_anything(ru_pipeline: Pipeline) -> None:
    for text in ("", WHITESPACE, "\u200b\u200b", "\ufeff"):
        assert is_fallback(ru_pipeline.parse(text)), repr(text)


def test_a_question_survives_emoji_rtl_marks_and_combining_noise(ru_pipeline: Pipeline) -> None:
    plain = ru_pipeline.parse("сколько стоит доставка")
    noisy = ru_pipeline.parse("\u202b😀 сколько стоит доставка?? 👍🏽\u202c")
    assert plain.intent is not None and noisy.intent is not None
    assert noisy.intent.name == plain.intent.name
