"""Rasa's two-stage fallback: ask "did you mean ...?" first, hand off at the second miss in a row.

When the NLU is unsure — its top intent under the threshold but at least ``min_confidence``
likely, or two intents within the ambiguity margin — the bot does not guess and does not
give up at once: it asks "Вы имели в виду: …?" with a button for each candidate intent (its
human ``title``) and one for "Другое" (the dialogue engine does the asking,
:mod:`bot.dialogue.clarify`, with this rule's options). A click is that intent; "Другое"
asks the customer to rephrase. This rule is the second stage: the ``misses``-th message in a
row the bot did not understand (the first one, the one that raised the question, included)
goes to a person.

Listing the rule in ``escalation.rules`` switches the question on; while it is on, it counts
the misses itself and ``misunderstood`` is not checked. ``enabled: false`` keeps it configured
but off: the bot then says its plain fallback, and ``misunderstood`` (if listed) hands off.

Example::

    escalation:
      rules:
        - name: two_stage_fallback
          misses: 2              # the second message not understood in a row goes to a person
          candidates: 3          # at most this many intents offered
          min_confidence: 0.15   # an intent less likely than this is never offered
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import Field

from bot.dialogue.escalation.base import EscalationRule, RuleOptions, TurnContext, register_rule
from bot.i18n.text import Text
from bot.nlu.base import FALLBACK_INTENT, IntentScore, Message

OUT_OF_SCOPE = "out_of_scope"  # Rasa's default intent; the "Другое" button's payload is /out_of_scope
# Reasons the NLU falls back for that a "did you mean" can help with; an off-topic reading
# (``out_of_scope``) only when one of the bot's intents is close behind it.
CLARIFIABLE = frozenset({"ambiguous", "low_confidence"})
OFF_TOPIC_REASON = "out_of_scope"


class TwoStageFallbackOptions(RuleOptions):
    enabled: bool = Field(
        default=True, description="Ask 'did you mean ...?' and hand off at the misses-th miss"
    )
    misses: int = Field(default=2, ge=1, description="Messages not understood in a row that go to a person")
    candidates: int = Field(default=3, ge=1, le=5, description="Intents offered as buttons at most")
    min_confidence: float = Field(
        default=0.15, ge=0.0, le=1.0, description="An intent less likely than this is never offered"
    )
    against_off_topic: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="When out_of_scope is on top, an intent is offered only with at least this share "
        "of its confidence (1: off-topic readings never get the question)",
    )
    ignore_intents: list[str] = Field(
        default_factory=lambda: ["affirm", "deny"],
        description="Intents never offered (a bare yes or no means nothing as an answer)",
    )
    other_title: str | None = Field(
        default=None,
        max_length=64,
        description="The 'something else' button's title; default 'Другое' / 'Something else'",
    )


@register_rule
class TwoStageFallback(EscalationRule):
    name = "two_stage_fallback"
    Options = TwoStageFallbackOptions
    options: TwoStageFallbackOptions
    supersedes = frozenset({"misunderstood"})  # it counts the misses itself

    @property
    def on(self) -> bool:
        return self.options.enabled

    def applies(self, turn: TurnContext) -> str | None:
        if not self.options.enabled or not turn.fell_back:
            return None
        misses = turn.misunderstood_in_a_row + 1
        if misses < self.options.misses:
            return None
        if turn.offered:
            return Text(
                "not understood {times} times in a row; offered: {intents}",
                times=misses,
                intents=", ".join(turn.offered),
            )
        return Text("not understood {times} times in a row", times=misses)

    def candidates(self, message: Message, known: Collection[str]) -> list[IntentScore]:
        """The intents to offer for this message: none unless the NLU fell back unsure.

        Args:
            message: the NLU's reading (``nlu_fallback`` with its ranking and reason).
            known: the intents the dialogue can act on (a payload reaches them).

        Returns:
            At most ``candidates`` intents of the ranking, best first, each at least
            ``min_confidence`` likely (and, against an off-topic reading, at least
            ``against_off_topic`` of out_of_scope's confidence); empty when nothing is worth offering.
        """
        if not self.options.enabled or not message.ranking:
            return []
        floor = self.options.min_confidence
        if message.fallback_reason == OFF_TOPIC_REASON:
            floor = max(floor, message.ranking[0].confidence * self.options.against_off_topic)
        elif message.fallback_reason not in CLARIFIABLE:
            return []
        ignored = {*self.options.ignore_intents, OUT_OF_SCOPE, FALLBACK_INTENT}
        offered = [
            score
            for score in message.ranking
            if score.name not in ignored and score.name in known and score.confidence >= floor
        ]
        return offered[: self.options.candidates]
