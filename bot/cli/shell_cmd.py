"""``botdesk shell``: chat with the bot in the terminal, the NLU result shown dimmed.

Until the dialogue engine exists this answers each message with its intent's response
(or the fallback text), always labelled as the bot's, as every channel must.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bot.cli import app
from bot.cli.options import ProjectOption
from bot.cli.train_cmd import train_project
from bot.nlu.base import Message
from bot.nlu.pipeline import Pipeline, is_fallback
from bot.project import Project

console = Console(highlight=False, soft_wrap=True)
EXIT_WORDS = {"/exit", "/quit", "/stop"}


class ShellBot:
    """The answers of the terminal chat; separate from I/O so tests can drive it."""

    def __init__(self, project: Project, pipeline: Pipeline, seed: int | None = None) -> None:
        self.project = project
        self.pipeline = pipeline
        self.random = random.Random(seed)
        self.label = project.config.bot.label

    def introduction(self) -> str:
        return f"{self.label}: {self.project.config.bot.introduction}"

    def respond(self, message: Message) -> tuple[str, list[dict[str, Any]]]:
        if is_fallback(message):
            return f"{self.label}: {self.project.config.bot.fallback}", []
        assert message.intent is not None
        variants = self.project.data.responses.get(f"utter_{message.intent.name}")
        if not variants:
            return f"{self.label}: {self.project.config.bot.fallback}", []
        variant = self.random.choice(variants)
        return f"{self.label}: {variant.get('text', '')}", list(variant.get("buttons") or [])


def _describe(message: Message) -> str:
    data = message.to_parse_dict()
    parts = [f"{data['intent']['name']} {data['intent']['confidence']:.2f}"]
    if message.fallback_reason:
        parts.append(f"fallback: {message.fallback_reason}")
    if message.ranking and is_fallback(message):
        parts.append(f"best guess: {message.ranking[0].name} {message.ranking[0].confidence:.2f}")
    parts += [f"{e.entity}={e.value}" for e in message.entities]
    return " · ".join(parts)


@app.command()
def shell(project_dir: ProjectOption = Path(".")) -> None:
    """Chat with the bot in the terminal (trains first if the model is out of date)."""
    project = Project.open(project_dir)
    info, trained = train_project(project)
    if trained:
        console.print(f"[dim]trained model {info.version}[/]")
    bot = ShellBot(project, project.models.load(project.config, info))
    console.print(f"[dim]botdesk shell: model {info.version}. Type /exit or press Ctrl-D to leave.[/]")
    console.print(f"[bold green]{escape(bot.introduction())}[/]")
    buttons: list[dict[str, Any]] = []
    interactive = sys.stdin.isatty()
    while True:
        try:
            text = console.input("[bold]you> [/]") if interactive else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            break
        if not interactive and text == "":
            break
        text = text.strip()
        if not text:
            continue
        if text in EXIT_WORDS:
            break
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = str(buttons[int(text) - 1].get("payload", text))
        message = bot.pipeline.parse(text)
        console.print(f"[dim]  nlu: {escape(_describe(message))}[/]")
        answer, buttons = bot.respond(message)
        console.print(f"[bold green]{escape(answer)}[/]")
        for number, button in enumerate(buttons, start=1):
            console.print(f"   [cyan]{number}.[/] {escape(str(button.get('title', '')))}")
    console.print("[dim]bye[/]")
