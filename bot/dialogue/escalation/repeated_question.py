"""The customer asks again what the bot already answered: the answer did not help."""

from __future__ import annotations

from pydantic import Field

from bot.dialogue.escalation.base import EscalationRule, RuleOptions, TurnContext, register_rule
from bot.i18n.text import Text

CONVERSATIONAL = ["greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge"]


class RepeatedQuestionOptions(RuleOptions):
    within_turns: int = Field(default=6, ge=1, description="How far back an earlier answer counts")
    ignore_intents: list[str] = Field(default_factory=lambda: list(CONVERSATIONAL))


@register_rule
class RepeatedQuestion(EscalationRule):
    name = "repeated_question"
    Options = RepeatedQuestionOptions
    options: RepeatedQuestionOptions

    def applies(self, turn: TurnContext) -> str | None:
        if turn.fell_back or turn.intent in self.options.ignore_intents:
            return None
        recent = list(turn.previous)[-self.options.within_turns :]
        if any(t.answered and t.intent == turn.intent for t in recent):
            return Text("asked {intent} again after the bot had answered it", intent=turn.intent)
        return None
