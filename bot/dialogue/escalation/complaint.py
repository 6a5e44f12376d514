"""A complaint goes to a person, ahead of ordinary questions."""

from __future__ import annotations

from pydantic import Field

from bot.dialogue.escalation.base import EscalationRule, RuleOptions, TurnContext, register_rule
from bot.i18n.text import Text


class ComplaintOptions(RuleOptions):
    priority: int = 10
    intents: list[str] = Field(default_factory=lambda: ["complaint"])


@register_rule
class Complaint(EscalationRule):
    name = "complaint"
    Options = ComplaintOptions
    options: ComplaintOptions

    def applies(self, turn: TurnContext) -> str | None:
        return (
            Text("the customer complains (intent {intent})", intent=turn.intent)
            if turn.intent in self.options.intents
            else None
        )
