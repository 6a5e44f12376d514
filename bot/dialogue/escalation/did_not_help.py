"""A "no" to the bot's "did this answer your question?"."""

from __future__ import annotations

from pydantic import Field

from bot.dialogue.escalation.base import EscalationRule, RuleOptions, TurnContext, register_rule
from bot.i18n.text import Text


class DidNotHelpOptions(RuleOptions):
    negative_intents: list[str] = Field(default_factory=lambda: ["deny"])


@register_rule
class DidNotHelp(EscalationRule):
    name = "did_not_help"
    Options = DidNotHelpOptions
    options: DidNotHelpOptions

    def applies(self, turn: TurnContext) -> str | None:
        if turn.awaiting_feedback and turn.intent in self.options.negative_intents:
            return Text("the customer said the answer did not help")
        return None
