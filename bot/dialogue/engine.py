"""One customer turn, start to finish: form, escalation, hours, rules, actions, lead offer, feedback.

The engine decides and never writes: it gets the dialogue state, the NLU result and the
time, and returns what to say plus typed :mod:`effects <bot.dialogue.effects>` (open a
ticket, save a lead, blank a form's answers, record the survey). The conversation
service applies them, so the same engine runs in the shell, the server and the tests.

Custom actions (Rasa's action server, declarative HTTP actions) are run through an
injected :class:`~bot.actions.ActionExecutor`, which is why :meth:`DialogueEngine.handle`
is async; an action that cannot reach its integration hands the dialogue to a person
with the reason ``integration_unavailable``.

Within a turn the engine follows Rasa 3's loop: slots are filled from the message
(``action_extract_slots``), an active form runs first and may reject a message that
fills nothing (then rules and stories answer it, and the form asks again), and actions
are predicted one after another until the bot listens.
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.actions.base import ActionExecutor, ActionOutcome, ActionRejected, ActionUnavailable, NoActions
from bot.dialogue.clarify import ASK_AFFIRMATION, ASK_REPHRASE, Clarifier
from bot.dialogue.effects import (
    LeadData,
    MarkFormAnswer,
    OpenTicket,
    RecordSurveyAnswer,
    RecordSurveyAsked,
    RedactFormAnswers,
    SaveLead,
)
from bot.dialogue.escalation import Escalation, Escalator, Turn, TurnContext
from bot.dialogue.escalation.two_stage_fallback import TwoStageFallback
from bot.dialogue.forms import FormRunner
from bot.dialogue.policy import Policy
from bot.dialogue.slots import custom_mapping_actions, extract_slots, initial_values
from bot.dialogue.state import BeforeIO, DialogueState, Reply, Staffed, TurnResult, TurnWork
from bot.dialogue.stories import ACTIVE_LOOP_NONE, REQUESTED_SLOT, DialogueData, Step, retrieval_base
from bot.dialogue.system_texts import builtin_variant
from bot.dialogue.tracker import Tracker
from bot.hours import Department, describe_opening
from bot.i18n.text import Text
from bot.nlu.base import FALLBACK_INTENT, Entity, IntentScore, Message
from bot.settings import BotdeskConfig

log = logging.getLogger("botdesk.dialogue")
LEAD_FORM = "lead_form"
YES_NO = ("affirm", "deny")
YES_NO_NEIGHBOURS = frozenset({"thanks", "goodbye"})  # "нет, спасибо", "да, пока"
YES_NO_MIN_CONFIDENCE = 0.2
MAX_ACTIONS_PER_TURN = 10
INTEGRATION_UNAVAILABLE = "integration_unavailable"
SCORE = re.compile(r"([1-5])\s*(?:/\s*5)?\s*[!.]?")
# Rasa's payload: /intent, /intent@0.9, /intent{"entity": "value"} (what buttons send).
PAYLOAD = re.compile(r"^/([^{@\s]+)(?:@([0-9.]+))?(\{.*\})?\s*$", re.DOTALL)
MAX_PAYLOAD_ENTITIES = 20
CONVERSATIONAL = frozenset({"greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge"})
# Actions the engine runs itself (Rasa's default actions botdesk has).
BUILTIN_ACTIONS = frozenset(
    {"action_listen", "action_restart", "action_deactivate_loop", "action_default_fallback", "action_handoff"}
)
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
        "utter_nobody_online",
        "utter_queued_ack",
        "utter_queued_nobody_online",
        "utter_queue_update",
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
        "utter_integration_unavailable",
        ASK_AFFIRMATION,
        ASK_REPHRASE,
    }
)
TWO_STAGE_FALLBACK = "action_two_stage_fallback"  # Rasa's name for the "did you mean" loop


NOT_ANSWERS = frozenset(
    {"introduction", "fallback", "utter_default"} | {f"utter_{i}" for i in CONVERSATIONAL}
)
FORM_PROMPTS = ("utter_ask_", "utter_invalid_")  # a form's questions and its "try again" (Rasa's names)


def is_faq_answer(response: str | None) -> bool:
    """Whether a reply said with this response answers a customer's question (the handoff note lists
    those): not the introduction, a fallback, small talk, a form's question, or what the engine says
    about handoffs, hours and the survey."""
    return bool(response) and not (
        response in SYSTEM_RESPONSES or response in NOT_ANSWERS or str(response).startswith(FORM_PROMPTS)
    )


class DialogueEngine:
    def __init__(
        self,
        config: BotdeskConfig,
        responses: dict[str, list[dict[str, Any]]],
        dialogue: DialogueData,
        seed: int | None = 0,
        *,
        actions: ActionExecutor | None = None,
        intents: list[str] | None = None,
        entities: list[str] | None = None,
        titles: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.responses = responses
        self.dialogue = dialogue
        self.actions: ActionExecutor = actions or NoActions()
        self.policy = Policy(dialogue, set(responses))
        self.forms = FormRunner(dialogue, config.language)
        self.escalator = Escalator.from_specs([(s.name, s.options()) for s in config.escalation.rules])
        self.departments = {d.key: d for d in config.departments}
        self.intents = set(intents or []) | set(dialogue.intents)
        self.entities = list(entities or [])
        self.initial_slots = initial_values(dialogue)
        self._custom_mappings = any(
            m.type == "custom" and m.action for s in dialogue.slots.values() for m in s.mappings
        )
        self.random = random.Random(seed)
        two_stage = next((r for r in self.escalator.rules if isinstance(r, TwoStageFallback) and r.on), None)
        self.clarifier = (
            Clarifier(two_stage, config.language, titles or {}, self.intents)
            if two_stage is not None
            else None
        )
        self._domain: dict[str, Any] | None = None

    # ---- texts -------------------------------------------------------------------------
    def say(self, response: str, channel: str | None = None, **values: Any) -> Reply:
        """A response by name: Rasa's choice of variant (conditions on slots, then channel)."""
        variants = self._variants(response, channel, values)
        if not variants:
            builtin = builtin_variant(response, self.config.language)
            if builtin is None:
                return Reply(self.config.bot.fallback, response=response)
            variants = [builtin]
        variant = self.random.choice(variants)
        text = str(variant.get("text") or "").format_map(_Blank(values))
        image = variant.get("image")
        custom = variant.get("custom")
        return Reply(
            text,
            list(variant.get("buttons") or []),
            response,
            str(image) if image else None,
            custom if isinstance(custom, dict) else None,
            variant.get("attachment"),
        )

    def _variants(self, response: str, channel: str | None, slots: dict[str, Any]) -> list[dict[str, Any]]:
        variants = self.responses.get(response) or []
        plain = [v for v in variants if not v.get("condition")]
        matching = [v for v in variants if v.get("condition") and _conditions_hold(v["condition"], slots)]
        for group in (matching, plain):
            if not group:
                continue
            on_channel = [v for v in group if channel is not None and v.get("channel") == channel]
            if on_channel:
                return on_channel
            without = [v for v in group if not v.get("channel")]
            if without:
                return without
        return []

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

    def rasa_domain(self) -> dict[str, Any]:
        """The domain as Rasa sends it to the action server (``domain`` of the request)."""
        if self._domain is None:
            data = self.dialogue
            self._domain = {
                "version": "3.1",
                "intents": sorted(self.intents),
                "entities": sorted(self.entities),
                "slots": {name: _slot_dict(slot) for name, slot in data.slots.items()},
                "responses": self.responses,
                "actions": sorted(set(data.actions) | set(data.http_actions)),
                "forms": {
                    f.name: {
                        "required_slots": list(f.required_slots),
                        "ignored_intents": list(f.ignored_intents),
                    }
                    for f in data.forms.values()
                },
                "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
            }
        return self._domain

    def parse_payload(self, message: Message) -> Message:
        """``/intent{"entity": "value"}`` (a button): that intent for sure, with those entities.

        Also reaches intents that have no NLU examples (declared under ``intents:``),
        as Rasa's payload handling does.
        """
        match = PAYLOAD.match(message.text.strip())
        if match is None or match.group(1) not in self.intents:
            return message
        intent = match.group(1)
        confidence = float(match.group(2)) if match.group(2) else 1.0
        entities: list[Entity] = []
        if match.group(3):
            try:
                raw = json.loads(match.group(3))
            except json.JSONDecodeError:
                raw = None
            if isinstance(raw, dict):
                for name, value in list(raw.items())[:MAX_PAYLOAD_ENTITIES]:
                    for item in value if isinstance(value, list) else [value]:
                        text = item if isinstance(item, str) else json.dumps(item)
                        entities.append(Entity(str(name), text, 0, len(message.text), "payload"))
        score = IntentScore(intent, min(max(confidence, 0.0), 1.0))
        return replace(message, intent=score, ranking=[score], entities=entities, fallback_reason=None)

    # ---- one turn ----------------------------------------------------------------------
    async def handle(
        self,
        state: DialogueState,
        message: Message,
        now: datetime,
        *,
        sender_id: str = "default",
        channel: str | None = None,
        before_io: BeforeIO | None = None,
        staffed: Staffed | None = None,
    ) -> TurnResult:
        """One customer turn: what to say, and the effects for the caller to carry out.

        Args:
            state: the conversation's dialogue state; changed in place.
            message: the NLU's reading of the customer's message.
            now: the turn's time (working hours, after-hours hand-offs).
            sender_id: the customer's id in the channel (Rasa's ``sender_id`` for actions).
            channel: the channel's name (responses may have channel variants).
            before_io: awaited once before the first custom action's network call: the
                conversation service releases its store transaction there, so a slow
                action server never holds the database.
            staffed: whether an operator is online for a department now (the server's
                presence); None: the working hours alone decide who answers a handoff.

        Returns:
            The replies, the actions run, the tracker steps added and the typed effects.
        """
        result = TurnResult()
        if not state.introduced:
            state.introduced = True
            result.replies.append(self.introduction())
        if state.awaiting_score:
            state.awaiting_score = False
            score = _score(message.text)
            if score is not None:
                result.intent = "score"
                result.effects.append(RecordSurveyAnswer(score=score))
                result.replies.append(self.say("utter_score_thanks", channel))
                state.turns.append(Turn("score", message.text, True))
                return result
        message = self.parse_payload(message)
        offered, state.clarify = state.clarify, []
        other = False  # "Другое" to "did you mean ...?": ask to rephrase
        if offered and self.clarifier is not None:
            answer = self.clarifier.read(offered, message)
            message, other = answer.message, answer.other
        message = self._expect_yes_no(state, message)
        intent = message.intent.name if message.intent else FALLBACK_INTENT
        result.intent = intent
        result.entities = list(message.entities)
        turn = TurnContext(
            message,
            list(state.turns),
            state.misunderstood_in_a_row,
            state.awaiting_feedback,
            self.config.intents,
            tuple(offered),
        )
        escalation = None if other else self.escalator.decide(turn)
        clarified = bool(offered) and not other and intent != FALLBACK_INTENT
        if clarified:  # Rasa's loop runs once more to end itself before the answer
            result.spans.append((TWO_STAGE_FALLBACK, len(result.replies), len(result.replies)))
        tracker = state.tracker
        for name, value in self.initial_slots.items():
            tracker.slots.setdefault(name, value)
        awaited_feedback, state.awaiting_feedback = state.awaiting_feedback, False
        work = TurnWork(state, result, message, now, sender_id, channel, before_io, staffed)
        mark = len(tracker.history)

        if tracker.active_loop and (
            escalation is None or escalation.reason not in ("complaint", "human_request")
        ):
            result.effects.append(MarkFormAnswer())
            await self._dialogue(work, intent)
            if result.escalation is None and not result.actions and tracker.active_loop:
                result.replies.append(Reply(self.config.bot.fallback, response="fallback"))
            if not tracker.active_loop and self._answered(result):
                self._after_answer(work, intent)  # the form is done and its answer was given
            state.turns.append(Turn(intent, "", False))  # answers to a form are personal data
            result.events = tracker.history[mark:] if len(tracker.history) >= mark else []
            result.active_loop = tracker.active_loop
            return result
        if tracker.active_loop:
            self.stop_form(work, forget=True)

        if escalation is not None:
            self._escalate(work, escalation)
        elif other:
            self._ask_rephrase(work)
        elif state.pending_offer and intent in ("affirm", "deny"):
            await self._answer_offer(work, intent)
        elif awaited_feedback and intent == "affirm":
            result.replies.append(self.say("utter_feedback_thanks", channel))
            if self.config.survey.ask_score and "utter_ask_score" in self.responses:
                state.awaiting_score = True
                result.replies.append(self.say("utter_ask_score", channel))
        elif intent == FALLBACK_INTENT:
            state.misunderstood_in_a_row += 1
            if not self._did_you_mean(work):
                result.replies.append(Reply(self.config.bot.fallback, response="fallback"))
        else:
            await self._dialogue(work, intent)
            if not result.actions and result.escalation is None:
                state.misunderstood_in_a_row += 1
                result.replies.append(Reply(self.config.bot.fallback, response="fallback"))
        if self._answered(result):
            self._after_answer(work, intent)
        if awaited_feedback and intent in YES_NO:
            result.effects.append(RecordSurveyAnswer(helpful=intent == "affirm"))
        if intent != FALLBACK_INTENT and not other:
            state.misunderstood_in_a_row = 0
        state.turns.append(Turn(intent, message.text, bool(result.actions)))
        result.events = tracker.history[mark:] if len(tracker.history) >= mark else []
        if state.clarify or clarified:  # as a Rasa test story sees the two-stage fallback's loop
            result.events.append(Step("loop", TWO_STAGE_FALLBACK if state.clarify else ACTIVE_LOOP_NONE))
        result.active_loop = tracker.active_loop
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

    # ---- Rasa's loop: extract slots, then predict and run actions until the bot listens -
    async def _dialogue(self, work: TurnWork, intent: str) -> None:
        tracker, message = work.state.tracker, work.message
        base = retrieval_base(intent)
        tracker.latest, tracker.latest_full_intent = message, intent
        tracker.user(base, tuple(e.entity for e in message.entities))
        if intent in self.config.intents.buying_interest and intent not in work.state.interest:
            work.state.interest.append(intent)
        try:
            await self._extract_slots(work, intent)
            await self._run_actions(work)
        except ActionUnavailable as exc:
            self._integration_failed(work, str(exc))
        finally:
            tracker.latest, tracker.latest_full_intent = None, None

    async def _extract_slots(self, work: TurnWork, intent: str) -> None:
        tracker = work.state.tracker
        candidates = extract_slots(self.dialogue, tracker, work.message, intent)
        for name, value in candidates.items():
            tracker.set_slot(name, value)
        for action in custom_mapping_actions(self.dialogue, tracker) if self._custom_mappings else ():
            if self.actions.handles(action):
                outcome = await self.call_action(work, action)
                await self._apply(work, action, outcome, custom_mapping=True)
        if "action_validate_slot_mappings" in self.dialogue.actions and candidates:
            outcome = await self.call_action(work, "action_validate_slot_mappings")
            await self._apply(work, "action_validate_slot_mappings", outcome, custom_mapping=True)

    async def _run_actions(self, work: TurnWork) -> None:
        tracker = work.state.tracker
        for _ in range(MAX_ACTIONS_PER_TURN):
            if work.stop:
                return
            loop = tracker.active_loop
            if work.followup is not None:
                action, work.followup = work.followup, None
            elif loop and not work.loop_rejected and tracker.latest_action != loop:
                action = loop  # a form has priority over any rule (Rasa's loop happy path)
            elif loop and not work.loop_rejected:
                return  # the form asked its question: listen
            else:
                prediction = self.policy.predict(tracker)
                if prediction is None:
                    return
                action = prediction.action
                # A rule or story may bring a rejected form back (Rasa's unhappy path): it then
                # runs without validating (LoopInterrupted) and asks its question again.
                if action in work.rejected:
                    return  # it refused once this turn: nothing else applies
            if action == "action_listen":
                return
            await self._run(work, action)

    async def _run(self, work: TurnWork, action: str) -> None:
        start, before = len(work.result.replies), len(work.result.actions)
        try:
            await self._run_action(work, action)
        except ActionRejected:
            # Rasa's ActionExecutionRejection: not logged; other rules and stories get the turn.
            work.rejected.add(action)
        finally:
            if len(work.result.actions) > before:
                work.result.spans.append((action, start, len(work.result.replies)))

    async def _run_action(self, work: TurnWork, action: str) -> None:
        tracker, result = work.state.tracker, work.result
        if action in self.dialogue.forms:
            interrupted, work.loop_rejected = work.loop_rejected, False
            work.loop_rejected = not await self.forms.run(self, work, action, interrupted=interrupted)
            return
        if action.startswith("utter_"):
            tracker.action(action)
            result.actions.append(action)
            name = self._retrieval_response(action, tracker)
            result.replies.append(self.say(name, work.channel, **_slot_values(tracker)))
            return
        if action in BUILTIN_ACTIONS:
            self._builtin(work, action)
            return
        outcome = await self.call_action(work, action)
        await self._apply(work, action, outcome)

    def _retrieval_response(self, action: str, tracker: Tracker) -> str:
        """``utter_faq`` after a ``faq/ask_price`` message says ``utter_faq/ask_price`` (ResponseSelector)."""
        if action in self.responses or action not in self.policy.retrieval_actions:
            return action
        intent = tracker.latest_full_intent or ""
        return f"utter_{intent}" if intent.startswith(action[len("utter_") :] + "/") else action

    def _builtin(self, work: TurnWork, action: str) -> None:
        tracker, result = work.state.tracker, work.result
        tracker.action(action)
        result.actions.append(action)
        if action == "action_restart":
            tracker.restart(self.initial_slots)
            if "utter_restart" in self.responses:
                result.replies.append(self.say("utter_restart", work.channel))
            work.stop = True
        elif action == "action_deactivate_loop":
            tracker.set_loop(None)
            tracker.set_slot(REQUESTED_SLOT, None)
        elif action == "action_default_fallback":
            result.replies.append(Reply(self.config.bot.fallback, response="fallback"))
            work.stop = True
        elif action == "action_handoff":
            escalation = Escalation("human_request", Text("a rule hands the dialogue to a person"), 0)
            self._escalate(work, escalation)
            work.stop = True

    async def call_action(
        self, work: TurnWork, action: str, extra: list[dict[str, Any]] | None = None
    ) -> ActionOutcome:
        """Run a custom action (or a form's validation) on the executor with this turn's tracker."""
        if not self.actions.handles(action):
            raise ActionUnavailable(f"action {action}: no action server or HTTP action runs it")
        state = work.state.tracker.rasa_state(work.sender_id, extra)
        if work.before_io is not None:
            gate, work.before_io = work.before_io, None
            await gate()
        return await self.actions.run(action, state, self.rasa_domain())

    async def _apply(
        self, work: TurnWork, action: str, outcome: ActionOutcome, custom_mapping: bool = False
    ) -> None:
        """Rasa's order: the action is logged, then its responses are said and its events applied."""
        tracker, result = work.state.tracker, work.result
        if any(e.get("event") == "action_execution_rejected" for e in outcome.events):
            raise ActionRejected(action)
        if not custom_mapping:
            tracker.action(action)
            result.actions.append(action)
        slots = _slot_values(tracker)
        for response in outcome.responses:
            result.replies.append(self.action_response(response, slots, work.channel))
        self.apply_events(work, outcome.events)

    def action_response(self, response: dict[str, Any], slots: dict[str, Any], channel: str | None) -> Reply:
        """A response from an action: a named template (with its extra values) or text, buttons, ..."""
        name = response.get("response") or response.get("template")
        known = (
            "text",
            "buttons",
            "image",
            "custom",
            "json_message",
            "attachment",
            "elements",
            "quick_replies",
        )
        if name:
            values = {
                **slots,
                **{k: v for k, v in response.items() if k not in (*known, "response", "template")},
            }
            reply = self.say(str(name), channel, **values)
        else:
            reply = Reply("")
        if response.get("text"):
            reply.text = str(response["text"])
        if response.get("buttons"):
            reply.buttons = [*reply.buttons, *list(response["buttons"])]
        if response.get("image"):
            reply.image = str(response["image"])
        custom = response.get("custom") or response.get("json_message")
        if isinstance(custom, dict) and custom:
            reply.custom = custom
        if response.get("attachment"):
            reply.attachment = response["attachment"]
        return reply

    def apply_events(self, work: TurnWork, events: list[dict[str, Any]]) -> None:
        """Rasa events returned by an action, applied to the tracker."""
        tracker, result = work.state.tracker, work.result
        for event in events:
            kind = event.get("event")
            if kind == "slot":
                name = str(event.get("name"))
                tracker.set_slot(name, event.get("value"))
            elif kind == "reset_slots":
                tracker.reset_slots(self.initial_slots)
            elif kind == "restart":
                tracker.restart(self.initial_slots)
                work.stop = True
            elif kind == "followup":
                work.followup = str(event.get("name"))
            elif kind == "active_loop":
                loop = event.get("name")
                tracker.set_loop(str(loop) if loop else None)
                if not loop:
                    tracker.set_slot(REQUESTED_SLOT, None)
            elif kind == "rewind":
                tracker.revert_user()
                work.stop = True
            elif kind == "undo":
                tracker.revert_action()
            elif kind == "bot":
                data = event.get("data") or {}
                result.replies.append(
                    self.action_response({"text": event.get("text"), **data}, {}, work.channel)
                )
            elif kind == "pause":
                escalation = Escalation(
                    "human_request", Text("an action paused the bot (ConversationPaused)"), 0
                )
                self._escalate(work, escalation)
                work.stop = True
            else:
                log.info("action event %s is not supported and was ignored", kind)

    def _integration_failed(self, work: TurnWork, detail: str) -> None:
        """An action could not reach its integration: say so and hand the dialogue to a person."""
        log.warning("integration unavailable: %s", detail)
        if "utter_integration_unavailable" in self.responses:
            work.result.replies.append(self.say("utter_integration_unavailable", work.channel))
        self._escalate(work, Escalation(INTEGRATION_UNAVAILABLE, detail, 0))

    # ---- botdesk's own dialogue around the flows ---------------------------------------
    def _did_you_mean(self, work: TurnWork) -> bool:
        """The two-stage fallback's question with a button per candidate intent; False: none to offer."""
        if self.clarifier is None:
            return False
        candidates = [c.name for c in self.clarifier.candidates(work.message)]
        if not candidates:
            return False
        joined = self.clarifier.joined(candidates)
        if ASK_AFFIRMATION in self.responses:
            reply = self.say(ASK_AFFIRMATION, work.channel, intents=joined)
        else:
            text = self.clarifier.default_text(ASK_AFFIRMATION).format(intents=joined)
            reply = Reply(text, response=ASK_AFFIRMATION)
        reply.buttons = self.clarifier.buttons(candidates, work.message)
        self._say_as(work, TWO_STAGE_FALLBACK, reply)
        work.state.clarify = candidates
        return True

    def _ask_rephrase(self, work: TurnWork) -> None:
        """ "Другое": the guesses were wrong; Rasa's utter_ask_rephrase (the miss count stays)."""
        if ASK_REPHRASE in self.responses:
            reply = self.say(ASK_REPHRASE, work.channel)
        else:
            assert self.clarifier is not None  # only a clarifier reads "Другое"
            reply = Reply(self.clarifier.default_text(ASK_REPHRASE), response=ASK_REPHRASE)
        self._say_as(work, TWO_STAGE_FALLBACK, reply)

    @staticmethod
    def _say_as(work: TurnWork, action: str, reply: Reply) -> None:
        """A reply said by a built-in action, listed as Rasa lists it (a test story may name either)."""
        start = len(work.result.replies)
        work.result.replies.append(reply)
        work.result.spans.append((action, start, start + 1))

    def _answered(self, result: TurnResult) -> bool:
        return any(a.startswith("utter_") or a in self.dialogue.http_actions for a in result.actions)

    def _after_answer(self, work: TurnWork, intent: str) -> None:
        state, result = work.state, work.result
        if state.tracker.active_loop or result.escalation is not None:
            return
        if (
            intent in self.config.intents.buying_interest
            and not state.lead_offered
            and LEAD_FORM in self.dialogue.forms
            and "utter_offer_lead" in self.responses
        ):
            state.lead_offered = True
            state.pending_offer = "lead"
            result.replies.append(self.say("utter_offer_lead", work.channel))
        elif (
            self.config.escalation.ask_feedback
            and self.config.survey.enabled
            and not state.surveyed
            and "utter_ask_feedback" in self.responses
            and intent not in CONVERSATIONAL
            and (
                f"utter_{intent}" in result.actions
                or any(a in self.dialogue.http_actions for a in result.actions)
            )
        ):
            self.ask_feedback(state, result)

    def ask_feedback(self, state: DialogueState, result: TurnResult) -> None:
        """The survey question, once per dialogue (inline after an answer, or when the customer is quiet)."""
        state.awaiting_feedback = True
        state.surveyed = True
        result.effects.append(RecordSurveyAsked())
        result.replies.append(self.say("utter_ask_feedback"))

    async def _answer_offer(self, work: TurnWork, intent: str) -> None:
        state = work.state
        offer, state.pending_offer = state.pending_offer, None
        if intent == "deny" or LEAD_FORM not in self.dialogue.forms:
            work.result.replies.append(self.say("utter_offer_declined", work.channel))
            return
        state.lead_kind = "callback" if offer == "callback" else "lead"
        await self._run(work, LEAD_FORM)

    def _escalate(self, work: TurnWork, escalation: Escalation) -> None:
        state, result, now = work.state, work.result, work.now
        state.misunderstood_in_a_row = 0
        state.pending_offer = None
        department = self.department(escalation.department)
        open_now = department.hours.is_open(now)
        online = work.staffed(department.key) if work.staffed is not None else open_now
        if online:  # someone at the panel now (after hours too: a person is there)
            result.effects.append(OpenTicket(escalation))
            result.replies.append(self.say("utter_handoff_queued", work.channel))
            return
        if open_now:  # working hours, but nobody online: say so, queue it, offer a call-back
            result.effects.append(OpenTicket(escalation, unstaffed=True))
            result.replies.append(self.say("utter_nobody_online", work.channel))
            if LEAD_FORM in self.dialogue.forms:
                state.pending_offer = "callback"
            return
        opening = department.hours.next_opening(now)
        result.effects.append(OpenTicket(escalation, after_hours=True, opening=opening))
        when = describe_opening(opening, now, self.config.language) if opening else "—"
        result.replies.append(self.say("utter_after_hours", work.channel, opening=when))
        if LEAD_FORM in self.dialogue.forms:
            state.pending_offer = "callback"

    def stop_form(self, work: TurnWork, forget: bool) -> None:
        """End the active form (a person was asked for, or the lead form was declined)."""
        tracker = work.state.tracker
        form = tracker.active_loop
        self.forms.stop(tracker, clear=forget)
        if form == LEAD_FORM and forget:
            work.result.effects.append(RedactFormAnswers())

    def lead_form_finished(self, work: TurnWork) -> None:
        """The lead form is complete: a lead card with consent, else nothing personal kept."""
        state, result = work.state, work.result
        tracker = state.tracker
        consent = tracker.slots.get("consent") is True
        if consent:
            lead = LeadData(
                kind="callback" if state.lead_kind == "callback" else "lead",
                name=tracker.slots.get("name"),
                phone=tracker.slots.get("phone"),
                email=tracker.slots.get("email"),
                consent=True,
                interest=list(state.interest),
            )
            result.effects.append(SaveLead(lead))
            result.replies.append(self.say("utter_lead_saved", work.channel, **_slot_values(tracker)))
        else:
            result.effects.append(RedactFormAnswers())
            result.replies.append(self.say("utter_lead_declined", work.channel))
        for slot in ("name", "phone", "email", "consent"):  # the card has it; the dialogue forgets it
            tracker.slots.pop(slot, None)
        tracker.history = [
            s for s in tracker.history if not (s.kind == "slot" and s.name in ("name", "phone", "email"))
        ]
        work.stop = True


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


