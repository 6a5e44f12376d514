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

import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.conversation import ConversationService
    from bot.project import Project
    from bot.store import Database
    from handoff.service import OperatorService

from bot.errors import DataError
from bot.messages import InboundMessage, OutboundMessage
from bot.nlu.data import parse_annotations
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


def _same(expected: Any, actual: Any) -> bool:
    if expected is ANY_VALUE:
        return actual not in (None, "", [])
    return bool(expected == actual or str(expected) == str(actual))


def _names(messages: list[OutboundMessage]) -> list[str]:
    names = []
    for message in messages:
        if message.response == "introduction":
            continue
        names.append("utter_default" if message.response == "fallback" else str(message.response))
    return names


@contextlib.asynccontextmanager
async def scratch_store() -> AsyncIterator[tuple[Database, int]]:
    """A fresh SQLite store in a temporary directory, and the operator that stories use."""
    from bot.store import Database, create_operator, upgrade

    with tempfile.TemporaryDirectory(prefix="botdesk-story-") as tmp:
        db = Database.open(f"sqlite:///{Path(tmp) / 'stories.db'}")
        try:
            await upgrade(db.engine)
            async with db.session() as session:
                operator = await create_operator(session, "story-operator", "Оператор")
                await session.commit()
                operator_id = operator.id
            yield db, operator_id
        finally:
            await db.close()


def story_services(
    project: Project, pipeline: Pipeline, db: Database, at: datetime
) -> tuple[ConversationService, OperatorService, list[OutboundMessage]]:
    """The customer and operator services at a fixed time; what operators send is collected."""
    from bot.conversation import ConversationService
    from handoff.service import OperatorService

    delivered: list[OutboundMessage] = []

    async def deliver(message: OutboundMessage) -> None:
        delivered.append(message)

    clock = _Clock(at)
    engine = project.engine(seed=0)
    customers = ConversationService(project.config, db.turns, lambda: pipeline, engine, clock=clock)
    operators = OperatorService(project.config, db, engine, deliver=deliver, clock=clock)
    return customers, operators, delivered


async def run_stories(project: Project, pipeline: Pipeline, stories: list[TestStory]) -> list[StoryOutcome]:
    """Every story against one fresh store, each as its own customer."""
    async with scratch_store() as (db, operator_id):
        outcomes = []
        for number, story in enumerate(stories):
            customers, operators, delivered = story_services(project, pipeline, db, story.at)
            runner = _StoryRun(story, f"story-{number}", customers, operators, operator_id, delivered)
            outcomes.append(await runner.run())
        return outcomes


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class _StoryRun:
    story: TestStory
    customer: str
    customers: Any
    operators: Any
    operator_id: int
    delivered: list[OutboundMessage]
    ticket: int | None = None
    claimed: bool = False

    async def run(self) -> StoryOutcome:
        outcome = StoryOutcome(self.story)
        for number, turn in enumerate(self.story.turns, start=1):
            where = f"line {turn.line}" if turn.line else f"step {number}"
            what = f"operator {turn.text!r}" if turn.operator else repr(turn.text)
            try:
                actions = (
                    [await self._operator(turn)]
                    if turn.operator
                    else await self._customer(turn, where, outcome)
                )
            except Exception as exc:  # a story step the services refuse is a failure, not a crash
                outcome.failures.append(f"{where}: {what} failed: {exc}")
                break
            if turn.actions not in actions:  # no action listed: the bot must stay silent
                outcome.failures.append(
                    f"{where}: after {what} the bot did {actions[0]}, expected {turn.actions}"
                )
        return outcome

    async def _customer(self, turn: UserTurn, where: str, outcome: StoryOutcome) -> list[list[str]]:
        """The turn as the responses said and as the actions run (a story may list either)."""
        handled = await self.customers.handle(InboundMessage("test", self.customer, turn.text))
        result = handled.result
        if turn.intent is not None and result is not None and result.intent != turn.intent:
            outcome.failures.append(
                f"{where}: {turn.text!r} was understood as {result.intent}, expected {turn.intent}"
            )
        if result is not None:
            self._check_state(turn, result, where, outcome)
        if handled.ticket_id is not None:
            self.ticket, self.claimed = handled.ticket_id, False
        prefix = [HANDOFF] if result is not None and result.escalation is not None else []
        said = prefix + _names(handled.replies)
        if result is None:
            return [said]
        extra = handled.replies[len(result.replies) :]  # what the service added (the queue position)
        return [said, prefix + result.action_view() + _names(extra)]

    def _check_state(self, turn: UserTurn, result: Any, where: str, outcome: StoryOutcome) -> None:
        found = {(e.entity, str(e.value)) for e in result.entities}
        missing = [f"{value}({entity})" for entity, value in turn.entities if (entity, value) not in found]
        if missing:
            outcome.failures.append(f"{where}: {turn.text!r}: the NLU did not find {', '.join(missing)}")
        for name, value in turn.slots:
            if not any(s.kind == "slot" and s.name == name and _same(value, s.value) for s in result.events):
                shown = "a value" if value is ANY_VALUE else repr(value)
                outcome.failures.append(f"{where}: slot {name} was not set to {shown} in this turn")
        for loop in turn.loops:
            wanted = loop or "null"
            changed = any(s.kind == "loop" and s.name == wanted for s in result.events)
            if not changed and result.active_loop != loop:  # Rasa's story may restate the loop
                outcome.failures.append(f"{where}: active_loop {loop} did not happen in this turn")

    async def _operator(self, turn: UserTurn) -> list[str]:
        if self.ticket is None:
            raise DataError("an operator step, but no dialogue was handed to a person")
        self.delivered.clear()
        if not self.claimed:
            if not await self.operators.claim(self.ticket, self.operator_id):
                raise DataError(f"the operator could not claim ticket {self.ticket}")
            self.claimed = True
        if turn.text == "/bot":
            await self.operators.return_to_bot(self.ticket, self.operator_id)
        elif turn.text == "/close":
            await self.operators.close(self.ticket, self.operator_id, "solved")
        elif turn.text == "/release":
            await self.operators.release(self.ticket, self.operator_id)
        else:
            await self.operators.reply(self.ticket, self.operator_id, turn.text)
        if turn.text in OPERATOR_COMMANDS:
            self.ticket, self.claimed = None, False
        return _names([m for m in self.delivered if m.sender == "system"])
