"""Test stories (Rasa's test-story format) run through the real NLU, dialogue and store.

    stories:
    - story: delivery question
      metadata: {time: "2026-11-24T12:00:00+03:00"}   # optional: when the chat happens
      steps:
      - user: |
          сколько стоит доставка?
        intent: delivery_terms
      - action: utter_delivery_terms
      - action: utter_offer_lead

      - operator: Здравствуйте, сейчас проверю.  # an operator claims the ticket and answers
      - action: utter_operator_joined
      - operator: /bot                           # /bot, /close or /release
      - action: utter_back_to_bot

After each user message the bot's turn is the list of responses it said (``utter_*``;
the fallback text is ``utter_default``), with ``action_handoff`` first when the turn
escalated; after an operator step, the responses the customer got from the handoff.
A turn may equally be written as Rasa writes it: the actions run (a form's name, a
custom action's name, ``utter_faq`` for a retrieval intent) instead of what they said.

Rasa's own test files run unchanged: ``intent:`` steps without text are sent as the
payload ``/intent{"entity": "value"}``, ``[value](entity)`` markup in ``user:`` text is
checked against the entities the NLU found, and ``slot_was_set`` / ``active_loop`` steps
must have happened in that turn (Rasa injects them; botdesk checks them, since it runs
the real actions).
The introduction on the first turn is not listed. A story passes when every intent
(as the dialogue understood it) and every turn matches exactly. Each run uses a fresh
SQLite store in a temporary directory, so stories exercise the real conversation and
operator services.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import DataError
from bot.messages import OutboundMessage
from bot.nlu.data import parse_annotations
from bot.yamlio import line_of, load_yaml, to_plain

HANDOFF = "action_handoff"
DEFAULT_TIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class UserTurn:
    text: str
    intent: str | None
    actions: list[str]
    line: int | None
    operator: bool = False
    entities: list[tuple[str, str]] = field(default_factory=list)
    slots: list[tuple[str, Any]] = field(default_factory=list)
    loops: list[str | None] = field(default_factory=list)


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
        if not isinstance(step, dict):
            raise DataError(f"story '{name}': a step must be a mapping", path, step_line)
        if "user" in step or "intent" in step:
            turns.append(_user_turn(step, name, path, step_line))
        elif "operator" in step:
            turns.append(UserTurn(str(step["operator"]).strip(), None, [], step_line, operator=True))
        elif "action" in step:
            if not turns:
                raise DataError(f"story '{name}': an action before any user message", path, step_line)
            action = str(step["action"])
            turns[-1].actions.append("utter_default" if action == "action_default_fallback" else action)
        elif "slot_was_set" in step or "active_loop" in step:
            if not turns:
                continue  # the state before the first message: nothing to check yet
            if "active_loop" in step:
                loop = step["active_loop"]
                turns[-1].loops.append(None if loop is None else str(loop))
            for entry in step.get("slot_was_set") or []:
                if isinstance(entry, dict):
                    turns[-1].slots += [(str(k), v) for k, v in entry.items()]
                else:
                    turns[-1].slots.append((str(entry), ANY_VALUE))
        else:
            keys = ", ".join(step)
            raise DataError(
                f"story '{name}': unsupported step ({keys}); "
                "use user/intent, action, slot_was_set, active_loop",
                path,
                step_line,
            )
    if not turns:
        raise DataError(f"story '{name}' has no user messages", path, line)
    return TestStory(name, turns, at, str(path), line)


OPERATOR_COMMANDS = ("/bot", "/close", "/release")
ANY_VALUE = object()


def _user_turn(step: dict[str, Any], name: str, path: Path, line: int | None) -> UserTurn:
    """``user:`` text (entity markup checked, not sent), or ``intent:`` alone (sent as a payload)."""
    intent = str(step["intent"]) if step.get("intent") is not None else None
    entities: list[tuple[str, str]] = []
    if "user" in step:
        try:
            text, annotations = parse_annotations(str(step["user"]).strip())
        except DataError:
            text, annotations = str(step["user"]).strip(), ()
        entities = [(a.entity, a.value) for a in annotations]
        return UserTurn(text, intent, [], line, entities=entities)
    given: dict[str, Any] = {}
    for entry in step.get("entities") or []:
        if isinstance(entry, dict):
            given.update({str(k): v for k, v in entry.items()})
    payload = f"/{intent}" + (json.dumps(given, ensure_ascii=False) if given else "")
    return UserTurn(payload, intent, [], line, entities=[(k, str(v)) for k, v in given.items()])


def same_value(expected: Any, actual: Any) -> bool:
    """Does a story's expected slot value match what was set (``ANY_VALUE``: anything non-empty)?"""
    if expected is ANY_VALUE:
        return actual not in (None, "", [])
    return bool(expected == actual or str(expected) == str(actual))


def response_names(messages: list[OutboundMessage]) -> list[str]:
    """What the bot said, as a story lists it: the responses' names (the introduction left out)."""
    names = []
    for message in messages:
        if message.response == "introduction":
            continue
        names.append("utter_default" if message.response == "fallback" else str(message.response))
    return names
