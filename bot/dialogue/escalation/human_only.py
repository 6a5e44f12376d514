"""Intents only a person can finish (``intents.human_only`` in config.yml)."""

from __future__ import annotations

from bot.dialogue.escalation.base import EscalationRule, TurnContext, register_rule
from bot.i18n.text import Text


@register_rule
class HumanOnly(EscalationRule):
    name = "human_only"

    def applies(self, turn: TurnContext) -> str | None:
        if turn.intent in turn.roles.human_only:
            return Text("only a person can finish {intent}", intent=turn.intent)
        return None
