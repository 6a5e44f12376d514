"""Which action comes next: rules, then stories, then the intent's own answer.

Deterministic by construction: a flow predicts its next action when the steps before
it match the end of the history (intents and actions in order; ``slot_was_set`` and
``active_loop`` steps and ``condition`` checked against the slots at that point). The
longest match wins; rules beat stories; ties go to the flow written first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.dialogue.slots import slot_matches
from bot.dialogue.stories import ACTIVE_LOOP_NONE, DialogueData, Flow, Step, retrieval_base
from bot.dialogue.tracker import Tracker

SKELETON = ("intent", "action")


@dataclass(frozen=True)
class Prediction:
    action: str
    source: str  # "rule: <name>", "story: <name>" or "default"
    specificity: int = 0


def _skeleton(steps: Sequence[Step]) -> list[Step]:
    return [s for s in steps if s.kind in SKELETON]


@dataclass(frozen=True)
class _Candidate:
    """An action of a flow with what must come before it: worked out once, matched every turn."""

    prefix: tuple[Step, ...]  # the flow's steps before the action
    pattern: tuple[Step, ...]  # their intents and actions, to match against the history's end
    prediction: Prediction


def _predictions_of(flow: Flow) -> list[_Candidate]:
    """The flow's actions in order; one with nothing before it only at a conversation's start."""
    candidates = []
    for k, step in enumerate(flow.steps):
        if step.kind != "action":
            continue
        prefix = flow.steps[:k]
        pattern = tuple(_skeleton(prefix))
        if not pattern and not flow.conversation_start:
            continue
        specificity = 2 * len(pattern) + len(flow.conditions) + len(prefix)
        prediction = Prediction(step.name, f"{flow.kind}: {flow.name}", specificity)
        candidates.append(_Candidate(prefix, pattern, prediction))
    return candidates


def _state_holds(step: Step, slots: dict[str, object], loop: str | None, data: DialogueData) -> bool:
    """A ``slot_was_set`` / ``active_loop`` step against the state (slots as Rasa featurizes them)."""
    if step.kind == "slot":
        return slot_matches(data.slots.get(step.name), step.name, step.value, slots.get(step.name))
    if step.kind == "loop":
        return (loop is None) if step.name == ACTIVE_LOOP_NONE else loop == step.name
    return True


class Policy:
    def __init__(self, data: DialogueData, responses: set[str]) -> None:
        self.data = data
        self.responses = responses
        self.retrieval_actions = {
            "utter_" + retrieval_base(r[len("utter_") :]) for r in responses if "/" in r
        }
        self._rules = [(flow, _predictions_of(flow)) for flow in data.rules]
        self._stories = [(flow, _predictions_of(flow)) for flow in data.stories]

    def predict(self, tracker: Tracker) -> Prediction | None:
        skeleton_positions = [i for i, s in enumerate(tracker.history) if s.kind in SKELETON]
        for flows in (self._rules, self._stories):
            best: Prediction | None = None
            for flow, candidates in flows:
                prediction = self._match(flow, candidates, tracker, skeleton_positions)
                if prediction is not None and (best is None or prediction.specificity > best.specificity):
                    best = prediction
            if best is not None:
                return best
        return self._default(tracker)

    def _default(self, tracker: Tracker) -> Prediction | None:
        """No rule or story: an intent with a response ``utter_<intent>`` (or retrieval responses) gets it."""
        last = _skeleton(tracker.history)[-1:] if tracker.history else []
        if not last or last[0].kind != "intent":
            return None
        answer = f"utter_{retrieval_base(last[0].name)}"
        if answer in self.responses or answer in self.retrieval_actions:
            return Prediction(answer, "default", 0)
        return None

    def _match(
        self, flow: Flow, candidates: Sequence[_Candidate], tracker: Tracker, skeleton_positions: list[int]
    ) -> Prediction | None:
        """The flow's first action whose steps before it end the history (``skeleton_positions``)."""
        history = tracker.history
        for candidate in candidates:
            pattern = candidate.pattern
            if len(pattern) > len(skeleton_positions):
                continue
            if flow.conversation_start and len(pattern) != len(skeleton_positions):
                continue
            tail = skeleton_positions[len(skeleton_positions) - len(pattern) :] if pattern else []
            if any(not p.matches(history[i]) for p, i in zip(pattern, tail, strict=True)):
                continue
            if not self._states_hold(flow, candidate.prefix, pattern, tail, tracker):
                continue
            return candidate.prediction
        return None

    def _states_hold(
        self, flow: Flow, prefix: Sequence[Step], pattern: Sequence[Step], tail: list[int], tracker: Tracker
    ) -> bool:
        start = tail[0] if tail else len(tracker.history)
        if pattern and pattern[0].kind == "intent":
            # Rasa's state of a user turn includes the slots its message filled.
            start = tail[1] if len(tail) > 1 else len(tracker.history)
        slots, loop = tracker.state_before(start)
        first = pattern[0] if pattern else None
        for condition in flow.conditions:
            if _state_holds(condition, slots, loop, self.data):
                continue
            # A form that starts and completes in one run (its slots were already filled):
            # Rasa's submit rule still follows, though the form was not active before it ran.
            if (
                condition.kind == "loop"
                and first is not None
                and (first.kind, first.name) == ("action", condition.name)
            ):
                continue
            return False
        # slot_was_set / active_loop steps inside the prefix: check the state after the
        # skeleton step they follow (i.e. at the next skeleton step, or now).
        skeleton_index = -1
        for step in prefix:
            if step.kind in SKELETON:
                skeleton_index += 1
                continue
            if skeleton_index + 1 < len(tail):
                slots, loop = tracker.state_before(tail[skeleton_index + 1])
            else:
                slots, loop = tracker.slots, tracker.active_loop
            if not _state_holds(step, slots, loop, self.data):
                return False
        return True
