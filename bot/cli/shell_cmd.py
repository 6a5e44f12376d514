"""``botdesk shell``: chat with the bot in the terminal.

The real NLU and dialogue engine answer; the NLU result, the escalation reason and
lead events are shown dimmed. Every bot message carries the bot's label.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bot.cli import app
from bot.cli.options import ProjectOption
from bot.cli.train_cmd import train_project
from bot.dialogue.engine import DialogueState, TurnResult
from bot.dialogue.validators import mask_phone
from bot.nlu.base import Message
from bot.nlu.pipeline import is_fallback
from bot.project import Project

console = Console(highlight=False, soft_wrap=True)
EXIT_WORDS = {"/exit", "/quit", "/stop"}


def _events(result: TurnResult) -> list[str]:
    events = []
    if result.escalation is not None:
        e = result.escalation
        where = "after hours: call-back offered" if result.after_hours else "queued for an operator"
        events.append(f"handoff ({where}): {e.reason} — {e.detail}, priority {e.priority}")
    if result.lead is not None:
        lead = result.lead
        events.append(f"lead card ({lead.kind}): {lead.name}, {mask_phone(lead.phone or '')}, consent given")
    if result.forget_form_answers:
        events.append("form ended without consent: its answers are not kept")
    return events


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
    pipeline = project.models.load(project.config, info)
    engine = project.engine()
    state = DialogueState()
    label = project.config.bot.label
    console.print(f"[dim]botdesk shell: model {info.version}. Type /exit or press Ctrl-D to leave.[/]")
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
        message = pipeline.parse(text)
        console.print(f"[dim]  nlu: {escape(_describe(message))}[/]")
        result = engine.handle(state, message, datetime.now(UTC))
        for event in _events(result):
            console.print(f"[dim]  {escape(event)}[/]")
        buttons = []
        for reply in result.replies:
            console.print(f"[bold green]{escape(label)}: {escape(reply.text)}[/]")
            buttons = reply.buttons or buttons
        for number, button in enumerate(buttons, start=1):
            console.print(f"   [cyan]{number}.[/] {escape(str(button.get('title', '')))}")
    console.print("[dim]bye[/]")
