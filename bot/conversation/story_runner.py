"""Test stories run through the real NLU, dialogue engine, store and operator services.

``run_stories`` gives every story (``bot.dialogue.test_stories``: the format) a fresh
SQLite store in a temporary directory and its own customer; operator steps go through
the real ``OperatorService``. The editor's "stories from real chats" replays turns the
same way (``story_services``, ``StoryRun``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.conversation.service import ConversationService
from bot.dialogue.test_stories import (
    ANY_VALUE,
    HANDOFF,
    OPERATOR_COMMANDS,
    StoryOutcome,
    TestStory,
    UserTurn,
    response_names,
    same_value,
)
from bot.errors import DataError
from bot.messages import InboundMessage, OutboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, create_operator, upgrade
from handoff.service import OperatorService


@contextlib.asynccontextmanager
async def scratch_store() -> AsyncIterator[tuple[Database, int]]:
    """A fresh SQLite store in a temporary directory, and the operator that stories use."""
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
            runner = StoryRun(story, f"story-{number}", customers, operators, operator_id, delivered)
            outcomes.append(await runner.run())
        return outcomes


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class StoryRun:
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
        said = prefix + response_names(handled.replies)
        if result is None:
            return [said]
        extra = handled.replies[len(result.replies) :]  # what the service added (the queue position)
        return [said, prefix + result.action_view() + response_names(extra)]

    def _check_state(self, turn: UserTurn, result: Any, where: str, outcome: StoryOutcome) -> None:
        found = {(e.entity, str(e.value)) for e in result.entities}
        missing = [f"{value}({entity})" for entity, value in turn.entities if (entity, value) not in found]
        if missing:
            outcome.failures.append(f"{where}: {turn.text!r}: the NLU did not find {', '.join(missing)}")
        for name, value in turn.slots:
            set_here = (s for s in result.events if s.kind == "slot" and s.name == name)
            if not any(same_value(value, s.value) for s in set_here):
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
        return response_names([m for m in self.delivered if m.sender == "system"])
