"""A real conversation as a test story (Rasa's test-story format) for ``botdesk test``.

The customer's messages (masked when they carry a phone or an e-mail, unless the
editor confirms) are replayed through the bot in service, at the time the real
conversation started, on a scratch store; what the bot does now is written down as
the expected intents and actions. So the story passes today and fails the day a
change makes the bot answer that conversation differently. A story covers the bot's
part: it ends after the first operator answer, since what a person says next is not
the bot's to repeat.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.conversation.story_runner import StoryRun, scratch_store, story_services
from bot.dialogue.test_stories import TestStory, UserTurn, response_names
from bot.editor.pii import mask_personal_data
from bot.editor.store import conversation_with_messages
from bot.errors import BotdeskError, DataError
from bot.i18n.text import Text
from bot.messages import InboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, Sender
from bot.yamlio import load_yaml, write_text_atomically

STORY_FILE = re.compile(r"^[\w\-]+(/[\w\-]+)*\.yml$")
DEFAULT_FILE = "tests/test_stories.yml"
MAX_TURNS = 50


class StoryError(BotdeskError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Step:
    text: str
    operator: bool = False


async def conversation_steps(
    db: Database, conversation_id: int, keep_personal_data: bool
) -> tuple[Any, list[Step]]:
    """The conversation's start time and its customer and operator steps, in order."""
    async with db.reader() as session:
        found = await conversation_with_messages(session, conversation_id)
    if found is None:
        raise StoryError(Text("there is no conversation {id}", id=conversation_id), 404)
    conversation, messages = found
    steps: list[Step] = []
    for message in messages:
        text = " ".join(message.text.split())
        if not text:
            continue
        if message.sender == Sender.CUSTOMER:
            steps.append(Step(text if keep_personal_data else mask_personal_data(text)))
        elif message.sender == Sender.OPERATOR and steps:
            steps.append(Step(text, operator=True))
            break  # the person's part is not the bot's to repeat
        if len(steps) >= MAX_TURNS:
            break
    if not any(not s.operator for s in steps):
        raise StoryError(Text("conversation {id} has no customer message to replay", id=conversation_id))
    return conversation.started_at, steps


async def record_story(
    project: Project, pipeline: Pipeline, name: str, at: Any, steps: list[Step]
) -> dict[str, Any]:
    """Replay ``steps`` through the bot; the story as a plain dict (``story``, ``metadata``, ``steps``)."""
    story: list[dict[str, Any]] = []
    async with scratch_store() as (db, operator_id):
        customers, operators, delivered = story_services(project, pipeline, db, at)
        turns = [UserTurn(s.text, None, [], None, operator=s.operator) for s in steps]
        test = TestStory(name, turns, at, "", None)
        runner = StoryRun(test, "story-customer", customers, operators, operator_id, delivered)
        for turn in turns:
            if turn.operator:
                try:
                    actions = await runner._operator(turn)
                except DataError:  # the bot in service no longer hands this dialogue off
                    break
                story.append({"operator": turn.text})
            else:
                handled = await customers.handle(InboundMessage("test", "story-customer", turn.text))
                result = handled.result
                if handled.ticket_id is not None:
                    runner.ticket, runner.claimed = handled.ticket_id, False
                prefix = ["action_handoff"] if result is not None and result.escalation else []
                actions = prefix + response_names(handled.replies)
                step: dict[str, Any] = {"user": turn.text}
                if result is not None and result.intent:
                    step["intent"] = result.intent
                story.append(step)
            story.extend({"action": action} for action in actions)
    return {"story": name, "metadata": {"time": at.isoformat()}, "steps": story}


def story_path(project: Project, file: str | None) -> Path:
    """Where the story goes: a ``.yml`` path inside the project (``tests/test_stories.yml`` by default)."""
    relative = file or DEFAULT_FILE
    if not STORY_FILE.match(relative) or ".." in relative.split("/"):
        raise StoryError(
            Text("story file {file!r} must be a relative .yml path inside the project", file=relative)
        )
    return project.root / relative


def append_story(path: Path, story: dict[str, Any]) -> str:
    """Add ``story`` at the end of ``path`` (created if missing), comments and layout kept."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100_000
    yaml.indent(mapping=2, sequence=2, offset=0)
    if path.exists():
        load_yaml(path, DataError)  # a broken file: a clear error with its line
        data = yaml.load(path.read_text(encoding="utf-8")) or CommentedMap()
    else:
        data = CommentedMap()
        data["version"] = "3.1"
    stories = data.get("stories")
    if stories is None:
        stories = data["stories"] = CommentedSeq()
    entry = CommentedMap()
    entry["story"] = story["story"]
    entry["metadata"] = CommentedMap(story["metadata"])
    steps = CommentedSeq()
    for step in story["steps"]:
        item = CommentedMap()
        for key, value in step.items():
            item[key] = LiteralScalarString(value + "\n") if key == "user" else value
        steps.append(item)
    entry["steps"] = steps
    stories.append(entry)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    write_text_atomically(path, buffer.getvalue())
    return buffer.getvalue()
