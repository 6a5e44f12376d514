"""Forms: ask for each missing slot in turn, validate the answer, never insist.

While a form is active each customer message is first offered to it: a value for the
requested slot is extracted (slot mappings), validated and stored, or the question is
asked again. A "no"/"stop" ends the form politely with nothing kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.stories import REQUESTED_SLOT, DialogueData, Form, Slot
from bot.dialogue.tracker import Tracker
from bot.dialogue.validators import VALIDATORS
from bot.nlu.base import FALLBACK_INTENT, Message

STOP_INTENTS = ("deny", "goodbye")
MAX_ATTEMPTS_PER_SLOT = 3


@dataclass
class FormStep:
    """What the form wants said and whether it finished, stopped or goes on."""

    form: str = ""
    utter: list[str] = field(default_factory=list)
    finished: bool = False
    stopped: bool = False
    filled: dict[str, Any] = field(default_factory=dict)


class FormRunner:
    def __init__(self, data: DialogueData, language: str) -> None:
        self.data = data
        self.language = language

    def activate(self, name: str, tracker: Tracker) -> FormStep:
        form = self.data.forms[name]
        tracker.action(name)
        tracker.set_loop(name)
        tracker.slots["_attempts"] = 0
        return self._ask_next(form, tracker)

    def _ask_next(self, form: Form, tracker: Tracker) -> FormStep:
        for slot in form.required_slots:
            if tracker.slots.get(slot) is None:
                tracker.set_slot(REQUESTED_SLOT, slot)
                return FormStep(form.name, utter=[f"utter_ask_{slot}"])
        tracker.action(form.name)  # Rasa's shape: the form runs once more, then the loop ends
        tracker.set_loop(None)
        tracker.set_slot(REQUESTED_SLOT, None)
        return FormStep(
            form.name, finished=True, filled={s: tracker.slots.get(s) for s in form.required_slots}
        )

    def stop(self, tracker: Tracker, clear: bool = True) -> FormStep:
        form = self.data.forms.get(tracker.active_loop or "")
        if form is not None and clear:
            for slot in form.required_slots:
                tracker.slots.pop(slot, None)
        tracker.set_loop(None)
        tracker.set_slot(REQUESTED_SLOT, None)
        return FormStep(form.name if form else "", stopped=True)

    def handle(self, message: Message, tracker: Tracker) -> FormStep:
        form = self.data.forms[tracker.active_loop or ""]
        requested = tracker.slots.get(REQUESTED_SLOT)
        intent = message.intent.name if message.intent else FALLBACK_INTENT
        slot = self.data.slots.get(str(requested)) if requested else None
        if slot is None:
            return self._ask_next(form, tracker)
        raw = self._extract(slot, message, intent)
        if raw is None and intent in STOP_INTENTS:
            return self.stop(tracker)
        validator = VALIDATORS.get(slot.name)
        value = validator(raw, message, self.language) if validator and raw is not None else raw
        if value is None:
            attempts = int(tracker.slots.get("_attempts") or 0) + 1
            tracker.slots["_attempts"] = attempts
            if attempts >= MAX_ATTEMPTS_PER_SLOT:
                step = self.stop(tracker)
                step.utter = ["utter_form_gave_up"]
                return step
            return FormStep(form.name, utter=[f"utter_invalid_{slot.name}", f"utter_ask_{slot.name}"])
        tracker.slots["_attempts"] = 0
        tracker.set_slot(slot.name, value)
        return self._ask_next(form, tracker)

    def _extract(self, slot: Slot, message: Message, intent: str) -> Any:
        for mapping in slot.mappings:
            if intent in mapping.not_intent:
                continue
            if mapping.type == "from_entity":
                for entity in message.entities:
                    if entity.entity == mapping.entity:
                        return entity.value
            elif mapping.type == "from_intent":
                if mapping.intent == intent:
                    return mapping.value
            elif mapping.type == "from_text" and message.text.strip():
                return message.text.strip()
        return None
