"""What a turn asks the world to do, as small typed values the conversation service applies.

The engine decides; it never writes. Each effect is one thing for the store (or later an
outbox) to carry out, in the order the turn produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.dialogue.escalation import Escalation


@dataclass(frozen=True)
class LeadData:
    kind: Literal["lead", "callback"]
    name: str | None
    phone: str | None
    email: str | None
    consent: bool
    interest: list[str]


@dataclass(frozen=True)
class OpenTicket:
    """Hand the dialogue to a person: a queued ticket, or an after-hours one waiting for ``opening``.

    ``unstaffed``: queued in working hours while nobody is at the panel; the customer was told
    so (no place in the queue or wait is promised).
    """

    escalation: Escalation
    after_hours: bool = False
    opening: datetime | None = None
    unstaffed: bool = False


@dataclass(frozen=True)
class SaveLead:
    """A lead card (with consent) for the CRM outbox."""

    lead: LeadData


@dataclass(frozen=True)
class MarkFormAnswer:
    """This customer message answered a form question: blank it if the form is declined."""


@dataclass(frozen=True)
class RedactFormAnswers:
    """Consent declined or the form was abandoned: blank the form's answers in the message log."""


@dataclass(frozen=True)
class RecordSurveyAsked:
    """The bot asked "did this answer your question?" this turn."""


@dataclass(frozen=True)
class RecordSurveyAnswer:
    """This message answered the survey (``helpful``) or gave the optional 1-5 ``score``."""

    helpful: bool | None = None
    score: int | None = None


Effect = OpenTicket | SaveLead | MarkFormAnswer | RedactFormAnswers | RecordSurveyAsked | RecordSurveyAnswer
