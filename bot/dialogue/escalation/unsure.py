"""The NLU hesitates between two answers (ambiguous), or is very unsure.

A single low-confidence message is first answered with "please rephrase" (the
``misunderstood`` rule counts those); an ambiguous one goes to a person at once when
``ambiguous`` is on, and so does one below ``escalate_below``.
"""

from __future__ import annotations

from pydantic import Field

from bot.dialogue.escalation.base import EscalationRule, RuleOptions, TurnContext, register_rule
from bot.i18n.text import Text


class UnsureOptions(RuleOptions):
    ambiguous: bool = True
    escalate_below: float = Field(default=0.0, ge=0.0, le=1.0)


@register_rule
class Unsure(EscalationRule):
    name = "unsure"
    Options = UnsureOptions
    options: UnsureOptions

    def applies(self, turn: TurnContext) -> str | None:
        message = turn.message
        if not turn.fell_back or not message.ranking:
            return None
        if self.options.ambiguous and message.fallback_reason == "ambiguous" and len(message.ranking) > 1:
            first, second = message.ranking[0], message.ranking[1]
            return Text(
                "ambiguous: {intent} {confidence:.2f} vs {other_intent} {other_confidence:.2f}",
                intent=first.name,
                confidence=first.confidence,
                other_intent=second.name,
                other_confidence=second.confidence,
            )
        top = message.ranking[0]
        if top.confidence < self.options.escalate_below:
            return Text(
                "very unsure: best guess {intent} {confidence:.2f}",
                intent=top.name,
                confidence=top.confidence,
            )
        return None
