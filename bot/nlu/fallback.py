"""FallbackClassifier: say "I am not sure" instead of guessing.

Falls back when the top confidence is under the threshold (``low_confidence``; an
intent may set its own threshold) or when the top two intents are closer than
``ambiguity_threshold`` (``ambiguous``). The original ranking is kept, so the
dialogue and the editor inbox can still see what the bot thought.
"""

from __future__ import annotations

from pydantic import Field

from bot.nlu.base import FALLBACK_INTENT, Component, ComponentOptions, IntentScore, Message
from bot.nlu.registry import register_component


class FallbackOptions(ComponentOptions):
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    ambiguity_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    intent_thresholds: dict[str, float] = Field(default_factory=dict)


def fallback_reason(message: Message, options: FallbackOptions) -> str | None:
    if not message.ranking:
        return "no_intent"
    top = message.ranking[0]
    threshold = options.intent_thresholds.get(top.name, options.threshold)
    if top.confidence < threshold:
        return "low_confidence"
    if (
        len(message.ranking) > 1
        and top.confidence - message.ranking[1].confidence < options.ambiguity_threshold
    ):
        return "ambiguous"
    return None


@register_component
class FallbackClassifier(Component):
    name = "FallbackClassifier"
    Options = FallbackOptions
    options: FallbackOptions

    def process(self, message: Message) -> None:
        reason = fallback_reason(message, self.options)
        message.fallback_reason = reason
        if reason is not None:
            top = message.ranking[0].confidence if message.ranking else 0.0
            message.intent = IntentScore(FALLBACK_INTENT, top)
