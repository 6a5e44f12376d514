"""One customer turn, start to finish: form, escalation, hours, rules, lead offer, feedback.

The engine is pure: it gets the dialogue state, the NLU result and the time, and
returns what to say plus what happened (an escalation, a finished lead form). The
conversation service stores the state and acts on the result, so the same engine runs
in the shell, the server and the tests.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from bot.dialogue.escalation import Escalation, Escalator, Turn, TurnContext
from bot.dialogue.forms import FormRunner, FormStep
from bot.dialogue.policy import Policy
from bot.dialogue.stories import REQUESTED_SLOT, DialogueData
from bot.dialogue.tracker import Tracker
from bot.hours import Department, describe_opening
from bot.nlu.base import FALLBACK_INTENT, Message
from bot.settings import BotdeskConfig

LEAD_FORM = "lead_form"
YES_NO = ("affirm", "deny")
YES_NO_NEIGHBOURS = frozenset({"thanks", "goodbye"})  # "нет, спасибо", "да, пока"
YES_NO_MIN_CONFIDENCE = 0.2
MAX_ACTIONS_PER_TURN = 10
SCORE = re.compile(r"([1-5])\s*(?:/\s*5)?\s*[!.]?")
CONVERSATIONAL = frozenset({"greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge"})
# Texts the engine itself says; they live in intents/*.yml responses like any other answer.
SYSTEM_RESPONSES = frozenset(
    {
        "utter_handoff_queued",
        "utter_queue_position",
        "utter_operator_joined",
        "utter_operator_left",
        "utter_back_to_bot",
        "utter_conversation_closed",
        "utter_queue_wait_too_long",
        "utter_after_hours",
        "utter_offer_lead",
        "utter_offer_declined",
        "utter_ask_feedback",
        "utter_feedback_thanks",
        "utter_ask_score",
        "utter_score_thanks",
        "utter_lead_saved",
        "utter_lead_declined",
        "utter_form_gave_up",
        "utter_non_text",
    }
)


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)
    response: str | None = None
    image: str | None = None


@dataclass
class LeadData:
    kind: Literal["lead", "callback"]
    name: str | None
    phone: str | None
    email: str | None
    consent: bool
    interest: list[str]


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
        )


@dataclass
class TurnResult:
    replies: list[Reply] = field(default_factory=list)
    intent: str = FALLBACK_INTENT  # what the dialogue acted on (a yes/no question may reinterpret)
    escalation: Escalation | None = None
    after_hours: bool = False
    opening: datetime | None = None
    lead: LeadData | None = None
    actions: list[str] = field(default_factory=list)
    form_answer: bool = False  # this customer message answered a form question
    forget_form_answers: bool = False  # consent declined: the store must blank this form's answers
    survey_asked: bool = False  # the bot asked "did this answer your question?" this turn
    feedback: bool | None = None  # this message answered that question: helpful or not
    score: int | None = None  # this message gave the optional 1-5 score


class DialogueEngine:
    def __init__(
        self,
        config: BotdeskConfig,
        responses: dict[str, list[dict[str, Any]]],
        dialogue: DialogueData,
        seed: int | None = 0,
    ) -> None:
        self.config = config
        self.responses = responses
        self.dialogue = dialogue
        self.policy = Policy(dialogue, set(responses))
        self.forms = FormRunner(dialogue, config.language)
        self.escalator = Escalator.from_specs([(s.name, s.options()) for s in config.escalation.rules])
        self.departments = {d.key: d for d in config.departments}
        self._form_slots = {slot for form in dialogue.forms.values() for slot in form.required_slots}
        self.random = random.Random(seed)

    # ---- texts -------------------------------------------------------------------------
    def say(self, response: str, **values: Any) -> Reply:
        variants = self.responses.get(response)
        if not variants:
            return Reply(self.config.bot.fallback, response=response)
        variant = self.random.choice(variants)
        text = str(variant.get("text", "")).format_map(_Blank(values))
        image = variant.get("image")
        return Reply(text, list(variant.get("buttons") or []), response, str(image) if image else None)

    def introduction(self) -> Reply:
        return Reply(self.config.bot.introduction, response="introduction")

    def non_text(self, state: DialogueState) -> TurnResult:
        """A photo, voice message or sticker without words: the bot reads text, a person can look.

        Nothing in the dialogue moves (an open form still waits for its answer).
        """
        result = TurnResult(intent="non_text")
        if not state.introduced:
            state.introduced = True
            result.replies.append(self.introduction())
        result.replies.append(self.say("utter_non_text"))
        return result

    def department(self, key: str | None) -> Department:
        return self.departments.get(key or "", self.config.departments[0])

    # ---- one turn ----------------------------------------------------------------------
    def handle(self, state: DialogueState, message: Message, now: datetime) -> TurnResult:
        result = TurnResult()
        if not state.introduced:
            state.introduced = True
            result.replies.append(self.introduction())
        if state.awaiting_score:
            state.awaiting_score = False
            score = _score(message.text)
            if score is not None:
                result.intent = "score"
                result.score = score
                result.replies.append(self.say("utter_score_thanks"))
                state.turns.append(Turn("score", message.text, True))
                return result
        message = self._expect_yes_no(state, message)
        intent = message.intent.name if message.intent else FALLBACK_INTENT
        result.intent = intent
        turn = TurnContext(
            message,
            list(state.turns),
            state.misunderstood_in_a_row,
            state.awaiting_feedback,
            self.config.intents,
        )
        escalation = self.escalator.decide(turn)
        tracker = state.tracker
        awaited_feedback, state.awaiting_feedback = state.awaiting_feedback, False

        if tracker.active_loop and (
            escalation is None or escalation.reason not in ("complaint", "human_request")
        ):
            self._form_turn(state, message, result)
            result.form_answer = True
            state.turns.append(Turn(intent, "", False))  # answers to a form are personal data
            return result
        if tracker.active_loop:
            self.forms.stop(tracker)

        if escalation is not None:
            self._escalate(state, escalation, now, result)
        elif state.pending_offer and intent in ("affirm", "deny"):
            self._answer_offer(state, intent, result)
        elif awaited_feedback and intent == "affirm":
            result.replies.append(self.say("utter_feedback_thanks"))
            if self.config.survey.ask_score and "utter_ask_score" in self.responses:
                state.awaiting_score = True
                result.replies.append(self.say("utter_ask_score"))
        elif intent == FALLBACK_INTENT:
            state.misunderstood_in_a_row += 1
            result.replies.append(Reply(self.config.bot.fallback, response="fallback"))
        else:
            self._run_policy(state, intent, message, result)
        if result.actions and any(a.startswith("utter_") for a in result.actions):
            self._after_answer(state, intent, result)
        if awaited_feedback and intent in YES_NO:
            result.feedback = intent == "affirm"
        if intent != FALLBACK_INTENT:
            state.misunderstood_in_a_row = 0
        state.turns.append(Turn(intent, message.text, bool(result.actions)))
        return result

    def _expect_yes_no(self, state: DialogueState, message: Message) -> Message:
        """After a yes/no question, "нет, спасибо" is a "no", even if thanks scores close."""
        asked = (
            state.pending_offer
            or state.awaiting_feedback
            or state.tracker.slots.get(REQUESTED_SLOT) == "consent"
        )
        if not asked or not message.ranking:
            return message
        top = message.ranking[:2]
        answers = [s for s in top if s.name in YES_NO and s.confidence >= YES_NO_MIN_CONFIDENCE]
        if not answers or (message.intent and message.intent.name in YES_NO):
            return message
        if (
            message.intent
            and message.intent.name != FALLBACK_INTENT
            and message.intent.name not in YES_NO_NEIGHBOURS
        ):
            return message
        return replace(message, intent=answers[0], fallback_reason=None)

    def _run_policy(self, state: DialogueState, intent: str, message: Message, result: TurnResult) -> None:
        tracker = state.tracker
        tracker.user(intent)
        self._fill_slots_from_entities(message, tracker)
        if intent in self.config.intents.buying_interest and intent not in state.interest:
            state.interest.append(intent)
        self._predict_actions(state, result)
        if not result.actions:
            state.misunderstood_in_a_row += 1
            result.replies.append(Reply(self.config.bot.fallback, response="fallback"))

    def _fill_slots_from_entities(self, message: Message, tracker: Tracker) -> None:
        """Rasa's global mappings: a slot no form asks for fills from its entity on any message."""
        for slot in self.dialogue.slots.values():
            if slot.name in self._form_slots:
                continue
            for mapping in slot.mappings:
                if mapping.type != "from_entity":
                    continue
                value = next((e.value for e in message.entities if e.entity == mapping.entity), None)
                if value is not None and tracker.slots.get(slot.name) != value:
                    tracker.set_slot(slot.name, value)
                    break

    def _predict_actions(self, state: DialogueState, result: TurnResult) -> None:
        tracker = state.tracker
        intent = tracker.latest_intent or FALLBACK_INTENT
        for _ in range(MAX_ACTIONS_PER_TURN):
            prediction = self.policy.predict(tracker)
            if prediction is None:
                break
            action = prediction.action
            if action in self.dialogue.forms:
                state.lead_kind = "callback" if intent == "callback_request" else state.lead_kind
                self._apply_form_step(state, self.forms.activate(action, tracker), result)
                result.actions.append(action)
                break
            tracker.action(action)
            result.actions.append(action)
            if action.startswith("utter_"):
                result.replies.append(self.say(action, **_slot_values(tracker)))

    def _after_answer(self, state: DialogueState, intent: str, result: TurnResult) -> None:
        if state.tracker.active_loop:
            return
        if (
            intent in self.config.intents.buying_interest
            and not state.lead_offered
            and LEAD_FORM in self.dialogue.forms
            and "utter_offer_lead" in self.responses
        ):
            state.lead_offered = True
            state.pending_offer = "lead"
            result.replies.append(self.say("utter_offer_lead"))
        elif (
            self.config.escalation.ask_feedback
            and self.config.survey.enabled
            and not state.surveyed
            and "utter_ask_feedback" in self.responses
            and intent not in CONVERSATIONAL
            and f"utter_{intent}" in result.actions
        ):
            self.ask_feedback(state, result)

    def ask_feedback(self, state: DialogueState, result: TurnResult) -> None:
        """The survey question, once per dialogue (inline after an answer, or when the customer is quiet)."""
        state.awaiting_feedback = True
        state.surveyed = True
        result.survey_asked = True
        result.replies.append(self.say("utter_ask_feedback"))

    def _answer_offer(self, state: DialogueState, intent: str, result: TurnResult) -> None:
        offer, state.pending_offer = state.pending_offer, None
        if intent == "deny" or LEAD_FORM not in self.dialogue.forms:
            result.replies.append(self.say("utter_offer_declined"))
            return
        state.lead_kind = "callback" if offer == "callback" else "lead"
        self._apply_form_step(state, self.forms.activate(LEAD_FORM, state.tracker), result)
        result.actions.append(LEAD_FORM)

    def _escalate(
        self, state: DialogueState, escalation: Escalation, now: datetime, result: TurnResult
    ) -> None:
        result.escalation = escalation
        state.misunderstood_in_a_row = 0
        state.pending_offer = None
        department = self.department(escalation.department)
        if department.hours.is_open(now):
            result.replies.append(self.say("utter_handoff_queued"))
            return
        opening = department.hours.next_opening(now)
        result.after_hours = True
        result.opening = opening
        when = describe_opening(opening, now, self.config.language) if opening else "—"
        result.replies.append(self.say("utter_after_hours", opening=when))
        if LEAD_FORM in self.dialogue.forms:
            state.pending_offer = "callback"

    def _form_turn(self, state: DialogueState, message: Message, result: TurnResult) -> None:
        step = self.forms.handle(message, state.tracker)
        self._apply_form_step(state, step, result)

    def _apply_form_step(self, state: DialogueState, step: FormStep, result: TurnResult) -> None:
        tracker = state.tracker
        for response in step.utter:
            result.replies.append(self.say(response, **_slot_values(tracker)))
        lead_form = step.form == LEAD_FORM
        if step.stopped and lead_form:
            result.forget_form_answers = True
            if not step.utter:
                result.replies.append(self.say("utter_offer_declined"))
        if not step.finished:
            return
        if not lead_form:  # a project's own form: its rules and stories say what comes next
            self._predict_actions(state, result)
            return
        filled = step.filled
        consent = filled.get("consent") is True
        if consent:
            result.lead = LeadData(
                kind="callback" if state.lead_kind == "callback" else "lead",
                name=filled.get("name"),
                phone=filled.get("phone"),
                email=tracker.slots.get("email"),
                consent=True,
                interest=list(state.interest),
            )
            result.replies.append(self.say("utter_lead_saved", **_slot_values(tracker)))
        else:
            result.forget_form_answers = True
            result.replies.append(self.say("utter_lead_declined"))
        for slot in ("name", "phone", "email", "consent"):  # the card has it; the dialogue forgets it
            tracker.slots.pop(slot, None)
        tracker.history = [
            s for s in tracker.history if not (s.kind == "slot" and s.name in ("name", "phone", "email"))
        ]


def _score(text: str) -> int | None:
    """A 1-5 score: the button's payload, or the digit typed ("5", "5/5", "4!")."""
    found = SCORE.fullmatch(text.strip())
    return int(found.group(1)) if found else None


class _Blank(dict[str, Any]):
    """format_map helper: an unknown {placeholder} stays visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _slot_values(tracker: Tracker) -> dict[str, Any]:
    return {k: v for k, v in tracker.slots.items() if not k.startswith("_") and v is not None}
