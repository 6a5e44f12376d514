"""The dialogue's memory: the history of steps plus the current slots and active form.

Serialisable to JSON (``to_dict``/``from_dict``) so the conversation store can keep it
and a restarted server continues every dialogue where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.stories import ACTIVE_LOOP_NONE, Step

MAX_HISTORY = 200


@dataclass
class Tracker:
    history: list[Step] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None

    def add(self, step: Step) -> None:
        self.history.append(step)
        if step.kind == "slot":
            self.slots[step.name] = step.value
        elif step.kind == "loop":
            self.active_loop = None if step.name == ACTIVE_LOOP_NONE else step.name
        if len(self.history) > MAX_HISTORY:
            del self.history[: len(self.history) - MAX_HISTORY]

    def user(self, intent: str) -> None:
        self.add(Step("intent", intent))

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [[s.kind, s.name, s.value] for s in self.history],
            "slots": dict(self.slots),
            "active_loop": self.active_loop,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Tracker:
        if not data:
            return cls()
        history = [Step(kind, name, value) for kind, name, value in data.get("history", [])]
        return cls(history, dict(data.get("slots") or {}), data.get("active_loop"))
