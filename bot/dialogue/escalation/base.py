"""Escalation rules: when does a person have to take over?

Each rule is one module with one class that answers "does this apply to this turn?".
config.yml lists them under ``escalation.rules`` in priority order; the first rule that
applies wins and its name is recorded as the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bot.nlu.base import FALLBACK_INTENT, Message
from bot.plugins import Registry
from bot.settings import IntentRoles


class RuleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: int = Field(default=0, description="Queue priority of the ticket this rule opens")
    department: str | None = Field(
        default=None, description="Route to this department instead of the default"
    )


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier customer message of the conversation and what the bot did with it."""

    intent: str
    text: str
    answered: bool


@dataclass(frozen=True, slots=True)
class TurnContext:
    message: Message
    previous: Sequence[Turn]
    misunderstood_in_a_row: int
    awaiting_feedback: bool
    roles: IntentRoles
    offered: tuple[str, ...] = ()  # the intents a "did you mean ...?" offered last turn (two-stage fallback)

    @property
    def intent(self) -> str:
        return self.message.intent.name if self.message.intent else FALLBACK_INTENT

    @property
    def fell_back(self) -> bool:
        return self.intent == FALLBACK_INTENT


@dataclass(frozen=True, slots=True)
class Escalation:
    reason: str
    detail: str
    priority: int
    department: str | None = None


class EscalationRule:
    """One reason to hand a turn to a person, registered by name and listed in config.yml.

    ``escalation.rules`` lists the rules in order; the first whose :meth:`applies` answers
    opens the ticket, with the rule's name as the reason and its ``priority`` and
    ``department``. Rules are pure: they read the turn and decide, the engine does the rest.

    Args:
        options: the rule's validated ``Options`` (``priority``, ``department`` and its own).

    Usage (a module in ``bot/dialogue/escalation/`` plus its name in ``RULES``' list)::

        class UrgentOptions(RuleOptions):
            words: list[str] = Field(default_factory=lambda: ["срочно"])

        @register_rule
        class Urgent(EscalationRule):
            name = "urgent"
            Options = UrgentOptions
            options: UrgentOptions

            def applies(self, turn: TurnContext) -> str | None:
                said = turn.message.text.lower()
                urgent = any(word in said for word in self.options.words)
                return "the customer says it is urgent" if urgent else None

    and in config.yml: ``escalation: {rules: [{name: urgent, priority: 5}, ...]}``.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[RuleOptions]] = RuleOptions
    supersedes: ClassVar[frozenset[str]] = frozenset()
    """Rules not checked while this one is listed and on (it does their job its own way)."""

    def __init__(self, options: RuleOptions) -> None:
        self.options = options

    @property
    def on(self) -> bool:
        """Whether the rule is switched on (a rule may have an option for it)."""
        return True

    def applies(self, turn: TurnContext) -> str | None:
        """Whether this turn goes to a person because of this rule.

        Args:
            turn: the customer's message with its NLU result and the conversation so far.

        Returns:
            A short detail for the operator's note (wrap it in ``Text`` to have it translated
            into the operator's language) when the rule applies, else None.
        """
        raise NotImplementedError

    def check(self, turn: TurnContext) -> Escalation | None:
        detail = self.applies(turn)
        if detail is None:
            return None
        return Escalation(self.name, detail, self.options.priority, self.options.department)


RULES: Registry[type[EscalationRule]] = Registry(
    "escalation rule",
    EscalationRule,
    (
        "bot.dialogue.escalation.complaint",
        "bot.dialogue.escalation.human_request",
        "bot.dialogue.escalation.human_only",
        "bot.dialogue.escalation.unsure",
        "bot.dialogue.escalation.misunderstood",
        "bot.dialogue.escalation.two_stage_fallback",
        "bot.dialogue.escalation.repeated_question",
        "bot.dialogue.escalation.did_not_help",
    ),
    "register_rule",
)
register_rule = RULES.register


class Escalator:
    """The configured rules in order; the first that applies decides."""

    def __init__(self, rules: Sequence[EscalationRule]) -> None:
        superseded = {name for rule in rules if rule.on for name in rule.supersedes}
        self.rules = [rule for rule in rules if rule.name not in superseded]

    @classmethod
    def from_specs(cls, specs: Sequence[tuple[str, dict[str, object]]]) -> Escalator:
        return cls([RULES.get(name)(RULES.options(name, dict(options))) for name, options in specs])

    def decide(self, turn: TurnContext) -> Escalation | None:
        for rule in self.rules:
            escalation = rule.check(turn)
            if escalation is not None:
                return escalation
        return None
