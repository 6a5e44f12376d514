"""Escalation rules, one module each; see :mod:`bot.dialogue.escalation.base`."""

from bot.dialogue.escalation.base import (
    RULES,
    Escalation,
    EscalationRule,
    Escalator,
    RuleOptions,
    Turn,
    TurnContext,
    register_rule,
)

__all__ = [
    "RULES",
    "Escalation",
    "EscalationRule",
    "Escalator",
    "RuleOptions",
    "Turn",
    "TurnContext",
    "register_rule",
]
