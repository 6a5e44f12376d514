"""Actions that reach outside the bot: Rasa's action server and declarative HTTP calls.

The dialogue engine names an action; an :class:`~bot.actions.base.ActionExecutor` runs
it and answers with Rasa events and responses. The conversation service decides which
executor the engine gets (and so where the network I/O happens); tests give it fakes.
"""

from bot.actions.base import (
    ActionExecutor,
    ActionOutcome,
    ActionRejected,
    ActionUnavailable,
    Executors,
    NoActions,
)

__all__ = [
    "ActionExecutor",
    "ActionOutcome",
    "ActionRejected",
    "ActionUnavailable",
    "Executors",
    "NoActions",
]