def _conditions_hold(conditions: Any, slots: dict[str, Any]) -> bool:
    """A response variant's ``condition:`` (Rasa: every ``type: slot`` constraint equals the slot)."""
    if not isinstance(conditions, list):
        return False
    for condition in conditions:
        if not isinstance(condition, dict) or condition.get("type") != "slot":
            return False
        if slots.get(str(condition.get("name"))) != condition.get("value"):
            return False
    return True


def _slot_dict(slot: Any) -> dict[str, Any]:
    mappings = []
    for m in slot.mappings:
        mapping: dict[str, Any] = {"type": m.type}
        for key in ("entity", "role", "group", "action"):
            if getattr(m, key):
                mapping[key] = getattr(m, key)
        if m.intent:
            mapping["intent"] = list(m.intent)
        if m.not_intent:
            mapping["not_intent"] = list(m.not_intent)
        if m.value is not None:
            mapping["value"] = m.value
        if m.conditions:
            mapping["conditions"] = [
                {
                    "active_loop": c.active_loop,
                    **({"requested_slot": c.requested_slot} if c.requested_slot else {}),
                }
                for c in m.conditions
            ]
        mappings.append(mapping)
    result: dict[str, Any] = {
        "type": slot.type,
        "initial_value": slot.initial_value,
        "influence_conversation": slot.influence_conversation,
        "mappings": mappings,
    }
    if slot.values:
        result["values"] = list(slot.values)
    return result
