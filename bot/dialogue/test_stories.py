"""Test stories (Rasa's test-story format) run through the real NLU and dialogue engine.

    stories:
    - story: delivery question
      metadata: {time: "2026-11-24T12:00:00+03:00"}   # optional: when the chat happens
      steps:
      - user: |
          сколько стоит доставка?
        intent: delivery_terms
      - action: utter_delivery_terms
      - action: utter_offer_lead

After each user message the bot's turn is the list of responses it said (``utter_*``;
the fallback text is ``utter_default``), with ``action_handoff`` first when the turn
escalated. The introduction on the first turn is not listed. A story passes when every
intent (as the dialogue understood it) and every turn matches exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.dialogue.engine import DialogueEngine, DialogueState, TurnResult
from bot.errors import DataError
from bot.nlu.pipeline import Pipeline
from bot.yamlio import line_of, load_yaml, to_plain

HANDOFF = "action_handoff"
DEFAULT_TIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class UserTurn:
    text: str
    intent: str | None
    actions: list[str]
    line: int | None


@dataclass
class TestStory:
    name: str
    turns: list[UserTurn]
    at: datetime
    source: str
    line: int | None


@dataclass
class StoryOutcome:
    story: TestStory
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def load_test_stories(paths: list[Path]) -> list[TestStory]:
    stories = []
    for path in paths:
        raw = load_yaml(path, DataError)
        items = (raw or {}).get("stories") or []
        for index, item in enumerate(items):
            stories.append(
                _story(to_plain(item), path, line_of(raw, ["stories", index]), raw["stories"][index])
            )
    return stories


def _story(item: dict[str, Any], path: Path, line: int | None, node: Any) -> TestStory:
    name = str(item.get("story", f"story at line {line}"))
    at = DEFAULT_TIME
    when = (item.get("metadata") or {}).get("time")
    if when:
        try:
            at = datetime.fromisoformat(str(when))
        except ValueError:
            raise DataError(
                f"story '{name}': metadata.time {when!r} is not an ISO date-time", path, line
            ) from None
        if at.tzinfo is None:
            raise DataError(f"story '{name}': metadata.time needs a timezone, e.g. +03:00", path, line)
    turns: list[UserTurn] = []
    for index, step in enumerate(item.get("steps") or []):
        step_line = line_of(node, ["steps", index]) or line
        if "user" in step:
            turns.append(UserTurn(str(step["user"]).strip(), step.get("intent"), [], step_line))
        elif "action" in step:
            if not turns:
                raise DataError(f"story '{name}': an action before any user message", path, step_line)
            turns[-1].actions.append(str(step["action"]))
        elif "intent" in step:
            raise DataError(
                f"story '{name}': a test story step needs 'user:' text with its intent", path, step_line
            )
        else:
            keys = ", ".join(step)
            raise DataError(
                f"story '{name}': unsupported step ({keys}); use user/intent and action", path, step_line
            )
    if not turns:
        raise DataError(f"story '{name}' has no user messages", path, line)
    return TestStory(name, turns, at, str(path), line)


def turn_actions(result: TurnResult) -> list[str]:
    actions = [HANDOFF] if result.escalation is not None else []
    for reply in result.replies:
        if reply.response == "introduction":
            continue
        actions.append("utter_default" if reply.response == "fallback" else str(reply.response))
    return actions


def run_story(story: TestStory, pipeline: Pipeline, engine: DialogueEngine) -> StoryOutcome:
    outcome = StoryOutcome(story)
    state = DialogueState()
    for number, turn in enumerate(story.turns, start=1):
        result = engine.handle(state, pipeline.parse(turn.text), story.at)
        where = f"line {turn.line}" if turn.line else f"message {number}"
        if turn.intent is not None and result.intent != turn.intent:
            outcome.failures.append(
                f"{where}: {turn.text!r} was understood as {result.intent}, expected {turn.intent}"
            )
        actions = turn_actions(result)
        if turn.actions and actions != turn.actions:
            outcome.failures.append(
                f"{where}: after {turn.text!r} the bot did {actions}, expected {turn.actions}"
            )
    return outcome
