"""What the dialogue engine remembers and returns: the state of a conversation, a turn's result.

``DialogueState`` is stored with the conversation (JSON) and read back on the next
message; ``TurnResult`` is what one turn said and did (its typed effects for the
conversation service to apply); ``TurnWork`` is one turn's working state inside the
engine, which the form runner shares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.dialogue.effects import (
    Effect,
    LeadData,
    MarkFormAnswer,
    OpenTicket,
    RecordSurveyAnswer,
    RecordSurveyAsked,
    RedactFormAnswers,
    SaveLead,
)
from bot.dialogue.escalation import Escalation, Turn
from bot.dialogue.stories import Step
from bot.dialogue.tracker import Tracker
from bot.nlu.base import FALLBACK_INTENT, Entity, Message


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)
    response: str | None = None
    image: str | None = None
    custom: dict[str, Any] | None = None  # Rasa's custom / json_message payload
    attachment: Any = None


@dataclass
class DialogueState:
    """Everything the bot remembers about one conversation (JSON-serialisable)."""

    tracker: Tracker = field(default_factory=Tracker)
    introduced: bool = False
    misunderstood_in_a_row: int = 0
    awaiting_feedback: bool = False
    surveyed: bool = False  # "did this answer your question?" was asked in this dialogue (once only)
    awaiting_score: bool = False  # the 1-5 score question is open
    pending_offer: str | None = None  # "lead" | "callback"
    lead_offered: bool = False
    lead_kind: str = "lead"
    turns: list[Turn] = field(default_factory=list)
    interest: list[str] = field(default_factory=list)
    clarify: list[str] = field(default_factory=list)  # intents "did you mean ...?" offered, unanswered

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker.to_dict(),
            "introduced": self.introduced,
            "misunderstood_in_a_row": self.misunderstood_in_a_row,
            "awaiting_feedback": self.awaiting_feedback,
            "surveyed": self.surveyed,
            "awaiting_score": self.awaiting_score,
            "pending_offer": self.pending_offer,
            "lead_offered": self.lead_offered,
            "lead_kind": self.lead_kind,
            "turns": [[t.intent, t.text, t.answered] for t in self.turns[-20:]],
            "interest": self.interest,
            "clarify": self.clarify,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DialogueState:
        if not data:
            return cls()
        return cls(
            tracker=Tracker.from_dict(data.get("tracker")),
            introduced=bool(data.get("introduced")),
            misunderstood_in_a_row=int(data.get("misunderstood_in_a_row", 0)),
            awaiting_feedback=bool(data.get("awaiting_feedback")),
            surveyed=bool(data.get("surveyed")),
            awaiting_score=bool(data.get("awaiting_score")),
            pending_offer=data.get("pending_offer"),
            lead_offered=bool(data.get("lead_offered")),
            lead_kind=str(data.get("lead_kind", "lead")),
            turns=[Turn(i, t, a) for i, t, a in data.get("turns", [])],
            interest=list(data.get("interest", [])),
            clarify=[str(i) for i in data.get("clarify", [])][:10],
        )


@dataclass
class TurnResult:
    """What one turn did: the replies, the actions run (Rasa's names), the tracker steps it
    added (for test stories) and the effects for the conversation service to apply."""

    replies: list[Reply] = field(default_factory=list)
    intent: str = FALLBACK_INTENT  # what the dialogue acted on (a yes/no question may reinterpret)
    actions: list[str] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    events: list[Step] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    # (action, first reply, end of its replies): which replies each action said, in order
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    active_loop: str | None = None  # the form active when the turn ended

    def action_view(self) -> list[str]:
        """The turn as Rasa lists it: each action run (a form, a custom action) once, plus
        the responses botdesk's engine said itself, in order."""
        names: list[str] = []
        spans = sorted(self.spans, key=lambda s: s[1])
        covered = {i for _, start, end in spans for i in range(start, end)}
        for index, reply in enumerate(self.replies):
            names += [name for name, start, _ in spans if start == index]
            if index not in covered and reply.response != "introduction":
                names.append("utter_default" if reply.response == "fallback" else str(reply.response))
        names += [name for name, start, _ in spans if start >= len(self.replies)]
        return names

    def _first(self, kind: type[Any]) -> Any:
        return next((e for e in self.effects if isinstance(e, kind)), None)

    # Read-only views of the effects, for callers that ask one question.
    @property
    def escalation(self) -> Escalation | None:
        ticket = self._first(OpenTicket)
        return ticket.escalation if ticket else None

    @property
    def after_hours(self) -> bool:
        ticket = self._first(OpenTicket)
        return bool(ticket and ticket.after_hours)

    @property
    def opening(self) -> datetime | None:
        ticket = self._first(OpenTicket)
        return ticket.opening if ticket else None

    @property
    def lead(self) -> LeadData | None:
        saved = self._first(SaveLead)
        return saved.lead if saved else None

    @property
    def form_answer(self) -> bool:
        return self._first(MarkFormAnswer) is not None

    @property
    def forget_form_answers(self) -> bool:
        return self._first(RedactFormAnswers) is not None

    @property
    def survey_asked(self) -> bool:
        return self._first(RecordSurveyAsked) is not None

    @property
    def feedback(self) -> bool | None:
        answer = self._first(RecordSurveyAnswer)
        return answer.helpful if answer else None

    @property
    def score(self) -> int | None:
        answer = self._first(RecordSurveyAnswer)
        return answer.score if answer else None


BeforeIO = Callable[[], Awaitable[None]]
"""What the engine's caller wants done before the turn waits on the network (a custom action)."""

Staffed = Callable[[str], bool]
"""Whether a person can answer a department (by key) now: an operator is at the panel and online."""


@dataclass
class TurnWork:
    """Working state of one turn's action loop."""

    state: DialogueState
    result: TurnResult
    message: Message
    now: datetime
    sender_id: str
    channel: str | None
    before_io: BeforeIO | None = None  # awaited before an action's network call (the caller's hook)
    staffed: Staffed | None = None  # who is online now; None: the working hours alone decide
    followup: str | None = None
    loop_rejected: bool = False
    stop: bool = False
    rejected: set[str] = field(default_factory=set)  # actions that refused to run this turn
