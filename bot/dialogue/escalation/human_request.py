"""The customer asks for a person: by intent, or by a keyword even when the NLU is unsure."""

from __future__ import annotations

import re

from pydantic import Field

from bot.dialogue.escalation.base import EscalationRule, RuleOptions, TurnContext, register_rule
from bot.i18n.text import Text


class HumanRequestOptions(RuleOptions):
    priority: int = 5
    intents: list[str] = Field(default_factory=lambda: ["human_request"])
    keywords: list[str] = Field(
        default_factory=lambda: ["оператор", "оператора", "человек", "менеджер", "operator", "human", "agent"]
    )


@register_rule
class HumanRequest(EscalationRule):
    name = "human_request"
    Options = HumanRequestOptions
    options: HumanRequestOptions

    def applies(self, turn: TurnContext) -> str | None:
        if turn.intent in self.options.intents:
            return Text("the customer asked for a person")
        words = set(re.findall(r"\w+", turn.message.text.lower()))
        if turn.fell_back and words & {k.lower() for k in self.options.keywords}:
            return Text("the customer asked for a person (keyword)")
        return None
