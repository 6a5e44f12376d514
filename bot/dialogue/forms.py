"""Forms as Rasa 3 runs them: ask for each missing slot, validate, reject what fills nothing.

A form run (Rasa's FormAction) does, in order:

1. on activation: ``active_loop`` is set, ``from_trigger_intent`` mappings fill, and slots
   filled before the form started are validated;
2. right after a customer message: the slots that message filled (``action_extract_slots``)
   are validated — by botdesk's built-in validators (a slot's ``validator:``) and by the
   ``validate_<form>`` action on the action server, when the domain declares it. A message
   that fills nothing the form asked for is **rejected**: the engine lets rules and stories
   answer it, and the form then asks its question again (a digression);
3. the next missing slot is asked (``action_ask_<form>_<slot>``, ``utter_ask_<form>_<slot>``,
   ``action_ask_<slot>``, ``utter_ask_<slot>``, in Rasa's order); with none left the form
   sets ``requested_slot`` to null and deactivates, and the rules after it (a "submit"
   rule) run.

botdesk's own lead form (``lead_form``) keeps two botdesk habits: "no"/"bye" when nothing
was filled ends it politely with nothing kept, and a built-in validator refusing the same
slot three times gives up (``utter_form_gave_up``) instead of insisting.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.actions.base import ActionOutcome, ActionRejected
from bot.dialogue.slots import trigger_slots
from bot.dialogue.state import Reply, TurnWork
from bot.dialogue.stories import REQUESTED_SLOT, DialogueData, Form
from bot.dialogue.tracker import Tracker
from bot.dialogue.validators import VALIDATORS


class FormHost(Protocol):
    """What a form needs of the engine that runs it (``DialogueEngine``): say, call, apply."""

    responses: dict[str, list[dict[str, Any]]]

    def say(self, response: str, channel: str | None = None, **values: Any) -> Reply: ...

    async def call_action(
        self, work: TurnWork, action: str, extra: list[dict[str, Any]] | None = None
    ) -> ActionOutcome: ...

    def action_response(
        self, response: dict[str, Any], slots: dict[str, Any], channel: str | None
    ) -> Reply: ...

    def apply_events(self, work: TurnWork, events: list[dict[str, Any]]) -> None: ...

    def stop_form(self, work: TurnWork, forget: bool) -> None: ...

    def lead_form_finished(self, work: TurnWork) -> None: ...


LEAD_FORM = "lead_form"
STOP_INTENTS = ("deny", "goodbye")
MAX_ATTEMPTS_PER_SLOT = 3
ATTEMPTS = "_attempts"


class FormRunner:
    def __init__(self, data: DialogueData, language: str) -> None:
        self.data = data
        self.language = language

    async def run(self, engine: FormHost, work: TurnWork, name: str, interrupted: bool = False) -> bool:
        """Run the form once; False when it rejects the customer's message.

        ``interrupted``: a rule or story brought the form back after it rejected the message
        (Rasa's LoopInterrupted): nothing is validated, the question is asked again.
        """
        tracker, form = work.state.tracker, self.data.forms[name]
        activating = tracker.active_loop != name
        validate_now = not activating and not interrupted and tracker.latest_action is None
        if validate_now:
            candidates = self._candidates(form, tracker)
            requested = tracker.requested_slot()
            try:
                events = await self._validate(engine, work, form, candidates)
            except ActionRejected:
                return self._rejected(engine, work, form)
            validated = any(e.get("event") == "slot" and e.get("name") != REQUESTED_SLOT for e in events)
            if requested and not validated:
                return self._rejected(engine, work, form)
            tracker.action(name)
            work.result.actions.append(name)
            engine.apply_events(work, events)
            chosen = [
                e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == REQUESTED_SLOT
            ]
        else:
            chosen = []
            tracker.action(name)
            work.result.actions.append(name)
            if activating:
                tracker.set_loop(name)
                tracker.slots[ATTEMPTS] = 0
                intent = tracker.latest_full_intent or ""
                if name == LEAD_FORM and intent == "callback_request":
                    work.state.lead_kind = "callback"
                for slot, value in trigger_slots(self.data, tracker, name, intent).items():
                    tracker.set_slot(slot, value)
                prefilled = {
                    s: tracker.slots[s] for s in form.required_slots if tracker.slots.get(s) is not None
                }
                if prefilled:
                    engine.apply_events(work, await self._validate(engine, work, form, prefilled))
        if work.stop or tracker.active_loop != name:
            return True  # the validation gave up, or an action ended the form
        await self._request_next_slot(engine, work, form, chosen[-1] if chosen else None)
        return True

    def _candidates(self, form: Form, tracker: Tracker) -> dict[str, Any]:
        """Slots of this form that the customer's latest message filled."""
        found: dict[str, Any] = {}
        for step in tracker.since_latest_user():
            if step.kind == "slot" and step.name in form.required_slots:
                found[step.name] = step.value
        return found

    async def _validate(
        self, engine: FormHost, work: TurnWork, form: Form, candidates: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Built-in validators, then ``validate_<form>`` on the action server: Rasa SlotSet events."""
        tracker, result = work.state.tracker, work.result
        events: list[dict[str, Any]] = []
        for slot_name, value in candidates.items():
            slot = self.data.slots.get(slot_name)
            validator = VALIDATORS.get(slot.validator) if slot and slot.validator else None
            if validator is not None and value is not None:
                checked = validator(value, work.message, self.language)
                if checked is None:
                    attempts = int(tracker.slots.get(ATTEMPTS) or 0) + 1
                    tracker.slots[ATTEMPTS] = attempts
                    if attempts >= MAX_ATTEMPTS_PER_SLOT:
                        self._give_up(engine, work)
                        return []
                    if f"utter_invalid_{slot_name}" in engine.responses:
                        result.replies.append(engine.say(f"utter_invalid_{slot_name}", work.channel))
                else:
                    tracker.slots[ATTEMPTS] = 0
                value = checked
            events.append({"event": "slot", "name": slot_name, "value": value})
        validation = f"validate_{form.name}"
        if validation in self.data.actions:
            outcome = await engine.call_action(work, validation, extra=events)
            if any(e.get("event") == "action_execution_rejected" for e in outcome.events):
                raise ActionRejected(validation)
            slots = {k: v for k, v in tracker.slots.items() if not k.startswith("_") and v is not None}
            for response in outcome.responses:
                result.replies.append(engine.action_response(response, slots, work.channel))
            return outcome.events
        return events

    def _rejected(self, engine: FormHost, work: TurnWork, form: Form) -> bool:
        """Nothing for the form in this message: botdesk's lead form ends on "no"; otherwise digress."""
        intent = work.state.tracker.latest_full_intent or ""
        if form.name == LEAD_FORM and intent in STOP_INTENTS:
            engine.stop_form(work, forget=True)
            work.result.replies.append(engine.say("utter_offer_declined", work.channel))
            work.stop = True
            return True
        return False

    def _give_up(self, engine: FormHost, work: TurnWork) -> None:
        engine.stop_form(work, forget=True)
        work.result.replies.append(engine.say("utter_form_gave_up", work.channel))
        work.stop = True

    async def _request_next_slot(
        self, engine: FormHost, work: TurnWork, form: Form, chosen: str | None
    ) -> None:
        """The slot the validation action chose (``requested_slot``), else the first one missing."""
        tracker, result = work.state.tracker, work.result
        slot = chosen or next((s for s in form.required_slots if tracker.slots.get(s) is None), None)
        if slot is None:
            tracker.set_slot(REQUESTED_SLOT, None)
            tracker.set_loop(None)
            if form.name == LEAD_FORM:
                engine.lead_form_finished(work)
            return
        tracker.set_slot(REQUESTED_SLOT, slot)
        for name in (f"action_ask_{form.name}_{slot}", f"utter_ask_{form.name}_{slot}", f"action_ask_{slot}"):
            if name.startswith("utter_") and name in engine.responses:
                result.replies.append(engine.say(name, work.channel, **_values(tracker)))
                return
            if name.startswith("action_") and name in self.data.actions:
                outcome = await engine.call_action(work, name)
                for response in outcome.responses:
                    result.replies.append(engine.action_response(response, _values(tracker), work.channel))
                engine.apply_events(work, outcome.events)
                return
        result.replies.append(engine.say(f"utter_ask_{slot}", work.channel, **_values(tracker)))

    def stop(self, tracker: Tracker, clear: bool = True) -> None:
        form = self.data.forms.get(tracker.active_loop or "")
        if form is not None and clear:
            for slot in form.required_slots:
                tracker.slots.pop(slot, None)
        tracker.set_loop(None)
        tracker.set_slot(REQUESTED_SLOT, None)


def _values(tracker: Tracker) -> dict[str, Any]:
    return {k: v for k, v in tracker.slots.items() if not k.startswith("_") and v is not None}
