"""The one exception tree for expected errors.

    BotdeskError            an expected problem: printed as one sentence, no traceback
     ├── ConfigError        config.yml is missing, broken or invalid
     ├── DataError          training data (intents/*.yml, stories/*.yml, JSONL) is invalid
     ├── ModelError         no model, or a model trained for another config/version
     ├── NLUError           an NLU backend failed at parse time (e.g. Rasa server down)
     └── DeliveryRefused    a channel refuses a message by its platform's rules (WhatsApp's 24 h window)

Anything else is a bug: the CLI logs it with its traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# scheme://user:password@host: the part before @ may be a secret (a database or CRM URL).
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
MAX_SHOWN_CHARS = 80


class BotdeskError(Exception):
    """Root of all expected errors; ``str(err)`` is the message a user reads."""

    exit_code = 2


class SourceError(BotdeskError):
    """An error that points into a file, optionally at a line (1-based)."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        if self.path is None:
            return self.message
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}"


class ConfigError(SourceError):
    """config.yml could not be used."""


class DataError(SourceError):
    """Training data could not be used."""


class ModelError(BotdeskError):
    """The trained model is missing or does not fit the project."""


class NLUError(BotdeskError):
    """An NLU backend could not parse a message."""


class DeliveryRefused(BotdeskError):
    """A channel refuses a message by its platform's rules: sending it again would not help.

    Not "the platform is down" (that is ``ChannelUnavailable``, retried later): e.g. WhatsApp
    takes free-form messages only within 24 hours of the customer's last one. The operator
    service asks before an operator's reply is stored (``Channel.check_send``) and tells
    the operator why, in their language, by ``reason``.

    Args:
        reason: a stable code the panel translates: ``window_closed`` (the platform's
            customer-service window is over; only approved templates may be sent).
        detail: one sentence in English, for logs and API clients.
        window_hours: the length of that window, for ``window_closed``.
    """

    def __init__(self, reason: str, detail: str, *, window_hours: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.window_hours = window_hours


def describe_input(value: Any) -> str:
    """A value a user gave (in config.yml, an option), as an error message may show it.

    A mapping or list is named, not shown (it may hold a secret), a URL's credentials are
    masked, and a long value is cut: a validation error can be printed or logged whole.
    """
    if isinstance(value, dict | list | tuple | set):
        return type(value).__name__
    shown = _URL_CREDENTIALS.sub(r"\1***@", repr(value))
    return shown if len(shown) <= MAX_SHOWN_CHARS else shown[: MAX_SHOWN_CHARS - 1] + "…"
