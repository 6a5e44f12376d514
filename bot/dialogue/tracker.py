"""The dialogue's memory: the history of steps plus the current slots and active form.

Serialisable to JSON (``to_dict``/``from_dict``) so the conversation store can keep it
and a restarted server continues every dialogue where it was. :meth:`Tracker.rasa_state`
gives the same history in the shape Rasa's action server expects (``tracker`` of the
action-server request), so a rasa-sdk action sees what it would see under Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.stories import ACTIVE_LOOP_NONE, REQUESTED_SLOT, Step
from bot.nlu.base import Message

MAX_HISTORY = 200


@dataclass
class Tracker:
    history: list[Step] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None
    # The message being answered and its full intent (``faq/ask_price``): kept for this turn
    # only, never stored, since it may be personal data the form forgets. Rasa's
    # ``latest_message`` is made from them only when an action server asks.
    latest: Message | None = None
    latest_full_intent: str | None = None

    @property
    def latest_message(self) -> dict[str, Any] | None:
        if self.latest is None:
            return None
        parsed = self.latest.to_parse_dict()
        intent = self.latest_full_intent or parsed["intent"]["name"]
        parsed["intent"] = {"name": intent, "confidence": parsed["intent"]["confidence"]}
        if "/" in intent:
            parsed["response_selector"] = {
                intent.split("/", 1)[0]: {"response": {"intent_response_key": intent}}
            }
        return parsed

    def add(self, step: Step) -> None:
        self.history.append(step)
        if step.kind == "slot":
            self.slots[step.name] = step.value
        elif step.kind == "loop":
            self.active_loop = None if step.name == ACTIVE_LOOP_NONE else step.name
        if len(self.history) > MAX_HISTORY:
            del self.history[: len(self.history) - MAX_HISTORY]

    def user(self, intent: str, entities: tuple[str, ...] = ()) -> None:
        self.add(Step("intent", intent, tuple(sorted(set(entities)))))

    def action(self, name: str) -> None:
        self.add(Step("action", name))

    def set_slot(self, name: str, value: Any) -> None:
        self.add(Step("slot", name, value))

    def set_loop(self, name: str | None) -> None:
        self.add(Step("loop", name or ACTIVE_LOOP_NONE))

    @property
    def latest_intent(self) -> str | None:
        for step in reversed(self.history):
            if step.kind == "intent":
                return step.name
        return None

    @property
    def latest_action(self) -> str | None:
        """The last action since the customer's latest message (None: the bot is listening)."""
        for step in reversed(self.history):
            if step.kind == "intent":
                return None
            if step.kind == "action":
                return step.name
        return None

    def since_latest_user(self) -> list[Step]:
        for index in range(len(self.history) - 1, -1, -1):
            if self.history[index].kind == "intent":
                return self.history[index + 1 :]
        return list(self.history)

    def revert_user(self) -> None:
        """Rasa's UserUtteranceReverted: forget the latest message and everything after it."""
        for index in range(len(self.history) - 1, -1, -1):
            if self.history[index].kind == "intent":
                del self.history[index:]
                break
        self._replay()

    def revert_action(self) -> None:
        """Rasa's ActionReverted: forget the latest action and what it set."""
        for index in range(len(self.history) - 1, -1, -1):
            if self.history[index].kind == "action":
                del self.history[index:]
                break
        self._replay()

    def reset_slots(self, initial: dict[str, Any]) -> None:
        """Rasa's AllSlotsReset: every slot back to its initial value (kept as steps)."""
        for name in list(self.slots):
            if not name.startswith("_"):
                self.set_slot(name, initial.get(name))

    def restart(self, initial: dict[str, Any]) -> None:
        """Rasa's Restarted: a conversation with nothing in it."""
        self.history.clear()
        self.slots = dict(initial)
        self.active_loop = None

    def _replay(self) -> None:
        slots = {k: v for k, v in self.slots.items() if k.startswith("_")}
        loop: str | None = None
        for step in self.history:
            if step.kind == "slot":
                slots[step.name] = step.value
            elif step.kind == "loop":
                loop = None if step.name == ACTIVE_LOOP_NONE else step.name
        self.slots, self.active_loop = slots, loop

    def state_before(self, index: int) -> tuple[dict[str, Any], str | None]:
        """Slots and active form as they were before ``history[index]``."""
        slots: dict[str, Any] = {}
        loop: str | None = None
        for step in self.history[:index]:
            if step.kind == "slot":
                slots[step.name] = step.value
            elif step.kind == "loop":
                loop = None if step.name == ACTIVE_LOOP_NONE else step.name
        return slots, loop

    # ---- Rasa's shapes -------------------------------------------------------------------
    def rasa_events(self, extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The history as Rasa events; the latest user event carries the message being answered."""
        events: list[dict[str, Any]] = []
        last_user = max((i for i, s in enumerate(self.history) if s.kind == "intent"), default=-1)
        latest_message = self.latest_message
        for index, step in enumerate(self.history):
            if step.kind == "intent":
                events.append({"event": "action", "name": "action_listen"})
                latest = latest_message if index == last_user and latest_message else None
                parse = latest or {"intent": {"name": step.name, "confidence": 1.0}, "entities": []}
                events.append({"event": "user", "text": (latest or {}).get("text"), "parse_data": parse})
            elif step.kind == "action":
                events.append({"event": "action", "name": step.name})
            elif step.kind == "slot":
                events.append({"event": "slot", "name": step.name, "value": step.value})
            else:
                name = None if step.name == ACTIVE_LOOP_NONE else step.name
                events.append({"event": "active_loop", "name": name})
        return events + list(extra or [])

    def rasa_state(self, sender_id: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """``tracker.current_state()`` as Rasa sends it to the action server."""
        slots = {k: v for k, v in self.slots.items() if not k.startswith("_")}
        for event in extra or []:
            if event.get("event") == "slot":
                slots[str(event["name"])] = event.get("value")
        latest_action = self.latest_action or "action_listen"
        latest = self.latest_message or {"intent": {}, "entities": [], "text": None}
        return {
            "sender_id": sender_id,
            "slots": slots,
            "latest_message": latest,
            "latest_event_time": None,
            "followup_action": None,
            "paused": False,
            "events": self.rasa_events(extra),
            "latest_input_channel": None,
            "active_loop": {"name": self.active_loop} if self.active_loop else {},
            "latest_action": {"action_name": latest_action},
            "latest_action_name": latest_action,
        }

    def requested_slot(self) -> str | None:
        value = self.slots.get(REQUESTED_SLOT)
        return str(value) if value else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [
                [s.kind, s.name, list(s.value) if isinstance(s.value, tuple) else s.value]
                for s in self.history
            ],
            "slots": dict(self.slots),
            "active_loop": self.active_loop,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Tracker:
        if not data:
            return cls()
        history = [
            Step(kind, name, tuple(value or ()) if kind == "intent" else value)
            for kind, name, value in data.get("history", [])
        ]
        return cls(history, dict(data.get("slots") or {}), data.get("active_loop"))
