"""The same customer not understood ``times`` times in a row (default 2)."""

from __future__ import annotations

from pydantic import Field

from bot.dialogue.escalation.base import EscalationRule, RuleOptions, TurnContext, register_rule
from bot.i18n.text import Text


class MisunderstoodOptions(RuleOptions):
    times: int = Field(default=2, ge=1)


@register_rule
class Misunderstood(EscalationRule):
    name = "misunderstood"
    Options = MisunderstoodOptions
    options: MisunderstoodOptions

    def applies(self, turn: TurnContext) -> str | None:
        if turn.fell_back and turn.misunderstood_in_a_row + 1 >= self.options.times:
            return Text("not understood {times} times in a row", times=turn.misunderstood_in_a_row + 1)
        return None
